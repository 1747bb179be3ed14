"""The SQL banking backend on the demo data: real database, real argon2, real transactions."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from audit.models import AuditLog
from bank.models import Account, Biller, Card, Customer, LossReport, Payment
from hotline.db import Database, digest_number, hash_secret, verify_secret
from hotline.settings import Settings
from ivr.banking.sql import SqlBankingBackend, normalise_number

LI_CARD, LI_PIN = "6222020000000001", "147258"
LI_SAVINGS, LI_CURRENT = "6217000010000001", "6217000010000002"
ZHAO_CARD, ZHAO_PIN = "6222020000000002", "258369"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Beijing

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bank(demo_db: Database, settings: Settings, clock: Clock) -> SqlBankingBackend:
    return SqlBankingBackend(demo_db, settings, clock=clock)


async def customer_id(db: Database, mobile: str) -> int:
    async with db.session() as s:
        return await s.scalar(select(Customer.id).where(Customer.mobile == mobile))


async def balances(db: Database, customer: int) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(select(Account.last4, Account.balance_fen).where(Account.customer_id == customer))
        return {last4: fen for last4, fen in rows}


async def card(db: Database, last4: str) -> Card:
    async with db.session() as s:
        return await s.scalar(select(Card).where(Card.last4 == last4))


async def li_accounts(bank: SqlBankingBackend, db: Database) -> tuple[int, int, int]:
    li = await customer_id(db, "+8613800138000")
    savings, current = await bank.accounts(li)
    return li, savings.id, current.id


@pytest.mark.parametrize(("raw", "e164"), [
    ("+8613800138000", "+8613800138000"), ("13800138000", "+8613800138000"),
    ("008613800138000", "+8613800138000"), ("+86 138-0013-8000", "+8613800138000"), ("anonymous", ""),
])
def test_caller_ids_are_normalised(raw: str, e164: str) -> None:
    assert normalise_number(raw) == e164


async def test_identify_by_caller_id(bank: SqlBankingBackend) -> None:
    li = await bank.identify("13800138000")
    assert li is not None and (li.surname, li.title, li.surname_en, li.title_en) == ("李", "先生", "Li", "Mr")
    smith = await bank.identify("+8613700137000")
    assert smith is not None and smith.segment == "vip"
    assert await bank.identify("+8613111111111") is None
    assert await bank.identify("") is None


async def test_verify_by_card_or_account_number(bank: SqlBankingBackend) -> None:
    by_card = await bank.verify(LI_CARD, LI_PIN)
    assert by_card.outcome == "ok" and by_card.customer is not None and by_card.customer.name == "李伟"
    by_account = await bank.verify(LI_CURRENT, LI_PIN)
    assert by_account.outcome == "ok" and by_account.card_id == by_card.card_id
    assert (await bank.verify("6222029999999999", LI_PIN)).outcome == "not_found"


async def test_three_wrong_pins_lock_phone_banking_and_log_a_security_event(
        bank: SqlBankingBackend, demo_db: Database) -> None:
    first = await bank.verify(LI_CARD, "000001", call_id=None)
    second = await bank.verify(LI_CARD, "000002")
    assert (first.outcome, first.attempts_left, second.attempts_left) == ("wrong_pin", 2, 1)
    assert (await bank.verify(LI_CARD, "000003")).outcome == "locked"
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "locked"  # even the right PIN now
    locked = await card(demo_db, "0001")
    assert locked.phone_banking_locked and locked.failed_pin_attempts == 3
    async with demo_db.session() as s:
        events = list(await s.scalars(select(AuditLog).where(AuditLog.action == "phone_banking_locked")))
    assert len(events) == 1
    assert events[0].target == f"card:{locked.id}" and events[0].detail["attempts"] == 3
    assert "000003" not in str(events[0].detail) and LI_CARD not in str(events[0].detail)


async def test_a_right_pin_resets_the_count(bank: SqlBankingBackend, demo_db: Database) -> None:
    await bank.verify(LI_CARD, "000001")
    await bank.verify(LI_CARD, "000002")
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "ok"
    assert (await bank.verify(LI_CARD, "000003")).attempts_left == 2
    assert not (await card(demo_db, "0001")).phone_banking_locked


async def test_card_loss_freezes_at_once_and_is_idempotent(bank: SqlBankingBackend, demo_db: Database) -> None:
    li = await customer_id(demo_db, "+8613800138000")
    report = await bank.report_loss(li, "0001", call_id=None)
    assert report.outcome == "ok" and report.reference.startswith("GS20261122") and len(report.reference) == 16
    assert (await card(demo_db, "0001")).status == "lost"
    again = await bank.report_loss(li, "0001")
    assert (again.outcome, again.reference) == ("already_reported", report.reference)
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(LossReport)) == 2  # Zhao's demo report + ours
    assert (await bank.report_loss(li, "0003")).outcome == "not_found"  # Smith's card, not Li's
    assert (await bank.report_loss(li, "9999")).outcome == "not_found"


async def test_an_already_lost_card_gives_its_existing_reference(bank: SqlBankingBackend, demo_db: Database) -> None:
    zhao = await customer_id(demo_db, "+8613900139000")
    report = await bank.report_loss(zhao, "0002")
    assert (report.outcome, report.reference) == ("already_reported", "GS20261101001")


async def test_two_calls_reporting_the_same_card_file_one_report(bank: SqlBankingBackend, demo_db: Database) -> None:
    li = await customer_id(demo_db, "+8613800138000")
    results = await asyncio.gather(*(bank.report_loss(li, "0001") for _ in range(4)))
    assert sorted(r.outcome for r in results) == ["already_reported"] * 3 + ["ok"]
    assert len({r.reference for r in results}) == 1


async def test_pin_change(bank: SqlBankingBackend, demo_db: Database) -> None:
    card_id = (await card(demo_db, "0001")).id
    assert (await bank.change_pin(card_id, "000000", "135790")).outcome == "wrong_pin"
    for new, reason in [("111111", "same_digit"), ("345678", "sequence"), (LI_PIN, "same_as_old"),
                        ("850618", "birth_date"), ("180685", "birth_date"), ("12345", "format")]:
        result = await bank.change_pin(card_id, LI_PIN, new)
        assert (result.outcome, result.reason) == ("weak_pin", reason)
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "ok"  # weak attempts changed nothing
    assert (await bank.change_pin(card_id, LI_PIN, "135790")).outcome == "ok"
    assert (await bank.verify(LI_CARD, "135790")).outcome == "ok"
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "wrong_pin"
    async with demo_db.session() as s:
        stored = await s.scalar(select(Card.pin_hash).where(Card.id == card_id))
    assert "135790" not in stored and stored.startswith("$argon2")


async def test_wrong_old_pins_count_towards_the_lock(bank: SqlBankingBackend, demo_db: Database) -> None:
    card_id = (await card(demo_db, "0001")).id
    outcomes = [(await bank.change_pin(card_id, "000000", "135790")).outcome for _ in range(4)]
    assert outcomes == ["wrong_pin", "wrong_pin", "locked", "locked"]


async def test_transfer_moves_money_once_per_key(bank: SqlBankingBackend, demo_db: Database) -> None:
    li, savings, current = await li_accounts(bank, demo_db)
    done = await bank.transfer(li, savings, current, 10050, "call-1:1")
    assert done.outcome == "ok" and done.reference.startswith("TR20261122") and not done.repeated
    assert await balances(demo_db, li) == {"0001": 1_234_567 - 10050, "0002": 100_500 + 10050}
    retried = await bank.transfer(li, savings, current, 10050, "call-1:1")
    assert (retried.outcome, retried.reference, retried.repeated) == ("ok", done.reference, True)
    assert await balances(demo_db, li) == {"0001": 1_234_567 - 10050, "0002": 100_500 + 10050}


async def test_concurrent_retries_of_one_confirmation_pay_once(bank: SqlBankingBackend, demo_db: Database) -> None:
    li, savings, current = await li_accounts(bank, demo_db)
    results = await asyncio.gather(*(bank.transfer(li, savings, current, 100_00, "call-9:1") for _ in range(5)))
    assert [r.outcome for r in results] == ["ok"] * 5
    assert sum(not r.repeated for r in results) == 1 and len({r.reference for r in results}) == 1
    assert (await balances(demo_db, li))["0001"] == 1_234_567 - 100_00


async def test_concurrent_transfers_never_overdraw(bank: SqlBankingBackend, demo_db: Database) -> None:
    li, savings, current = await li_accounts(bank, demo_db)
    # 1,005.00 CNY in the current account; six transfers of 300 CNY race for it
    results = await asyncio.gather(*(bank.transfer(li, current, savings, 300_00, f"race:{i}") for i in range(6)))
    assert sorted(r.outcome for r in results) == ["insufficient_funds"] * 3 + ["ok"] * 3
    assert await balances(demo_db, li) == {"0001": 1_234_567 + 900_00, "0002": 100_500 - 900_00}


async def test_transfer_refusals(bank: SqlBankingBackend, demo_db: Database) -> None:
    li, savings, current = await li_accounts(bank, demo_db)
    zhao = await customer_id(demo_db, "+8613900139000")
    (zhao_savings,) = await bank.accounts(zhao)
    assert (await bank.transfer(li, current, savings, 100_501, "k1")).outcome == "insufficient_funds"
    assert (await bank.transfer(li, savings, savings, 100, "k2")).outcome == "invalid"
    assert (await bank.transfer(li, savings, zhao_savings.id, 100, "k3")).outcome == "invalid"
    assert (await bank.transfer(zhao, savings, current, 100, "k4")).outcome == "invalid"
    assert (await bank.transfer(li, savings, current, 0, "k5")).outcome == "invalid"
    assert await balances(demo_db, li) == {"0001": 1_234_567, "0002": 100_500}
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 0


async def test_daily_transfer_limit(demo_db: Database, settings: Settings, clock: Clock) -> None:
    limited = settings.model_copy(update={"ivr": settings.ivr.model_copy(update={"transfer_daily_limit_fen": 500_00})})
    bank = SqlBankingBackend(demo_db, limited, clock=clock)
    li, savings, current = await li_accounts(bank, demo_db)
    assert (await bank.transfer(li, savings, current, 300_00, "d1")).outcome == "ok"
    over = await bank.transfer(li, savings, current, 300_00, "d2")
    assert (over.outcome, over.remaining_fen) == ("limit_exceeded", 200_00)
    assert (await bank.transfer(li, savings, current, 200_00, "d3")).outcome == "ok"
    clock.now += timedelta(hours=13)  # 23:00 in Beijing: still the same bank day
    assert (await bank.transfer(li, savings, current, 1, "d4")).outcome == "limit_exceeded"
    clock.now += timedelta(hours=2)  # 01:00 the next day
    assert (await bank.transfer(li, savings, current, 500_00, "d5")).outcome == "ok"


async def test_bill_payment(bank: SqlBankingBackend, demo_db: Database, settings: Settings) -> None:
    li, savings, _current = await li_accounts(bank, demo_db)
    billers = await bank.billers(li)
    assert [b.code for b in billers] == ["electricity", "mobile"]
    paid = await bank.pay_bill(li, billers[0].id, savings, 256_80, "b1")
    assert paid.outcome == "ok" and paid.reference.startswith("BP")
    assert (await bank.pay_bill(li, billers[0].id, savings, 256_80, "b1")).repeated
    assert (await balances(demo_db, li))["0001"] == 1_234_567 - 256_80
    over = await bank.pay_bill(li, billers[1].id, savings, settings.ivr.bill_daily_limit_fen, "b2")
    assert over.outcome == "limit_exceeded"
    zhao = await customer_id(demo_db, "+8613900139000")
    assert await bank.billers(zhao) == []
    (zhao_savings,) = await bank.accounts(zhao)
    assert (await bank.pay_bill(zhao, billers[0].id, zhao_savings.id, 100, "b3")).outcome == "invalid"
    async with demo_db.session() as s:
        payment = await s.scalar(select(Payment).where(Payment.idempotency_key == "b1"))
        biller = await s.get(Biller, payment.biller_id)
    assert (payment.kind, payment.to_account_id, biller.code) == ("bill", None, "electricity")


@pytest.fixture
def pins_checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every PIN the backend hands to argon2, in order."""
    import ivr.banking.sql as sql

    checked: list[str] = []
    real_verify = sql.verify_secret

    async def counting_verify(hashed: str, pin: str) -> bool:
        checked.append(pin)
        return await real_verify(hashed, pin)

    monkeypatch.setattr(sql, "verify_secret", counting_verify)
    return checked


async def test_parallel_pin_guesses_are_checked_no_more_than_the_limit(bank: SqlBankingBackend, demo_db: Database,
                                                                      pins_checked: list[str]) -> None:
    """Guesses sent at once must not all be checked before the first failures lock the card."""
    checked = pins_checked
    guesses = [f"{n:06d}" for n in range(900001, 900021)]  # twenty wrong PINs
    results = await asyncio.gather(*(bank.verify("6222020000000001", g) for g in guesses))
    assert len(checked) == 3
    assert sorted(r.outcome for r in results) == ["locked"] * 18 + ["wrong_pin"] * 2
    assert (await bank.verify("6222020000000001", "147258")).outcome == "locked"
    async with demo_db.session() as s:
        locks = await s.scalar(select(func.count()).select_from(AuditLog)
                               .where(AuditLog.action == "phone_banking_locked"))
    assert locks == 1


# --- lost and frozen cards ------------------------------------------------------------------------

ZHAO_SAVINGS = "6217000010000003"


async def set_card_status(db: Database, last4: str, status: str) -> None:
    async with db.session() as s:
        await s.execute(update(Card).where(Card.last4 == last4).values(status=status))




async def test_a_card_reported_lost_no_longer_verifies_by_card_or_account(
        bank: SqlBankingBackend, demo_db: Database, pins_checked: list[str]) -> None:
    li = await customer_id(demo_db, "+8613800138000")
    assert (await bank.report_loss(li, "0001")).outcome == "ok"
    for number in (LI_CARD, LI_SAVINGS, LI_CURRENT):  # the current account has no card: Li's only one is lost
        refused = await bank.verify(number, LI_PIN)
        assert (refused.outcome, refused.customer) == ("card_blocked", None)
    assert pins_checked == []  # refused before the PIN is looked at: a thief learns nothing
    assert (await card(demo_db, "0001")).failed_pin_attempts == 0


async def test_the_demo_lost_card_is_refused_by_card_and_by_its_account(
        bank: SqlBankingBackend, pins_checked: list[str]) -> None:
    for number in (ZHAO_CARD, ZHAO_SAVINGS):
        refused = await bank.verify(number, ZHAO_PIN)
        assert (refused.outcome, refused.customer) == ("card_blocked", None)
    assert pins_checked == []


@pytest.mark.parametrize("status", ["frozen", "stolen", "expired"])
async def test_any_card_that_is_not_active_is_refused(bank: SqlBankingBackend, demo_db: Database,
                                                      status: str) -> None:
    await set_card_status(demo_db, "0001", status)
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "card_blocked"
    assert (await bank.verify(LI_SAVINGS, LI_PIN)).outcome == "card_blocked"
    await set_card_status(demo_db, "0001", "active")
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "ok"


async def test_an_account_is_verified_with_an_active_card_of_its_owner_never_a_lost_one(
        bank: SqlBankingBackend, demo_db: Database, settings: Settings) -> None:
    li = await customer_id(demo_db, "+8613800138000")
    key = settings.security.secret_key.get_secret_value()
    async with demo_db.session() as s:  # a second card, on the current account, with its own PIN
        spare = Card(customer_id=li, account_id=None, pan_digest=digest_number(key, "6222020000000009"),
                     last4="0009", pin_hash=await hash_secret("802468"))
        s.add(spare)
        await s.flush()
        spare_id = spare.id
    await bank.report_loss(li, "0001")
    # the savings account's own card is lost: the account is checked against the spare card's PIN
    assert (await bank.verify(LI_SAVINGS, LI_PIN)).outcome == "wrong_pin"
    by_account = await bank.verify(LI_SAVINGS, "802468")
    assert (by_account.outcome, by_account.card_id) == ("ok", spare_id)


async def test_a_pin_change_is_refused_once_the_card_is_lost(bank: SqlBankingBackend, demo_db: Database,
                                                             pins_checked: list[str]) -> None:
    verified = await bank.verify(LI_CARD, LI_PIN)
    assert verified.outcome == "ok" and verified.card_id is not None
    li = await customer_id(demo_db, "+8613800138000")
    await bank.report_loss(li, "0001")
    assert (await bank.change_pin(verified.card_id, LI_PIN, "135790")).outcome == "card_blocked"
    assert pins_checked == [LI_PIN]  # only the verification's
    assert await verify_secret((await card(demo_db, "0001")).pin_hash, LI_PIN)

    zhao_card = (await card(demo_db, "0002")).id
    assert (await bank.change_pin(zhao_card, ZHAO_PIN, "135790")).outcome == "card_blocked"
    assert await verify_secret((await card(demo_db, "0002")).pin_hash, ZHAO_PIN)


# --- PIN checks in parallel -------------------------------------------------------------------------


class HeldChecks:
    """Stands in for argon2: every check waits until released, so a test can hold them in flight."""

    def __init__(self, real: Callable[[str, str], Awaitable[bool]]) -> None:
        self.real = real
        self.started = 0
        self.changed = asyncio.Condition()
        self.release = asyncio.Event()

    async def __call__(self, hashed: str, pin: str) -> bool:
        async with self.changed:
            self.started += 1
            self.changed.notify_all()
        await self.release.wait()
        return await self.real(hashed, pin)

    async def until_in_flight(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.started >= count)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldChecks:
    import ivr.banking.sql as sql

    checks = HeldChecks(sql.verify_secret)
    monkeypatch.setattr(sql, "verify_secret", checks)
    return checks


async def test_a_right_pin_is_not_told_locked_while_every_attempt_is_being_checked(
        demo_db: Database, settings: Settings, held: HeldChecks) -> None:
    bank = SqlBankingBackend(demo_db, settings, busy_wait_s=0)
    first = [asyncio.create_task(bank.verify(LI_CARD, LI_PIN)) for _ in range(3)]
    await held.until_in_flight(3)  # the card's three attempts are all being checked
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "busy"
    li_card = (await card(demo_db, "0001")).id
    assert (await bank.change_pin(li_card, LI_PIN, "135790")).outcome == "busy"
    assert held.started == 3  # neither was checked
    held.release.set()
    assert [r.outcome for r in await asyncio.gather(*first)] == ["ok"] * 3
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "ok"  # asked again: served
    after = await card(demo_db, "0001")
    assert (after.phone_banking_locked, after.failed_pin_attempts) == (False, 0)


async def test_a_caller_waits_for_the_checks_in_flight_instead_of_being_told_busy(
        bank: SqlBankingBackend, demo_db: Database, held: HeldChecks, monkeypatch: pytest.MonkeyPatch) -> None:
    turned_away = asyncio.Event()  # the fourth found every attempt taken, the card not locked
    real_refusal = bank._refusal

    async def refusal(s: Any, card_id: int) -> str | None:
        why = await real_refusal(s, card_id)
        if why is None:
            turned_away.set()
        return why

    monkeypatch.setattr(bank, "_refusal", refusal)
    first = [asyncio.create_task(bank.verify(LI_CARD, LI_PIN)) for _ in range(3)]
    await held.until_in_flight(3)
    fourth = asyncio.create_task(bank.verify(LI_CARD, LI_PIN))
    await turned_away.wait()
    held.release.set()  # the three finish within the fourth's wait: it is served, not sent away
    assert [r.outcome for r in await asyncio.gather(*first, fourth)] == ["ok"] * 4


async def test_twenty_parallel_right_pins_are_served_or_asked_again_never_locked(
        bank: SqlBankingBackend, demo_db: Database) -> None:
    results = await asyncio.gather(*(bank.verify(LI_CARD, LI_PIN) for _ in range(20)))
    outcomes = [r.outcome for r in results]
    assert set(outcomes) <= {"ok", "busy"} and "ok" in outcomes, outcomes
    after = await card(demo_db, "0001")
    assert (after.phone_banking_locked, after.failed_pin_attempts) == (False, 0)
    assert (await bank.verify(LI_CARD, LI_PIN)).outcome == "ok"
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "phone_banking_locked")) == 0
