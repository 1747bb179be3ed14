"""Fixtures: the app with the Twilio bridge behind a "reverse proxy", and the Twilio stand-in (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from acd.clock import ManualClock
from acd.config import load_for
from acd.service import Acd
from hotline.db import Database
from hotline.settings import Settings
from hotline.telephony import twilio
from hotline.web.keys import ACD, DB, IVR, SETTINGS
from ivr.service import IvrService
from tests.standins.twilio import TwilioStandIn
from tests.twilio.doubles import ScriptedAcd, ScriptedIvr
from tests.twilio.harness import PUBLIC_URL, Env, twilio_settings


@pytest.fixture
async def make_env(settings: Settings, demo_db: Database, aiohttp_server: Any) -> AsyncIterator[Callable[..., Any]]:
    standins: list[TwilioStandIn] = []

    async def make(*, ivr: Callable[[Settings, Database], Any] | None = None, acd: Any = "scripted",
                   far_end: Any = None, **twilio_overrides: Any) -> Env:
        stand_in = TwilioStandIn(public_url=PUBLIC_URL, far_end=far_end or {}, hold_s=2.0)
        standins.append(stand_in)
        api_base = await stand_in.start()
        app_settings = twilio_settings(settings, api_base, **twilio_overrides)
        app = web.Application()
        app[SETTINGS] = app_settings
        app[DB] = demo_db
        app[IVR] = (ivr or ScriptedIvr)(app_settings, demo_db)
        if acd == "scripted":
            acd = ScriptedAcd(agents={1: "client:agent1", 2: "client:agent2"})
        if acd is not None:
            app[ACD] = acd
        twilio.setup(app)
        server = await aiohttp_server(app)
        stand_in.target_url = str(server.make_url("")).rstrip("/")
        return Env(stand_in, app, app_settings, demo_db, app[IVR], acd, stand_in.target_url)

    yield make
    for stand_in in standins:
        await stand_in.close()


@pytest.fixture
async def env(make_env: Callable[..., Any]) -> Env:
    return await make_env()


@pytest.fixture
async def real(make_env: Callable[..., Any], settings: Settings, demo_db: Database) -> AsyncIterator[Env]:
    """The real IVR and ACD (manual clock) behind the Twilio stand-in."""
    clock = ManualClock()
    acd = Acd(load_for(settings), demo_db, settings, clock=clock)
    await acd.start()
    yield await make_env(ivr=lambda s, db: IvrService(s, db, is_open=acd.is_open, clock=clock.now), acd=acd)
    await acd.stop()
