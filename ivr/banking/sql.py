"""BankingBackend on our own tables (bank.models).

Money moves only in one transaction that first takes the customer's row lock (a no-op UPDATE: a
row lock on PostgreSQL, the write lock on SQLite), so a customer's payments are serialised: the
daily-limit sum and the idempotency check see every earlier payment, and a retried confirmation
finds its own payment instead of paying again. The debit is a conditional UPDATE (`balance_fen >=
amount`), so the balance can never go below zero whatever runs alongside.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.models import AuditLog
from bank.models import Account, Biller, BillerRegistration, Card, Customer, LossReport, Payment
from hotline.db import Database, digest_number, hash_secret, utcnow, verify_secret
from hotline.settings import Settings
from ivr.banking.pins import weak_pin_reason
from ivr.banking.ports import (
    AccountInfo,
    BillerInfo,
    CustomerInfo,
    LossResult,
    PaymentResult,
    PinChangeResult,
    Verification,
)

log = logging.getLogger(__name__)

# Daily limits run from midnight to midnight in China (no daylight saving).
BANK_TZ = timezone(timedelta(hours=8))
ACTIVE = "active"  # the one card status that can be used for phone banking
# While every PIN attempt of a card is being checked by other calls: how long a caller waits for
# them (a few argon2 times) before being asked to key the PIN again, and how often we look.
BUSY_WAIT_S = 2.5
BUSY_FIRST_DELAY_S = 0.02
BUSY_MAX_DELAY_S = 0.2


def normalise_number(number: str) -> str:
    """Caller IDs arrive as +8613800138000, 008613800138000 or 13800138000: store form is E.164."""
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if digits.startswith("00"):
        return "+" + digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits
    return digits


def _matched(result: object) -> int:
    """Rows an UPDATE matched. AsyncSession.execute is typed to return a Result; an UPDATE's is a
    CursorResult, the one that counts rows."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def _customer_info(c: Customer) -> CustomerInfo:
    return CustomerInfo(id=c.id, name=c.name, name_en=c.name_en, surname=c.surname, surname_en=c.surname_en,
                        title=c.title, title_en=c.title_en, segment=c.segment, language=c.language)


class SqlBankingBackend:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 busy_wait_s: float = BUSY_WAIT_S) -> None:
        self.db = db
        self._key = settings.security.secret_key.get_secret_value()
        self._max_attempts = settings.security.pin_max_attempts
        self._busy_wait_s = busy_wait_s
        self._limits = {"transfer": settings.ivr.transfer_daily_limit_fen, "bill": settings.ivr.bill_daily_limit_fen}
        self._clock = clock

    # --- who is calling ---------------------------------------------------------------------------

    async def identify(self, caller_number: str) -> CustomerInfo | None:
        number = normalise_number(caller_number)
        if not number:
            return None
        async with self.db.session() as s:
            customer = await s.scalar(select(Customer).where(Customer.mobile == number))
            return _customer_info(customer) if customer else None

    async def verify(self, number: str, pin: str, *, call_id: str | None = None) -> Verification:
        found = await self._usable_card(digest_number(self._key, number))
        if isinstance(found, str):
            return Verification(found)
        card_id, pin_hash = found
        attempt = await self._reserve_attempt(card_id)
        if isinstance(attempt, str):
            return Verification(attempt, card_id=card_id)
        if not await verify_secret(pin_hash, pin):
            return await self._wrong_pin(card_id, attempt, call_id)
        async with self.db.session() as s:
            refused = await self._accept_pin(s, card_id)
            if refused:
                return Verification(refused, card_id=card_id)
            card = await s.get_one(Card, card_id)
            customer = await s.get_one(Customer, card.customer_id)
            return Verification("ok", customer=_customer_info(customer), card_id=card_id)

    async def _usable_card(self, digest: str) -> tuple[int, str] | str:
        """The card a keyed number stands for, as (id, PIN hash), or `not_found` / `card_blocked`.

        A card number is that card. An account is verified with a card PIN: its own card first,
        else its owner's newest, active cards only: a lost or frozen card never opens phone
        banking, not even through the account it belongs to. It is refused before its PIN is
        checked, so whoever holds a lost card learns nothing about its PIN."""
        async with self.db.session() as s:
            card = await s.scalar(select(Card).where(Card.pan_digest == digest))
            if card is None:
                account = await s.scalar(select(Account).where(Account.number_digest == digest))
                if account is None:
                    return "not_found"
                card = await s.scalar(
                    select(Card).where(Card.customer_id == account.customer_id, Card.status == ACTIVE)
                    .order_by((Card.account_id == account.id).desc(), Card.id.desc()).limit(1))
                if card is None:
                    any_card = await s.scalar(select(Card.id).where(Card.customer_id == account.customer_id)
                                              .limit(1))
                    return "card_blocked" if any_card is not None else "not_found"
            if card.status != ACTIVE:
                return "card_blocked"
            return card.id, card.pin_hash

    async def _reserve_attempt(self, card_id: int) -> int | str:
        """Take one of the card's PIN attempts before checking the PIN (argon2 is slow): guesses
        sent in parallel each need their own, and none past the limit is ever checked. Returns
        the attempt's number, or why none was taken: `locked`, `card_blocked`, or `busy`.

        `failed_pin_attempts` holds the wrong PINs so far plus the checks under way. When they
        fill the limit on a card that is not locked, those checks decide (a right PIN frees the
        attempts, a last wrong one locks the card) and they end within an argon2 time: wait for
        them a little, and if the attempts are still taken say `busy`, never `locked`."""
        delay = BUSY_FIRST_DELAY_S
        deadline = asyncio.get_running_loop().time() + self._busy_wait_s
        while True:
            async with self.db.session() as s:
                attempt: int | None = await s.scalar(
                    update(Card).where(Card.id == card_id, Card.status == ACTIVE,
                                       Card.phone_banking_locked.is_(False),
                                       Card.failed_pin_attempts < self._max_attempts)
                    .values(failed_pin_attempts=Card.failed_pin_attempts + 1)
                    .returning(Card.failed_pin_attempts))
                if attempt is not None:
                    return attempt
                refused = await self._refusal(s, card_id)
            if refused:
                return refused
            if asyncio.get_running_loop().time() + delay > deadline:
                return "busy"
            await asyncio.sleep(delay)
            delay = min(delay * 2, BUSY_MAX_DELAY_S)

    @staticmethod
    async def _refusal(s: AsyncSession, card_id: int) -> str | None:
        """Why the card cannot be used now (`card_blocked`, `locked`), None if it can."""
        row = (await s.execute(select(Card.status, Card.phone_banking_locked).where(Card.id == card_id))).one()
        if row.status != ACTIVE:
            return "card_blocked"
        return "locked" if row.phone_banking_locked else None

    async def _accept_pin(self, s: AsyncSession, card_id: int) -> str | None:
        """A right PIN clears the count, unless the card was locked (parallel wrong guesses) or
        blocked (reported lost) while the PIN was being checked: then why it was refused."""
        reset = await s.execute(update(Card).where(Card.id == card_id, Card.status == ACTIVE,
                                                   Card.phone_banking_locked.is_(False))
                                .values(failed_pin_attempts=0))
        if _matched(reset):
            return None
        return await self._refusal(s, card_id) or "locked"

    async def _wrong_pin(self, card_id: int, attempt: int, call_id: str | None) -> Verification:
        if attempt < self._max_attempts:
            return Verification("wrong_pin", card_id=card_id, attempts_left=self._max_attempts - attempt)
        async with self.db.session() as s:
            # the last attempt locks, unless a right PIN in another call reset the count meanwhile
            locked_now = await s.execute(update(Card).where(Card.id == card_id, Card.phone_banking_locked.is_(False),
                                                            Card.failed_pin_attempts >= self._max_attempts)
                                         .values(phone_banking_locked=True))
            if _matched(locked_now):
                last4 = await s.scalar(select(Card.last4).where(Card.id == card_id))
                s.add(AuditLog(actor=f"call:{call_id}" if call_id else "ivr", action="phone_banking_locked",
                               target=f"card:{card_id}",
                               detail={"reason": "wrong_pin", "attempts": attempt, "card_last4": last4}))
                log.warning("phone banking locked for card %s after %d wrong PINs", card_id, attempt)
                return Verification("locked", card_id=card_id)
            row = (await s.execute(select(Card.phone_banking_locked, Card.failed_pin_attempts)
                                   .where(Card.id == card_id))).one()
            if row.phone_banking_locked:
                return Verification("locked", card_id=card_id)
            return Verification("wrong_pin", card_id=card_id,
                                attempts_left=max(1, self._max_attempts - row.failed_pin_attempts))

    # --- reading ---------------------------------------------------------------------------------

    async def accounts(self, customer_id: int) -> list[AccountInfo]:
        async with self.db.session() as s:
            rows = await s.scalars(select(Account).where(Account.customer_id == customer_id,
                                                         Account.status == "active").order_by(Account.id))
            return [AccountInfo(a.id, a.kind, a.last4, a.balance_fen, a.currency) for a in rows]

    async def billers(self, customer_id: int) -> list[BillerInfo]:
        async with self.db.session() as s:
            rows = await s.scalars(select(Biller).join(BillerRegistration, BillerRegistration.biller_id == Biller.id)
                                   .where(BillerRegistration.customer_id == customer_id).order_by(Biller.id))
            return [BillerInfo(b.id, b.code, b.name, b.name_en) for b in rows]

    # --- card loss -------------------------------------------------------------------------------

    async def report_loss(self, customer_id: int, last4: str, *, call_id: str | None = None) -> LossResult:
        try:
            async with self.db.session() as s:
                card = await s.scalar(select(Card).where(Card.customer_id == customer_id, Card.last4 == last4)
                                      .order_by((Card.status == "active").desc(), Card.id).limit(1))
                if card is None:
                    return LossResult("not_found")
                # freeze first: the conditional UPDATE also serialises two calls reporting the same card
                frozen = await s.execute(update(Card).where(Card.id == card.id, Card.status == "active")
                                         .values(status="lost"))
                existing = await s.scalar(select(LossReport.reference).where(LossReport.card_id == card.id))
                if existing is not None:
                    return LossResult("already_reported", last4=last4, reference=existing, card_id=card.id)
                reference = self._reference("GS", 6)
                s.add(LossReport(card_id=card.id, reference=reference, call_id=call_id, created_at=self._clock()))
                s.add(AuditLog(actor=f"call:{call_id}" if call_id else "ivr", action="card_loss_reported",
                               target=f"card:{card.id}",
                               detail={"reference": reference, "was_active": bool(_matched(frozen))}))
                await s.flush()
                return LossResult("ok", last4=last4, reference=reference, card_id=card.id)
        except IntegrityError:
            # another call filed the report at the same moment: theirs stands
            async with self.db.session() as s:
                existing = await s.scalar(select(LossReport.reference).join(Card, Card.id == LossReport.card_id)
                                          .where(Card.customer_id == customer_id, Card.last4 == last4))
                if existing is None:
                    raise
                return LossResult("already_reported", last4=last4, reference=existing)

    # --- PIN change ------------------------------------------------------------------------------

    async def change_pin(self, card_id: int, old_pin: str, new_pin: str, *,
                         call_id: str | None = None) -> PinChangeResult:
        async with self.db.session() as s:
            card = await s.get(Card, card_id)
            if card is None:
                return PinChangeResult("wrong_pin")
            if card.status != ACTIVE:  # reported lost since the caller was verified
                return PinChangeResult("card_blocked")
            pin_hash = card.pin_hash
            birth = await s.scalar(select(Customer.birth_date).where(Customer.id == card.customer_id))
        attempt = await self._reserve_attempt(card_id)
        if isinstance(attempt, str):
            return PinChangeResult(attempt)
        if not await verify_secret(pin_hash, old_pin):
            result = await self._wrong_pin(card_id, attempt, call_id)
            return PinChangeResult(result.outcome, attempts_left=result.attempts_left)
        reason = weak_pin_reason(new_pin, old_pin, birth)
        if reason:
            async with self.db.session() as s:  # the old PIN was right: the count starts again
                refused = await self._accept_pin(s, card_id)
            return PinChangeResult(refused) if refused else PinChangeResult("weak_pin", reason=reason)
        new_hash = await hash_secret(new_pin)
        async with self.db.session() as s:
            # only if nobody changed it meanwhile: the old PIN we checked must still be the PIN
            changed = await s.execute(update(Card).where(Card.id == card_id, Card.pin_hash == pin_hash,
                                                         Card.status == ACTIVE, Card.phone_banking_locked.is_(False))
                                      .values(pin_hash=new_hash, failed_pin_attempts=0))
            if not _matched(changed):
                return PinChangeResult(await self._refusal(s, card_id) or "wrong_pin")
            s.add(AuditLog(actor=f"call:{call_id}" if call_id else "ivr", action="pin_changed",
                           target=f"card:{card_id}", detail={}))
        return PinChangeResult("ok")

    # --- money -----------------------------------------------------------------------------------

    async def transfer(self, customer_id: int, from_account_id: int, to_account_id: int, amount_fen: int,
                       idempotency_key: str, *, call_id: str | None = None) -> PaymentResult:
        if from_account_id == to_account_id:
            return PaymentResult("invalid")
        return await self._pay("transfer", customer_id, from_account_id, amount_fen, idempotency_key, call_id,
                               to_account_id=to_account_id)

    async def pay_bill(self, customer_id: int, biller_id: int, from_account_id: int, amount_fen: int,
                       idempotency_key: str, *, call_id: str | None = None) -> PaymentResult:
        return await self._pay("bill", customer_id, from_account_id, amount_fen, idempotency_key, call_id,
                               biller_id=biller_id)

    async def _pay(self, kind: str, customer_id: int, from_account_id: int, amount_fen: int, key: str,
                   call_id: str | None, *, to_account_id: int | None = None,
                   biller_id: int | None = None) -> PaymentResult:
        if amount_fen <= 0:
            return PaymentResult("invalid")
        try:
            async with self.db.session() as s:
                await s.execute(update(Customer).where(Customer.id == customer_id).values(id=Customer.id))
                done = await s.scalar(select(Payment).where(Payment.idempotency_key == key))
                if done is not None:
                    return PaymentResult("ok", reference=done.reference, amount_fen=done.amount_fen, repeated=True)
                if not await self._valid_target(s, customer_id, from_account_id, to_account_id, biller_id):
                    return PaymentResult("invalid")
                remaining = self._limits[kind] - await self._paid_today(s, customer_id, kind)
                if amount_fen > remaining:
                    return PaymentResult("limit_exceeded", remaining_fen=max(remaining, 0))
                debited = await s.execute(
                    update(Account)
                    .where(Account.id == from_account_id, Account.customer_id == customer_id,
                           Account.status == "active", Account.balance_fen >= amount_fen)
                    .values(balance_fen=Account.balance_fen - amount_fen))
                if not _matched(debited):
                    return PaymentResult("insufficient_funds")
                if to_account_id is not None:
                    await s.execute(update(Account).where(Account.id == to_account_id)
                                    .values(balance_fen=Account.balance_fen + amount_fen))
                reference = self._reference("TR" if kind == "transfer" else "BP", 8)
                s.add(Payment(idempotency_key=key, kind=kind, customer_id=customer_id,
                              from_account_id=from_account_id, to_account_id=to_account_id, biller_id=biller_id,
                              amount_fen=amount_fen, reference=reference, call_id=call_id,
                              created_at=self._clock()))
                await s.flush()
                return PaymentResult("ok", reference=reference, amount_fen=amount_fen)
        except IntegrityError:
            # the same key committed by a concurrent request on another connection: report that one
            async with self.db.session() as s:
                done = await s.scalar(select(Payment).where(Payment.idempotency_key == key))
                if done is None:
                    raise
                return PaymentResult("ok", reference=done.reference, amount_fen=done.amount_fen, repeated=True)

    async def _valid_target(self, s: AsyncSession, customer_id: int, from_account_id: int,
                            to_account_id: int | None, biller_id: int | None) -> bool:
        own = set(await s.scalars(select(Account.id).where(Account.customer_id == customer_id,
                                                           Account.status == "active")))
        if from_account_id not in own:
            return False
        if to_account_id is not None:
            return to_account_id in own
        registered = await s.scalar(select(BillerRegistration.id).where(
            BillerRegistration.customer_id == customer_id, BillerRegistration.biller_id == biller_id))
        return registered is not None

    async def _paid_today(self, s: AsyncSession, customer_id: int, kind: str) -> int:
        local_now = self._clock().astimezone(BANK_TZ)
        day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        total = await s.scalar(select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.customer_id == customer_id, Payment.kind == kind, Payment.created_at >= day_start))
        return int(total or 0)

    def _reference(self, prefix: str, random_digits: int) -> str:
        day = self._clock().astimezone(BANK_TZ).strftime("%Y%m%d")
        return f"{prefix}{day}{secrets.randbelow(10**random_digits):0{random_digits}d}"
