"""Statistics are recomputed from the event log alone: the same figures after a restart, any week."""

from __future__ import annotations

from datetime import timedelta

from acd import stats
from acd.clock import ManualClock
from acd.service import Acd
from tests.acd.conftest import agent_ids, caller


async def test_week_figures_replay_from_the_event_log(acd: Acd, clock: ManualClock, settings, acd_config):
    a1, a2 = await agent_ids(acd)
    week_start = clock.now()
    await acd.login(a1)
    await acd.login(a2)
    # answered after 5 s and after 25 s (the second outside the 20 s service level)
    await acd.enqueue(caller("fast"))
    clock.advance(5)
    await acd.offer_answered("fast", a1)
    await acd.enqueue(caller("slow", queue="complaints", category="complaint"))
    clock.advance(25)
    await acd.offer_answered("slow", a2)
    clock.advance(100)
    await acd.call_ended("fast", "completed")
    clock.advance(20)
    await acd.call_ended("slow", "completed")
    # a missed offer, then the caller gives up after 40 s of waiting
    await acd.ready(a1)
    await acd.set_state(a2, "away", "meal")
    await acd.enqueue(caller("gone", category="transfer"))
    clock.advance(20 + 5)
    clock.advance(15)
    await acd.call_ended("gone", "hangup")
    await acd.drain()

    week = await stats.compute(acd.db, acd_config, week_start, week_start + timedelta(days=7))
    total = week.total
    assert (total.offered, total.answered, total.abandoned) == (3, 2, 1)
    assert (total.answer_waits, total.avg_answer_s) == ([5.0, 25.0], 15.0)
    assert round(total.abandon_rate, 3) == 0.333
    # complaints' own threshold is 30 s, so both answers are within service level
    assert total.answered_in_sl == 2 and week.by_queue["complaints"].service_level == 1.0
    assert total.talk_times == [125.0, 120.0] and total.avg_talk_s == 122.5
    assert week.by_category["transfer"].abandoned == 1 and week.by_category["balance"].answered == 1
    assert (week.agents[a1].answered, week.agents[a1].missed, week.agents[a1].talk_s) == (1, 1, 125.0)
    assert week.agents[a2].answered == 1
    assert week.total.as_dict()["p90_answer_s"] == 25.0

    # a fresh ACD on the same database computes the same figures; another week is empty
    await acd.stop()
    again = Acd(acd_config, acd.db, settings, clock=clock)
    await again.start()
    try:
        replay = await stats.compute(again.db, acd_config, week_start, week_start + timedelta(days=7))
        assert replay.total.as_dict() == week.total.as_dict()
        later = await stats.compute(again.db, acd_config, week_start + timedelta(days=7),
                                    week_start + timedelta(days=14))
        assert later.total.offered == 0 and later.total.answer_rate == 0.0
    finally:
        await again.stop()


def test_percentile_is_nearest_rank():
    assert stats.percentile([], 90) == 0.0
    assert stats.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert stats.percentile([float(n) for n in range(1, 11)], 90) == 9.0
    assert stats.percentile([1.0], 99) == 1.0
