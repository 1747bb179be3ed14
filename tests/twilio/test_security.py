"""X-Twilio-Signature: wrong, missing, or made for another URL → 403 and nothing processed.
Signed but malformed → 400 with the reason, nothing processed."""

from __future__ import annotations

import logging

import aiohttp
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from calls.models import Call
from hotline.twilio_walker import new_sid
from tests.standins.twilio import TEST_AUTH_TOKEN
from tests.twilio.harness import PUBLIC_URL, Env

SIGNATURE = "X-Twilio-Signature"


def voice_form(**extra: str) -> dict[str, str]:
    form = {"CallSid": new_sid(), "AccountSid": "AC" + "1" * 32, "From": "+8613800138000", "To": "+8695588",
            "CallStatus": "ringing", "Direction": "inbound"}
    form.update(extra)
    return form


def sign(url: str, form: dict[str, str], token: str = TEST_AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


async def post(env: Env, path: str, form: dict[str, str], signature: str | None,
               headers: dict[str, str] | None = None) -> tuple[int, str]:
    sent = dict(headers or {})
    if signature is not None:
        sent[SIGNATURE] = signature
    async with aiohttp.ClientSession() as http, http.post(env.base_url + path, data=form, headers=sent) as r:
        return r.status, await r.text()


async def calls_in_db(env: Env) -> int:
    async with env.db.session() as s:
        return await s.scalar(select(func.count()).select_from(Call))


async def test_valid_signature_over_the_public_url_is_accepted(env: Env) -> None:
    form = voice_form()
    status, body = await post(env, "/twilio/voice", form, sign(PUBLIC_URL + "/twilio/voice", form))
    assert status == 200 and "<Gather" in body
    assert await calls_in_db(env) == 1


async def test_missing_signature_is_refused_and_logged(env: Env, caplog) -> None:
    status, _ = await post(env, "/twilio/voice", voice_form(), None)
    assert status == 403
    assert "no X-Twilio-Signature" in caplog.text
    assert env.ivr.events == [] and await calls_in_db(env) == 0


async def test_wrong_signature_is_refused(env: Env, caplog) -> None:
    form = voice_form()
    status, _ = await post(env, "/twilio/voice", form, sign(PUBLIC_URL + "/twilio/voice", form, "another-token"))
    assert status == 403
    assert "bad X-Twilio-Signature" in caplog.text
    assert env.ivr.events == [] and await calls_in_db(env) == 0


async def test_signature_for_another_url_is_refused(env: Env) -> None:
    form = voice_form()
    for url in (f"{env.base_url}/twilio/voice",            # what the Host header says: not the public URL
                "http://hotline.example.com/twilio/voice",  # http instead of https
                PUBLIC_URL + "/twilio/gather?turn=1",       # another webhook
                "https://evil.example.com/twilio/voice"):
        status, _ = await post(env, "/twilio/voice", form, sign(url, form))
        assert status == 403, url
    assert env.ivr.events == []


async def test_forged_host_header_changes_nothing(env: Env) -> None:
    form = voice_form()
    forged = {"Host": "evil.example.com", "X-Forwarded-Host": "evil.example.com", "X-Forwarded-Proto": "http"}
    status, _ = await post(env, "/twilio/voice", form, sign("http://evil.example.com/twilio/voice", form), forged)
    assert status == 403
    status, _ = await post(env, "/twilio/voice", form, sign(PUBLIC_URL + "/twilio/voice", form), forged)
    assert status == 200


async def test_tampered_form_is_refused(env: Env) -> None:
    form = voice_form()
    signature = sign(PUBLIC_URL + "/twilio/voice", form)
    status, _ = await post(env, "/twilio/voice", {**form, "From": "+8613900139000"}, signature)
    assert status == 403


async def test_every_webhook_checks_the_signature(env: Env) -> None:
    for path in ("/twilio/voice", "/twilio/gather?turn=1", "/twilio/status", "/twilio/queue/wait",
                 "/twilio/queue/key?turn=1", "/twilio/queue/left?turn=1", "/twilio/dial?turn=1&agent=1&leg=1",
                 "/twilio/dial/status?agent=1&leg=1", "/twilio/recording?leg=1", "/twilio/survey?turn=1",
                 "/twilio/outbound/dial?call=x&leg=1"):
        status, _ = await post(env, path, voice_form(), "bogus")
        assert status == 403, path


async def test_no_auth_token_configured_refuses_everything(make_env, caplog) -> None:
    env = await make_env(auth_token="")
    form = voice_form()
    status, _ = await post(env, "/twilio/voice", form, sign(PUBLIC_URL + "/twilio/voice", form, ""))
    assert status == 403
    assert "auth_token is not configured" in caplog.text


async def test_signed_but_without_callsid_is_a_clear_400(env: Env) -> None:
    form = voice_form()
    del form["CallSid"]
    status, body = await post(env, "/twilio/voice", form, sign(PUBLIC_URL + "/twilio/voice", form))
    assert status == 400 and "CallSid" in body
    assert await calls_in_db(env) == 0


async def test_signed_garbage_is_a_clear_400(env: Env, caplog) -> None:
    caplog.set_level(logging.INFO)
    caller = env.twilio.caller(["0"])
    sid = caller.sid
    start = voice_form(CallSid=sid)
    assert (await post(env, "/twilio/voice", start, sign(PUBLIC_URL + "/twilio/voice", start)))[0] == 200
    cases = {
        "/twilio/gather?turn=x": {"Digits": "1"},
        "/twilio/gather?turn=99": {"Digits": "1"},
        "/twilio/gather": {"Digits": "1"},
        "/twilio/gather?turn=1": {"Digits": "1<script>"},
        "/twilio/status": {"CallStatus": "<b>"},
        "/twilio/recording?leg=424242": {"RecordingSid": new_sid("RE")},
    }
    for path, extra in cases.items():
        form = {"CallSid": sid, **extra}
        status, body = await post(env, path, form, sign(PUBLIC_URL + path, form))
        assert status == 400, path
        assert body.startswith("bad Twilio webhook: "), body
    # the call itself is untouched: the right turn still works
    form = {"CallSid": sid, "Digits": "1"}
    status, body = await post(env, "/twilio/gather?turn=1", form, sign(PUBLIC_URL + "/twilio/gather?turn=1", form))
    assert status == 200 and "<Hangup" in body
    assert "1<script>" not in caplog.text
