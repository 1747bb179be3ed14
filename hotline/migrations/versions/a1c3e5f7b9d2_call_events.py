"""call events: every fact of the call record, once each

Revision ID: a1c3e5f7b9d2
Revises: 858a6e83aa08
Create Date: 2026-12-02 01:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a1c3e5f7b9d2'
down_revision: str | None = '858a6e83aa08'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'call_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=36), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fact', sa.String(length=24), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('call_id', 'fact', 'key', name='uq_call_events_fact'),
    )
    op.create_index(op.f('ix_call_events_call_id'), 'call_events', ['call_id'], unique=False)
    op.create_index(op.f('ix_call_events_at'), 'call_events', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_call_events_at'), table_name='call_events')
    op.drop_index(op.f('ix_call_events_call_id'), table_name='call_events')
    op.drop_table('call_events')
