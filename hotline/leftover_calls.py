"""Calls the previous run left open: a crash or a kill ends a process, not the rows of its calls.

At start-up, before any call is taken, every call still open is closed with the reason
"server_restart", and its open legs with it: nothing of this process serves them any more. (One
node for now: with several nodes sharing the database, a node must close only the calls it owned.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update

from calls.models import Call, CallLeg
from hotline.db import Database, aware, utcnow

log = logging.getLogger(__name__)

REASON = "server_restart"


async def close_calls_left_open(db: Database, clock: Callable[[], datetime] = utcnow) -> int:
    """Close every open call and its open legs; returns how many calls were closed."""
    now = clock()
    open_calls = select(Call.id).where(Call.ended_at.is_(None))
    async with db.session() as s:
        await s.execute(update(CallLeg).where(CallLeg.ended_at.is_(None), CallLeg.call_id.in_(open_calls))
                        .values(ended_at=now, end_reason=REASON))
        calls = list(await s.scalars(select(Call).where(Call.ended_at.is_(None))))
        for call in calls:
            call.status = "completed"  # what every ended call says; the reason tells this end apart
            call.ended_at = now
            call.end_reason = REASON
            call.duration_s = max(0, int((now - aware(call.started_at)).total_seconds()))
    if calls:
        log.warning("closed %d calls left open by the previous run", len(calls))
    return len(calls)
