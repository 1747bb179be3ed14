"""Agents behind Asterisk (issue 17): the right endpoint, unreachable phones, recordings of answered legs
only, and what a hang-up really was. The real IvrService, Acd, AMI watcher and database; the PBX is the
stand-in, which answers as Asterisk 20 does (tests/standins/asterisk.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from acd.clock import ManualClock
from acd.models import Agent, RoutingEvent
from acd.service import Acd
from calls.models import Call, CallLeg, Recording
from hotline.db import Database
from hotline.settings import Settings
from hotline.telephony.asterisk.agi_channel import AgiChannel
from hotline.telephony.asterisk.agi_server import AgiServer
from hotline.telephony.asterisk.bridge import AsteriskBridge
from ivr.service import IvrService
from tests.acd.invariants import check_invariants
from tests.asterisk.conftest import FAST, with_ami
from tests.asterisk.doubles import RecordingAcd, offer
from tests.asterisk.test_agi_faults import no_errors
from tests.standins.asterisk import FakeAgiCall, FakeAmiServer

TO_AN_AGENT = ["2", "0"]  # English, then "0": an agent (general queue, 20 s ring timeout, survey after)
HOLD = "WAIT FOR DIGIT 250"

Pbx = tuple[AsteriskBridge, Acd, ManualClock]


@pytest.fixture
async def pbx(settings: Settings, demo_db: Database, ami_server: FakeAmiServer
              ) -> AsyncIterator[Callable[..., Any]]:
    """`await pbx(agent1={...endpoints}, ...)`: the stack, with the demo agents' endpoints as given."""
    made: list[tuple[AsteriskBridge, Acd]] = []

    async def make(**endpoints: dict[str, str]) -> Pbx:
        async with demo_db.session() as s:
            for login, phones in endpoints.items():
                name = {"agent1": "Wang%", "agent2": "Zhang%"}[login]
                await s.execute(update(Agent).where(Agent.name.like(name)).values(endpoints=phones))
        with_pbx = with_ami(settings, ami_server.port)
        clock = ManualClock()
        acd = await Acd.load(demo_db, with_pbx, clock=clock)
        bridge = AsteriskBridge(with_pbx, demo_db, IvrService(with_pbx, demo_db), acd, options=FAST)
        await bridge.start()
        made.append((bridge, acd))
        assert bridge.ami is not None
        await asyncio.wait_for(bridge.ami.logged_in.wait(), 10)
        return bridge, acd, clock

    yield make
    for bridge, acd in made:
        await bridge.stop()
        await acd.stop()


async def login_both(acd: Acd) -> tuple[int, int]:
    a1, a2 = acd.agent_by_endpoint("PJSIP/agent1"), acd.agent_by_endpoint("PJSIP/agent2")
    a1 = a1 if a1 is not None else acd.agent_by_endpoint("client:agent1")
    assert a1 is not None and a2 is not None
    await acd.login(a1)
    await acd.login(a2)
    return a1, a2


async def pbx_events_applied(bridge: AsteriskBridge) -> None:
    """Every AMI event the stand-in sent so far has reached the bridge and been applied."""
    assert bridge.ami is not None
    await bridge.ami.action({"Action": "Ping"})  # one connection, in order: the Pong comes after them
    await bridge.events_drained()


async def routing(db: Database) -> list[tuple[str, str | None, int | None]]:
    async with db.session() as s:
        rows = await s.execute(select(RoutingEvent.kind, RoutingEvent.reason, RoutingEvent.agent_id)
                               .order_by(RoutingEvent.id))
        return [(kind, reason, agent) for kind, reason, agent in rows]


async def the_call(db: Database) -> Call:
    async with db.session() as s:
        return (await s.execute(select(Call))).scalar_one()


# --- 1. the endpoint of the call's transport --------------------------------------------------------


async def test_the_stand_in_refuses_a_dial_without_technology_as_asterisk_does() -> None:
    # app_dial.c: "Dial argument takes format (technology/resource)", DIALSTATUS=INVALIDARGS, -1; the
    # AGI session goes on (res_agi only logs the failure)
    replies = []

    async def handler(chan: AgiChannel) -> None:
        replies.append(await chan.exec("Dial", "client:agent1,20"))
        replies.append(await chan.get_variable("DIALSTATUS"))

    server = AgiServer(handler, "127.0.0.1", 0)
    await server.start()
    try:
        phone = FakeAgiCall(server.port)
        await asyncio.wait_for(phone.run(), 10)
    finally:
        await server.stop()
    assert (replies[0].code, replies[0].value, replies[1]) == (200, -1, "INVALIDARGS")
    assert phone.pbx_log == ["WARNING app_dial.c: Dial argument takes format (technology/resource)"]


async def test_an_offer_to_a_twilio_identity_is_never_dialled(bridge, call, acd: RecordingAcd, caplog) -> None:
    phone = call(keys=["9"])
    runner = asyncio.create_task(phone.run())
    await acd.wait_for("enqueue")
    await phone.wait_for(HOLD)
    await bridge.offer(offer("call-1795353419.13", agent_id=7, endpoint="client:agent1"))
    await acd.wait_for("offer_failed")
    phone.hang_up()
    await asyncio.wait_for(runner, 10)
    assert not [c for c in phone.commands if c.startswith("EXEC")]
    assert ("offer_failed", "call-1795353419.13", 7, "unavailable") in acd.calls
    assert "endpoint 'client:agent1' is not an Asterisk endpoint" in caplog.text


async def test_an_asterisk_call_rings_only_the_agent_with_an_asterisk_phone(pbx, demo_db) -> None:
    bridge, acd, _ = await pbx(agent1={"twilio": "client:agent1"}, agent2={"asterisk": "PJSIP/agent2"})
    _, a2 = await login_both(acd)
    phone = FakeAgiCall(bridge.agi.port, keys=TO_AN_AGENT, dial_statuses=["ANSWER"])
    await asyncio.wait_for(phone.run(), 30)
    await acd.drain()
    assert phone.dials == [("PJSIP/agent2", "ANSWER")]
    assert not any("client:" in c for c in phone.commands)
    assert phone.pbx_log == []
    assert [(kind, agent) for kind, _, agent in await routing(demo_db) if kind in ("offered", "answered")] == [
        ("offered", a2), ("answered", a2)]
    check_invariants(acd)


# --- 2. a phone the PBX cannot reach ---------------------------------------------------------------


async def test_chanunavail_sets_the_agent_away_and_the_next_agent_takes_the_call(pbx, demo_db) -> None:
    bridge, acd, _ = await pbx()
    await login_both(acd)
    phone = FakeAgiCall(bridge.agi.port, keys=TO_AN_AGENT, dial_statuses=["CHANUNAVAIL", "ANSWER"])
    await asyncio.wait_for(phone.run(), 30)
    await acd.drain()
    (first, unreachable), (second, answered) = phone.dials
    assert (unreachable, answered) == ("CHANUNAVAIL", "ANSWER") and first != second
    assert phone.pbx_log == [
        "NOTICE app_dial.c: Unable to create channel of type 'PJSIP' (cause 20 - Subscriber absent)"]
    gone = next(a for a in acd.snapshot().agents if acd.agent_by_endpoint(first) == a.agent_id)
    assert (gone.state, gone.reason, gone.missed_in_row) == ("away", "phone_unreachable", 0)
    events = await routing(demo_db)
    assert not [e for e in events if e[0] == "missed"]
    assert ("state", "phone_unreachable", gone.agent_id) in events
    assert len([e for e in events if e[0] == "offered"]) == 2
    check_invariants(acd)


async def test_an_unreachable_phone_is_not_rung_again_in_a_burst(pbx, demo_db) -> None:
    bridge, acd, clock = await pbx()
    a1, a2 = await login_both(acd)
    await acd.logout(a2)
    phone = FakeAgiCall(bridge.agi.port, keys=TO_AN_AGENT, dial_statuses=["CHANUNAVAIL"] * 5)
    runner = asyncio.create_task(phone.run())
    await phone.wait_for("EXEC Dial")
    await phone.wait_for(HOLD, 4)  # the caller waits on; nobody else can be rung
    assert len(phone.dials) == 1
    clock.advance(20)  # the ring timeout: one more try
    await phone.wait_for("EXEC Dial", 2)
    await phone.wait_for(HOLD, 6)
    phone.hang_up()
    await asyncio.wait_for(runner, 30)
    await acd.drain()
    assert [status for _, status in phone.dials] == ["CHANUNAVAIL", "CHANUNAVAIL"]
    events = await routing(demo_db)
    assert [kind for kind, _, _ in events if kind in ("offered", "missed")] == ["offered", "offered"]
    assert ("state", "missed_calls", a1) not in events
    view = acd.snapshot().agents[0] if acd.snapshot().agents[0].agent_id == a1 else acd.snapshot().agents[1]
    assert (view.state, view.reason) == ("away", "phone_unreachable")
    assert (await the_call(demo_db)).end_reason == "caller-hangup"
    check_invariants(acd)


# --- 3. recordings of answered agent legs only ---------------------------------------------------


async def test_one_recording_per_answered_agent_leg_none_for_the_failed_dial(pbx, demo_db, ami_server) -> None:
    bridge, acd, _ = await pbx()
    await login_both(acd)
    phone = FakeAgiCall(bridge.agi.port, keys=TO_AN_AGENT, dial_statuses=["NOANSWER", "ANSWER"],
                        ami=ami_server, uniqueid="1795353419.13")
    await asyncio.wait_for(phone.run(), 30)
    await acd.drain()
    await pbx_events_applied(bridge)
    call = await the_call(demo_db)
    (_, _), (answering, _) = phone.dials
    agent = acd.agent_by_endpoint(answering)
    name = f"{call.id}-{agent}-2.wav"
    assert phone.recordings == [(f"{answering}-00000002", f"/var/spool/asterisk/monitor/hotline/{name}")]
    assert not any(c.startswith("EXEC MixMonitor") for c in phone.commands)
    async with demo_db.session() as s:
        recordings = list((await s.execute(select(Recording))).scalars())
        legs = {leg.id: leg for leg in (await s.execute(select(CallLeg))).scalars()}
    assert [(r.call_id, r.external_id, r.status) for r in recordings] == [(call.id, name, "ready")]
    leg = legs[recordings[0].leg_id]
    assert (leg.kind, leg.agent_id, leg.endpoint, leg.ended_at is not None) == (
        "agent", agent, answering, True)


async def test_a_call_no_agent_answered_leaves_no_recording(pbx, demo_db, ami_server) -> None:
    bridge, acd, _ = await pbx()
    a1, a2 = await login_both(acd)
    await acd.logout(a2)
    phone = FakeAgiCall(bridge.agi.port, keys=TO_AN_AGENT, dial_statuses=["NOANSWER"], ami=ami_server)
    runner = asyncio.create_task(phone.run())
    await phone.wait_for("EXEC Dial")
    await phone.wait_for(HOLD, 3)
    phone.hang_up()
    await asyncio.wait_for(runner, 30)
    await pbx_events_applied(bridge)
    assert phone.recordings == []
    async with demo_db.session() as s:
        assert list((await s.execute(select(Recording))).scalars()) == []


# --- 6. what a hang-up was -------------------------------------------------------------------------


async def test_a_pbx_that_dies_mid_call_is_pbx_lost_not_a_caller_hangup(pbx, demo_db, caplog) -> None:
    bridge, acd, _ = await pbx()
    phone = FakeAgiCall(bridge.agi.port, keys=TO_AN_AGENT, hangup_on=HOLD, hangup_mode="close")
    await asyncio.wait_for(phone.run(), 30)
    await asyncio.wait_for(bridge.wait_idle(), 10)
    await acd.drain()
    call = await the_call(demo_db)
    assert (call.end_reason, call.ended_at is not None) == ("pbx_lost", True)
    assert ("abandoned", "pbx_lost", None) in await routing(demo_db)
    assert "the PBX went away mid-call" in caplog.text


async def test_a_missing_sound_file_is_reported_once_with_its_name_and_the_call_goes_on(call, ivr, caplog) -> None:
    missing = "hotline/en-US/welcome"
    phones = [call(keys=["2"], missing_files=[missing], uniqueid=f"1795353419.{n}") for n in (13, 14)]
    for phone in phones:
        await asyncio.wait_for(phone.run(), 10)
    assert [reason for _, reason in ivr.hangups] == ["completed", "completed"]  # both walked the menu
    assert all(p.commands[3] == 'STREAM FILE hotline/en-US/main_menu "0123456789*#"' for p in phones)
    assert phones[0].pbx_log == [f"WARNING file.c: File {missing} does not exist in any format"]
    reports = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(reports) == 1 and missing in reports[0] and "configuration error" in reports[0]


async def test_a_caller_hanging_up_during_a_prompt_is_not_a_missing_file(call, ivr, caplog) -> None:
    phone = call(keys=["2"], hangup_on="STREAM FILE hotline/en-US/main_menu")
    await asyncio.wait_for(phone.run(), 10)
    assert phone.commands[-1] == 'STREAM FILE hotline/en-US/main_menu "0123456789*#"'
    assert ivr.hangups == [("call-1795353419.13", "caller-hangup")]
    assert "missing" not in caplog.text and "no sound file" not in caplog.text
    no_errors(caplog)
