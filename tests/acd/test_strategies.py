"""Each queue strategy picks the agent it promises; skills and minimum levels are respected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acd.clock import ManualClock
from acd.config import AcdConfig
from acd.service import Acd
from hotline.db import Database
from tests.acd.conftest import RecordingBridge, add_agents, caller


def config_with(strategy: str, skills: dict[str, int] | None = None) -> AcdConfig:
    return AcdConfig.model_validate({
        "queues": {"q": {"skills": skills or {"general": 1}, "strategy": strategy, "wrap_up_s": 0,
                         "max_wait_s": 10_000}},
        "categories": {"other": "q"},
    })


@pytest.fixture
async def make_acd(db: Database, settings) -> AsyncIterator:
    made: list[Acd] = []

    async def make(strategy: str, skills: dict[str, int] | None = None) -> tuple[Acd, RecordingBridge, ManualClock]:
        clock, bridge = ManualClock(), RecordingBridge()
        acd = Acd(config_with(strategy, skills), db, settings, clock=clock)
        acd.register_connector("twilio", bridge)
        await acd.start()
        made.append(acd)
        return acd, bridge, clock

    yield make
    for acd in made:
        await acd.stop()


async def take_call(acd: Acd, bridge: RecordingBridge, call_id: str, clock: ManualClock, talk_s: float = 10) -> int:
    """Route one call, answer it, hang up; return the agent who got it."""
    await acd.enqueue(caller(call_id, queue="q"))
    await acd.drain()
    offer = bridge.offers[-1]
    assert offer.call_id == call_id
    await acd.offer_answered(call_id, offer.agent_id)
    clock.advance(talk_s)
    await acd.call_ended(call_id, "completed")  # wrap_up_s 0: available again at once
    return offer.agent_id


async def test_longest_idle_takes_turns_by_idle_time(db: Database, make_acd):
    ids = await add_agents(db, [{"general": 1}] * 3)
    acd, bridge, clock = await make_acd("longest_idle")
    for agent in ids:
        await acd.login(agent)
        clock.advance(1)
    got = [await take_call(acd, bridge, f"c{i}", clock) for i in range(6)]
    assert got == ids + ids


async def test_fewest_calls_prefers_the_least_busy_today(db: Database, make_acd):
    ids = await add_agents(db, [{"general": 1}] * 3)
    acd, bridge, clock = await make_acd("fewest_calls")
    await acd.login(ids[0])
    for i in range(2):
        assert await take_call(acd, bridge, f"warm{i}", clock) == ids[0]
    await acd.login(ids[1])
    assert await take_call(acd, bridge, "b1", clock) == ids[1]
    await acd.login(ids[2])
    # idle order is now ids[0], ids[1], ids[2], but calls today are 2, 1, 0
    assert await take_call(acd, bridge, "c1", clock) == ids[2]
    assert await take_call(acd, bridge, "c2", clock) in (ids[1], ids[2])
    counts = {a.agent_id: a.calls_today for a in acd.snapshot().agents}
    assert counts[ids[0]] == 2


async def test_best_skill_prefers_the_highest_level_then_idle_time(db: Database, make_acd):
    low, high, high_later = await add_agents(db, [{"general": 3}, {"general": 9}, {"general": 9}])
    acd, bridge, clock = await make_acd("best_skill")
    for agent in (low, high, high_later):
        await acd.login(agent)
        clock.advance(1)
    assert await take_call(acd, bridge, "c1", clock) == high
    assert await take_call(acd, bridge, "c2", clock) == high_later
    assert await take_call(acd, bridge, "c3", clock) == high


async def test_round_robin_rotates_regardless_of_idle_time(db: Database, make_acd):
    ids = await add_agents(db, [{"general": 1}] * 3)
    acd, bridge, clock = await make_acd("round_robin")
    for agent in ids:
        await acd.login(agent)
    got = [await take_call(acd, bridge, f"c{i}", clock, talk_s=0) for i in range(6)]
    assert sorted(got[:3]) == sorted(ids) and got[3:] == got[:3]


async def test_minimum_skill_level_and_extra_caller_skills(db: Database, make_acd):
    junior, senior, english = await add_agents(db, [{"general": 2}, {"general": 6},
                                                    {"general": 6, "english": 5}])
    acd, bridge, _ = await make_acd("longest_idle", {"general": 5})
    await acd.login(junior)
    await acd.enqueue(caller("c1", queue="q"))
    await acd.drain()
    assert bridge.offers == []  # level 2 is below the queue's minimum of 5
    await acd.login(senior)
    await acd.drain()
    assert [o.agent_id for o in bridge.offers] == [senior]
    await acd.enqueue(caller("en", queue="q", skills=("english",)))
    await acd.drain()
    assert len(bridge.offers) == 1  # only an English speaker may take it
    await acd.login(english)
    await acd.drain()
    assert bridge.offers[-1].agent_id == english and bridge.offers[-1].call_id == "en"
