"""Replaying the call record's facts: what statistics read instead of the calls table's last state.

`summaries(db, start, end)` folds the `call_events` of the calls opened in [start, end) into one
`CallSummary` each, in the order the facts were recorded, so a report for any past week is computed
from the facts as they happened (who answered, how long the caller waited, how it ended), not from
whatever a row says now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from calls.facts import Fact
from calls.models import CallEvent
from hotline.db import Database, aware


@dataclass
class CallSummary:
    call_id: str
    opened_at: datetime | None = None
    channel: str | None = None
    direction: str | None = None
    queue: str | None = None
    category: str | None = None
    queued_at: datetime | None = None
    offers: int = 0
    agent_id: int | None = None  # the agent who answered last
    answered_at: datetime | None = None  # by an agent
    closed_at: datetime | None = None
    end_reason: str | None = None
    survey_score: int | None = None
    wrapup_code: str | None = None
    recordings_ready: int = 0
    facts: list[str] = field(default_factory=list)

    @property
    def wait_s(self) -> float | None:
        """From joining the queue to an agent's answer."""
        if self.queued_at is None or self.answered_at is None:
            return None
        return (self.answered_at - self.queued_at).total_seconds()


def fold(events: Iterable[CallEvent]) -> dict[str, CallSummary]:
    """One summary per call from its facts, applied in the order given (the order they were recorded)."""
    out: dict[str, CallSummary] = {}
    for event in events:
        summary = out.setdefault(event.call_id, CallSummary(event.call_id))
        _apply(summary, Fact(event.fact), aware(event.at), event.data or {})
    return out


async def summaries(db: Database, start: datetime, end: datetime) -> dict[str, CallSummary]:
    opened = select(CallEvent.call_id).where(CallEvent.fact == Fact.OPENED, CallEvent.at >= start,
                                             CallEvent.at < end)
    async with db.session() as s:
        events = await s.scalars(select(CallEvent).where(CallEvent.call_id.in_(opened)).order_by(CallEvent.id))
        return fold(events)


def _apply(summary: CallSummary, fact: Fact, at: datetime, data: dict[str, Any]) -> None:
    summary.facts.append(fact)
    if fact is Fact.OPENED:
        summary.opened_at, summary.channel, summary.direction = at, data.get("channel"), data.get("direction")
    elif fact is Fact.QUEUED:
        summary.queue, summary.category = data.get("queue"), data.get("category")
        summary.queued_at = summary.queued_at or at
    elif fact is Fact.OFFERED:
        summary.offers += 1
    elif fact is Fact.ANSWERED:
        summary.agent_id, summary.answered_at = data.get("agent_id"), at
    elif fact is Fact.RECORDING_READY:
        summary.recordings_ready += 1
    elif fact is Fact.SURVEY_ANSWERED:
        summary.survey_score = data.get("score")
    elif fact is Fact.WRAPPED_UP:
        summary.wrapup_code = data.get("code")
    elif fact is Fact.CLOSED and summary.closed_at is None:
        summary.closed_at, summary.end_reason = at, data.get("reason")
