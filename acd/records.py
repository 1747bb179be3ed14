"""The ACD's in-memory records of agents and calls. Plain data; the parts of the ACD change them."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from acd.clock import Timer
from acd.endpoints import AgentPhones
from acd.states import AgentState, AwayReason, CallKind, CallState


class Requested(NamedTuple):
    """A state asked for while the agent was busy with a call; applied when the call is over."""

    state: AgentState
    reason: AwayReason | None
    by: str | None


@dataclass(eq=False, slots=True)
class AgentEntry:
    id: int
    name: str
    endpoint: str
    skills: dict[str, int]
    phones: AgentPhones = field(default_factory=lambda: AgentPhones({}, ()))  # where to ring them, per transport
    state: AgentState = AgentState.LOGGED_OUT
    reason: AwayReason | None = None
    since: datetime | None = None
    reachable: bool = True
    call: CallEntry | None = None  # the call ringing at or talking with the agent
    missed_in_row: int = 0
    calls_today: int = 0
    calls_day: str = ""
    pending: Requested | None = None
    wrap_timer: Timer | None = None
    retry_timer: Timer | None = None  # away because the phone was unreachable: when to try it again
    due_callbacks: deque[CallEntry] = field(default_factory=deque)  # their own scheduled callbacks, due

    def stop_wrap_up(self) -> None:
        if self.wrap_timer is not None:
            self.wrap_timer.cancel()
            self.wrap_timer = None

    def stop_retry(self) -> None:
        if self.retry_timer is not None:
            self.retry_timer.cancel()
            self.retry_timer = None

    def endpoint_for(self, transport: str) -> str:
        """The endpoint to ring on `transport`: its own if the agent has one, else the single endpoint
        (a transport the ACD does not check takes that as it is)."""
        return self.phones.on(transport) or self.endpoint


@dataclass(eq=False, slots=True)
class CallEntry:
    """A caller in a queue, a promise to call someone back, or an outbound leg (`outbound`)."""

    call_id: str
    queue: str
    category: str
    connector: str
    kind: CallKind
    priority: int = 0
    skills: tuple[str, ...] = ()
    customer_id: int | None = None
    number: str = ""
    enqueued_at: datetime | None = None
    seq: int = 0
    state: CallState = CallState.WAITING
    agent: AgentEntry | None = None
    answered_at: datetime | None = None
    ring_timer: Timer | None = None
    wait_timer: Timer | None = None
    max_wait_due: bool = False  # max wait passed while an agent's phone rang: overflow if they miss it
    overflowed: bool = False  # already offered a callback by overflow
    visited: set[str] = field(default_factory=set)  # queues tried, so an overflow chain cannot loop
    # outbound legs: the queued promise they serve and what they refer to
    outbound: bool = False
    parent: CallEntry | None = None
    callback_id: int | None = None
    contact_id: int | None = None
    attempt_no: int = 0
    owner_id: int | None = None  # scheduled callbacks: the agent who promised
    note: str = ""

    def stop_ring(self) -> None:
        if self.ring_timer is not None:
            self.ring_timer.cancel()
            self.ring_timer = None

    def stop_wait(self) -> None:
        if self.wait_timer is not None:
            self.wait_timer.cancel()
            self.wait_timer = None

    def purpose(self) -> dict[str, object]:
        """For events of outbound legs: what the call is for (inbound calls: nothing)."""
        if not self.outbound:
            return {}
        return {"purpose": "campaign" if self.kind is CallKind.CAMPAIGN else "callback",
                "callback_id": self.callback_id, "contact_id": self.contact_id}
