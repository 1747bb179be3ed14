"""What the IVR needs from the bank, as a Protocol: the SQL implementation is ivr.banking.sql.

Outcomes are plain reason codes the engine turns into prompts. Secrets (PINs, card and account
numbers) go in as arguments and never come back out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    id: int
    name: str
    name_en: str
    surname: str
    surname_en: str
    title: str
    title_en: str
    segment: str  # standard | vip
    language: str


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    kind: str  # savings | current
    last4: str
    balance_fen: int
    currency: str


@dataclass(frozen=True, slots=True)
class BillerInfo:
    id: int
    code: str  # electricity | mobile
    name: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Verification:
    # ok | not_found | wrong_pin | locked (too many wrong PINs) | card_blocked (the card is lost,
    # frozen or otherwise not active: phone banking is refused) | busy (every PIN attempt the card
    # allows is being checked by other calls right now: nothing was checked, ask again)
    outcome: str
    customer: CustomerInfo | None = None
    card_id: int | None = None  # the card whose PIN was checked
    attempts_left: int = 0  # after wrong_pin


@dataclass(frozen=True, slots=True)
class LossResult:
    outcome: str  # ok | already_reported | not_found
    last4: str = ""
    reference: str = ""
    card_id: int | None = None  # the card now reported lost


@dataclass(frozen=True, slots=True)
class PinChangeResult:
    outcome: str  # ok | wrong_pin | locked | card_blocked | busy | weak_pin (as Verification)
    reason: str = ""  # for weak_pin: format | same_digit | sequence | same_as_old | birth_date
    attempts_left: int = 0


@dataclass(frozen=True, slots=True)
class PaymentResult:
    outcome: str  # ok | insufficient_funds | limit_exceeded | invalid
    reference: str = ""
    amount_fen: int = 0
    remaining_fen: int = 0  # what the daily limit still allows (limit_exceeded)
    repeated: bool = False  # the idempotency key was seen before: nothing moved this time


class BankingBackend(Protocol):
    async def identify(self, caller_number: str) -> CustomerInfo | None:
        """The customer whose registered mobile is calling, if any."""
        ...

    async def verify(self, number: str, pin: str, *, call_id: str | None = None) -> Verification:
        """Card or account number + PIN. Wrong PINs count; the limit locks phone banking. A card
        that is not active (lost, frozen) is refused before its PIN is checked."""
        ...

    async def accounts(self, customer_id: int) -> list[AccountInfo]: ...

    async def billers(self, customer_id: int) -> list[BillerInfo]:
        """The billers this customer has registered."""
        ...

    async def report_loss(self, customer_id: int, last4: str, *, call_id: str | None = None) -> LossResult:
        """Freeze the customer's card ending `last4` and file a loss report; idempotent."""
        ...

    async def change_pin(self, card_id: int, old_pin: str, new_pin: str, *,
                         call_id: str | None = None) -> PinChangeResult:
        """All or nothing: checks the old PIN and the new one's strength, then changes it."""
        ...

    async def transfer(self, customer_id: int, from_account_id: int, to_account_id: int, amount_fen: int,
                       idempotency_key: str, *, call_id: str | None = None) -> PaymentResult:
        """Move money between the customer's own accounts once per idempotency key."""
        ...

    async def pay_bill(self, customer_id: int, biller_id: int, from_account_id: int, amount_fen: int,
                       idempotency_key: str, *, call_id: str | None = None) -> PaymentResult:
        """Pay a registered biller once per idempotency key."""
        ...
