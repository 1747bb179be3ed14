"""The REST client against the stand-in's API over real HTTP: retries with backoff on 5xx and
network trouble, timeouts enforced by us, client errors surfaced at once, never swallowed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from hotline.settings import TwilioSettings
from hotline.telephony.twilio.rest import RestError, RestNotConfigured, TwilioRest
from hotline.twilio_walker import ScriptedKeys
from tests.standins.twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TwilioStandIn

BACKOFF = 0.05


@pytest.fixture
async def standin() -> AsyncIterator[TwilioStandIn]:
    stand_in = TwilioStandIn(public_url="https://hotline.example.com")
    await stand_in.start()
    yield stand_in
    await stand_in.close()


async def make_rest(standin: TwilioStandIn, **overrides: object) -> TwilioRest:
    values: dict[str, object] = dict(account_sid=TEST_ACCOUNT_SID, auth_token=SecretStr(TEST_AUTH_TOKEN),
                                     api_base=standin.api_base, rest_timeout_s=1.0, rest_retries=2)
    values.update(overrides)
    rest = TwilioRest(TwilioSettings(**values), backoff_s=BACKOFF)
    await rest.start()
    return rest


@pytest.fixture
async def rest(standin: TwilioStandIn) -> AsyncIterator[TwilioRest]:
    client = await make_rest(standin)
    yield client
    await client.close()


def live_call(standin: TwilioStandIn) -> str:
    """A call the API knows (a caller that has not dialled yet)."""
    return standin.caller(ScriptedKeys()).sid


async def test_update_reaches_the_api_with_auth_and_twiml(standin: TwilioStandIn, rest: TwilioRest) -> None:
    sid = live_call(standin)
    await rest.update_call(sid, twiml="<Response><Hangup/></Response>")
    [request] = standin.requests
    assert request.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls/{sid}.json"
    assert request.first("Twiml") == "<Response><Hangup/></Response>"
    assert request.status == 200


async def test_server_errors_are_retried_with_growing_backoff(standin: TwilioStandIn, rest: TwilioRest,
                                                              caplog) -> None:
    sid = live_call(standin)
    standin.fail(503, 2)
    await rest.update_call(sid, twiml="<Response/>")
    assert [r.status for r in standin.requests] == [503, 503, 200]
    gaps = [b.at - a.at for a, b in zip(standin.requests, standin.requests[1:], strict=False)]
    assert gaps[0] >= BACKOFF and gaps[1] >= 2 * BACKOFF
    assert caplog.text.count("retrying") == 2


async def test_rate_limit_is_retried(standin: TwilioStandIn, rest: TwilioRest) -> None:
    sid = live_call(standin)
    standin.fail(429, 1)
    await rest.update_call(sid, twiml="<Response/>")
    assert [r.status for r in standin.requests] == [429, 200]


async def test_persistent_failure_is_raised_after_the_last_retry(standin: TwilioStandIn, rest: TwilioRest) -> None:
    sid = live_call(standin)
    standin.fail(500, 5)
    with pytest.raises(RestError, match="failed after 3 attempts: HTTP 500"):
        await rest.update_call(sid, twiml="<Response/>")
    assert len(standin.requests) == 3


async def test_client_errors_are_not_retried(standin: TwilioStandIn, rest: TwilioRest) -> None:
    with pytest.raises(RestError, match="HTTP 404"):
        await rest.update_call("CA" + "f" * 32, twiml="<Response/>")
    assert [r.status for r in standin.requests] == [404]


async def test_wrong_credentials_are_refused_not_retried(standin: TwilioStandIn) -> None:
    rest = await make_rest(standin, auth_token=SecretStr("wrong"))
    try:
        with pytest.raises(RestError, match="HTTP 401"):
            await rest.update_call(live_call(standin), twiml="<Response/>")
    finally:
        await rest.close()
    assert [r.status for r in standin.requests] == [401]


async def test_a_stalled_request_times_out_and_is_retried(standin: TwilioStandIn) -> None:
    rest = await make_rest(standin, rest_timeout_s=0.2, rest_retries=1)
    try:
        standin.stall(1)
        await rest.update_call(live_call(standin), twiml="<Response/>")
    finally:
        await rest.close()
    assert [r.status for r in standin.requests] == [0, 200]


async def test_a_dead_api_is_a_network_error_retried_then_raised(standin: TwilioStandIn) -> None:
    rest = await make_rest(standin, api_base="http://127.0.0.1:9", rest_retries=1)  # discard port: refused
    try:
        with pytest.raises(RestError, match="after 2 attempts"):
            await rest.update_call(live_call(standin), twiml="<Response/>")
    finally:
        await rest.close()


async def test_create_returns_the_new_call_sid(standin: TwilioStandIn, rest: TwilioRest, aiohttp_server) -> None:
    heard: list[str] = []

    async def webhook(request: web.Request) -> web.Response:  # the app side, reduced to a recorder
        heard.append((await request.post())["CallStatus"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/twilio/status", webhook)
    standin.target_url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    sid = await rest.create_call(to="client:agent1", from_="+8695588", twiml="<Response><Hangup/></Response>",
                                 status_callback="https://hotline.example.com/twilio/status?call=x", timeout_s=20)
    [request] = standin.requests
    assert sid == standin.outbound[0].sid
    assert request.first("To") == "client:agent1" and request.first("Timeout") == "20"
    assert request.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    await standin.settle()
    assert heard == ["initiated", "ringing", "in-progress", "completed"]


async def test_without_an_account_nothing_is_sent() -> None:
    rest = TwilioRest(TwilioSettings())
    await rest.start()
    assert not rest.configured and not rest.ready
    with pytest.raises(RestNotConfigured):
        await rest.update_call("CA" + "0" * 32, twiml="<Response/>")
    await rest.close()
