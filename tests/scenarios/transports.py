"""The players: one per transport, each plays a Scenario through the real app parts (the real
IvrService and Acd on the demo data, the transport's bridge) in front of that transport's stand-in.

Each stack is built in ONE place, `twilio_stack` / `asterisk_stack`: when a bridge's constructor
changes, only that function changes.

    async with asterisk_stack(settings, demo_db) as player:
        played = await player.play(scenario)     # the call, to its end, and every write settled
        played.channel, played.external_id, played.caller_number
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from acd.clock import ManualClock
from acd.config import load_for
from acd.models import Agent
from acd.service import Acd
from hotline.db import Database
from hotline.settings import Settings
from hotline.telephony import twilio
from hotline.telephony.asterisk.agi_session import SessionOptions
from hotline.telephony.asterisk.bridge import AsteriskBridge
from hotline.twilio_walker import HANGUP, FarEnd
from hotline.web.keys import ACD, DB, IVR, RECORD, SETTINGS
from ivr.service import IvrService
from tests.scenarios.scenarios import HangUp, Phone, Scenario
from tests.standins.asterisk import FakeAgiCall, FakeAmiServer
from tests.standins.twilio import TwilioStandIn
from tests.twilio.harness import PUBLIC_URL, twilio_settings

CALL_TIMEOUT_S = 30.0  # a scenario that hangs fails instead of blocking the run


@dataclass(frozen=True)
class Played:
    """What the player knows of the call it made: enough to find its record."""

    channel: str  # calls.channel
    external_id: str  # CallSid / Uniqueid
    caller_number: str  # the caller's number as the transport gives it


class Player(Protocol):
    async def play(self, scenario: Scenario) -> Played: ...


Stack = Callable[[Settings, Database], AbstractAsyncContextManager[Player]]


async def _log_in(acd: Acd, endpoints: list[str]) -> None:
    for endpoint in endpoints:
        agent_id = acd.agent_by_endpoint(endpoint)
        assert agent_id is not None, f"no agent has the endpoint {endpoint}"
        await acd.login(agent_id)


# --- Twilio -------------------------------------------------------------------------------------------

TWILIO_FAR_END = {Phone.ANSWERS: FarEnd("answered", 60), Phone.NO_ANSWER: FarEnd("no-answer"),
                  Phone.BUSY: FarEnd("busy"), Phone.UNREACHABLE: FarEnd("failed")}


@dataclass
class TwilioPlayer:
    stand_in: TwilioStandIn
    app: web.Application
    acd: Acd

    async def play(self, scenario: Scenario) -> Played:
        phones = {f"client:{agent}": TWILIO_FAR_END[phone] for agent, phone in scenario.phones.items()}
        self.stand_in.far_end = phones
        await _log_in(self.acd, list(phones))
        # The walker asks its key source at every <Gather>: the menu keys, then (after the agent) the
        # survey's; when the keys run out the caller hangs up, which is how AT_SURVEY is played.
        keys = [*scenario.keys, *([scenario.survey_key] if scenario.survey_key is not None else [])]
        on_hold = [HANGUP] if scenario.hang_up is HangUp.ON_HOLD else \
            [scenario.on_hold] if scenario.on_hold is not None else []
        caller = self.stand_in.caller(keys, on_hold=on_hold)
        await asyncio.wait_for(caller.run(), CALL_TIMEOUT_S)
        await self.stand_in.settle()
        await self.app[twilio.BRIDGE].drain()
        await self.acd.drain()
        return Played("twilio", caller.sid, caller.from_)


@asynccontextmanager
async def twilio_stack(settings: Settings, db: Database) -> AsyncIterator[TwilioPlayer]:
    """The Twilio stand-in (fake REST API, callers walking our TwiML) in front of the app's Twilio
    webhooks served over real HTTP "behind a proxy", with the real IVR and ACD (manual clock)."""
    stand_in = TwilioStandIn(public_url=PUBLIC_URL, hold_s=2.0)
    api_base = await stand_in.start()
    app_settings = twilio_settings(settings, api_base)
    clock = ManualClock()  # Monday 10:00 in Shanghai: every queue is open
    acd = Acd(load_for(app_settings), db, app_settings, clock=clock)
    await acd.start()
    app = web.Application()
    app[SETTINGS] = app_settings
    app[DB] = db
    app[IVR] = IvrService(app_settings, db, is_open=acd.is_open, clock=clock.now)
    app[RECORD] = app[IVR].record  # one record, as the app has
    app[ACD] = acd
    twilio.setup(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stand_in.target_url = f"http://127.0.0.1:{port}"
    try:
        yield TwilioPlayer(stand_in, app, acd)
    finally:
        await runner.cleanup()
        await acd.stop()
        await stand_in.close()


# --- Asterisk -----------------------------------------------------------------------------------------

DIALSTATUS = {Phone.ANSWERS: "ANSWER", Phone.NO_ANSWER: "NOANSWER", Phone.BUSY: "BUSY",
              Phone.UNREACHABLE: "CHANUNAVAIL"}
FAST = SessionOptions(hold_slice_s=0.25, announce_every_s=1.0)
CALLER_NUMBER = "13800138000"


class _Caller(FakeAgiCall):
    """A FastAGI call on a PBX whose AMI reports it (DialEnd, MixMonitor from Dial's U() subroutine on
    the answering agent's channel, each channel's Hangup: the stand-in sends them as Asterisk does);
    each agent's phone does what the scenario says, by endpoint, not by the order of the rings."""

    def __init__(self, port: int, phones: Mapping[str, str], survey_key: str | None, **kwargs: object) -> None:
        super().__init__(port, **kwargs)  # type: ignore[arg-type]
        self.phones = phones
        self.survey_key = survey_key
        self.uniqueid = self.variables["UNIQUEID"]

    async def _exec(self, app: str, data: str) -> bytes | None:
        if app.lower() == "dial":
            status = self.phones[data.split(",", 1)[0]]  # only the scenario's agents are logged in
            self.dial_statuses.appendleft(status)
            if status == "ANSWER" and self.survey_key is not None:
                self.press(self.survey_key)  # the agent will have hung up: the caller rates them next
        return await super()._exec(app, data)


async def _events_applied(ami: FakeAmiServer, bridge: AsteriskBridge) -> None:
    """Every AMI event the stand-in sent has been applied by the bridge (the record is read after them)."""
    assert bridge.ami is not None
    await ami.drain()
    await bridge.ami.action({"Action": "Ping"})  # every event sent before it has been received
    await bridge.events_drained()


@dataclass
class AsteriskPlayer:
    bridge: AsteriskBridge
    acd: Acd
    ami: FakeAmiServer

    async def play(self, scenario: Scenario) -> Played:
        phones = {f"PJSIP/{agent}": DIALSTATUS[phone] for agent, phone in scenario.phones.items()}
        await _log_in(self.acd, list(phones))
        assert self.bridge.agi is not None
        hangup_on = f"GET DATA hotline/{scenario.language}/survey_question" \
            if scenario.hang_up is HangUp.AT_SURVEY else None
        caller = _Caller(self.bridge.agi.port, phones, scenario.survey_key, keys=scenario.keys,
                         hangup_on=hangup_on, callerid=CALLER_NUMBER, ami=self.ami)
        self.ami.channels[caller.uniqueid] = {"Channel": caller.channel}
        running = asyncio.create_task(caller.run())
        if scenario.hang_up is HangUp.ON_HOLD or scenario.on_hold is not None:
            # on hold: the announcement is over and the music plays
            await asyncio.wait_for(caller.wait_for("SET MUSIC on"), CALL_TIMEOUT_S)
            if scenario.hang_up is HangUp.ON_HOLD:
                caller.hang_up()
            else:
                assert scenario.on_hold is not None
                caller.press(scenario.on_hold)
        await asyncio.wait_for(running, CALL_TIMEOUT_S)
        self.ami.channels.pop(caller.uniqueid, None)
        await asyncio.wait_for(self.bridge.wait_idle(), CALL_TIMEOUT_S)
        await _events_applied(self.ami, self.bridge)
        await self.acd.drain()
        return Played("asterisk", caller.uniqueid, CALLER_NUMBER)


@asynccontextmanager
async def asterisk_stack(settings: Settings, db: Database) -> AsyncIterator[AsteriskPlayer]:
    """The FastAGI listener and the AMI client of the Asterisk bridge, with the real IVR and ACD
    (manual clock), in front of the FakeAgiCall / FakeAmiServer stand-ins over real TCP."""
    ami = FakeAmiServer()
    await ami.start()
    app_settings = settings.model_copy(update={"ami": settings.ami.model_copy(update={
        "host": "127.0.0.1", "port": ami.port, "username": ami.username, "secret": SecretStr(ami.secret)})})
    async with db.session() as s:  # the demo agents' phones on a PBX: PJSIP/agent1, PJSIP/agent2
        for agent in await s.scalars(select(Agent).where(Agent.endpoint.like("client:%"))):
            agent.endpoint = "PJSIP/" + agent.endpoint.removeprefix("client:")
    clock = ManualClock()  # Monday 10:00 in Shanghai: every queue is open
    acd = Acd(load_for(app_settings), db, app_settings, clock=clock)
    await acd.start()
    ivr = IvrService(app_settings, db, is_open=acd.is_open, clock=clock.now)
    bridge = AsteriskBridge(app_settings, db, ivr, acd, options=FAST, record=ivr.record)
    try:
        await bridge.start()
        assert bridge.ami is not None
        await bridge.ami.wait_logged_in(10)
        # the resync after login asks for the live channels, closes the calls not among them, then asks
        # for the device states: once that last question is here, no resync can close a scenario's call
        await asyncio.wait_for(ami.wait_action("DeviceStateList"), 10)
        yield AsteriskPlayer(bridge, acd, ami)
    finally:
        await bridge.stop()
        await acd.stop()
        await ami.stop()


STACKS: dict[str, Stack] = {"twilio": twilio_stack, "asterisk": asterisk_stack}
