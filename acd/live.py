"""The live view: every event goes to the routing event log and to the listeners (desktops, wallboards);
the snapshot shows the supervisor the floor as it is now."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from acd.config import AcdConfig
from acd.journal import Journal
from acd.models import RoutingEvent
from acd.records import AgentEntry, CallEntry
from acd.states import STAFFED, AgentState, CallKind, CallState, EventKind
from acd.views import AcdEvent, AcdSnapshot, AgentView, QueueView, WaitingView

log = logging.getLogger(__name__)

Listener = Callable[[AcdEvent], None]


class Events:
    def __init__(self, now: Callable[[], datetime], journal: Journal) -> None:
        self._now = now
        self._journal = journal
        self._listeners: list[Listener] = []

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call `callback` for every event; returns a function that removes it."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def emit(self, kind: EventKind, *, call: CallEntry | None = None, agent: AgentEntry | None = None,
             state: str | None = None, reason: str | None = None, wait_s: float | None = None,
             talk_s: float | None = None, detail: dict[str, object] | None = None, persist: bool = True) -> None:
        at = self._now()
        queue = call.queue if call is not None and call.queue else None
        event = AcdEvent(kind=kind, at=at, agent_id=agent.id if agent else None,
                         call_id=call.call_id if call else None, queue=queue, state=state, reason=reason,
                         detail=dict(detail or {}))
        if persist:
            self._journal.append(RoutingEvent(
                at=at, kind=kind, call_id=event.call_id, queue=queue, category=call.category if call else None,
                agent_id=event.agent_id, wait_s=wait_s, talk_s=talk_s, state=state, reason=reason,
                detail={k: v for k, v in event.detail.items() if v is not None}))
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a broken listener must not stop routing
                log.exception("acd listener failed")


def snapshot(config: AcdConfig, now: datetime, agents: Iterable[AgentEntry], calls: Iterable[CallEntry],
             calls_today: Callable[[AgentEntry], int], is_open: Callable[[str, datetime], bool]) -> AcdSnapshot:
    def seconds_since(moment: datetime | None) -> float:
        return max(0.0, (now - moment).total_seconds()) if moment else 0.0

    ordered = sorted(agents, key=lambda a: a.id)
    agent_views = tuple(
        AgentView(agent_id=a.id, name=a.name, endpoint=a.endpoint, state=a.state, reason=a.reason,
                  since=a.since, reachable=a.reachable, call_id=a.call.call_id if a.call else None,
                  queue=a.call.queue if a.call else None, missed_in_row=a.missed_in_row,
                  calls_today=calls_today(a), pending=a.pending.state if a.pending else None)
        for a in ordered
    )
    waiting: dict[str, list[WaitingView]] = {name: [] for name in config.queues}
    for c in calls:
        if c.outbound or c.kind is CallKind.SCHEDULED or c.state is CallState.TALKING:
            continue
        waiting.setdefault(c.queue, []).append(WaitingView(
            call_id=c.call_id, queue=c.queue, category=c.category, kind=c.kind, state=c.state,
            priority=c.priority, enqueued_at=c.enqueued_at or now, waited_s=seconds_since(c.enqueued_at),
            agent_id=c.agent.id if c.agent else None))
    queues = []
    for name, queue in config.queues.items():
        views = sorted(waiting[name], key=lambda w: (-w.priority, w.enqueued_at))
        eligible = [a for a in ordered if a.state in STAFFED and _serves(a, queue.skills)]
        queues.append(QueueView(
            name=name, open=is_open(name, now),
            waiting=sum(1 for w in views if w.kind == CallKind.INBOUND),
            callbacks=sum(1 for w in views if w.kind == CallKind.CALLBACK),
            longest_wait_s=max((w.waited_s for w in views if w.kind == CallKind.INBOUND), default=0.0),
            available_agents=sum(1 for a in eligible if a.state is AgentState.AVAILABLE and a.reachable),
            staffed_agents=len(eligible), calls=tuple(views)))
    return AcdSnapshot(at=now, agents=agent_views, queues=tuple(queues))


def _serves(agent: AgentEntry, needs: Mapping[str, int]) -> bool:
    return all(agent.skills.get(skill, 0) >= level for skill, level in needs.items())
