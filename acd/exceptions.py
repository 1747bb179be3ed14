"""What the ACD refuses, one class per case. All are `AcdError`s; `kind` says what sort of refusal it is,
so a caller (the web layer) can answer every one of them the same way for its kind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"  # the request names something the ACD does not know
    CONFLICT = "conflict"  # the request is fine, but not in the current state of things
    INVALID = "invalid"  # the request itself is malformed
    UNAVAILABLE = "unavailable"  # the ACD cannot act at all for now (no bridge to act through)


class AcdError(Exception):
    """A request the ACD cannot carry out; the message says why."""

    kind: ClassVar[ErrorKind] = ErrorKind.CONFLICT


class UnknownQueue(AcdError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, queue: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown queue {queue!r} (known: {', '.join(known)})")
        self.queue = queue


class UnknownAgent(AcdError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, agent_id: int, message: str = "") -> None:
        super().__init__(message or f"unknown agent {agent_id}")
        self.agent_id = agent_id


class InactiveAgent(UnknownAgent):
    """Logging in an agent the database does not hold as active."""

    def __init__(self, agent_id: int) -> None:
        super().__init__(agent_id, f"no active agent {agent_id}")


class NoBridge(AcdError):
    """No bridge is registered to carry the call (or, without a name, to place outbound calls)."""

    kind = ErrorKind.UNAVAILABLE

    def __init__(self, connector: str | None = None) -> None:
        super().__init__(f"no bridge registered as {connector!r}" if connector is not None
                         else "no bridge registered to place outbound calls")
        self.connector = connector


class CallNotWaiting(AcdError):
    """A callback was asked for a call that is not an inbound caller waiting in a queue."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id} is not waiting in a queue")
        self.call_id = call_id


class NumberRequired(AcdError):
    kind = ErrorKind.INVALID

    def __init__(self) -> None:
        super().__init__("a callback needs a number")


class StateNotSettable(AcdError):
    kind = ErrorKind.INVALID

    def __init__(self, state: str, settable: Sequence[str]) -> None:
        choices = f"{', '.join(settable[:-1])} or {settable[-1]}"
        super().__init__(f"state {state!r} cannot be set by hand ({choices})")
        self.state = state


class AwayReasonRequired(AcdError):
    kind = ErrorKind.INVALID

    def __init__(self, reasons: Iterable[str]) -> None:
        super().__init__(f"away needs a reason: one of {', '.join(reasons)}")


class AgentLoggedOut(AcdError):
    def __init__(self, agent_id: int) -> None:
        super().__init__(f"agent {agent_id} is logged out: log in first")
        self.agent_id = agent_id


class NotOfferedToAgent(AcdError):
    """An answer reported for a call that is not ringing at this agent."""

    def __init__(self, call_id: str, agent_id: int) -> None:
        super().__init__(f"call {call_id} is not being offered to agent {agent_id}")
        self.call_id, self.agent_id = call_id, agent_id


class AgentCannotDial(AcdError):
    """The agent is busy with a call (or unreachable) and cannot start a campaign call."""

    def __init__(self, agent_id: int, state: str) -> None:
        super().__init__(f"agent {agent_id} cannot dial now ({state})")
        self.agent_id = agent_id


class OutsideCampaignHours(AcdError):
    def __init__(self) -> None:
        super().__init__("campaign calls are made in campaign hours only")


class ContactNotDialable(AcdError):
    """The database refused the attempt: not previewed by this agent, not approved, too many or too soon."""

    def __init__(self, contact_id: int, why: Exception) -> None:
        super().__init__(f"campaign contact {contact_id} cannot be dialled: {why}")
        self.contact_id = contact_id
