"""The menu interpreter on its own: events in, actions out, no database. Operation results are fed
back by hand here; tests/ivr/test_service.py runs the same paths against the real backend."""

from datetime import datetime

import pytest

from acd.config import load_for
from hotline.settings import Settings
from ivr.actions import Gather, Hangup, RunOperation, SetAttribute, Transfer
from ivr.banking.ports import CustomerInfo
from ivr.engine import BRIDGE_PROMPTS, ENGINE_PROMPTS, Engine, parse_amount
from ivr.events import CallStarted, Digits, HungUp, OperationResult, Timeout
from ivr.menus import load_menus
from ivr.prompts import load_prompts
from ivr.service import routing_of
from ivr.session import Session

LI = CustomerInfo(1, "李伟", "Li Wei", "李", "Li", "先生", "Mr", "standard", "zh-CN")
SMITH = CustomerInfo(3, "John Smith", "John Smith", "Smith", "Smith", "先生", "Mr", "vip", "en-US")


def make_engine(settings: Settings, *, is_open=None, english_numbers=()) -> Engine:
    prompts = load_prompts(settings.config_path(settings.ivr.prompts))
    routing = routing_of(load_for(settings))
    menus = load_menus(settings.config_path(settings.ivr.menus), prompts, routing, ENGINE_PROMPTS | BRIDGE_PROMPTS)
    ivr = settings.ivr.model_copy(update={"english_numbers": list(english_numbers)})
    return Engine(menus, prompts, ivr, routing, is_open=is_open, clock=lambda: datetime(2026, 11, 22, 3, 0))


def texts(actions) -> list[str]:
    return [p.text for a in actions for p in getattr(a, "prompts", ())]


def ids(actions) -> list[str]:
    return [p.id for a in actions for p in getattr(a, "prompts", ())]


def call(engine: Engine, customer=None, language=None, dialled="95588") -> tuple[Session, list]:
    s = engine.new_session("call-1")
    actions = engine.step(s, CallStarted("+8613800138000", dialled, language))
    assert actions == [RunOperation("identify", {"caller_number": "+8613800138000"})]
    return s, engine.step(s, OperationResult("identify", "ok", {"customer": customer}))


def in_main_menu(engine: Engine, customer=LI, language="zh-CN") -> Session:
    s, actions = call(engine, customer, language=language)
    assert ids(actions)[-1] == "main_menu"
    return s


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return make_engine(settings)


def test_language_menu_then_greeting_by_title_and_surname(engine: Engine) -> None:
    s, actions = call(engine, LI)
    assert actions[0] == SetAttribute("customer_id", "1")
    gather = actions[-1]
    assert isinstance(gather, Gather) and (gather.max_digits, gather.finish_on_key) == (1, "")
    assert texts(actions) == ["普通话服务请按1。", "For English, press 2."]
    actions = engine.step(s, Digits("2"))
    assert SetAttribute("language", "en-US") in actions
    assert texts(actions)[:2] == ["Welcome to Huaxin Bank customer service.", "Hello, Mr Li."]
    assert ids(actions)[-1] == "main_menu" and s.language == "en-US"

    s, actions = call(engine, LI)
    assert texts(engine.step(s, Digits("1")))[1] == "李先生，您好。"


def test_unknown_caller_is_not_greeted_by_name(engine: Engine) -> None:
    _s, actions = call(engine, None, language="zh-CN")
    assert ids(actions) == ["welcome", "main_menu"]
    assert not any(isinstance(a, SetAttribute) and a.name == "customer_id" for a in actions)


def test_dialled_number_can_force_english(settings: Settings) -> None:
    engine = make_engine(settings, english_numbers=["+862195588"])
    s, actions = call(engine, LI, dialled="+862195588")
    assert SetAttribute("language", "en-US") in actions
    assert ids(actions) == ["welcome", "greet_customer", "main_menu"] and s.language == "en-US"


def test_star_repeats_and_hash_goes_back(engine: Engine) -> None:
    s = in_main_menu(engine)
    assert ids(engine.step(s, Digits("*"))) == ["main_menu"]
    assert ids(engine.step(s, Digits("2"))) == ["cards_menu"]
    assert ids(engine.step(s, Digits("*"))) == ["cards_menu"]
    assert ids(engine.step(s, Digits("#"))) == ["main_menu"]
    assert ids(engine.step(s, Digits("#"))) == ["main_menu"]  # nothing above the top


def test_zero_reaches_an_agent_for_the_business_of_the_menu(engine: Engine) -> None:
    s = in_main_menu(engine)
    engine.step(s, Digits("2"))
    actions = engine.step(s, Digits("0"))
    assert actions == [Transfer(queue="cards", category="card_loss", skills=("cards",), priority=0,
                                prompts=actions[0].prompts)]
    assert ids(actions) == ["transfer_hold"]
    assert engine.step(s, Digits("1")) == [Hangup(reason="ivr_finished")]  # the IVR is done with it

    s = in_main_menu(engine, language="en-US")
    (transfer,) = engine.step(s, Digits("0"))
    assert (transfer.queue, transfer.category, transfer.skills) == ("general", "other", ("general",))
    assert texts([transfer]) == ["Please hold while we connect you to an agent."]


def test_vip_customers_go_to_the_vip_queue_first(engine: Engine) -> None:
    s = in_main_menu(engine, SMITH)
    (transfer,) = engine.step(s, Digits("5"))
    assert (transfer.queue, transfer.category, transfer.priority) == ("vip", "complaint", 10)


def test_complaints_option_transfers_to_complaints(engine: Engine) -> None:
    s = in_main_menu(engine)
    (transfer,) = engine.step(s, Digits("5"))
    assert (transfer.queue, transfer.category, transfer.skills) == ("complaints", "complaint", ("complaints",))
    assert s.transferred and not s.contained


def test_invalid_key_then_silence_then_agent(engine: Engine) -> None:
    s = in_main_menu(engine)
    assert ids(engine.step(s, Digits("9"))) == ["invalid_choice", "main_menu"]
    assert ids(engine.step(s, Timeout())) == ["main_menu"]
    (transfer,) = engine.step(s, Digits("")) # an empty result is silence too: the third failure
    assert isinstance(transfer, Transfer) and transfer.queue == "general"
    assert [(p.kind, p.detail, p.outcome) for p in s.path[-3:]] == [
        ("timeout", "", ""), ("timeout", "", ""), ("transfer", "general/other", "failures")]


def test_failures_outside_service_hours_end_politely(settings: Settings) -> None:
    asked = []

    def closed(queue: str, now: datetime) -> bool:
        asked.append((queue, now))
        return False

    engine = make_engine(settings, is_open=closed)
    s = in_main_menu(engine, language="en-US")
    for _ in range(2):
        engine.step(s, Digits("7"))
    (hangup,) = engine.step(s, Digits("7"))
    assert hangup == Hangup(reason="agent_closed", prompts=hangup.prompts)
    assert ids([hangup]) == ["agent_closed", "goodbye"]
    assert asked == [("general", datetime(2026, 11, 22, 3, 0))]
    assert s.ended and not s.transferred


def test_zero_outside_service_hours_says_so_and_stays_in_the_menu(settings: Settings) -> None:
    engine = make_engine(settings, is_open=lambda queue, now: queue != "cards")
    s = in_main_menu(engine)
    engine.step(s, Digits("2"))
    assert ids(engine.step(s, Digits("0"))) == ["agent_closed", "cards_menu"]
    assert ids(engine.step(s, Digits("#"))) == ["main_menu"]
    assert isinstance(engine.step(s, Digits("0"))[0], Transfer)  # general is open


def test_nobody_choosing_a_language_gets_the_default(engine: Engine) -> None:
    s, _ = call(engine, LI)
    assert ids(engine.step(s, Digits("7"))) == ["invalid_choice", "choose_language", "choose_language"]
    engine.step(s, Timeout())
    actions = engine.step(s, Timeout())
    assert SetAttribute("language", "zh-CN") in actions and ids(actions)[-1] == "main_menu"


def test_services_ask_for_card_and_pin_as_secure_entries(engine: Engine) -> None:
    s = in_main_menu(engine)
    (number,) = engine.step(s, Digits("1"))
    assert isinstance(number, Gather) and ids([number]) == ["enter_card"]
    assert (number.secure, number.finish_on_key, number.max_digits) == (True, "#", 20)
    assert ids(engine.step(s, Digits("12345"))) == ["invalid_card", "enter_card"]
    (pin,) = engine.step(s, Digits("6222020000000001"))
    assert (pin.secure, pin.finish_on_key, pin.max_digits) == (True, "#", 7)  # above 6: a '#' is not left over
    assert ids(engine.step(s, Digits("1234"))) == ["pin_format", "enter_pin"]
    (run,) = engine.step(s, Digits("147258"))
    assert run == RunOperation("verify", {"number": "6222020000000001", "pin": "147258"})
    assert "147258" not in repr(run) and "6222020000000001" not in repr(run)
    secret_keys = [p.detail for p in s.path if p.kind == "key" and p.node.startswith("balance.")]
    assert secret_keys == ["*****", "****************", "****", "******"]


def test_wrong_pin_locked_and_unknown_number(engine: Engine) -> None:
    s = in_main_menu(engine)
    engine.step(s, Digits("1"))
    engine.step(s, Digits("6222020000000001"))
    engine.step(s, Digits("111111"))
    actions = engine.step(s, OperationResult("verify", "wrong_pin", {"attempts_left": 2}))
    assert texts(actions) == ["密码错误，您还可以尝试两次。", "请输入六位密码，以井号键结束。"]
    engine.step(s, Digits("222222"))
    actions = engine.step(s, OperationResult("verify", "locked", {}))
    assert ids(actions) == ["pin_locked", "main_menu"] and not s.verified

    s = in_main_menu(engine)
    engine.step(s, Digits("1"))
    for attempt in range(3):
        engine.step(s, Digits("6222020000009999"))
        engine.step(s, Digits("111111"))
        actions = engine.step(s, OperationResult("verify", "not_found", {}))
        if attempt < 2:
            assert ids(actions) == ["invalid_card", "enter_card"]
    assert isinstance(actions[-1], Transfer) and ids(actions) == ["invalid_card", "transfer_hold"]


def test_hangup_forgets_secrets(engine: Engine) -> None:
    s = in_main_menu(engine)
    engine.step(s, Digits("1"))
    engine.step(s, Digits("6222020000000001"))
    assert s.scratch
    assert engine.step(s, HungUp("caller")) == []
    assert s.ended and s.scratch == {} and s.path[-1].kind == "end"
    assert engine.step(s, HungUp("caller")) == []


def test_result_for_another_operation_is_refused(engine: Engine) -> None:
    s = in_main_menu(engine)
    with pytest.raises(ValueError, match="while waiting at 'menu'"):
        engine.step(s, OperationResult("transfer", "ok", {}))


@pytest.mark.parametrize(("keys", "fen"), [
    ("100", 10000), ("1234*5", 123450), ("1234*56", 123456), ("0*05", 5), ("*5", 50), ("12*", 1200),
    ("0", None), ("*", None), ("1*234", None), ("1*2*3", None), ("", None), ("1234567890", None),
    ("12#3", None),
])
def test_amount_entry(keys: str, fen: int | None) -> None:
    assert parse_amount(keys) == fen


CARD, PIN = "6222020000000001", "147258"


def verify_for(engine: Engine, s: Session, outcome: str, data: dict | None = None) -> list:
    engine.step(s, Digits(CARD))
    engine.step(s, Digits(PIN))
    return engine.step(s, OperationResult("verify", outcome, data or {}))


@pytest.mark.parametrize(("language", "words"), [
    ("zh-CN", "此卡已挂失或暂停使用，无法办理电话银行业务。转人工服务请按0。"),
    ("en-US", "This card has been reported lost or is suspended, so it cannot be used for telephone banking. "
              "To speak to an agent, press 0."),
])
def test_a_lost_or_frozen_card_is_refused_and_zero_reaches_the_card_desk(engine: Engine, language: str,
                                                                         words: str) -> None:
    s = in_main_menu(engine, language=language)
    engine.step(s, Digits("1"))  # balance
    actions = verify_for(engine, s, "card_blocked")
    assert ids(actions) == ["card_blocked", "main_menu"] and texts(actions)[0] == words
    assert not s.verified and s.card_id is None and s.scratch == {}
    assert ids(engine.step(s, Digits("3"))) == ["enter_card"]  # a transfer asks for a card again
    assert ids(verify_for(engine, s, "card_blocked")) == ["card_blocked", "main_menu"]
    (transfer,) = engine.step(s, Digits("0"))
    assert (transfer.queue, transfer.category) == ("cards", "card_loss")


def test_a_busy_pin_check_asks_for_the_pin_again_without_counting_a_failure(engine: Engine,
                                                                           settings: Settings) -> None:
    s = in_main_menu(engine, language="en-US")
    engine.step(s, Digits("1"))
    engine.step(s, Digits(CARD))
    for _ in range(settings.ivr.max_failures + 1):  # however often: never a failure, never an agent
        engine.step(s, Digits(PIN))
        actions = engine.step(s, OperationResult("verify", "busy", {}))
        assert ids(actions) == ["pin_busy", "enter_pin"] and s.step == "verify_pin" and s.failures == 0
    assert texts(actions)[0] == "The system is busy. Please enter your PIN again."
    assert engine.step(s, Digits(PIN)) == [RunOperation("verify", {"number": CARD, "pin": PIN})]


def test_pin_change_busy_asks_again_and_a_card_lost_meanwhile_is_refused(engine: Engine) -> None:
    s = in_main_menu(engine)
    engine.step(s, Digits("2"))
    engine.step(s, Digits("2"))  # PIN change
    assert ids(verify_for(engine, s, "ok", {"customer": LI, "card_id": 7})) == ["pin_enter_old"]

    def change() -> list:
        engine.step(s, Digits(PIN))
        engine.step(s, Digits("135790"))
        (run,) = engine.step(s, Digits("135790"))
        assert run == RunOperation("change_pin", {"card_id": 7, "old_pin": PIN, "new_pin": "135790"})
        return [run]

    change()
    actions = engine.step(s, OperationResult("change_pin", "busy", {}))
    assert ids(actions) == ["pin_busy", "pin_enter_old"] and s.scratch == {} and s.failures == 0
    assert texts(actions)[0] == "系统繁忙，请重新输入密码。"
    change()
    actions = engine.step(s, OperationResult("change_pin", "card_blocked", {}))
    assert ids(actions) == ["card_blocked", "cards_menu"]
    assert not s.verified and s.card_id is None and s.scratch == {}
