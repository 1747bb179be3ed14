"""Callbacks: the caller keeps their place, attempts are stored, and everything survives a restart."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from acd.clock import ManualClock
from acd.models import Callback, CallbackAttempt
from acd.service import Acd
from tests.acd.conftest import RecordingBridge, agent_ids, caller
from tests.acd.invariants import check_invariants


async def attempts_of(acd: Acd, callback_id: int) -> list[tuple[int, str | None]]:
    await acd.drain()
    async with acd.db.session() as s:
        rows = await s.execute(select(CallbackAttempt.attempt_no, CallbackAttempt.result)
                               .where(CallbackAttempt.callback_id == callback_id)
                               .order_by(CallbackAttempt.attempt_no))
        return [tuple(r) for r in rows]


async def status_of(acd: Acd, callback_id: int) -> tuple[str, int]:
    await acd.drain()
    async with acd.db.session() as s:
        row = await s.get_one(Callback, callback_id)
        return row.status, row.attempts


async def test_callback_keeps_the_callers_place(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.enqueue(caller("early"))
    clock.advance(1)
    await acd.enqueue(caller("late"))
    callback_id = await acd.request_callback("early", "+8613800138000")
    await acd.call_ended("early", "hangup")  # the caller hangs up: not abandoned
    assert acd.queue_status("early").position == 1

    await acd.login(a1)
    await acd.drain()
    assert bridge.offers == []
    (out,) = bridge.outbound
    assert (out.agent_id, out.customer_number, out.purpose, out.reference_id) == (
        a1, "+8613800138000", "callback", callback_id)
    assert out.call_id != "early"
    await acd.offer_answered(out.call_id, a1)
    clock.advance(90)
    await acd.call_ended(out.call_id, "completed")
    assert await attempts_of(acd, callback_id) == [(1, "reached")]
    assert await status_of(acd, callback_id) == ("done", 1)
    await acd.ready(a1)
    await acd.drain()
    assert [o.call_id for o in bridge.offers] == ["late"]
    check_invariants(acd)


async def test_callback_gives_up_after_the_configured_attempts(acd: Acd, bridge: RecordingBridge,
                                                               clock: ManualClock, settings):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.set_state(a1, "away", "meeting")
    await acd.enqueue(caller("c1"))
    callback_id = await acd.request_callback("c1", "+8613900139000")
    await acd.set_state(a1, "available")
    for attempt in range(1, settings.acd.callback_attempts + 1):
        await acd.drain()
        leg = bridge.outbound[-1]
        await acd.offer_answered(leg.call_id, a1)
        await acd.call_ended(leg.call_id, "no-answer")
        await acd.ready(a1)
        await acd.drain()
        assert len(bridge.outbound) == attempt  # nothing before the retry gap
        clock.advance(settings.acd.callback_retry_gap_s)
    results = await attempts_of(acd, callback_id)
    assert results == [(n, "no-answer") for n in range(1, settings.acd.callback_attempts + 1)]
    assert await status_of(acd, callback_id) == ("failed", settings.acd.callback_attempts)
    assert len(bridge.outbound) == settings.acd.callback_attempts


async def test_agent_missing_a_callback_ring_does_not_spend_an_attempt(acd: Acd, bridge: RecordingBridge):
    a1, a2 = await agent_ids(acd)
    await acd.enqueue(caller("c1"))
    callback_id = await acd.request_callback("c1", "+8613900139000")
    await acd.login(a1)
    await acd.login(a2)
    await acd.drain()
    await acd.offer_failed(bridge.outbound[0].call_id, a1, "no-answer")  # the customer was never dialled
    await acd.drain()
    assert [o.agent_id for o in bridge.outbound] == [a1, a2]
    assert await attempts_of(acd, callback_id) == []
    assert await status_of(acd, callback_id) == ("dialing", 0)


async def test_scheduled_callback_rings_its_agent_when_due(acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    callback_id = await acd.schedule_callback(a1, None, "+8613700137000", clock.now() + timedelta(hours=1),
                                              "check the disputed fee")
    clock.advance(3599)
    await acd.drain()
    assert bridge.outbound == []
    clock.advance(1)
    await acd.drain()
    (leg,) = bridge.outbound
    assert (leg.agent_id, leg.customer_number, leg.reference_id) == (a1, "+8613700137000", callback_id)
    await acd.offer_answered(leg.call_id, a1)
    await acd.call_ended(leg.call_id, "completed")
    assert await status_of(acd, callback_id) == ("done", 1)


async def test_callbacks_survive_a_restart(acd: Acd, bridge: RecordingBridge, clock: ManualClock, settings,
                                           acd_config):
    a1, _ = await agent_ids(acd)
    await acd.enqueue(caller("c1"))
    queued = await acd.request_callback("c1", "+8613800138000")
    await acd.login(a1)
    await acd.drain()
    leg = bridge.outbound[0]
    await acd.offer_answered(leg.call_id, a1)  # attempt 1 is dialling when the server goes down
    scheduled = await acd.schedule_callback(a1, None, "+8613700137000", clock.now() + timedelta(minutes=30), "")
    await acd.stop()

    again = RecordingBridge()
    restarted = Acd(acd_config, acd.db, settings, clock=clock)
    restarted.register_connector("twilio", again)
    await restarted.start()
    try:
        assert await attempts_of(restarted, queued) == [(1, "interrupted")]
        assert restarted.queue_status("c1") is not None
        await restarted.login(a1)
        await restarted.drain()
        (redial,) = again.outbound
        assert (redial.reference_id, redial.customer_number) == (queued, "+8613800138000")
        await restarted.offer_answered(redial.call_id, a1)
        await restarted.call_ended(redial.call_id, "completed")
        assert await attempts_of(restarted, queued) == [(1, "interrupted"), (2, "reached")]
        await restarted.ready(a1)
        clock.advance(30 * 60)
        await restarted.drain()
        assert again.outbound[-1].reference_id == scheduled
    finally:
        await restarted.stop()


async def test_callback_needs_a_waiting_call_and_a_number(acd: Acd):
    import pytest

    from acd.exceptions import AcdError

    with pytest.raises(AcdError, match="not waiting"):
        await acd.request_callback("nobody", "+8613800138000")
    await acd.enqueue(caller("c1"))
    with pytest.raises(AcdError, match="number"):
        await acd.request_callback("c1", "  ")
    assert acd.queue_status("c1").position == 1  # a refused request loses nothing
