"""users.language: the web UI's language each user chose (zh-CN | en-US; NULL: the browser's)

Revision ID: d4e6f8a0b2c5
Revises: a1c3e5f7b9d2
Create Date: 2026-12-02 02:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd4e6f8a0b2c5'
down_revision: str | None = 'a1c3e5f7b9d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('language')
