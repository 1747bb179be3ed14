"""What the IVR asks the telephony to do. Bridges translate these into TwiML or AGI commands.

A turn returned to a bridge is zero or more `Play`/`SetAttribute`, then exactly one of `Gather`
(wait for keys), `Transfer` (hand to the ACD) or `Hangup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Prompt:
    """One thing the caller hears.

    `text` is spoken by text-to-speech (Twilio `<Say language=...>`); `audio` names the sound
    files (without extension, language folder included, e.g. "hotline/zh-CN/main_menu" or
    "digits/5") that Asterisk plays in order. Both always describe the same words.
    """

    id: str  # prompt id from config, or "" for generated speech (amounts, reference numbers)
    language: str  # zh-CN | en-US
    text: str
    audio: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Play:
    prompts: tuple[Prompt, ...]


@dataclass(frozen=True, slots=True)
class Gather:
    """Play the prompts (interruptible by a key) and collect up to `max_digits` keys.

    `secure`: the keys are a PIN or card number: bridges pause recording and never log them.
    """

    prompts: tuple[Prompt, ...]
    max_digits: int
    timeout_s: float = 5.0
    finish_on_key: str = "#"  # "" when the entry has a fixed length
    secure: bool = False


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the caller to the ACD."""

    queue: str
    category: str  # business category: balance, card_loss, pin, transfer, bill, complaint, other
    skills: tuple[str, ...] = ()
    priority: int = 0
    prompts: tuple[Prompt, ...] = ()  # "please hold for an agent", played before queueing


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str = "completed"
    prompts: tuple[Prompt, ...] = ()  # goodbye, played before hanging up


@dataclass(frozen=True, slots=True)
class SetAttribute:
    """A fact about the call for the dialplan and the agent's screen (language, customer id...)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class RunOperation:
    """Engine-internal: the IVR service runs it against the BankingBackend and feeds back an
    OperationResult. Bridges never see it. `params` may hold secrets: never log them."""

    operation: str
    params: dict[str, Any] = field(default_factory=dict, repr=False)


Action = Play | Gather | Transfer | Hangup | SetAttribute | RunOperation
BridgeAction = Play | Gather | Transfer | Hangup | SetAttribute
