"""IVR turns rendered as TwiML and walked as Twilio walks them (scripted IVR: protocol only)."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

from sqlalchemy import select

from calls.models import Call, CallLeg
from tests.twilio.harness import Env


async def test_balance_path_to_hangup_closes_the_call(env: Env) -> None:
    caller = await env.twilio.call(["1"])

    assert caller.final_status == "completed"
    assert caller.paths() == ["/twilio/voice", "/twilio/gather", "/twilio/status"]
    assert caller.said()[0] == env.ivr.prompts.render("welcome", "zh-CN").text
    assert caller.said()[-1] == env.ivr.prompts.render("goodbye", "zh-CN").text
    voice = caller.webhooks[0]
    assert voice.body.startswith("<?xml")
    root = ET.fromstring(voice.body)
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["input"] == "dtmf"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["finishOnKey"] == ""
    assert gather.attrib["action"].startswith("https://hotline.example.com/twilio/gather?turn=")
    assert gather.find("Say").attrib["language"] == "zh-CN"  # prompts nested: the caller can barge in
    async with env.db.session() as s:
        call = await s.scalar(select(Call).where(Call.external_id == caller.sid))
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call.id))).all()
    assert call.status == "completed"
    assert call.ended_at is not None and call.answered_at is not None
    assert call.duration_s == int(caller.elapsed_s) > 0
    assert [leg.kind for leg in legs] == ["caller"] and legs[0].ended_at is not None
    assert env.ivr.hangups == [(call.id, "caller-hangup")]


async def test_twiml_answers_are_text_xml(env: Env) -> None:
    caller = await env.twilio.call(["1"])

    answers = [hook for hook in caller.webhooks if hook.body]
    assert answers and all(hook.content_type == "text/xml" for hook in answers)
    assert all(hook.status == 200 for hook in answers)


async def test_silence_reaches_the_ivr_as_timeout(env: Env) -> None:
    caller = await env.twilio.call([".", "1"])

    kinds = [type(event).__name__ for _, event in env.ivr.events]
    assert kinds == ["CallStarted", "Timeout", "Digits"]
    assert caller.webhooks[1].params["Digits"] == ""
    assert caller.final_status == "completed"


async def test_secure_gather_keys_never_reach_logs_or_twiml(env: Env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caller = await env.twilio.call(["9", "147258#"])

    pin_step = caller.webhooks[2]
    assert pin_step.params["Digits"] == "147258"  # Twilio strips the finish key
    assert pin_step.params["FinishedOnKey"] == "#"
    assert all("147258" not in hook.body for hook in caller.webhooks)
    assert "147258" not in caplog.text
    assert caller.final_status == "completed"


async def test_acd_refusing_the_caller_is_said_not_crashed(env: Env) -> None:
    async def refuse(call) -> None:
        raise RuntimeError("no such queue")

    env.acd.enqueue = refuse
    caller = await env.twilio.call(["0"])

    assert caller.said()[-1] == env.ivr.prompts.render("agent_unavailable", "zh-CN").text
    assert all(hook.status in (200, 204) for hook in caller.webhooks)
    assert caller.final_status == "completed"


async def test_a_call_the_ivr_forgot_is_ended_politely(env: Env) -> None:
    async def forgot(call_id, event):
        raise LookupError(call_id)  # what ivr.service.UnknownCall is

    env.ivr.handle = forgot
    caller = await env.twilio.call(["1"])

    assert caller.said()[-1] == env.ivr.prompts.render("service_error", "zh-CN").text
    assert caller.webhooks[1].status == 200 and "<Hangup" in caller.webhooks[1].body


async def test_unknown_callsid_on_a_later_webhook_hangs_up(env: Env) -> None:
    caller = env.twilio.caller(["1"])
    body = await caller.fetch(caller.public_url + "/twilio/gather?turn=1", {"Digits": "1"})
    assert "<Hangup" in body and env.ivr.events == []
