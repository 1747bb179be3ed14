"""A card reported lost stops opening telephone banking: whole calls through the Twilio stand-in
(signed webhooks, TwiML) to the real IVR on the demo data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bank.models import Account, Card, Payment
from calls.models import Call
from hotline.db import Database, verify_secret
from hotline.demo import DEMO_CARDS
from hotline.settings import Settings
from ivr.service import IvrService
from tests.twilio.harness import Env

CARD, PIN = "6222020000000001", DEMO_CARDS["6222020000000001"]
LOST_CARD, LOST_PIN = "6222020000000002", DEMO_CARDS["6222020000000002"]
LI_MOBILE, ZHAO_MOBILE = "+8613800138000", "+8613900139000"
ZH = "1"  # the language menu


@pytest.fixture
async def env(make_env: Callable[..., Any], settings: Settings, demo_db: Database) -> Env:
    return await make_env(ivr=lambda s, db: IvrService(s, db))


def text(env: Env, prompt_id: str, **params: Any) -> str:
    return env.ivr.prompts.render(prompt_id, "zh-CN", **params).text


async def call_row(env: Env, sid: str) -> Call:
    async with env.db.session() as s:
        return await s.scalar(select(Call).where(Call.external_id == sid))


async def money(env: Env) -> tuple[dict[str, int], int]:
    async with env.db.session() as s:
        balances = {a.last4: a.balance_fen for a in await s.scalars(select(Account))}
        payments = await s.scalar(select(func.count()).select_from(Payment))
    return balances, payments or 0


async def test_a_card_reported_lost_in_one_call_is_refused_in_the_next(env: Env) -> None:
    report = await env.twilio.call([ZH, "2", "1", f"{CARD}#", f"{PIN}#", "0001#", "2"])
    assert any(said.startswith("您尾号零零零一的银行卡已挂失并冻结") for said in report.said())
    before = await money(env)

    # balance, then a transfer: both refused
    again = await env.twilio.call([ZH, "1", f"{CARD}#", f"{PIN}#", "3", f"{CARD}#", f"{PIN}#"])
    said = again.said()
    assert said.count(text(env, "card_blocked")) == 2
    assert said[said.index(text(env, "card_blocked")) + 1] == text(env, "main_menu")
    assert not any("可用余额" in s for s in said)  # no balance read out
    assert text(env, "choose_from_account") not in said  # the transfer never began
    assert again.final_status == "completed"
    call = await call_row(env, again.sid)
    assert (call.verified, call.self_service_done) == (False, False)
    assert await money(env) == before


async def test_the_demo_lost_card_cannot_read_balances_or_change_its_pin(env: Env) -> None:
    caller = await env.twilio.call([ZH, "1", f"{LOST_CARD}#", f"{LOST_PIN}#", "2", "2", f"{LOST_CARD}#",
                                    f"{LOST_PIN}#"], from_=ZHAO_MOBILE)
    said = caller.said()
    assert said.count(text(env, "card_blocked")) == 2
    assert not any("可用余额" in s for s in said) and text(env, "pin_enter_old") not in said
    assert said[-1] == text(env, "cards_menu")  # back where the PIN change was chosen
    call = await call_row(env, caller.sid)
    assert not call.verified
    async with env.db.session() as s:
        lost = await s.scalar(select(Card).where(Card.last4 == "0002"))
    assert lost.failed_pin_attempts == 0 and await verify_secret(lost.pin_hash, LOST_PIN)

    # and 0 right after the refusal reaches the card desk
    caller = await env.twilio.call([ZH, "1", f"{LOST_CARD}#", f"{LOST_PIN}#", "0"], from_=ZHAO_MOBILE)
    said = caller.said()
    assert said[said.index(text(env, "card_blocked")) + 2] == text(env, "transfer_hold")  # after the menu
    assert env.acd.log[0] == ("enqueue", (await call_row(env, caller.sid)).id, "cards")
