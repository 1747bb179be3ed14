"""The real IVR (demo menus and data) and the real ACD behind the bridge, driven through the stand-in
exactly as Twilio would drive them."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from acd.clock import ManualClock
from acd.config import load_for
from acd.models import Callback
from acd.service import Acd
from audit.models import AuditLog
from bank.models import Card
from calls.models import Call, CallLeg, IvrStep, Recording
from hotline.db import Database
from hotline.demo import DEMO_CARDS
from hotline.settings import Settings
from hotline.twilio_walker import FarEnd
from ivr.service import IvrService
from qa.models import SurveyResponse
from tests.acd.invariants import check_invariants
from tests.twilio.harness import Env

CARD, PIN = "6222020000000001", DEMO_CARDS["6222020000000001"]
ZH, EN = "1", "2"  # the language menu


@pytest.fixture
async def stack(make_env: Callable[..., Any], settings: Settings, demo_db: Database) -> AsyncIterator[Callable[..., Any]]:
    acds: list[Acd] = []

    async def make(*, far_end: Any = None, login: tuple[str, ...] = ("client:agent1", "client:agent2")) -> Env:
        clock = ManualClock()  # Monday 10:00 in Shanghai: every queue is open
        acd = Acd(load_for(settings), demo_db, settings, clock=clock)
        await acd.start()
        acds.append(acd)
        env = await make_env(ivr=lambda s, db: IvrService(s, db, is_open=acd.is_open, clock=clock.now),
                             acd=acd, far_end=far_end)
        env.events = []  # type: ignore[attr-defined]
        acd.add_listener(lambda event: env.events.append(event))  # type: ignore[attr-defined]
        for endpoint in login:
            await acd.login(acd.agent_by_endpoint(endpoint))
        return env

    yield make
    for acd in acds:
        await acd.stop()


def text(env: Env, prompt_id: str, language: str = "zh-CN", **params: Any) -> str:
    return env.ivr.prompts.render(prompt_id, language, **params).text


async def call_row(env: Env, sid: str) -> Call:
    async with env.db.session() as s:
        return await s.scalar(select(Call).where(Call.external_id == sid))


async def settle(env: Env) -> None:
    await env.twilio.settle()
    await env.bridge.drain()
    await env.acd.drain()


async def test_balance_to_hang_up(stack, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    env: Env = await stack()
    caller = await env.twilio.call([ZH, "1", f"{CARD}#", f"{PIN}#", "2"])

    said = caller.said()
    assert said[:2] == [text(env, "choose_language"), text(env, "choose_language", "en-US")]
    assert "您尾号零零零一的储蓄账户可用余额为一万二千三百四十五元六角七分。" in said
    assert said[-1] == text(env, "goodbye")
    assert caller.final_status == "completed"
    call = await call_row(env, caller.sid)
    assert (call.verified, call.self_service_done, call.status) == (True, True, "completed")
    assert call.customer_id is not None and call.duration_s == int(caller.elapsed_s)
    async with env.db.session() as s:
        steps = (await s.scalars(select(IvrStep).where(IvrStep.call_id == call.id))).all()
    assert steps and all(PIN not in step.detail and CARD not in step.detail for step in steps)
    assert all(PIN not in hook.body and CARD not in hook.body for hook in caller.webhooks)
    assert PIN not in caplog.text and CARD not in caplog.text


@pytest.mark.parametrize(("keys", "last"), [
    ([ZH, "1"], ("enter_card", "zh-CN")),                       # balance: verify first
    ([ZH, "2"], ("cards_menu", "zh-CN")),
    ([ZH, "2", "1"], ("enter_card", "zh-CN")),                  # card loss
    ([ZH, "2", "2"], ("enter_card", "zh-CN")),                  # PIN change
    ([ZH, "2", "#"], ("main_menu", "zh-CN")),                   # back
    ([ZH, "3"], ("enter_card", "zh-CN")),                       # transfer
    ([ZH, "4"], ("enter_card", "zh-CN")),                       # bill
    ([ZH, "*"], ("main_menu", "zh-CN")),                        # repeat
    ([ZH, "9"], ("main_menu", "zh-CN")),                        # invalid: told, then the menu again
    ([ZH, "."], ("main_menu", "zh-CN")),                        # silence: the menu again
    ([EN, "2"], ("cards_menu", "en-US")),
    ([EN, "1"], ("enter_card", "en-US")),
])
async def test_menu_tree(stack, keys: list[str], last: tuple[str, str]) -> None:
    env: Env = await stack()
    caller = await env.twilio.call(keys)

    prompt = env.ivr.prompts.render(last[0], last[1])
    assert caller.heard[-1].text == prompt.text and caller.heard[-1].language == prompt.language
    if keys[-1] == "9":
        assert text(env, "invalid_choice") in caller.said()
    assert caller.final_status == "completed"
    call = await call_row(env, caller.sid)
    assert call.ended_at is not None and call.language == last[1]


async def test_complaint_goes_to_the_complaints_queue(stack) -> None:
    env: Env = await stack(login=())
    caller = env.twilio.caller([ZH, "5"], on_hold=["hangup"])
    await caller.run()
    await settle(env)

    assert text(env, "transfer_hold") in caller.said()
    enqueued = [e for e in env.events if e.kind == "enqueued"]
    assert [(e.queue, e.call_id) for e in enqueued] == [("complaints", (await call_row(env, caller.sid)).id)]
    assert [e.kind for e in env.events if e.call_id == enqueued[0].call_id][-1] == "abandoned"


async def test_pin_lockout(stack, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    env: Env = await stack()
    caller = await env.twilio.call([ZH, "1", f"{CARD}#", "111111#", f"{CARD}#", "222222#", f"{CARD}#", "333333#"])

    assert text(env, "pin_locked") in caller.said()
    async with env.db.session() as s:
        card = await s.scalar(select(Card).where(Card.last4 == CARD[-4:]))
        audit = (await s.scalars(select(AuditLog))).all()
    assert card.phone_banking_locked
    assert any("lock" in row.action for row in audit)
    for secret in ("111111", "222222", "333333", CARD):
        assert secret not in caplog.text
        assert all(secret not in hook.body for hook in caller.webhooks)


async def test_agent_no_answer_back_to_queue_next_agent_survey(stack) -> None:
    env: Env = await stack(far_end={"client:agent1": FarEnd("no-answer"), "client:agent2": FarEnd("answered", 120)})
    a1, a2 = env.acd.agent_by_endpoint("client:agent1"), env.acd.agent_by_endpoint("client:agent2")
    caller = await env.twilio.call([ZH, "0", "5"])
    await settle(env)

    call = await call_row(env, caller.sid)
    kinds = [(e.kind, e.agent_id) for e in env.events if e.call_id == call.id and e.kind != "position"]
    assert kinds[:5] == [("enqueued", None), ("offered", a1), ("missed", a1), ("offered", a2), ("answered", a2)]
    assert ("wrap_up", a2) in kinds
    assert caller.said()[-1] == text(env, "survey_thanks")
    async with env.db.session() as s:
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call.id).order_by(CallLeg.id))).all()
        recording = await s.scalar(select(Recording).where(Recording.call_id == call.id))
        survey = await s.scalar(select(SurveyResponse).where(SurveyResponse.call_id == call.id))
    assert [(leg.kind, leg.agent_id, leg.end_reason) for leg in legs] == [
        ("caller", None, "completed"), ("agent", a1, "no-answer"), ("agent", a2, "completed")]
    assert recording.leg_id == legs[2].id and recording.duration_ms == 120_000
    assert (survey.agent_id, survey.queue, survey.score) == (a2, "general", 5)
    assert (call.agent_id, call.queue, call.business_category) == (a2, "general", "other")
    updates = [ET.fromstring(r.first("Twiml")) for r in env.twilio.requests if r.path.endswith(f"{caller.sid}.json")]
    assert [u.find("Dial/Client").text for u in updates] == ["agent1", "agent2"]
    assert all(u.find("Dial").get("timeout") == "20" for u in updates)  # the general queue's ring timeout
    check_invariants(env.acd)


async def test_rest_failure_is_retried_then_surfaced_and_the_caller_kept(stack, caplog) -> None:
    env: Env = await stack(login=("client:agent1",))
    env.twilio.fail(500, 3)  # the first offer fails for good (3 attempts); the ACD offers again
    caller = await env.twilio.call([ZH, "0", "4"])
    await settle(env)

    statuses = [r.status for r in env.twilio.requests]
    assert statuses == [500, 500, 500, 200]
    assert "failed after 3 attempts" in caplog.text
    call = await call_row(env, caller.sid)
    assert call.agent_id == env.acd.agent_by_endpoint("client:agent1")
    assert caller.said()[-1] == text(env, "survey_thanks")
    async with env.db.session() as s:
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call.id, CallLeg.kind == "agent")
                                .order_by(CallLeg.id))).all()
    assert [leg.end_reason for leg in legs] == ["failed", "completed"]


async def test_callback_booked_on_hold_then_placed_through_rest(stack) -> None:
    env: Env = await stack(login=())
    caller = env.twilio.caller([ZH, "0"], on_hold=["1"])
    await caller.run()
    await settle(env)
    assert caller.said()[-1] == text(env, "callback_confirmed")
    async with env.db.session() as s:
        callback = await s.scalar(select(Callback))
    assert (callback.status, callback.number) == ("pending", "+8613800138000")

    agent1 = env.acd.agent_by_endpoint("client:agent1")
    await env.acd.login(agent1)
    await env.twilio.wait_rest(1)
    await settle(env)

    create = env.twilio.requests[0]
    assert create.path.endswith("/Calls.json")
    assert (create.first("To"), create.first("From")) == ("client:agent1", "+8695588")
    dial = ET.fromstring(create.first("Twiml")).find("Dial")
    assert dial.find("Number").text == "+8613800138000"
    assert dial.get("record") == "record-from-answer-dual"
    outbound = env.twilio.outbound[0]
    assert outbound.final_status == "completed"
    async with env.db.session() as s:
        callback = await s.scalar(select(Callback))
        row = await s.scalar(select(Call).where(Call.external_id == outbound.sid))
        recording = await s.scalar(select(Recording).where(Recording.call_id == row.id))
    assert callback.status == "done"
    assert (row.direction, row.agent_id, row.status) == ("outbound", agent1, "completed")
    assert recording is not None
