"""The post-call survey over FastAGI (qa.survey's steps), with the real IvrService and Acd on the
demo data: the agent hangs up first, the caller rates them with one key."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from acd.clock import ManualClock
from acd.models import Agent
from acd.service import Acd
from calls.models import Call
from hotline.telephony.asterisk.bridge import AsteriskBridge
from ivr.service import IvrService
from qa.models import SurveyResponse
from tests.acd.invariants import check_invariants
from tests.asterisk.conftest import FAST
from tests.asterisk.test_agi_faults import no_errors
from tests.standins.asterisk import FakeAgiCall

QUESTION = "GET DATA hotline/en-US/survey_question 5000 1"
INVALID = 'STREAM FILE hotline/en-US/invalid_choice "0123456789*#"'
THANKS = 'STREAM FILE hotline/en-US/survey_thanks ""'
GOODBYE = 'STREAM FILE hotline/en-US/goodbye ""'


@pytest.fixture
async def stack(settings, demo_db):
    async with demo_db.session() as s:
        await s.execute(update(Agent).where(Agent.name.like("Wang%")).values(endpoint="PJSIP/agent1"))
    ivr = IvrService(settings, demo_db)
    acd = await Acd.load(demo_db, settings, clock=ManualClock())
    agent_id = acd.agent_by_endpoint("PJSIP/agent1")
    await acd.login(agent_id)
    for other in acd.snapshot().agents:
        if other.agent_id != agent_id:
            await acd.set_state(other.agent_id, "logged_out")
    bridge = AsteriskBridge(settings, demo_db, ivr, acd, options=FAST)
    await bridge.start()
    yield bridge, acd, agent_id
    await bridge.stop()
    await acd.stop()


async def talk_then_rate(bridge: AsteriskBridge, *ratings: str, **kwargs: object) -> FakeAgiCall:
    """English, "0" for an agent; the agent answers and hangs up once the caller has queued the
    ratings (so nothing on hold can take them)."""
    talking = asyncio.Event()
    assert bridge.agi is not None
    phone = FakeAgiCall(bridge.agi.port, keys=["2", "0"], dial_statuses=["ANSWER"], dial_hold=talking, **kwargs)
    runner = asyncio.create_task(phone.run())
    await phone.wait_for("EXEC Dial")
    for keys in ratings:
        phone.press(keys)
    talking.set()
    await asyncio.wait_for(runner, 30)
    await asyncio.wait_for(bridge.wait_idle(), 10)
    return phone


async def surveys(db) -> list[tuple[str, int | None, str | None, int]]:
    async with db.session() as s:
        return [(r.call_id, r.agent_id, r.queue, r.score) for r in await s.scalars(select(SurveyResponse))]


async def the_call(db) -> Call:
    async with db.session() as s:
        return (await s.execute(select(Call).where(Call.external_id == "1795353419.13"))).scalar_one()


def after_the_agent(phone: FakeAgiCall) -> list[str]:
    return phone.commands[phone.commands.index("GET VARIABLE DIALSTATUS") + 1:]


async def test_the_caller_rates_the_agent_4_and_the_rating_is_stored(stack, demo_db, caplog) -> None:
    bridge, acd, agent_id = stack
    phone = await talk_then_rate(bridge, "4")
    assert after_the_agent(phone) == [QUESTION, THANKS, "HANGUP"]
    call = await the_call(demo_db)
    assert await surveys(demo_db) == [(call.id, agent_id, "general", 4)]
    assert (call.ended_at is not None, call.end_reason) == (True, "completed")
    await acd.drain()
    assert {a.agent_id: a.state for a in acd.snapshot().agents}[agent_id] == "wrap_up"
    check_invariants(acd)
    no_errors(caplog)


async def test_a_wrong_key_is_asked_again_and_the_second_answer_counts(stack, demo_db, caplog) -> None:
    bridge, acd, agent_id = stack
    phone = await talk_then_rate(bridge, "7", "5")
    assert after_the_agent(phone) == [QUESTION, INVALID, QUESTION, THANKS, "HANGUP"]
    call = await the_call(demo_db)
    assert await surveys(demo_db) == [(call.id, agent_id, "general", 5)]
    no_errors(caplog)


async def test_silence_twice_stores_nothing_and_says_goodbye(stack, demo_db, caplog) -> None:
    bridge, acd, _ = stack
    phone = await talk_then_rate(bridge)
    assert after_the_agent(phone) == [QUESTION, QUESTION, GOODBYE, "HANGUP"]
    assert await surveys(demo_db) == []
    no_errors(caplog)


async def test_a_queue_without_a_survey_asks_nothing(stack, demo_db, monkeypatch, caplog) -> None:
    bridge, acd, _ = stack
    configured = acd.queue_config
    monkeypatch.setattr(acd, "queue_config",
                        lambda name: configured(name).model_copy(update={"post_call_survey": False}))
    phone = await talk_then_rate(bridge, "4")
    assert not any("survey" in command for command in phone.commands)
    assert after_the_agent(phone) == ["HANGUP"]
    assert await surveys(demo_db) == []
    await acd.drain()
    check_invariants(acd)
    no_errors(caplog)


async def test_a_caller_who_hangs_up_during_the_question_leaves_a_completed_call(stack, demo_db, caplog) -> None:
    bridge, acd, agent_id = stack
    await talk_then_rate(bridge, hangup_on="GET DATA hotline/en-US/survey_question")
    assert await surveys(demo_db) == []
    call = await the_call(demo_db)
    assert (call.ended_at is not None, call.end_reason) == (True, "completed")
    await acd.drain()
    assert {a.agent_id: a.state for a in acd.snapshot().agents}[agent_id] == "wrap_up"
    check_invariants(acd)
    no_errors(caplog)


async def test_a_caller_who_hangs_up_while_talking_is_not_asked(stack, demo_db, caplog) -> None:
    bridge, acd, _ = stack
    talking = asyncio.Event()
    assert bridge.agi is not None
    phone = FakeAgiCall(bridge.agi.port, keys=["2", "0"], dial_statuses=["ANSWER"], dial_hold=talking)
    runner = asyncio.create_task(phone.run())
    await phone.wait_for("EXEC Dial")
    phone.hang_up()
    await asyncio.wait_for(runner, 30)
    await asyncio.wait_for(bridge.wait_idle(), 10)
    assert not any("survey" in command for command in phone.commands)
    assert await surveys(demo_db) == []
    no_errors(caplog)
