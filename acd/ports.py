"""The ACD's boundary with the bridges: what a bridge tells the ACD, and what the ACD asks a
bridge to do. Plain data only; nothing here knows Twilio or Asterisk.

A bridge registers itself as a `Connector` under a name ("twilio", "asterisk"). Every waiting call
names the connector that carries it, so the ACD sends each decision to the bridge that can act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    queue: str
    category: str  # business category (balance, card_loss, pin, transfer, bill, complaint, other)
    connector: str  # bridge that carries the call
    skills: tuple[str, ...] = ()
    priority: int = 0  # higher first; VIP customers get the queue's VIP boost on top
    customer_id: int | None = None
    caller_number: str = ""


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """For announcements: 1-based position and estimated wait in seconds."""

    position: int
    estimated_wait_s: int


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring `endpoint` for `call_id`; report back with Acd.offer_answered / offer_failed."""

    call_id: str
    agent_id: int
    endpoint: str
    ring_timeout_s: float
    queue: str
    record: bool = True


@dataclass(frozen=True, slots=True)
class Overflow:
    """The call waited too long or its queue is closed: move it to `target`."""

    call_id: str
    kind: str  # queue | voicemail | callback
    target: str


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """Call the agent first, then `customer_number`, and bridge them (callbacks, campaign calls)."""

    call_id: str  # the new call record
    agent_id: int
    agent_endpoint: str
    customer_number: str
    purpose: str  # callback | campaign
    reference_id: int  # callback id or campaign contact id
    ring_timeout_s: float = 30.0


class Connector(Protocol):
    async def offer(self, offer: Offer) -> None: ...

    async def overflow(self, overflow: Overflow) -> None: ...

    async def place_outbound(self, call: OutboundCall) -> None: ...
