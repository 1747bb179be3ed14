"""The report's figures on a generated week written into the real database, against the truth of that
week counted here by hand (plain loops over what the generator says happened, not the report's code)."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from acd.clock import ManualClock
from acd.config import AcdConfig
from acd.models import RoutingEvent
from acd.service import Acd
from hotline.db import Database
from hotline.settings import Settings
from reports import figures, periods
from tests.acd.conftest import agent_ids, caller
from tests.reports import week as generated

# config/acd/queues.yaml: service_level_s per queue, read by eye
THRESHOLD = {"general": 20.0, "cards": 20.0, "complaints": 30.0}


@pytest.fixture(scope="module")
def week() -> generated.Week:
    return generated.generate(calls_per_day=60, seed=11)


@pytest.fixture
async def report(db: Database, acd_config: AcdConfig, week: generated.Week) -> figures.Report:
    await generated.write(db, week)
    return await figures.compute(db, acd_config, periods.week(generated.WEEK, acd_config.zone))


START = generated.local(generated.MONDAY, datetime.min.time())
END = START + timedelta(days=7)


def inside(at: datetime) -> bool:
    return START <= at < END


def local(at: datetime) -> datetime:
    return at.astimezone(generated.ZONE)


def truth(outcomes: list[generated.Outcome], talks: list[generated.Talk], wraps: list[generated.WrapUp],
          calls: list[generated.InboundCall]) -> dict[str, Any]:
    """The figures of one slice, counted."""
    answered = [o for o in outcomes if o.kind == "answered"]
    abandoned = [o for o in outcomes if o.kind == "abandoned"]
    short = [o for o in abandoned if o.wait <= 5.0]
    in_sl = [o for o in answered if o.wait <= THRESHOLD[o.queue]]
    offered = len(outcomes)
    surveys = [c.survey for c in calls if c.survey is not None]
    return {
        "offered": offered, "answered": len(answered), "abandoned": len(abandoned), "short": len(short),
        "voicemail": sum(o.kind == "voicemail" for o in outcomes),
        "callback": sum(o.kind == "callback" for o in outcomes),
        "answer_rate": len(answered) / offered if offered else 0.0,
        "asa": sum(o.wait for o in answered) / len(answered) if answered else 0.0,
        "sl": len(in_sl) / offered if offered else 0.0,
        "sl_excl": len(in_sl) / (offered - len(short)) if offered - len(short) else 0.0,
        "talk": sum(t.seconds for t in talks) / len(talks) if talks else 0.0,
        "transfers": sum(t.transferred for t in talks),
        "wrap": sum(w.seconds for w in wraps) / len(wraps) if wraps else 0.0,
        "surveys": len(surveys), "survey": sum(surveys) / len(surveys) if surveys else 0.0,
    }


def observed(f: figures.Figures) -> dict[str, Any]:
    return {
        "offered": f.offered, "answered": f.answered, "abandoned": f.abandoned, "short": f.short_abandoned,
        "voicemail": f.overflowed, "callback": f.to_callback, "answer_rate": f.answer_rate, "asa": f.avg_answer_s,
        "sl": f.service_level, "sl_excl": f.service_level_excl_short, "talk": f.avg_talk_s,
        "transfers": f.transfers, "wrap": f.avg_wrap_up_s, "surveys": f.surveys, "survey": f.avg_survey,
    }


def same(expected: dict[str, Any], got: dict[str, Any]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-3), key


def sliced(week: generated.Week, key: Any) -> dict[Any, dict[str, Any]]:
    outcomes, talks, wraps, calls = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list)
    for o in week.outcomes:
        if inside(o.at):
            outcomes[key(o.at, o.queue, o.category)].append(o)
    for t in week.talks:
        if inside(t.at):
            talks[key(t.at, t.queue, t.category)].append(t)
    for w in week.wraps:
        if inside(w.at):
            wraps[key(w.at, w.queue, w.category)].append(w)
    for c in week.calls:
        if inside(c.opened) and c.survey is not None:
            calls[key(c.opened, c.survey_queue, c.category)].append(c)
    keys = set(outcomes) | set(talks) | set(wraps) | set(calls)
    return {k: truth(outcomes[k], talks[k], wraps[k], calls[k]) for k in keys}


async def test_the_week_as_a_whole(report: figures.Report, week: generated.Week):
    expected = sliced(week, lambda at, queue, category: "all")["all"]
    same(expected, observed(report.total))
    # the generated week has every kind of outcome, so none of these checks is vacuous
    assert min(expected["answered"], expected["abandoned"], expected["short"], expected["voicemail"],
               expected["callback"], expected["transfers"], expected["surveys"]) > 0
    assert 0 < expected["sl"] < expected["sl_excl"] < 1
    assert expected["sl"] < expected["answer_rate"]  # some answers came after the threshold
    # complaints' threshold is 30 s: answers after 20-30 s count there and nowhere else
    assert any(o.kind == "answered" and o.queue == "complaints" and 20 < o.wait <= 30 for o in week.outcomes)


async def test_per_queue_category_day_and_hour(report: figures.Report, week: generated.Week):
    by_queue = sliced(week, lambda at, queue, category: queue)
    assert {q: observed(f) for q, f in report.by_queue.items()}.keys() == by_queue.keys()
    for queue, expected in by_queue.items():
        same(expected, observed(report.by_queue[queue]))
    for category, expected in sliced(week, lambda at, queue, category: category).items():
        same(expected, observed(report.by_category[category]))
    by_day = sliced(week, lambda at, queue, category: local(at).date())
    assert sorted(report.by_day) == sorted(by_day)
    assert len(by_day) == 7
    for day, expected in by_day.items():
        same(expected, observed(report.by_day[day]))
    by_hour = sliced(week, lambda at, queue, category: local(at).hour)
    assert 0 in by_hour  # the caller who gave up at 00:20 on Monday, local time
    for hour, expected in by_hour.items():
        same(expected, observed(report.by_hour[hour]))


async def test_calls_count_self_service_and_agents_together(report: figures.Report, week: generated.Week):
    calls = [c for c in week.calls if inside(c.opened)]
    assert len(calls) < len(week.calls)  # the calls just outside the week are left out
    assert report.calls.total == len(calls)
    assert report.calls.to_agent == sum(c.queued for c in calls)
    assert report.calls.self_service_only == sum(not c.queued for c in calls)
    assert report.calls.contained == sum(c.contained for c in calls) > 0
    per_day = Counter(local(c.opened).date() for c in calls)
    assert {d: t.total for d, t in report.calls_by_day.items()} == dict(per_day)
    topics = Counter(c.wrapup or c.category for c in calls if c.wrapup or c.category)
    assert report.topics == sorted(topics.items(), key=lambda item: (-item[1], item[0]))


async def test_agents(report: figures.Report, week: generated.Week):
    assert sorted(report.agents) == sorted(week.agents)
    for agent_id, t in week.agents.items():
        a = report.agents[agent_id]
        assert (a.name, a.offered, a.answered, a.missed, a.outbound) == (
            f"座席{agent_id}", t.offered, t.answered, t.missed, t.outbound)
        assert a.talk_s == pytest.approx(t.talk, abs=1e-3)
        # time in each state: from each state change to the next, the last to the week's end; the
        # state at the start is the last one before it
        spent: dict[str, float] = defaultdict(float)
        away: dict[str, float] = defaultdict(float)
        before = [s for s in t.states if s[0] < START]
        during = [s for s in t.states if inside(s[0])]
        if before:
            during.insert(0, (START, before[-1][1], before[-1][2]))
        for (at, state, reason), (until, _, _) in zip(during, [*during[1:], (END, "", None)], strict=True):
            spent[state] += (until - at).total_seconds()
            if state == "away":
                away[reason or "-"] += (until - at).total_seconds()
        assert a.state_s.keys() == spent.keys()
        for state, seconds in spent.items():
            assert a.state_s[state] == pytest.approx(seconds, abs=1e-2), (agent_id, state)
        assert a.away_s == pytest.approx(dict(away), abs=1e-2)
        working = spent["reserved"] + spent["on_call"] + spent["wrap_up"]
        assert a.occupancy == pytest.approx(working / (working + spent["available"]), abs=1e-6)
    assert report.agents[2].away_s["meal"] == pytest.approx(7 * 45 * 60, abs=1e-2)
    # agent 3 was logged in when the week began: Monday 00:00 to 07:50 counts as available
    assert report.agents[3].state_s["available"] > report.agents[1].state_s["available"] + 7 * 3600


async def test_self_service(report: figures.Report, week: generated.Week):
    calls = [c for c in week.calls if inside(c.opened)]
    used: dict[str, set[str]] = defaultdict(set)
    for c in calls:
        for node, kind, detail, _ in c.steps:
            if kind == "operation" and detail != "identify":
                used[node].add(c.id)
    contained = {c.id for c in calls if c.contained}
    assert {node: (op.calls, op.contained) for node, op in report.self_service.operations.items()} == {
        node: (len(ids), len(ids & contained)) for node, ids in used.items()}
    checks = Counter((detail, outcome) for c in calls for _, kind, detail, outcome in c.steps
                     if kind == "operation" and detail in ("verify", "change_pin"))
    assert report.self_service.verification == dict(checks)
    assert report.self_service.verification_failures == checks["verify", "wrong_pin"] + checks["verify", "not_found"]
    assert report.self_service.lockouts == checks["verify", "locked"] > 0
    exits = Counter((node, detail) for c in calls if not c.contained and not c.queued
                    for node, kind, detail, _ in c.steps if kind == "end")
    assert report.self_service.exits == dict(exits)
    assert ("main", "hangup") in exits


async def test_callbacks(report: figures.Report, week: generated.Week):
    events = [(kind, reason) for at, kind, reason in week.callback_events if inside(at)]
    kinds = Counter(kind for kind, _ in events)
    cb = report.callbacks
    assert (cb.requested, cb.reached, cb.given_up, cb.retried) == (
        kinds["callback_requested"], kinds["callback_done"], kinds["callback_failed"], kinds["callback_attempt"])
    assert cb.made == kinds["callback_done"] + kinds["callback_failed"] + kinds["callback_attempt"] > 0
    assert cb.outcomes == {"reached": kinds["callback_done"], "busy": kinds["callback_failed"],
                           "no-answer": kinds["callback_attempt"]}


async def test_staffing_half_hours(report: figures.Report, week: generated.Week, acd_config: AcdConfig):
    arrivals = Counter((local(at).replace(minute=local(at).minute // 30 * 30, second=0, microsecond=0), queue)
                       for at, queue in week.enqueued if inside(at))
    assert {(slot.start, slot.queue): slot.arrivals for slot in report.staffing} == dict(arrivals)
    slots = {(slot.start, slot.queue): slot for slot in report.staffing}
    for (start, _queue), slot in slots.items():
        hour = start.hour + start.minute / 60
        if 8 <= hour < 20:
            # three agents logged in for the whole half hour (agent 2's meal is away, still logged in)
            assert slot.logged_in == pytest.approx(3.0)
        assert slot.needed >= 1
    night = slots[(datetime(2026, 11, 23, 0, 0, tzinfo=generated.ZONE), "cards")]
    assert night.logged_in == pytest.approx(1.0)  # agent 3, logged in since Sunday evening
    assert night.arrivals == 1


async def test_an_empty_period_and_the_zone(db: Database, acd_config: AcdConfig, week: generated.Week):
    await generated.write(db, week)
    later = await figures.compute(db, acd_config, periods.week("2026-W50", acd_config.zone))
    assert (later.total.offered, later.calls.total, later.total.answer_rate, later.topics) == (0, 0, 0.0, [])
    assert later.staffing == [] and later.self_service.operations == {}
    # the same UTC week is not the same figures: the centre's day starts 8 hours earlier
    utc = await figures.compute(db, acd_config, periods.custom(
        datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC), acd_config.zone))
    expected = sum(1 for c in week.calls if datetime(2026, 11, 23, tzinfo=UTC) <= c.opened < datetime(2026, 11, 30, tzinfo=UTC))
    assert utc.calls.total == expected


async def test_figures_of_the_real_acds_event_log(acd: Acd, clock: ManualClock, settings: Settings,
                                                   acd_config: AcdConfig):
    """The events the ACD itself writes (not generated rows) make the figures; a fresh ACD on the same
    database computes the same ones."""
    a1, a2 = await agent_ids(acd)
    start = clock.now()
    await acd.login(a1)
    await acd.login(a2)
    # answered after 5 s and after 25 s (the second outside general's 20 s, inside complaints' 30 s)
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
    # agent 1 ends their wrap-up after 20 s; agent 2 goes to a meal at once; then a missed offer and a
    # caller who gives up after 40 s
    await acd.ready(a1)
    await acd.set_state(a2, "away", "meal")
    await acd.enqueue(caller("gone", category="transfer"))
    clock.advance(20 + 5)
    clock.advance(15)
    await acd.call_ended("gone", "hangup")
    await acd.drain()

    period = periods.custom(start, start + timedelta(days=7), acd_config.zone)
    week = await figures.compute(acd.db, acd_config, period)
    total = week.total
    assert (total.offered, total.answered, total.abandoned, total.short_abandoned) == (3, 2, 1, 0)
    assert (total.avg_answer_s, total.answered_in_sl) == (15.0, 2)
    assert week.by_queue["complaints"].service_level == 1.0
    assert (total.talks, total.avg_talk_s) == (2, 122.5)
    assert (total.wrap_ups, total.wrap_up_s) == (2, pytest.approx(20.0))
    assert week.by_category["transfer"].abandoned == 1 and week.by_category["balance"].answered == 1
    agent = week.agents[a1]
    assert (agent.answered, agent.missed, agent.talk_s) == (1, 1, 125.0)
    assert week.agents[a2].answered == 1 and week.agents[a2].away_s["meal"] > 0

    await acd.stop()
    again = Acd(acd_config, acd.db, settings, clock=clock)
    await again.start()
    try:
        replay = await figures.compute(again.db, acd_config, period)
        assert observed(replay.total) == observed(week.total)
    finally:
        await again.stop()


async def test_a_report_reading_does_not_hold_up_the_calls_writes(db: Database):
    """The app's SQLite sessions take the write lock as they begin; a report's read must not, or every
    call would wait for the report to finish."""
    async with figures._reading(db) as conn:
        await conn.execute(select(func.count()).select_from(RoutingEvent))
        async with asyncio.timeout(3):  # far below the 10 s busy timeout a held lock would cost
            async with db.session() as s:
                s.add(RoutingEvent(at=START, kind="state", agent_id=1, state="available", detail={}))
        assert (await conn.execute(select(func.count()).select_from(RoutingEvent))).scalar_one() == 1
