"""agent endpoints per transport

An agent may have one endpoint per transport ({"asterisk": "PJSIP/agent1", "twilio": "client:agent1"},
acd/endpoints.py); existing agents start with none and keep their single `endpoint`, which counts for
the transport its syntax belongs to.

Revision ID: 3e1f0a7c9b24
Revises: c5b733ae583f
Create Date: 2026-12-02 01:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3e1f0a7c9b24'
down_revision: str | None = 'c5b733ae583f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN: rebuilding `agents` on SQLite would fail with the tables that point to it
    op.add_column('agents', sa.Column('endpoints', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.drop_column('agents', 'endpoints')
