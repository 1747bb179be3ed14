"""What the ACD shows the outside world: live events and the supervisor's snapshot. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from acd.states import AgentState, AwayReason, CallKind, CallState, EventKind

# Away reasons a person may name; "phone_unreachable" is only ever the PBX's finding (acd/offers.py).
AWAY_REASONS = tuple(r for r in AwayReason if r is not AwayReason.PHONE_UNREACHABLE)


@dataclass(frozen=True, slots=True)
class AcdEvent:
    """A live change for desktops and wallboards; the same facts go to the routing event log."""

    kind: EventKind
    at: datetime
    agent_id: int | None = None
    call_id: str | None = None
    queue: str | None = None
    state: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: int
    name: str
    endpoint: str
    state: AgentState
    reason: str | None
    since: datetime | None  # None: no state change since the ACD started (never logged in)
    reachable: bool
    call_id: str | None
    queue: str | None
    missed_in_row: int
    calls_today: int
    pending: AgentState | None  # a state asked for while the agent was busy, applied when the call is over


@dataclass(frozen=True, slots=True)
class WaitingView:
    call_id: str
    queue: str
    category: str
    kind: CallKind  # inbound | callback
    state: CallState  # waiting | offered | dialing | retry_wait | parked
    priority: int
    enqueued_at: datetime
    waited_s: float
    agent_id: int | None


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    open: bool
    waiting: int
    callbacks: int
    longest_wait_s: float
    available_agents: int
    staffed_agents: int
    calls: tuple[WaitingView, ...]


@dataclass(frozen=True, slots=True)
class AcdSnapshot:
    at: datetime
    agents: tuple[AgentView, ...]
    queues: tuple[QueueView, ...]
