"""Signed webhooks with input Python would trip over: broken multipart bodies, digits int() refuses
("²" and "①" pass str.isdigit()), numbers too large for an INTEGER column. Each is a clear 400,
the call is untouched, and the log holds a warning, never a traceback."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from sqlalchemy import select
from yarl import URL

from calls.models import Call, CallLeg
from tests.twilio.harness import PUBLIC_URL, Env
from tests.twilio.test_security import SIGNATURE, post, sign, voice_form

HUGE = "9" * 50  # int() takes it; SQLite cannot store it (OverflowError)


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


async def started_call(env: Env) -> str:
    form = voice_form()
    status, _ = await post(env, "/twilio/voice", form, sign(PUBLIC_URL + "/twilio/voice", form))
    assert status == 200
    return form["CallSid"]


async def post_raw(env: Env, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    headers = {"Content-Type": content_type, SIGNATURE: "not-checked-before-the-form-is-read"}
    async with aiohttp.ClientSession() as http, http.post(env.base_url + path, data=body, headers=headers) as r:
        return r.status, await r.text()


BROKEN_BODIES = {
    "no boundary": ("multipart/form-data", b"CallSid=CA1"),
    "a boundary the body never uses": ("multipart/form-data; boundary=xyz",
                                       b'--abc\r\nContent-Disposition: form-data; name="CallSid"\r\n\r\nCA1\r\n--abc--\r\n'),
    "truncated part": ("multipart/form-data; boundary=xyz",
                       b'--xyz\r\nContent-Disposition: form-data; name="CallSid"\r\n\r\nCA1'),
    "part without a name": ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Type: text/plain\r\n\r\n1\r\n--xyz--\r\n"),
    "part header without a colon": ("multipart/form-data; boundary=xyz", b"--xyz\r\nnonsense\r\n\r\n1\r\n--xyz--\r\n"),
    "unknown charset": ("multipart/form-data; boundary=xyz",
                        b'--xyz\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; charset=nope'
                        b"\r\n\r\n1\r\n--xyz--\r\n"),
    "unknown transfer encoding": ("multipart/form-data; boundary=xyz",
                                  b'--xyz\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: x'
                                  b"\r\n\r\n1\r\n--xyz--\r\n"),
    "invalid UTF-8": ("multipart/form-data; boundary=xyz",
                      b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\xfe\r\n--xyz--\r\n'),
    "a file": ("multipart/form-data; boundary=xyz",
               b'--xyz\r\nContent-Disposition: form-data; name="CallSid"; filename="sid.txt"\r\n'
               b"Content-Type: text/plain\r\n\r\nCA" + b"1" * 32 + b"\r\n--xyz--\r\n"),
    "urlencoded in an unknown charset": ("application/x-www-form-urlencoded; charset=nope", b"CallSid=CA1"),
}


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/gather?turn=1", "/twilio/status"])
@pytest.mark.parametrize("case", list(BROKEN_BODIES))
async def test_a_body_that_is_not_a_form_is_a_400_without_traceback(env: Env, caplog, path: str, case: str) -> None:
    content_type, body = BROKEN_BODIES[case]
    status, text = await post_raw(env, path, body, content_type)
    assert status == 400, text
    assert text.startswith("bad Twilio webhook: ")
    assert env.ivr.events == []
    no_tracebacks(caplog)


@pytest.mark.parametrize("turn", ["²", "①", "٣", "1\n", "0x1", "-1", "1" * 10])
async def test_a_turn_that_is_not_a_small_ascii_number_is_a_400(env: Env, caplog, turn: str) -> None:
    sid = await started_call(env)
    url = str(URL(PUBLIC_URL + "/twilio/gather").with_query(turn=turn))
    path = url.removeprefix(PUBLIC_URL)
    form = {"CallSid": sid, "Digits": "1"}
    status, text = await post(env, path, form, sign(url, form))
    assert status == 400, text
    assert "turn" in text
    assert len(env.ivr.events) == 1  # the call's start, nothing for the bad turn
    no_tracebacks(caplog)


@pytest.mark.parametrize("duration", ["²", "①", HUGE, "12 ", "-5"])
async def test_a_call_duration_that_cannot_be_stored_is_a_400(env: Env, caplog, duration: str) -> None:
    sid = await started_call(env)
    form = {"CallSid": sid, "CallStatus": "completed", "CallDuration": duration}
    status, text = await post(env, "/twilio/status", form, sign(PUBLIC_URL + "/twilio/status", form))
    assert status == 400, text
    assert "CallDuration" in text
    no_tracebacks(caplog)
    # the good callback still closes the call
    form["CallDuration"] = "42"
    status, _ = await post(env, "/twilio/status", form, sign(PUBLIC_URL + "/twilio/status", form))
    assert status == 204
    async with env.db.session() as s:
        call = await s.scalar(select(Call).where(Call.external_id == sid))
    assert (call.status, call.duration_s) == ("completed", 42)


@pytest.mark.parametrize("field", ["RecordingDuration", "RecordingChannels"])
async def test_a_recording_count_that_cannot_be_stored_is_a_400(env: Env, caplog, field: str) -> None:
    sid = await started_call(env)
    async with env.db.session() as s:
        call_id = await s.scalar(select(Call.id).where(Call.external_id == sid))
    path = f"/twilio/recording?call={call_id}"
    form = {"CallSid": sid, "RecordingSid": "RE" + "2" * 32, "RecordingStatus": "completed",
            "RecordingUrl": "https://api.twilio.com/rec", field: HUGE}
    status, text = await post(env, path, form, sign(PUBLIC_URL + path, form))
    assert status == 400, text
    assert field in text
    no_tracebacks(caplog)


@pytest.mark.parametrize("leg", ["²", HUGE])
async def test_an_agent_leg_that_is_not_a_small_number_is_a_400(env: Env, caplog, leg: str) -> None:
    sid = await started_call(env)
    url = str(URL(PUBLIC_URL + "/twilio/dial/status").with_query(agent="1", leg=leg))
    form = {"CallSid": "CA" + "3" * 32, "ParentCallSid": sid, "CallStatus": "in-progress"}
    status, text = await post(env, url.removeprefix(PUBLIC_URL), form, sign(url, form))
    assert status == 400, text
    no_tracebacks(caplog)


async def test_an_agent_leg_of_another_call_is_a_400_and_changes_nothing(env: Env, caplog) -> None:
    sid, other = await started_call(env), await started_call(env)
    other_call = env.bridge.calls.by_sid(other)
    leg = await env.bridge.record.offered(other_call.call_id, 1, "client:agent1")
    url = str(URL(PUBLIC_URL + "/twilio/dial/status").with_query(agent="1", leg=str(leg)))
    form = {"CallSid": "CA" + "3" * 32, "ParentCallSid": sid, "CallStatus": "in-progress"}

    status, text = await post(env, url.removeprefix(PUBLIC_URL), form, sign(url, form))

    assert status == 400 and f"leg {leg}" in text
    async with env.db.session() as s:
        assert (await s.scalar(select(Call).where(Call.external_id == sid))).agent_id is None
        assert (await s.get(CallLeg, leg)).answered_at is None
    no_tracebacks(caplog)
