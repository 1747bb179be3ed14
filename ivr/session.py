"""One caller's state in the voice menu. Lives in memory for the length of the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.actions import Gather
from ivr.banking.ports import CustomerInfo


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of the caller's path, as stored in ivr_steps. Secret keys are already masked."""

    node: str
    kind: str  # enter | key | timeout | operation | transfer | end
    detail: str = ""
    outcome: str = ""


@dataclass
class Session:
    call_id: str
    caller_number: str = ""
    dialled_number: str = ""
    language: str = "zh-CN"
    language_known: bool = False
    node: str = ""  # the menu the caller is in (a service runs on top of it)
    service: str = ""  # the service node running, "" in a menu
    stack: list[str] = field(default_factory=list)  # menus `#` goes back to
    step: str = "new"  # what the engine waits for: a gather name or "op:<operation>"
    failures: int = 0  # invalid keys / silences at the current step
    repeat: Gather | None = None  # the current question, as `*` repeats it
    customer: CustomerInfo | None = None
    verified: bool = False  # may use self-service now; a card blocked mid-call takes it away
    identity_verified: bool = False  # proved who they are in this call: what the call record keeps
    card_id: int | None = None  # the card whose PIN verified the caller
    category: str = "other"  # business category of where the caller is
    business: str | None = None  # category of the last self-service the caller went into
    queue: str | None = None
    business_done: bool = False  # a self-service operation completed
    transferred: bool = False
    ended: bool = False
    end_reason: str = ""
    payments: int = 0  # payment drafts so far: makes each confirmation's idempotency key
    # Flow data: may hold the number and PINs being entered until the operation runs.
    scratch: dict[str, Any] = field(default_factory=dict, repr=False)
    path: list[PathStep] = field(default_factory=list)  # not yet stored

    @property
    def finished(self) -> bool:
        return self.ended or self.transferred

    @property
    def contained(self) -> bool:
        """IVR containment: the business was done in self-service and nobody was needed."""
        return self.business_done and not self.transferred
