"""calls external id unique per channel

A CallSid / Uniqueid names one call of its transport: a replayed webhook must never start it again.
Rows such replays already made keep their data but lose the duplicated external id (the first
call with it keeps it), or the constraint could not be created.

Revision ID: c5b733ae583f
Revises: 5da51e93d24d
Create Date: 2026-12-01 21:17:20.460358
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c5b733ae583f'
down_revision: str | None = '5da51e93d24d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE calls SET external_id = NULL WHERE external_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM calls AS earlier"
        " WHERE earlier.channel = calls.channel AND earlier.external_id = calls.external_id"
        " AND (earlier.started_at < calls.started_at"
        "  OR (earlier.started_at = calls.started_at AND earlier.id < calls.id)))"))
    # an index, not a constraint: SQLite would rebuild `calls`, and dropping the old table fails
    # once call legs, payments or recordings point to it
    op.create_index('uq_calls_channel_external_id', 'calls', ['channel', 'external_id'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_calls_channel_external_id', table_name='calls')
