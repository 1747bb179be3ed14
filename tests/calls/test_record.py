"""The call record: each fact changes the rows once and is kept as an event; a repeated fact changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from acd.models import Agent
from calls.exceptions import CallAlreadyOpened, NoSuchCall, NoSuchLeg
from calls.facts import Fact
from calls.models import Call, CallEvent, CallLeg, Recording
from calls.record import CallRecord
from calls.replay import fold, summaries
from hotline.db import Database, aware, utcnow


@pytest.fixture
async def record(db: Database) -> CallRecord:
    async with db.session() as s:
        s.add_all([Agent(id=1, name="agent1"), Agent(id=2, name="agent2")])
    return CallRecord(db)


async def events(db: Database, call_id: str) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = await s.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id))
        return [(row.fact, row.key) for row in rows]


async def row(db: Database, call_id: str) -> Call:
    async with db.session() as s:
        return await s.get_one(Call, call_id)


async def legs(db: Database, call_id: str) -> list[CallLeg]:
    async with db.session() as s:
        return list(await s.scalars(select(CallLeg).where(CallLeg.call_id == call_id).order_by(CallLeg.id)))


async def open_call(record: CallRecord, external_id: str = "CA" + "1" * 32) -> str:
    return await record.open_inbound("twilio", external_id, caller="+8613800138000", dialled="95588",
                                     language="zh-CN")


async def test_an_inbound_call_opens_with_the_callers_leg_answered(record, db) -> None:
    call_id = await open_call(record)

    call = await row(db, call_id)
    (leg,) = await legs(db, call_id)
    assert (call.channel, call.external_id, call.direction, call.status) == ("twilio", "CA" + "1" * 32,
                                                                             "inbound", "in-progress")
    assert (leg.kind, leg.external_id, leg.endpoint) == ("caller", "CA" + "1" * 32, "+8613800138000")
    assert leg.answered_at is not None and call.answered_at is not None
    assert await events(db, call_id) == [(Fact.OPENED, "CA" + "1" * 32)]


async def test_a_transport_id_opens_one_call_only(record, db) -> None:
    await open_call(record)

    with pytest.raises(CallAlreadyOpened):
        await open_call(record)
    opened_at_once = await asyncio.gather(*(open_call(record, "CA" + "2" * 32) for _ in range(3)),
                                          return_exceptions=True)
    assert sorted(type(result).__name__ for result in opened_at_once) == ["CallAlreadyOpened"] * 2 + ["str"]
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 2


async def test_a_repeated_fact_changes_nothing(record, db) -> None:
    call_id = await open_call(record)
    leg_id = await record.offered(call_id, 1, "client:agent1")

    assert await record.answered(call_id, 1, leg_id, "CA" + "9" * 32) is True
    answered_at = (await legs(db, call_id))[1].answered_at
    assert await record.answered(call_id, 1, leg_id, "CA" + "9" * 32) is False  # a retried webhook
    assert await record.leg_closed(call_id, leg_id, "completed") is True
    assert await record.leg_closed(call_id, leg_id, "no-answer") is False

    agent_leg = (await legs(db, call_id))[1]
    assert (agent_leg.answered_at, agent_leg.end_reason) == (answered_at, "completed")
    assert (await row(db, call_id)).agent_id == 1
    assert [fact for fact, _ in await events(db, call_id)] == [Fact.OPENED, Fact.OFFERED, Fact.ANSWERED,
                                                               Fact.LEG_CLOSED]


async def test_each_ring_is_a_leg_of_its_own(record, db) -> None:
    call_id = await open_call(record)

    first = await record.offered(call_id, 1, "client:agent1")
    await record.leg_closed(call_id, first, "no-answer")
    second = await record.offered(call_id, 2, "client:agent2")

    assert first != second
    assert [(leg.kind, leg.agent_id, leg.end_reason) for leg in await legs(db, call_id)] == [
        ("caller", None, None), ("agent", 1, "no-answer"), ("agent", 2, None)]


async def test_facts_about_an_unknown_call_or_leg_are_refused(record, db) -> None:
    call_id = await open_call(record)

    with pytest.raises(NoSuchCall):
        await record.queued("no-such-call", "general", "other")
    with pytest.raises(NoSuchLeg):
        await record.answered(call_id, 1, 999)
    other = await open_call(record, "CA" + "3" * 32)
    leg_of_other = await record.offered(other, 1, "client:agent1")
    with pytest.raises(NoSuchLeg):  # a leg of another call
        await record.leg_closed(call_id, leg_of_other, "completed")
    assert await events(db, call_id) == [(Fact.OPENED, "CA" + "1" * 32)]  # nothing half-written


async def test_the_first_close_sets_the_end_and_the_transport_adds_its_duration(record, db) -> None:
    call_id = await open_call(record)
    leg_id = await record.offered(call_id, 1, "client:agent1")

    assert await record.closed(call_id, "completed", by="ivr") is True
    ended = await row(db, call_id)
    assert await record.closed(call_id, "caller-hangup", by="twilio", status="completed", duration_s=42) is True
    assert await record.closed(call_id, "caller-hangup", by="twilio", duration_s=99) is False  # replayed

    call = await row(db, call_id)
    assert (call.ended_at, call.end_reason, call.duration_s) == (ended.ended_at, "completed", 42)
    assert all(leg.ended_at == call.ended_at for leg in await legs(db, call_id))
    assert (await legs(db, call_id))[1].id == leg_id
    assert (Fact.LEG_CLOSED, str(leg_id)) in await events(db, call_id)


async def test_a_reason_known_before_the_end_is_the_one_kept(record, db) -> None:
    call_id = await open_call(record)

    await record.ending(call_id, "customer-busy")
    await record.closed(call_id, "caller-hangup", by="twilio", status="busy")

    assert ((await row(db, call_id)).end_reason, (await row(db, call_id)).status) == ("customer-busy", "busy")


async def test_a_recording_seen_only_when_ready_is_recorded_once(record, db) -> None:
    call_id = await open_call(record)
    leg_id = await record.offered(call_id, 1, "client:agent1")

    for _ in range(2):  # Twilio retries the callback
        await record.recording_ready(call_id, "RE" + "1" * 32, leg_id=leg_id, source="https://api.twilio.com/x",
                                     channels=2, duration_ms=61_000)
    async with db.session() as s:
        (recording,) = await s.scalars(select(Recording))
    assert (recording.leg_id, recording.status, recording.channels, recording.duration_ms) == (
        leg_id, "ready", 2, 61_000)


async def test_a_second_recording_of_one_leg_keeps_to_the_call(record, db) -> None:
    call_id = await open_call(record)
    leg_id = await record.offered(call_id, 1, "PJSIP/agent1")

    await record.recording_started(call_id, "a.wav", leg_id=leg_id, source="/spool/a.wav")
    await record.recording_started(call_id, "b.wav", leg_id=leg_id, source="/spool/b.wav")

    async with db.session() as s:
        rows = list(await s.scalars(select(Recording).order_by(Recording.id)))
    assert [(r.external_id, r.leg_id, r.call_id) for r in rows] == [("a.wav", leg_id, call_id),
                                                                      ("b.wav", None, call_id)]


async def test_start_up_sweep_and_resync_close_only_what_nobody_serves(record, db) -> None:
    kept, gone, live = [await record.open_inbound("asterisk", uniqueid, caller="13800138000", dialled="95588",
                                                  language="zh-CN") for uniqueid in ("1.1", "2.2", "3.3")]

    closed = await record.close_gone("asterisk", live_external_ids={"3.3"}, keep={kept},
                                     started_before=utcnow() + timedelta(seconds=1))

    assert closed == 1
    assert [(await row(db, c)).end_reason for c in (kept, gone, live)] == [None, "pbx-channel-gone", None]
    assert await record.close_left_open() == 2
    assert [(await row(db, c)).end_reason for c in (kept, live)] == ["server_restart", "server_restart"]


async def test_statistics_replay_the_facts_into_what_the_rows_say(record, db) -> None:
    call_id = await open_call(record)
    await record.queued(call_id, "general", "other")
    missed = await record.offered(call_id, 1, "client:agent1")
    await record.leg_closed(call_id, missed, "no-answer")
    answered = await record.offered(call_id, 2, "client:agent2")
    await record.answered(call_id, 2, answered)
    await record.recording_ready(call_id, "RE" + "2" * 32, leg_id=answered)
    await record.survey_answered(call_id, 2, "general", 5)
    await record.wrapped_up(call_id, 2, "balance", "查询余额")
    await record.closed(call_id, "completed", by="twilio", duration_s=80)

    start = aware((await row(db, call_id)).started_at) - timedelta(minutes=1)
    (summary,) = (await summaries(db, start, start + timedelta(hours=1))).values()
    call = await row(db, call_id)
    assert (summary.queue, summary.agent_id, summary.end_reason, summary.wrapup_code) == (
        call.queue, call.agent_id, call.end_reason, call.wrapup_code)
    assert (summary.offers, summary.survey_score, summary.recordings_ready) == (2, 5, 1)
    assert summary.wait_s is not None and summary.wait_s >= 0
    assert await summaries(db, start + timedelta(hours=1), start + timedelta(hours=2)) == {}
    async with db.session() as s:  # folding the same events twice gives the same summary
        again = fold(await s.scalars(select(CallEvent).order_by(CallEvent.id)))
    assert again[call_id] == summary


async def test_whoever_archives_recordings_hears_of_a_ready_one_once_in_its_transaction(record, db) -> None:
    heard: list[tuple[str, str, str]] = []

    async def archive(session, call, recording) -> None:
        heard.append((call.channel, recording.external_id, recording.source_url))

    record.on_recording_ready.append(archive)
    call_id = await open_call(record)
    await record.recording_started(call_id, "RE" + "4" * 32, leg_id=None, source="")
    assert heard == []
    for _ in range(2):
        await record.recording_ready(call_id, "RE" + "4" * 32, source="https://api.twilio.com/r")
    assert heard == [("twilio", "RE" + "4" * 32, "https://api.twilio.com/r")]


async def test_a_failing_archive_leaves_the_recording_not_ready(record, db) -> None:
    async def broken(session, call, recording) -> None:
        raise OSError("disk full")

    record.on_recording_ready.append(broken)
    call_id = await open_call(record)
    with pytest.raises(OSError):
        await record.recording_ready(call_id, "RE" + "5" * 32, source="https://api.twilio.com/r")
    async with db.session() as s:
        assert list(await s.scalars(select(Recording))) == []
    assert await events(db, call_id) == [(Fact.OPENED, "CA" + "1" * 32)]
