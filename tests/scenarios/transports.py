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
import itertools
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
from hotline.web.keys import ACD, DB, IVR, SETTINGS
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
                  Phone.BUSY: FarEnd("busy")}


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

DIALSTATUS = {Phone.ANSWERS: "ANSWER", Phone.NO_ANSWER: "NOANSWER", Phone.BUSY: "BUSY"}
# the Hangup cause of the agent's channel for each Dial outcome, as Asterisk 20 reports it
# (tests/data/asterisk/ami_queue.txt: a ring timeout ends the callee channel with cause 0)
AGENT_HANGUP_CAUSE = {"ANSWER": ("16", "Normal Clearing"), "NOANSWER": ("0", "Unknown"), "BUSY": ("17", "User busy")}
FAST = SessionOptions(hold_slice_s=0.25, announce_every_s=1.0)
CALLER_NUMBER = "13800138000"


class _Pbx:
    """The parts of Asterisk around one FastAGI call that show on AMI: MixMonitor, Dial to the agent's
    phone (DialEnd, the agent's Hangup) and the caller's Hangup. Each event is sent the way Asterisk
    sends it and waited for until the bridge has applied it, so the record is read after the facts."""

    def __init__(self, ami: FakeAmiServer, bridge: AsteriskBridge) -> None:
        self.ami = ami
        self.bridge = bridge
        self._channels = itertools.count(2)

    async def applied(self) -> None:
        assert self.bridge.ami is not None
        await self.ami.drain()
        await self.bridge.ami.action({"Action": "Ping"})  # every event sent before it has been received
        await self.bridge.events_drained()

    def _event(self, name: str, channel: str, uniqueid: str, linkedid: str, **fields: str) -> dict[str, str]:
        return {"Event": name, "Privilege": "call,all", "Channel": channel, "Uniqueid": uniqueid,
                "Linkedid": linkedid, **fields}

    async def mix_monitor(self, channel: str, uniqueid: str, filename: str) -> None:
        common = {"Channel": channel, "Uniqueid": uniqueid, "Linkedid": uniqueid}
        self.ami.emit({"Event": "VarSet", "Privilege": "dialplan,all", **common, "Variable": "MIXMONITOR_FILENAME",
                       "Value": f"/var/spool/asterisk/monitor/{filename}"})
        self.ami.emit({"Event": "MixMonitorStart", "Privilege": "call,all", **common})
        await self.applied()

    async def dial(self, channel: str, uniqueid: str, endpoint: str, status: str) -> None:
        """The agent's phone rings and answers (then talks and hangs up first) or not."""
        number = next(self._channels)
        dest_channel, dest_uniqueid = f"{endpoint}-{number:08x}", f"1795353420.{number}"
        dest = {"DestChannel": dest_channel, "DestUniqueid": dest_uniqueid, "DestLinkedid": uniqueid}
        self.ami.emit(self._event("DialBegin", channel, uniqueid, uniqueid, **dest, DialString=endpoint))
        self.ami.emit(self._event("DialEnd", channel, uniqueid, uniqueid, **dest, DialStatus=status))
        await self.applied()
        cause, text = AGENT_HANGUP_CAUSE[status]
        self.ami.emit(self._event("Hangup", dest_channel, dest_uniqueid, uniqueid, Cause=cause, **{"Cause-txt": text}))
        await self.applied()

    async def caller_gone(self, channel: str, uniqueid: str) -> None:
        self.ami.channels.pop(uniqueid, None)
        self.ami.emit(self._event("Hangup", channel, uniqueid, uniqueid, Cause="16",
                                  **{"Cause-txt": "Normal Clearing"}))
        await self.applied()


class _Caller(FakeAgiCall):
    """A FastAGI call whose Dial and MixMonitor behave as on a real PBX: the agent's phone does what
    the scenario says (by endpoint, not by the order of the rings) and AMI reports it."""

    def __init__(self, port: int, pbx: _Pbx, phones: Mapping[str, str], survey_key: str | None,
                 **kwargs: object) -> None:
        super().__init__(port, **kwargs)  # type: ignore[arg-type]
        self.pbx = pbx
        self.phones = phones
        self.survey_key = survey_key
        self.uniqueid = self.variables["UNIQUEID"]

    async def _exec(self, app: str, data: str) -> bytes | None:
        if app.lower() == "mixmonitor":
            await self.pbx.mix_monitor(self.channel, self.uniqueid, data.split(",", 1)[0].rsplit("/", 1)[-1])
        elif app.lower() == "dial":
            endpoint = data.split(",", 1)[0]
            status = self.phones[endpoint]  # only the scenario's agents are logged in
            self.dial_statuses.appendleft(status)
            await self.pbx.dial(self.channel, self.uniqueid, endpoint, status)
            if status == "ANSWER" and self.survey_key is not None:
                self.press(self.survey_key)  # the agent has hung up: the caller rates them next
        return await super()._exec(app, data)


@dataclass
class AsteriskPlayer:
    bridge: AsteriskBridge
    acd: Acd
    ami: FakeAmiServer

    async def play(self, scenario: Scenario) -> Played:
        phones = {f"PJSIP/{agent}": DIALSTATUS[phone] for agent, phone in scenario.phones.items()}
        await _log_in(self.acd, list(phones))
        assert self.bridge.agi is not None
        pbx = _Pbx(self.ami, self.bridge)
        hangup_on = f"GET DATA hotline/{scenario.language}/survey_question" \
            if scenario.hang_up is HangUp.AT_SURVEY else None
        caller = _Caller(self.bridge.agi.port, pbx, phones, scenario.survey_key, keys=scenario.keys,
                         hangup_on=hangup_on, callerid=CALLER_NUMBER)
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
        await pbx.caller_gone(caller.channel, caller.uniqueid)
        await asyncio.wait_for(self.bridge.wait_idle(), CALL_TIMEOUT_S)
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
    bridge = AsteriskBridge(app_settings, db, ivr, acd, options=FAST)
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
