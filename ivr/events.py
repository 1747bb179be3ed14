"""What happens on a call, as the IVR sees it. Bridges translate wire protocol into these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CallStarted:
    caller_number: str
    dialled_number: str
    language: str | None = None  # forced by the dialled number or the bridge; None: ask the caller


@dataclass(frozen=True, slots=True)
class Digits:
    """Keys the caller entered, without the finish key. Never logged in clear for a secure gather."""

    digits: str

    def __repr__(self) -> str:
        return f"Digits(<{len(self.digits)} keys>)"


@dataclass(frozen=True, slots=True)
class Timeout:
    """The caller entered nothing before the gather timed out."""


@dataclass(frozen=True, slots=True)
class HungUp:
    reason: str = "caller"


@dataclass(frozen=True, slots=True)
class OperationResult:
    """Outcome of a banking operation the engine asked for (see actions.RunOperation)."""

    operation: str
    outcome: str  # "ok" or a reason code: "wrong_pin", "locked", "insufficient_funds", ...
    data: dict[str, Any] = field(default_factory=dict)


Event = CallStarted | Digits | Timeout | HungUp | OperationResult
