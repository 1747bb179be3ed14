"""Routing through the real ACD: offers, answers, timeouts, wrap-up, states, overflow, events."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from acd.clock import ManualClock
from acd.exceptions import AcdError
from acd.models import RoutingEvent
from acd.offers import RING_GRACE_S
from acd.ports import QueueStatus
from acd.service import Acd
from bank.models import Customer
from tests.acd.conftest import RecordingBridge, agent_ids, caller
from tests.acd.invariants import check_invariants


async def kinds(acd: Acd) -> list[str]:
    await acd.drain()
    async with acd.db.session() as s:
        return list(await s.scalars(select(RoutingEvent.kind).order_by(RoutingEvent.id)))


async def test_call_is_offered_answered_and_wrapped_up(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    status = await acd.enqueue(caller("c1"))
    await acd.drain()
    assert [(o.call_id, o.agent_id, o.endpoint, o.ring_timeout_s) for o in bridge.offers] == [
        ("c1", a1, "client:agent1", 20.0)]
    assert status.position == 1
    assert acd.snapshot().agents[0].state == "reserved"

    clock.advance(7)
    await acd.offer_answered("c1", a1)
    assert acd.snapshot().agents[0].state == "on_call"
    clock.advance(65)
    await acd.call_ended("c1", "completed")
    assert acd.snapshot().agents[0].state == "wrap_up"
    clock.advance(29)
    assert acd.snapshot().agents[0].state == "wrap_up"
    clock.advance(1)  # the general queue's 30 s of wrap-up end by themselves
    assert acd.snapshot().agents[0].state == "available"
    check_invariants(acd)

    assert await kinds(acd) == ["state", "enqueued", "state", "offered", "state", "answered", "ended", "state",
                                "wrap_up", "state"]
    async with acd.db.session() as s:
        answered = await s.scalar(select(RoutingEvent).where(RoutingEvent.kind == "answered"))
        ended = await s.scalar(select(RoutingEvent).where(RoutingEvent.kind == "ended"))
    assert answered is not None and answered.wait_s == 7 and answered.queue == "general"
    assert ended is not None and ended.talk_s == 65


async def test_ready_ends_wrap_up_early_and_takes_the_next_caller(acd: Acd, bridge: RecordingBridge):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    await acd.enqueue(caller("c2"))
    await acd.offer_answered("c1", a1)
    await acd.call_ended("c1", "completed")
    assert acd.queue_status("c2") is not None and acd.queue_status("c2").position == 1
    await acd.ready(a1)
    await acd.drain()
    assert [o.call_id for o in bridge.offers] == ["c1", "c2"]


async def test_ring_timeout_moves_the_call_to_the_next_agent(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    a1, a2 = await agent_ids(acd)
    await acd.login(a1)
    clock.advance(1)
    await acd.login(a2)
    await acd.enqueue(caller("c1"))  # longest idle: agent1
    clock.advance(20 + RING_GRACE_S)
    await acd.drain()
    assert [(o.call_id, o.agent_id) for o in bridge.offers] == [("c1", a1), ("c1", a2)]
    # the first agent's late report changes nothing
    await acd.offer_failed("c1", a1, "no-answer")
    await acd.offer_answered("c1", a2)
    view = {a.agent_id: a for a in acd.snapshot().agents}
    assert view[a1].state == "available" and view[a1].missed_in_row == 1
    assert view[a2].state == "on_call"
    check_invariants(acd)


async def test_missing_offers_in_a_row_sets_the_agent_away(acd: Acd, bridge: RecordingBridge, settings):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    for _ in range(settings.acd.max_missed_offers):
        await acd.drain()
        await acd.offer_failed("c1", a1, "no-answer")
    me = acd.snapshot().agents[0]
    assert (me.state, me.reason) == ("away", "missed_calls")
    assert acd.queue_status("c1") is not None  # the caller still waits, nobody lost
    await acd.set_state(a1, "available")
    await acd.drain()
    assert bridge.offers[-1].agent_id == a1 and len(bridge.offers) == settings.acd.max_missed_offers + 1


async def test_unreachable_agent_gets_no_offer_until_registered_again(acd: Acd, bridge: RecordingBridge):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.set_reachable(a1, False)
    await acd.enqueue(caller("c1"))
    await acd.drain()
    assert bridge.offers == []
    await acd.set_reachable(a1, True)
    await acd.drain()
    assert [o.call_id for o in bridge.offers] == ["c1"]


async def test_away_requested_during_a_call_applies_after_wrap_up(acd: Acd, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    await acd.offer_answered("c1", a1)
    await acd.set_state(a1, "away", "break", by="user:supervisor1")
    assert acd.snapshot().agents[0].pending == "away"
    await acd.call_ended("c1", "completed")
    clock.advance(30)
    me = acd.snapshot().agents[0]
    assert (me.state, me.reason) == ("away", "break")
    await acd.enqueue(caller("c2"))
    assert acd.snapshot().agents[0].state == "away"


async def test_bad_state_requests_are_refused(acd: Acd):
    a1, _ = await agent_ids(acd)
    with pytest.raises(AcdError, match="log in first"):
        await acd.set_state(a1, "away", "break")
    await acd.login(a1)
    with pytest.raises(AcdError, match="reason"):
        await acd.set_state(a1, "away", "nap")
    with pytest.raises(AcdError, match="by hand"):
        await acd.set_state(a1, "on_call")
    with pytest.raises(AcdError, match="no active agent"):
        await acd.login(999)
    with pytest.raises(AcdError, match="unknown queue"):
        await acd.enqueue(caller("c1", queue="nope"))
    with pytest.raises(AcdError, match="not being offered"):
        await acd.offer_answered("c9", a1)


async def test_vip_and_queue_priority_order_callers(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    async with acd.db.session() as s:
        smith = await s.scalar(select(Customer.id).where(Customer.segment == "vip"))
    await acd.enqueue(caller("first"))
    clock.advance(1)
    await acd.enqueue(caller("second"))
    clock.advance(1)
    await acd.enqueue(caller("vip", customer_id=smith))
    assert [acd.queue_status(c).position for c in ("vip", "first", "second")] == [1, 2, 3]
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.drain()
    assert bridge.offers[0].call_id == "vip"


async def test_estimated_wait_grows_with_position_and_shrinks_with_agents(acd: Acd, clock: ManualClock):
    a1, a2 = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("busy"))
    await acd.offer_answered("busy", a1)
    for i in range(4):
        await acd.enqueue(caller(f"w{i}"))
    one_agent = [acd.queue_status(f"w{i}") for i in range(4)]
    assert [s.position for s in one_agent] == [1, 2, 3, 4]
    assert one_agent[0].estimated_wait_s < one_agent[3].estimated_wait_s
    await acd.login(a2)  # takes w0 at once; now two staffed agents share the rest
    await acd.offer_answered("w0", a2)
    assert acd.queue_status("w3").position == 3
    assert acd.queue_status("w3").estimated_wait_s < one_agent[3].estimated_wait_s


async def test_abandoned_while_waiting_and_while_ringing(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.enqueue(caller("c1"))
    clock.advance(12)
    await acd.call_ended("c1", "hangup")
    await acd.login(a1)
    await acd.enqueue(caller("c2"))
    clock.advance(3)
    await acd.call_ended("c2", "hangup")  # hung up while the agent's phone rang: not the agent's fault
    me = acd.snapshot().agents[0]
    assert me.state == "available" and me.missed_in_row == 0
    await acd.drain()
    async with acd.db.session() as s:
        waits = list(await s.scalars(select(RoutingEvent.wait_s).where(RoutingEvent.kind == "abandoned")
                                     .order_by(RoutingEvent.id)))
    assert waits == [12, 3]
    check_invariants(acd)


async def test_hang_up_reported_while_the_transfer_is_being_queued(acd: Acd, bridge: RecordingBridge):
    """The bridge's hang-up can overtake its own enqueue (which first reads the customer record):
    the caller must not be left waiting in the queue, nor offered to an agent."""
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    queued = asyncio.create_task(acd.enqueue(caller("gone")))
    await acd.call_ended("gone", "hangup")  # runs before the enqueue task gets going
    assert await queued == QueueStatus(0, 0)
    assert acd.queue_status("gone") is None
    assert acd.snapshot().agents[0].state == "available" and bridge.offers == []
    assert (await kinds(acd))[-2:] == ["enqueued", "abandoned"]
    check_invariants(acd)


async def test_offer_for_a_call_its_bridge_lost_frees_the_agent_without_a_miss(acd: Acd, bridge: RecordingBridge):
    class GoneBridge(RecordingBridge):
        async def offer(self, offer):  # type: ignore[no-untyped-def]
            raise LookupError(f"no call {offer.call_id} here")

    acd.register_connector("gone", GoneBridge())
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(dataclasses.replace(caller("lost"), connector="gone"))
    await acd.settle()
    me = acd.snapshot().agents[0]
    assert (me.state, me.missed_in_row) == ("available", 0)
    assert acd.queue_status("lost") is None
    assert (await kinds(acd))[-1] == "abandoned"
    check_invariants(acd)


async def test_max_wait_overflows_to_the_target_queue(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    await acd.enqueue(caller("c1", queue="cards", category="card_loss"))
    clock.advance(300)  # cards: max_wait 300 s -> queue:general
    await acd.drain()
    assert [(o.kind, o.target) for o in bridge.overflows] == [("queue", "general")]
    snap = {q.name: q for q in acd.snapshot().queues}
    assert snap["general"].waiting == 1 and snap["cards"].waiting == 0
    clock.advance(600)  # general: max wait 600 s -> callback offer, the caller keeps waiting
    await acd.drain()
    assert bridge.overflows[-1].kind == "callback"
    assert acd.queue_status("c1") is not None
    clock.advance(600)  # still waiting after the callback offer: voicemail, the ACD lets go
    await acd.drain()
    assert bridge.overflows[-1].kind == "voicemail"
    assert acd.queue_status("c1") is None


async def test_closed_queue_overflows_at_once(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    clock.advance(timedelta(hours=12).total_seconds())  # 22:00 in Shanghai: complaints closed
    assert not acd.is_open("complaints", clock.now())
    assert acd.is_open("cards", clock.now())
    await acd.enqueue(caller("c1", queue="complaints", category="complaint"))
    await acd.drain()
    assert [(o.call_id, o.kind) for o in bridge.overflows] == [("c1", "voicemail")]


async def test_transfer_of_a_talking_call_requeues_it(acd: Acd, bridge: RecordingBridge):
    a1, a2 = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    await acd.offer_answered("c1", a1)
    await acd.login(a2)
    await acd.enqueue(caller("c1", queue="complaints", category="complaint"))
    await acd.drain()
    assert bridge.offers[-1].agent_id == a2 and bridge.offers[-1].queue == "complaints"
    assert {a.agent_id: a.state for a in acd.snapshot().agents}[a1] == "wrap_up"
    assert "transferred" in await kinds(acd)


async def test_bridge_failure_on_offer_keeps_the_caller(acd: Acd, bridge: RecordingBridge, settings):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    bridge.fail_offers = True
    await acd.enqueue(caller("c1"))
    await acd.drain()
    # each failed request counts as a miss, so a broken bridge ends in "away", not in a busy loop
    me = acd.snapshot().agents[0]
    assert (me.state, me.reason, me.missed_in_row) == ("away", "missed_calls", settings.acd.max_missed_offers)
    assert acd.queue_status("c1") is not None
    bridge.fail_offers = False
    await acd.set_state(a1, "available")
    await acd.drain()
    assert [o.call_id for o in bridge.offers] == ["c1"]
    check_invariants(acd)


async def test_live_events_reach_listeners_until_removed(acd: Acd):
    a1, _ = await agent_ids(acd)
    seen = []
    remove = acd.add_listener(seen.append)
    await acd.login(a1)
    assert [(e.kind, e.agent_id, e.state) for e in seen] == [("state", a1, "available")]
    remove()
    await acd.logout(a1)
    assert len(seen) == 1


async def test_snapshot_shows_queues_and_agents(acd: Acd, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.set_state(a1, "away", "meal")
    await acd.enqueue(caller("c1"))
    clock.advance(42)
    snap = acd.snapshot()
    general = next(q for q in snap.queues if q.name == "general")
    assert (general.waiting, general.longest_wait_s, general.available_agents) == (1, 42, 0)
    agent = next(a for a in snap.agents if a.agent_id == a1)
    assert (agent.state, agent.reason) == ("away", "meal")


async def test_max_wait_during_ringing_overflows_when_the_ring_fails(acd: Acd, bridge: RecordingBridge,
                                                                     clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.set_reachable(a1, False)
    await acd.enqueue(caller("c1", queue="vip", category="other"))  # vip: max wait 120 s -> queue:general
    clock.advance(118)
    await acd.set_reachable(a1, True)  # the phone registers again: offered at once
    clock.advance(3)  # max wait passes while the phone rings: a ringing call is left alone...
    await acd.drain()
    assert bridge.overflows == [] and [o.queue for o in bridge.offers] == ["vip"]
    await acd.offer_failed("c1", a1, "busy")  # ...until the ring fails: then it overflows
    await acd.drain()
    assert [(o.kind, o.target) for o in bridge.overflows] == [("queue", "general")]
    assert [o.queue for o in bridge.offers] == ["vip", "general"]
    check_invariants(acd)


async def test_a_clock_given_after_construction_drives_every_part(demo_db, settings, acd_config,
                                                                    bridge: RecordingBridge):
    # the web tests hand the app's ACD a manual clock this way; every part must then use it
    service = Acd(acd_config, demo_db, settings)
    clock = ManualClock()
    service.clock = clock
    service.register_connector("twilio", bridge)
    seen = []
    service.add_listener(seen.append)
    await service.start()
    try:
        a1, _ = await agent_ids(service)
        await service.login(a1)
        await service.enqueue(caller("c1"))
        clock.advance(20 + RING_GRACE_S)  # the ring timer runs on the manual clock
        assert service.snapshot().agents[0].missed_in_row == 1
        clock.advance(42)
        snap = service.snapshot()
        assert snap.at == clock.now() and snap.queues[0].calls[0].waited_s == 20 + RING_GRACE_S + 42
        start = ManualClock().now()
        assert seen and all(start <= e.at <= clock.now() for e in seen)  # stamped on the manual clock too
    finally:
        await service.stop()
