"""The bridge inside the real application factory (auth and error middlewares, readiness)."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select

from calls.models import Call
from hotline.app import create_app
from hotline.db import Database
from hotline.settings import Settings
from tests.standins.twilio import TwilioStandIn
from tests.twilio.harness import PUBLIC_URL, twilio_settings


async def test_a_call_through_create_app(settings: Settings, demo_db: Database, aiohttp_server: Any) -> None:
    stand_in = TwilioStandIn(public_url=PUBLIC_URL)
    try:
        app_settings = twilio_settings(settings, await stand_in.start())
        server = await aiohttp_server(create_app(app_settings, demo_db))
        stand_in.target_url = str(server.make_url("")).rstrip("/")
        answered_before = _webhooks_answered()
        caller = await stand_in.call(["1", "1", "6222020000000001#", "147258#", "2"])
        async with aiohttp.ClientSession() as http:
            async with http.get(stand_in.target_url + "/metrics") as scraped:
                scrape = await scraped.text()
            async with http.post(stand_in.target_url + "/twilio/voice", data={"CallSid": "x"}) as refused:
                assert refused.status == 403
            async with http.get(stand_in.target_url + "/readyz") as ready:
                checks = (await ready.json())["checks"]
    finally:
        await stand_in.close()

    assert caller.final_status == "completed"
    assert "/twilio/gather" in caller.paths()
    # every webhook the caller's Twilio sent was timed under its route, and so was the unsigned one refused
    assert _webhooks_answered() - answered_before == len(caller.webhooks) + 1
    assert 'hotline_twilio_webhook_seconds_count{route="gather"}' in scrape
    assert checks["twilio.twilio_rest"] is True
    async with demo_db.session() as s:
        call = await s.scalar(select(Call).where(Call.external_id == caller.sid))
    assert call.verified and call.status == "completed"


def _webhooks_answered() -> float:
    from hotline.metrics import REGISTRY

    return sum(sample.value for family in REGISTRY.collect() if family.name == "hotline_twilio_webhook_seconds"
               for sample in family.samples if sample.name.endswith("_count"))
