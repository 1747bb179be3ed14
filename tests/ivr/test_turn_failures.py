"""A turn is applied only when its writes commit; a transport id is started once.

- a failed write puts the session back where it was: the same event again gives what the turn
  would have given, and the path holds it once;
- an operation the failed turn already carried out is not carried out again (a changed PIN is
  not "wrong" on the retry);
- a CallSid / Uniqueid the database holds is never started again, not even by two requests at once;
- one call's failing write does not fail the turns of the calls that shared its commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bank.models import Card
from calls.batch import BatchWriter, Write
from calls.exceptions import CallAlreadyOpened
from calls.models import Call, IvrStep
from hotline.db import Database, verify_secret
from hotline.settings import Settings
from ivr.events import CallStarted, Digits
from ivr.service import IvrService, TurnFailed
from tests.ivr.test_service import LI_PIN, Caller


class FailingCommits:
    """Stands in for BatchWriter._commit: the next `times` commits fail as a lost database would."""

    def __init__(self, writer: BatchWriter, times: int) -> None:
        self.real: Callable[[Any], Awaitable[None]] = writer._commit
        self.left = times

    async def __call__(self, batch: Any) -> None:
        if self.left:
            self.left -= 1
            raise OperationalError("UPDATE calls", {}, Exception("disk I/O error"))
        await self.real(batch)


@pytest.fixture
def service(settings: Settings, demo_db: Database) -> IvrService:
    return IvrService(settings, demo_db)


def fail_next_commits(monkeypatch: pytest.MonkeyPatch, service: IvrService, times: int = 1) -> None:
    writer = service.record._batch
    monkeypatch.setattr(writer, "_commit", FailingCommits(writer, times))


async def key_steps(db: Database, call_id: str) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = await s.scalars(select(IvrStep).where(IvrStep.call_id == call_id, IvrStep.kind == "key")
                               .order_by(IvrStep.seq))
        return [(r.node, r.detail) for r in rows]


async def test_a_failed_write_leaves_the_session_where_it_was(service, demo_db, monkeypatch) -> None:
    caller = await Caller(service).dial("zh-CN")
    before = dataclasses.asdict(service.session(caller.call_id))
    stored = await key_steps(demo_db, caller.call_id)
    fail_next_commits(monkeypatch, service)

    with pytest.raises(TurnFailed):
        await service.handle(caller.call_id, Digits("2"))

    assert dataclasses.asdict(service.session(caller.call_id)) == before
    assert await key_steps(demo_db, caller.call_id) == stored
    assert [p.id for p in service.question(caller.call_id).prompts] == ["main_menu"]  # what to ask again
    await caller.press("2")  # the same key again: what the turn would have given the first time
    assert caller.prompt_ids == ["cards_menu"]
    assert await key_steps(demo_db, caller.call_id) == [*stored, ("main", "2")]


async def test_an_operation_of_a_failed_turn_is_not_run_again(service, demo_db, monkeypatch) -> None:
    caller = await Caller(service).dial("zh-CN")
    await caller.press("2", "2")
    await caller.verify()
    await caller.press(LI_PIN + "#", "135790#")
    question = caller.actions
    fail_next_commits(monkeypatch, service)

    with pytest.raises(TurnFailed):  # the PIN is changed, then the path cannot be stored
        await service.handle(caller.call_id, Digits("135790"))
    async with demo_db.session() as s:
        assert await verify_secret(await s.scalar(select(Card.pin_hash).where(Card.last4 == "0001")), "135790")

    caller.actions = question
    await caller.press("135790#")  # the retry: "changed", not "your old PIN is wrong"
    assert caller.prompt_ids == ["pin_changed", "done_menu"]


async def test_a_call_whose_first_turn_fails_is_closed(service, demo_db, monkeypatch) -> None:
    writer = service.record._batch
    real = writer._commit
    calls = 0

    async def second_commit_fails(batch: Any) -> None:  # the call row is written, its first turn is not
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OperationalError("UPDATE calls", {}, Exception("disk I/O error"))
        await real(batch)

    monkeypatch.setattr(writer, "_commit", second_commit_fails)
    with pytest.raises(TurnFailed):
        await service.start_call("twilio", "CA" + "1" * 32, CallStarted("+8613800138000", "95588"))
    async with demo_db.session() as s:
        call = await s.scalar(select(Call).where(Call.external_id == "CA" + "1" * 32))
    assert (call.status, call.end_reason) == ("completed", "service_error") and call.ended_at is not None


async def test_a_transport_id_is_started_once(service, demo_db) -> None:
    await service.start_call("twilio", "CA" + "2" * 32, CallStarted("+8613800138000", "95588"))

    with pytest.raises(CallAlreadyOpened):
        await service.start_call("twilio", "CA" + "2" * 32, CallStarted("+8613800138000", "95588"))
    # the same id on another transport is another call
    await service.start_call("asterisk", "CA" + "2" * 32, CallStarted("13800138000", "95588"))
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 2


async def test_two_first_requests_at_once_start_one_call(service, demo_db) -> None:
    started = await asyncio.gather(
        *(service.start_call("twilio", "CA" + "3" * 32, CallStarted("+8613800138000", "95588")) for _ in range(2)),
        return_exceptions=True)

    assert sorted(type(result).__name__ for result in started) == ["CallAlreadyOpened", "Turn"]
    async with demo_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 1


def call_row(call_id: str, external_id: str) -> dict[str, Any]:
    return {"id": call_id, "channel": "twilio", "external_id": external_id, "direction": "inbound",
            "caller_number": "", "dialled_number": "", "language": "zh-CN", "status": "in-progress",
            "verified": False, "self_service_done": False, "attributes": {}}


async def test_one_bad_write_does_not_fail_the_calls_sharing_its_commit(demo_db) -> None:
    writer = BatchWriter(demo_db)
    await writer.write(Write(calls=[call_row("first", "CA" + "4" * 32)]))

    results = await asyncio.gather(
        writer.write(Write(calls=[call_row("second", "CA" + "5" * 32)])),
        writer.write(Write(calls=[call_row("again", "CA" + "4" * 32)])),  # that CallSid is taken
        writer.write(Write(calls=[call_row("third", "CA" + "6" * 32)])),
        return_exceptions=True)

    assert [type(r).__name__ for r in results] == ["NoneType", "IntegrityError", "NoneType"]
    async with demo_db.session() as s:
        assert sorted(await s.scalars(select(Call.id))) == ["first", "second", "third"]
