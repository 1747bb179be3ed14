"""Queue hand-off through <Enqueue>, REST redirect to <Dial> the agent, no answer → back to the
queue → next agent, recording callback, post-call survey, callback offer on hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import select

from calls.models import Call, CallLeg, Recording
from hotline.twilio_walker import FarEnd
from qa.models import SurveyResponse
from tests.twilio.harness import Env


async def test_no_answer_goes_back_to_the_queue_then_next_agent_then_survey(make_env) -> None:
    env: Env = await make_env(far_end={"client:agent1": FarEnd("no-answer"), "client:agent2": FarEnd("answered", 95)})
    caller = await env.twilio.call(["0", "4"])
    await env.bridge.drain()

    assert caller.final_status == "completed"
    call_id = env.acd.log[0][1]
    assert env.acd.log == [
        ("enqueue", call_id, "general"), ("offer", call_id, 1), ("failed", call_id, 1, "no-answer"),
        ("offer", call_id, 2), ("answered", call_id, 2), ("ended", call_id, "completed")]
    updates = [r for r in env.twilio.requests if r.path.endswith(f"/Calls/{caller.sid}.json")]
    assert len(updates) == 2
    dial = ET.fromstring(updates[1].first("Twiml")).find("Dial")
    assert dial.attrib["record"] == "record-from-answer-dual"
    assert dial.attrib["timeout"] == "20"
    assert dial.attrib["recordingStatusCallback"].startswith("https://hotline.example.com/twilio/recording?leg=")
    assert dial.attrib["action"].startswith("https://hotline.example.com/twilio/dial?")
    assert dial.find("Client").text == "agent2"
    # the caller heard the queue announcement and the survey, and went through <Enqueue> twice
    assert env.ivr.prompts.render("queue_hold", "zh-CN").text in caller.said()  # offered: no position
    assert env.ivr.prompts.render("survey_thanks", "zh-CN").text == caller.said()[-1]
    assert caller.paths().count("/twilio/queue/wait") >= 2
    async with env.db.session() as s:
        call = await s.get(Call, call_id)
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call_id).order_by(CallLeg.id))).all()
        recordings = (await s.scalars(select(Recording))).all()
        surveys = (await s.scalars(select(SurveyResponse))).all()
    assert call.agent_id == 2 and call.status == "completed" and call.duration_s == int(caller.elapsed_s)
    assert [(leg.kind, leg.agent_id, leg.end_reason) for leg in legs] == [
        ("caller", None, "completed"), ("agent", 1, "no-answer"), ("agent", 2, "completed")]
    assert legs[1].answered_at is None and legs[2].answered_at is not None
    assert legs[2].external_id and legs[2].external_id.startswith("CA")
    assert [(r.call_id, r.leg_id, r.status, r.channels, r.duration_ms) for r in recordings] == [
        (call_id, legs[2].id, "ready", 2, 95_000)]
    assert [(sv.call_id, sv.agent_id, sv.queue, sv.score) for sv in surveys] == [(call_id, 2, "general", 4)]


async def test_no_survey_when_the_queue_has_none(make_env) -> None:
    env: Env = await make_env()
    env.acd.survey = False
    caller = await env.twilio.call(["0"])
    await env.bridge.drain()

    assert caller.said()[-1] == env.ivr.prompts.render("goodbye", "zh-CN").text
    async with env.db.session() as s:
        assert (await s.scalars(select(SurveyResponse))).all() == []


async def test_survey_invalid_key_asks_again_then_stores(make_env) -> None:
    env: Env = await make_env()
    caller = await env.twilio.call(["0", "7", "5"])
    await env.bridge.drain()

    said = caller.said()
    assert said.count(env.ivr.prompts.render("survey_question", "zh-CN").text) == 2
    assert env.ivr.prompts.render("invalid_choice", "zh-CN").text in said
    async with env.db.session() as s:
        assert [sv.score for sv in (await s.scalars(select(SurveyResponse))).all()] == [5]


async def test_callback_offer_on_hold(make_env) -> None:
    env: Env = await make_env()
    env.acd.agents.clear()  # nobody to take the call
    caller = env.twilio.caller(["0"], on_hold=["1"])
    await caller.run()
    await env.bridge.drain()

    call_id = env.acd.log[0][1]
    assert ("callback", call_id, "+8613800138000") in env.acd.log
    assert ("ended", call_id, "caller-hangup") not in env.acd.log  # a booked callback is not an abandoned call
    assert caller.said()[-1] == env.ivr.prompts.render("callback_confirmed", "zh-CN").text
    # position 1, 90 s estimated: "about 2 minutes", then the offer
    position = env.ivr.prompts.render("queue_position", "zh-CN", position=1, minutes=2).text
    assert caller.said()[-3:-1] == [position, env.ivr.prompts.render("callback_offer", "zh-CN").text]
    assert "/twilio/queue/left" in caller.paths()


async def test_caller_hanging_up_on_hold_is_abandoned_in_the_acd(make_env) -> None:
    env: Env = await make_env()
    env.acd.agents.clear()
    caller = env.twilio.caller(["0"], on_hold=["hangup"])
    await caller.run()
    await env.bridge.drain()

    call_id = env.acd.log[0][1]
    assert env.acd.log[-1] == ("ended", call_id, "caller-hangup")
    assert env.acd.log.count(("ended", call_id, "caller-hangup")) == 1  # <Enqueue action> and status: told once
    assert caller.paths()[-2:] == ["/twilio/queue/left", "/twilio/status"]
    assert env.bridge.calls.by_call_id(call_id) is None
