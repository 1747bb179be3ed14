"""Agents' phones per transport, and phones the PBX cannot reach (issue 17, items 1 and 2)."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from sqlalchemy import select, update

from acd.clock import ManualClock
from acd.config import AcdConfig
from acd.endpoints import EndpointProblem, fits, resolve, transport_of
from acd.models import Agent, RoutingEvent
from acd.service import Acd
from hotline.db import Database
from hotline.settings import Settings
from tests.acd.conftest import RecordingBridge, agent_ids, caller
from tests.acd.invariants import check_invariants


@pytest.mark.parametrize(("endpoint", "transport"), [
    ("PJSIP/agent1", "asterisk"), ("SIP/6001", "asterisk"), ("Local/6001@agents", "asterisk"),
    ("client:agent1", "twilio"), ("sip:agent1@pbx.example.com", "twilio"), ("+8613800138000", "twilio"),
    ("agent1", None), ("PJSIP/", None), ("PJSIP/a,20", None), ("Local/6001", None), ("client:", None),
    ("+86 138", None), ("PJSIP/agent1&PJSIP/agent2", None),
])
def test_an_endpoint_belongs_to_the_transport_its_syntax_says(endpoint: str, transport: str | None) -> None:
    assert transport_of(endpoint) == transport


def test_explicit_endpoints_win_and_misfits_are_problems() -> None:
    phones = resolve("client:agent1", {"asterisk": "client:agent1", "twilio": "sip:a1@pbx.example.com"})
    assert phones.usable == {"twilio": "sip:a1@pbx.example.com"}
    assert phones.problems == (EndpointProblem("asterisk", "client:agent1"),)
    assert "asterisk endpoint 'client:agent1' is not one of PJSIP/" in str(phones.problems[0])
    assert resolve("PJSIP/agent1", {}).usable == {"asterisk": "PJSIP/agent1"}
    assert resolve("agent one", None).problems == (EndpointProblem("", "agent one"),)
    assert fits("pigeon", "anything at all")  # a transport the ACD does not know is not checked


@pytest.fixture
async def two_transports(demo_db: Database, settings: Settings, acd_config: AcdConfig, clock: ManualClock,
                         bridge: RecordingBridge):
    """Agent 1 has a phone on both transports, agent 2 only on Twilio."""
    async with demo_db.session() as s:
        await s.execute(update(Agent).where(Agent.name.like("Zhang%")).values(endpoints={"twilio": "client:agent2"}))
    service = Acd(acd_config, demo_db, settings, clock=clock)
    asterisk = RecordingBridge()
    service.register_connector("twilio", bridge)
    service.register_connector("asterisk", asterisk)
    await service.start()
    yield service, asterisk
    await service.stop()


async def test_a_call_is_offered_only_to_agents_with_a_phone_on_its_transport(two_transports, bridge) -> None:
    acd, asterisk = two_transports
    a1, a2 = await agent_ids(acd)
    await acd.login(a2)  # free first, but has no Asterisk phone
    await acd.enqueue(dataclasses.replace(caller("pbx-1"), connector="asterisk"))
    await acd.drain()
    assert asterisk.offers == [] and bridge.offers == []
    await acd.login(a1)
    await acd.drain()
    assert [(o.call_id, o.agent_id, o.endpoint) for o in asterisk.offers] == [("pbx-1", a1, "PJSIP/agent1")]
    await acd.enqueue(caller("tw-1"))  # the Twilio caller goes to agent 2, on agent 2's Twilio phone
    await acd.drain()
    assert [(o.call_id, o.agent_id, o.endpoint) for o in bridge.offers] == [("tw-1", a2, "client:agent2")]
    check_invariants(acd)


async def test_a_malformed_endpoint_is_reported_at_start_and_never_offered(
        demo_db: Database, settings: Settings, acd_config: AcdConfig, clock: ManualClock, caplog) -> None:
    async with demo_db.session() as s:
        await s.execute(update(Agent).where(Agent.name.like("Wang%")).values(endpoints={"asterisk": "client:agent1"}))
    caplog.set_level(logging.WARNING, logger="acd")
    acd = Acd(acd_config, demo_db, settings, clock=clock)
    asterisk = RecordingBridge()
    acd.register_connector("asterisk", asterisk)
    await acd.start()
    try:
        assert "asterisk endpoint 'client:agent1' is not one of" in caplog.text
        assert "Wang Fang" in caplog.text
        a1, _ = await agent_ids(acd)
        await acd.login(a1)
        await acd.enqueue(dataclasses.replace(caller("pbx-1"), connector="asterisk"))
        await acd.drain()
        assert asterisk.offers == []
        assert acd.queue_status("pbx-1") is not None
    finally:
        await acd.stop()


async def test_an_unreachable_phone_is_not_a_miss_and_is_not_rung_again_within_the_ring_timeout(
        acd: Acd, bridge: RecordingBridge, clock: ManualClock) -> None:
    a1, a2 = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    await acd.drain()
    await acd.login(a2)
    assert [o.agent_id for o in bridge.offers] == [a1]

    await acd.offer_failed("c1", a1, "unavailable")
    await acd.drain()
    views = {a.agent_id: a for a in acd.snapshot().agents}
    assert (views[a1].state, views[a1].reason, views[a1].missed_in_row) == ("away", "phone_unreachable", 0)
    assert [o.agent_id for o in bridge.offers] == [a1, a2]  # the caller goes to the next agent at once

    await acd.offer_failed("c1", a2, "unavailable")  # nobody left who can be rung: the caller waits
    await acd.drain()
    assert [o.agent_id for o in bridge.offers] == [a1, a2]
    clock.advance(19.9)  # the general queue rings for 20 s
    await acd.drain()
    assert [o.agent_id for o in bridge.offers] == [a1, a2]
    clock.advance(0.1)  # one more try each, not a burst
    await acd.drain()
    assert sorted(o.agent_id for o in bridge.offers[2:]) == [a1]
    assert {a.agent_id: a.state for a in acd.snapshot().agents}[a2] == "available"
    check_invariants(acd)
    async with acd.db.session() as s:
        events = list(await s.execute(select(RoutingEvent.kind, RoutingEvent.reason).order_by(RoutingEvent.id)))
    assert ("missed", "unavailable") not in events
    assert len([e for e in events if e.kind == "offered"]) == 3
    assert ("state", "phone_unreachable") in events


async def test_an_agent_asking_for_a_break_meanwhile_gets_the_break(acd: Acd, bridge: RecordingBridge,
                                                                    clock: ManualClock) -> None:
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    await acd.drain()
    await acd.set_state(a1, "away", "meal")  # waits while the phone "rings"
    await acd.offer_failed("c1", a1, "unavailable")
    view = acd.snapshot().agents[0]
    assert (view.state, view.reason) == ("away", "meal")
    clock.advance(60)
    assert acd.snapshot().agents[0].state == "away"
    await acd.set_state(a1, "available")
    await acd.drain()
    assert [o.agent_id for o in bridge.offers] == [a1, a1]
