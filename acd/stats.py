"""Call statistics recomputed from the routing event log, for any period (e.g. any past week).

Nothing here reads live state: replaying `routing_events` gives the same figures after a restart.
A call counts in the period when it was answered, abandoned or overflowed in it; the service level
is the share of those calls answered within their queue's threshold.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from acd.config import AcdConfig
from acd.models import RoutingEvent
from acd.states import EndReason, EventKind, OverflowKind
from hotline.db import Database


@dataclass
class Figures:
    """Inbound figures of one slice (whole centre, one queue, one business category)."""

    offered: int = 0  # calls that reached an outcome: answered + abandoned + overflowed
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    answered_in_sl: int = 0
    answer_waits: list[float] = field(default_factory=list)
    talk_times: list[float] = field(default_factory=list)

    @property
    def answer_rate(self) -> float:
        return self.answered / self.offered if self.offered else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def service_level(self) -> float:
        return self.answered_in_sl / self.offered if self.offered else 0.0

    @property
    def avg_answer_s(self) -> float:
        return sum(self.answer_waits) / len(self.answer_waits) if self.answer_waits else 0.0

    def answer_percentile(self, p: float) -> float:
        return percentile(self.answer_waits, p)

    @property
    def avg_talk_s(self) -> float:
        return sum(self.talk_times) / len(self.talk_times) if self.talk_times else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "overflowed": self.overflowed, "answer_rate": round(self.answer_rate, 4),
            "abandon_rate": round(self.abandon_rate, 4), "service_level": round(self.service_level, 4),
            "avg_answer_s": round(self.avg_answer_s, 2), "p50_answer_s": round(self.answer_percentile(50), 2),
            "p90_answer_s": round(self.answer_percentile(90), 2), "avg_talk_s": round(self.avg_talk_s, 2),
            "talk_s": round(sum(self.talk_times), 2),
        }


@dataclass
class AgentLoad:
    agent_id: int
    offered: int = 0
    answered: int = 0
    missed: int = 0
    talk_s: float = 0.0
    outbound: int = 0


@dataclass
class Stats:
    start: datetime
    end: datetime
    total: Figures
    by_queue: dict[str, Figures]
    by_category: dict[str, Figures]
    agents: dict[int, AgentLoad]
    callbacks_requested: int
    callbacks_done: int
    callbacks_failed: int


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil without floats drifting
    return ordered[int(min(rank, len(ordered))) - 1]


async def compute(db: Database, config: AcdConfig, start: datetime, end: datetime) -> Stats:
    """Figures for events with start <= at < end."""
    async with db.session() as s:
        events = list(await s.scalars(
            select(RoutingEvent).where(RoutingEvent.at >= start, RoutingEvent.at < end).order_by(RoutingEvent.id)))
    total = Figures()
    by_queue: dict[str, Figures] = defaultdict(Figures)
    by_category: dict[str, Figures] = defaultdict(Figures)
    agents: dict[int, AgentLoad] = {}
    callbacks: dict[str, int] = {EventKind.CALLBACK_REQUESTED: 0, EventKind.CALLBACK_DONE: 0, EventKind.CALLBACK_FAILED: 0}

    def slices(e: RoutingEvent) -> list[Figures]:
        return [total, by_queue[e.queue or "-"], by_category[e.category or "other"]]

    def load(agent_id: int) -> AgentLoad:
        return agents.setdefault(agent_id, AgentLoad(agent_id))

    for e in events:
        outbound = bool(e.detail and e.detail.get("purpose"))
        if e.kind in callbacks:
            callbacks[e.kind] += 1
        if e.kind == EventKind.OFFERED and e.agent_id is not None:
            load(e.agent_id).offered += 1
        elif e.kind == EventKind.MISSED and e.agent_id is not None:
            load(e.agent_id).missed += 1
        elif e.kind == EventKind.ANSWERED:
            if e.agent_id is not None:
                load(e.agent_id).answered += 1
                load(e.agent_id).outbound += outbound
            if outbound:
                continue
            threshold = config.queues[e.queue].service_level_s if e.queue in config.queues else 20.0
            for f in slices(e):
                f.offered += 1
                f.answered += 1
                f.answer_waits.append(e.wait_s or 0.0)
                f.answered_in_sl += (e.wait_s or 0.0) <= threshold
        elif e.kind == EventKind.ABANDONED:
            for f in slices(e):
                f.offered += 1
                f.abandoned += 1
        elif (e.kind == EventKind.OVERFLOWED and (e.detail or {}).get("kind") == OverflowKind.VOICEMAIL
              and e.reason != EndReason.CLOSED):
            # to another queue or to a callback offer the caller still waits; to voicemail the wait ends
            for f in slices(e):
                f.offered += 1
                f.overflowed += 1
        elif e.kind == EventKind.ENDED:
            if e.agent_id is not None:
                load(e.agent_id).talk_s += e.talk_s or 0.0
            if not outbound:
                for f in slices(e):
                    f.talk_times.append(e.talk_s or 0.0)
    return Stats(start=start, end=end, total=total, by_queue=dict(by_queue), by_category=dict(by_category),
                 agents=agents, callbacks_requested=callbacks[EventKind.CALLBACK_REQUESTED],
                 callbacks_done=callbacks[EventKind.CALLBACK_DONE],
                 callbacks_failed=callbacks[EventKind.CALLBACK_FAILED])
