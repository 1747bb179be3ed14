"""Whole calls through the IVR service on the real database, in both languages, the way a bridge
drives it: start_call, handle per gather, hangup."""

import logging
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from audit.models import AuditLog
from bank.models import Account, BillerRegistration, Card, LossReport, Payment
from calls.models import Call, IvrStep
from hotline.db import Database, verify_secret
from hotline.settings import Settings
from ivr.actions import Gather, Hangup, Transfer
from ivr.banking.sql import SqlBankingBackend
from ivr.events import CallStarted, Digits, Timeout
from ivr.service import IvrService, UnknownCall
from ivr.speech import say_digits

LI_MOBILE, LI_CARD, LI_PIN = "+8613800138000", "6222020000000001", "147258"
ZHAO_CARD, ZHAO_PIN = "6222020000000002", "258369"
LANGUAGE_KEY = {"zh-CN": "1", "en-US": "2"}


class Caller:
    """A caller on a phone: dials, hears, presses keys. `"."` is silence; a trailing `#` ends an entry."""

    def __init__(self, service: IvrService, number: str = LI_MOBILE) -> None:
        self.service = service
        self.number = number
        self.call_id = ""
        self.actions: list = []

    async def dial(self, language: str | None = None) -> "Caller":
        turn = await self.service.start_call("softphone", "ext-1", CallStarted(self.number, "95588"))
        self.call_id, self.actions = turn.call_id, turn.actions
        if language:
            await self.press(LANGUAGE_KEY[language])
        return self

    async def press(self, *groups: str) -> list:
        for group in groups:
            gather = self.actions[-1]
            assert isinstance(gather, Gather), f"the call is over: {self.actions[-1]}"
            if group == ".":
                event = Timeout()
            else:
                event = Digits(group[:-1] if gather.finish_on_key and group.endswith(gather.finish_on_key) else group)
            self.actions = await self.service.handle(self.call_id, event)
        return self.actions

    async def verify(self, card: str = LI_CARD, pin: str = LI_PIN) -> list:
        return await self.press(card + "#", pin + "#")

    @property
    def heard(self) -> str:
        return " ".join(p.text for a in self.actions for p in getattr(a, "prompts", ()))

    @property
    def prompt_ids(self) -> list[str]:
        return [p.id for a in self.actions for p in getattr(a, "prompts", ())]

    async def hang_up(self) -> None:
        await self.service.hangup(self.call_id, "caller")


@pytest.fixture
def service(settings: Settings, demo_db: Database) -> IvrService:
    return IvrService(settings, demo_db)


async def call_row(db: Database, call_id: str) -> Call:
    async with db.session() as s:
        return await s.get_one(Call, call_id)


async def steps(db: Database, call_id: str) -> list[tuple[str, str, str, str]]:
    async with db.session() as s:
        rows = await s.scalars(select(IvrStep).where(IvrStep.call_id == call_id).order_by(IvrStep.seq))
        return [(r.node, r.kind, r.detail, r.outcome) for r in rows]


async def li_balances(db: Database) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(select(Account.last4, Account.balance_fen).where(Account.customer_id == 1))
        return {last4: fen for last4, fen in rows}


@pytest.mark.parametrize(("language", "savings", "current"), [
    ("zh-CN", "一万二千三百四十五元六角七分", "一千零五元"),
    ("en-US", "twelve thousand three hundred forty-five yuan sixty-seven", "one thousand five yuan"),
])
async def test_balance(service: IvrService, demo_db: Database, language: str, savings: str, current: str) -> None:
    caller = await Caller(service).dial(language)
    await caller.press("1")
    await caller.verify()
    assert savings in caller.heard and current in caller.heard
    assert caller.prompt_ids == ["balance_account", "balance_account", "done_menu"]
    await caller.press("*")  # hear it again
    assert savings in caller.heard
    (goodbye,) = await caller.press("2")
    assert isinstance(goodbye, Hangup) and goodbye.prompts[-1].id == "goodbye"
    assert service.language(caller.call_id) == language
    await caller.hang_up()

    call = await call_row(demo_db, caller.call_id)
    assert (call.customer_id, call.verified, call.language, call.business_category) == (1, True, language, "balance")
    assert call.self_service_done and call.status == "completed" and call.ended_at is not None
    assert call.end_reason == "completed"
    path = await steps(demo_db, caller.call_id)
    assert ("balance.verify_number", "key", "*" * 16, "") in path
    assert ("balance.verify_pin", "key", "******", "") in path
    assert ("balance", "operation", "verify", "ok") in path
    assert ("balance", "operation", "accounts", "ok") in path
    assert path[-1][:2] == ("done", "end")
    assert not any(LI_PIN in detail or LI_CARD in detail for _n, _k, detail, _o in path)


@pytest.mark.parametrize(("language", "done_words"), [
    ("zh-CN", "您尾号零零零一的银行卡已挂失并冻结。挂失编号为G S 二零二六"),
    ("en-US", "Your card ending zero zero zero one is now reported lost and frozen. Your reference number is G S two"),
])
async def test_card_loss(service: IvrService, demo_db: Database, language: str, done_words: str) -> None:
    caller = await Caller(service).dial(language)
    await caller.press("2", "1")
    await caller.verify()
    assert caller.prompt_ids == ["loss_enter_last4"] and caller.actions[-1].secure
    await caller.press("9999#")
    assert caller.prompt_ids == ["loss_not_found", "loss_enter_last4"]
    await caller.press("0001#")
    assert done_words in caller.heard
    async with demo_db.session() as s:
        report = await s.scalar(select(LossReport).where(LossReport.call_id == caller.call_id))
        card = await s.scalar(select(Card).where(Card.last4 == "0001"))
    assert card.status == "lost"
    audio = caller.actions[-1].prompts[0].audio
    assert audio[6:8] == (f"hotline/{language}/letters/g", f"hotline/{language}/letters/s")
    # text, 4 digits of the card, text, G, S, each digit of the reference, text
    assert len(audio) == 1 + 4 + 1 + 2 + len(report.reference[2:]) + 1
    await caller.press("2")
    await caller.hang_up()
    call = await call_row(demo_db, caller.call_id)
    assert call.business_category == "card_loss" and call.self_service_done


async def test_reporting_an_already_lost_card_gives_the_existing_reference(service: IvrService,
                                                                          demo_db: Database) -> None:
    # Li verifies with his debit card and reports his second (credit) card twice in one call
    async with demo_db.session() as s:
        debit = await s.scalar(select(Card).where(Card.last4 == "0001"))
        s.add(Card(customer_id=debit.customer_id, pan_digest="0" * 64, last4="0009", kind="credit",
                   pin_hash=debit.pin_hash))
    caller = await Caller(service).dial("en-US")
    await caller.press("2", "1")
    await caller.verify()
    await caller.press("0009#")
    reference = caller.heard.split("Your reference number is ")[1]
    await caller.press("1", "2", "1", "0009#")  # main menu, cards, loss: still verified with the debit card
    assert caller.prompt_ids[0] == "loss_already"
    assert f"was already reported lost. The reference number is {reference}" in caller.heard


async def test_reporting_the_card_that_verified_the_caller_ends_the_verification(
        service: IvrService, demo_db: Database) -> None:
    caller = await Caller(service).dial("en-US")
    await caller.press("2", "1")
    await caller.verify()
    await caller.press("0001#")
    assert caller.prompt_ids[0] == "loss_done"
    await caller.press("1", "3")  # main menu, transfer: the lost card authorises nothing more
    assert caller.prompt_ids == ["enter_card"]
    await caller.verify()
    assert caller.prompt_ids[0] == "card_blocked"
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 0


@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
async def test_pin_change(service: IvrService, demo_db: Database, language: str) -> None:
    caller = await Caller(service).dial(language)
    await caller.press("2", "2")
    await caller.verify()
    assert caller.prompt_ids == ["pin_enter_old"]
    await caller.press(LI_PIN + "#", "123456#")
    assert caller.prompt_ids == ["pin_weak_sequence", "pin_enter_new"]
    await caller.press(LI_PIN + "#")
    assert caller.prompt_ids == ["pin_weak_same_as_old", "pin_enter_new"]
    await caller.press("850618#", "850618#")  # only the bank knows the birth date: refused at the end
    assert caller.prompt_ids == ["pin_weak_birth_date", "pin_enter_new"]
    await caller.press("135790#", "135799#")
    assert caller.prompt_ids == ["pin_mismatch", "pin_enter_new"]
    await caller.press("135790#", "135790#")
    assert caller.prompt_ids == ["pin_changed", "done_menu"]
    async with demo_db.session() as s:
        pin_hash = await s.scalar(select(Card.pin_hash).where(Card.last4 == "0001"))
    assert await verify_secret(pin_hash, "135790")
    await caller.hang_up()
    assert (await call_row(demo_db, caller.call_id)).self_service_done


async def test_wrong_old_pin_in_pin_change(service: IvrService) -> None:
    caller = await Caller(service).dial("zh-CN")
    await caller.press("2", "2")
    await caller.verify()
    await caller.press("111111#", "135790#", "135790#")
    assert caller.prompt_ids == ["wrong_pin", "pin_enter_old"]
    assert "还可以尝试两次" in caller.heard


async def test_hang_up_mid_pin_change_changes_nothing(service: IvrService, demo_db: Database) -> None:
    async with demo_db.session() as s:
        before = await s.scalar(select(Card.pin_hash).where(Card.last4 == "0001"))
    caller = await Caller(service).dial("zh-CN")
    await caller.press("2", "2")
    await caller.verify()
    await caller.press(LI_PIN + "#", "135790#")
    assert caller.prompt_ids == ["pin_enter_again"]
    await caller.hang_up()
    async with demo_db.session() as s:
        card = await s.scalar(select(Card).where(Card.last4 == "0001"))
        audits = await s.scalar(select(func.count()).select_from(AuditLog))
    assert (card.pin_hash, card.failed_pin_attempts, audits) == (before, 0, 0)
    call = await call_row(demo_db, caller.call_id)
    assert not call.self_service_done and call.end_reason == "hangup:caller"
    with pytest.raises(UnknownCall):
        await caller.press("135790#")


@pytest.mark.parametrize(("language", "confirm_words"), [
    ("zh-CN", "您将从尾号零零零一的账户向尾号零零零二的账户转账一百元五角。"),
    ("en-US", "You are transferring one hundred yuan fifty from the account ending zero zero zero one to the "
              "account ending zero zero zero two."),
])
async def test_transfer(service: IvrService, demo_db: Database, language: str, confirm_words: str) -> None:
    caller = await Caller(service).dial(language)
    await caller.press("3")
    await caller.verify()
    assert caller.prompt_ids == ["choose_from_account", "account_option", "account_option"]
    await caller.press("3")
    assert caller.prompt_ids == ["invalid_choice", "choose_from_account", "account_option", "account_option"]
    await caller.press("1", "1*2*3#")
    assert caller.prompt_ids == ["invalid_amount", "enter_amount"]
    await caller.press("100*5#")
    assert caller.heard.startswith(confirm_words)
    await caller.press("1")
    assert caller.prompt_ids == ["transfer_done", "done_menu"]
    assert await li_balances(demo_db) == {"0001": 1_234_567 - 100_50, "0002": 100_500 + 100_50}
    async with demo_db.session() as s:
        payment = await s.scalar(select(Payment).where(Payment.call_id == caller.call_id))
    assert payment.idempotency_key == f"{caller.call_id}:1" and payment.amount_fen == 100_50
    assert say_digits(payment.reference, language).text in caller.heard

    # a second transfer in the same call is a new confirmation with its own key
    await caller.press("1", "3", "2", "5#", "1")
    assert caller.prompt_ids == ["transfer_done", "done_menu"]
    async with demo_db.session() as s:
        keys = list(await s.scalars(select(Payment.idempotency_key).where(Payment.call_id == caller.call_id)
                                    .order_by(Payment.id)))
    assert keys == [f"{caller.call_id}:1", f"{caller.call_id}:2"]
    assert await li_balances(demo_db) == {"0001": 1_234_567 - 100_50 + 500, "0002": 100_500 + 100_50 - 500}


async def test_transfer_refused_then_cancelled(service: IvrService, demo_db: Database) -> None:
    caller = await Caller(service).dial("en-US")
    await caller.press("3")
    await caller.verify()
    await caller.press("2", "2000#")
    await caller.press("1")
    assert caller.prompt_ids == ["insufficient_funds", "enter_amount"]
    await caller.press("5000*01#", "2")
    assert caller.prompt_ids == ["cancelled", "done_menu"]
    assert service.session(caller.call_id).category == "transfer"  # `0` now would be about the transfer
    await caller.press("1", "3", "#")  # pound at a choice goes back to the menu
    assert caller.prompt_ids == ["main_menu"]
    assert await li_balances(demo_db) == {"0001": 1_234_567, "0002": 100_500}
    await caller.press("2", "2")  # cards menu, PIN change: the caller is still verified
    assert caller.prompt_ids == ["pin_enter_old"]


async def test_hang_up_mid_transfer_leaves_no_trace(service: IvrService, demo_db: Database) -> None:
    caller = await Caller(service).dial("zh-CN")
    await caller.press("3")
    await caller.verify()
    await caller.press("1", "300#")
    assert caller.prompt_ids == ["transfer_confirm"]
    await caller.hang_up()
    await caller.hang_up()  # the bridge may report it twice
    assert await li_balances(demo_db) == {"0001": 1_234_567, "0002": 100_500}
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 0
    call = await call_row(demo_db, caller.call_id)
    assert not call.self_service_done and call.business_category == "transfer"


async def test_retried_confirmation_moves_money_once(service: IvrService, demo_db: Database,
                                                     settings: Settings) -> None:
    caller = await Caller(service).dial("zh-CN")
    await caller.press("3")
    await caller.verify()
    await caller.press("1", "300#", "1")
    assert caller.prompt_ids[0] == "transfer_done"
    # the same confirmation arriving again (a retried webhook, a second node) carries the same key
    again = await SqlBankingBackend(demo_db, settings).transfer(1, 1, 2, 300_00, f"{caller.call_id}:1")
    assert again.outcome == "ok" and again.repeated
    assert await li_balances(demo_db) == {"0001": 1_234_567 - 300_00, "0002": 100_500 + 300_00}


@pytest.mark.parametrize(("language", "confirm_words"), [
    ("zh-CN", "您将从尾号零零零一的账户缴纳国家电网电费八十八元八角。"),
    ("en-US", "You are paying eighty-eight yuan eighty for the State Grid electricity bill from the account "
              "ending zero zero zero one."),
])
async def test_bill_payment(service: IvrService, demo_db: Database, language: str, confirm_words: str) -> None:
    caller = await Caller(service).dial(language)
    await caller.press("4")
    await caller.verify()
    assert caller.prompt_ids == ["choose_biller", "biller_option", "biller_option"]
    await caller.press("1", "1", "88*8#")
    assert caller.heard.startswith(confirm_words)
    await caller.press("1")
    assert caller.prompt_ids == ["bill_done", "done_menu"]
    assert (await li_balances(demo_db))["0001"] == 1_234_567 - 88_80
    await caller.hang_up()
    assert (await call_row(demo_db, caller.call_id)).business_category == "bill"


async def test_customer_without_billers(service: IvrService, demo_db: Database) -> None:
    async with demo_db.session() as s:  # Zhao has no billers, but only a lost card: use Li without his
        await s.execute(delete(BillerRegistration))
    caller = await Caller(service).dial("zh-CN")
    await caller.press("4")
    await caller.verify()
    assert caller.prompt_ids == ["bill_none", "done_menu"]


async def test_pin_lockout_after_three_wrong_pins(service: IvrService, demo_db: Database,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caller = await Caller(service).dial("zh-CN")
    await caller.press("1", LI_CARD + "#", "111111#")
    assert caller.prompt_ids == ["wrong_pin", "enter_pin"]
    await caller.press("222222#")
    assert "还可以尝试一次" in caller.heard
    await caller.press("333333#")
    assert caller.prompt_ids == ["pin_locked", "main_menu"]
    await caller.press("1", LI_CARD + "#", LI_PIN + "#")  # the right PIN no longer helps
    assert caller.prompt_ids == ["pin_locked", "main_menu"]
    (transfer,) = await caller.press("0")  # "or speak to an agent"
    assert isinstance(transfer, Transfer) and transfer.category == "other"
    async with demo_db.session() as s:
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "phone_banking_locked"))
    assert audit.actor == f"call:{caller.call_id}"
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in (LI_PIN, "111111", "222222", "333333", LI_CARD):
        assert secret not in logged
    path = await steps(demo_db, caller.call_id)
    for secret in (LI_PIN, "111111", "222222", "333333", LI_CARD):
        assert not any(secret in detail for _n, _k, detail, _o in path)
    assert [o for _n, k, d, o in path if k == "operation" and d == "verify"] == [
        "wrong_pin", "wrong_pin", "locked", "locked"]


async def test_transfer_to_an_agent_is_recorded_on_the_call(service: IvrService, demo_db: Database) -> None:
    caller = await Caller(service).dial("zh-CN")
    await caller.press("2")
    (transfer,) = await caller.press("0")
    assert (transfer.queue, transfer.category) == ("cards", "card_loss")
    call = await call_row(demo_db, caller.call_id)
    assert (call.queue, call.business_category, call.self_service_done) == ("cards", "card_loss", False)
    assert service.language(caller.call_id) == "zh-CN"  # still known for queue announcements
    await caller.hang_up()
    call = await call_row(demo_db, caller.call_id)
    assert call.ended_at is None  # the agent leg is the ACD's to end


async def test_silence_and_invalid_keys_then_an_agent(service: IvrService) -> None:
    caller = await Caller(service).dial("en-US")
    await caller.press(".")
    assert caller.prompt_ids == ["main_menu"]
    await caller.press("8")
    assert caller.heard.startswith("Sorry, that is not a valid choice.")
    (transfer,) = await caller.press(".")
    assert isinstance(transfer, Transfer)


async def test_unknown_calls(service: IvrService) -> None:
    with pytest.raises(UnknownCall):
        await service.handle("no-such-call", Digits("1"))
    with pytest.raises(UnknownCall):
        service.language("no-such-call")
    with pytest.raises(UnknownCall):
        await service.hangup("no-such-call", "caller")


async def test_a_broken_bank_becomes_an_apology_and_an_agent(settings: Settings, demo_db: Database,
                                                             tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.db'}")
    try:
        service = IvrService(settings, demo_db, backend=SqlBankingBackend(empty, settings))
        caller = await Caller(service).dial("zh-CN")  # caller ID lookup fails: no greeting, no harm
        assert "李先生" not in caller.heard
        await caller.press("1")
        (transfer,) = await caller.verify()
        assert isinstance(transfer, Transfer) and [p.id for p in transfer.prompts] == ["service_error",
                                                                                      "transfer_hold"]
        assert "IVR operation verify failed" in caplog.text
        assert LI_PIN not in caplog.text and LI_CARD not in caplog.text
    finally:
        await empty.dispose()
