"""Connector calls from the ACD: outbound calls through calls.create, overflow of a holding caller."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from acd.ports import OutboundCall, Overflow
from calls.models import Call, CallLeg, Recording
from hotline.telephony.twilio.rest import RestError
from hotline.twilio_walker import FarEnd, GatherInfo, ScriptedKeys
from tests.twilio.harness import Env

CUSTOMER = "+8613900139000"


def outbound(agent_endpoint: str = "client:agent1") -> OutboundCall:
    return OutboundCall(call_id=str(uuid.uuid4()), agent_id=1, agent_endpoint=agent_endpoint,
                        customer_number=CUSTOMER, purpose="callback", reference_id=7, ring_timeout_s=25)


async def row(env: Env, call_id: str) -> Call:
    async with env.db.session() as s:
        return await s.get(Call, call_id)


async def test_outbound_agent_then_customer(make_env) -> None:
    env: Env = await make_env(far_end={CUSTOMER: FarEnd("answered", 42)})
    call = outbound()
    await env.bridge.place_outbound(call)
    await env.twilio.settle()

    [create] = env.twilio.requests
    assert create.first("To") == "client:agent1" and create.first("Timeout") == "25"
    assert create.first("StatusCallback") == f"https://hotline.example.com/twilio/status?call={call.call_id}"
    dial = ET.fromstring(create.first("Twiml")).find("Dial")
    assert (dial.get("callerId"), dial.find("Number").text) == ("+8695588", CUSTOMER)
    assert env.acd.log == [("answered", call.call_id, 1), ("ended", call.call_id, "completed")]
    saved = await row(env, call.call_id)
    assert (saved.direction, saved.external_id, saved.status, saved.agent_id) == (
        "outbound", env.twilio.outbound[0].sid, "completed", 1)
    assert saved.attributes == {"purpose": "callback", "reference_id": 7}
    async with env.db.session() as s:
        recording = await s.scalar(select(Recording).where(Recording.call_id == call.call_id))
    assert recording.duration_ms == 42_000


async def test_outbound_agent_not_answering_is_reported(make_env) -> None:
    env: Env = await make_env(far_end={"client:agent1": FarEnd("no-answer")})
    call = outbound()
    await env.bridge.place_outbound(call)
    await env.twilio.settle()

    assert env.acd.log == [("failed", call.call_id, 1, "no-answer")]
    saved = await row(env, call.call_id)
    assert (saved.status, saved.end_reason) == ("no-answer", "no-answer")


async def test_outbound_customer_busy_ends_the_attempt(make_env) -> None:
    env: Env = await make_env(far_end={CUSTOMER: FarEnd("busy")})
    call = outbound()
    await env.bridge.place_outbound(call)
    await env.twilio.settle()

    assert env.acd.log == [("answered", call.call_id, 1), ("ended", call.call_id, "busy")]
    assert (await row(env, call.call_id)).end_reason == "customer-busy"


async def test_outbound_rest_failure_raises_to_the_acd_without_placing_twice(make_env) -> None:
    """A 500 on calls.create may mean the call was placed anyway: never retried, so the agent's
    phone cannot ring twice for one callback."""
    env: Env = await make_env()
    env.twilio.fail(500, 3)
    call = outbound()
    with pytest.raises(RestError, match="HTTP 500"):
        await env.bridge.place_outbound(call)
    assert len(env.twilio.requests) == 1
    saved = await row(env, call.call_id)
    assert saved.status == "failed"
    async with env.db.session() as s:
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call.call_id))).all()
    assert [leg.end_reason for leg in legs] == ["failed"]


async def test_outbound_is_retried_when_twilio_rate_limits(make_env) -> None:
    env: Env = await make_env()
    env.twilio.fail(429, 2)
    call = outbound()
    await env.bridge.place_outbound(call)
    assert len(env.twilio.requests) == 3
    assert len(env.twilio.outbound) == 1


async def test_outbound_to_an_undiallable_endpoint_raises(make_env) -> None:
    env: Env = await make_env()
    with pytest.raises(ValueError, match="PJSIP/agent1"):  # an Asterisk endpoint: not through Twilio
        await env.bridge.place_outbound(outbound("PJSIP/agent1"))
    assert env.twilio.requests == []


def overflow_on_hold(env: Env, kind: str, keys: list[str]):
    script = ScriptedKeys(keys)
    fired = []

    async def source(gather: GatherInfo) -> str | None:
        if gather.on_hold:
            if not fired:
                fired.append(True)
                call_id = env.acd.log[0][1]
                await env.bridge.overflow(Overflow(call_id, kind, "voicemail" if kind == "voicemail" else ""))
            return None
        return await script(gather)

    return source


async def test_overflow_to_voicemail_records_a_message(make_env) -> None:
    env: Env = await make_env()
    env.acd.agents.clear()
    caller = env.twilio.caller(overflow_on_hold(env, "voicemail", ["0"]))
    await caller.run()
    await env.bridge.drain()

    call_id = env.acd.log[0][1]
    assert ("ended", call_id, "voicemail") in env.acd.log
    assert [h.verb for h in caller.heard][-1] == "record"
    async with env.db.session() as s:
        recording = await s.scalar(select(Recording).where(Recording.call_id == call_id))
    assert recording.leg_id is None and recording.channels == 1


async def test_overflow_to_callback_offer(make_env) -> None:
    env: Env = await make_env()
    env.acd.agents.clear()
    caller = env.twilio.caller(overflow_on_hold(env, "callback", ["0", "1"]))
    await caller.run()
    await env.bridge.drain()

    call_id = env.acd.log[0][1]
    assert ("callback", call_id, "+8613800138000") in env.acd.log
    assert caller.said()[-1] == env.ivr.prompts.render("callback_confirmed", "zh-CN").text
