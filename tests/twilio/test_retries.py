"""Twilio retries a webhook when our answer is slow or lost: the same (CallSid, step) gets the same
answer and nothing happens twice, whether the retry comes after or during the first attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from acd.clock import ManualClock
from acd.config import load_for
from acd.service import Acd
from bank.models import Payment
from calls.models import Call, IvrStep
from hotline.db import Database
from hotline.settings import Settings
from hotline.twilio_walker import GatherInfo, TwilioCaller, Webhook
from ivr.service import IvrService
from qa.models import SurveyResponse
from tests.twilio.harness import Env

CARD, PIN = "6222020000000001", "147258"


@pytest.fixture
async def real(make_env: Callable[..., Any], settings: Settings, demo_db: Database) -> AsyncIterator[Env]:
    clock = ManualClock()
    acd = Acd(load_for(settings), demo_db, settings, clock=clock)
    await acd.start()
    env = await make_env(ivr=lambda s, db: IvrService(s, db, is_open=acd.is_open, clock=clock.now), acd=acd)
    await acd.login(acd.agent_by_endpoint("client:agent1"))
    yield env
    await acd.stop()


class Replaying:
    """Presses scripted keys; before answering gather number `at`, replays the webhook that led to
    it (twice: once alone, once two at a time) and keeps the answers."""

    def __init__(self, keys: list[str], at: set[int]) -> None:
        self.keys, self.at, self.count = list(keys), at, 0
        self.caller: TwilioCaller | None = None
        self.replays: list[tuple[Webhook, list[str], int]] = []
        self.counts: Callable[[], Any] | None = None

    async def __call__(self, gather: GatherInfo) -> str | None:
        assert self.caller is not None
        self.count += 1
        if gather.on_hold:
            return None
        if self.count in self.at:
            original = self.caller.webhooks[-1]
            before = await self.counts() if self.counts else None
            bodies = [await self.caller.fetch(original.url, original.params)]
            bodies += await asyncio.gather(*(self.caller.fetch(original.url, original.params) for _ in range(2)))
            after = await self.counts() if self.counts else None
            self.replays.append((original, bodies, before == after))
        return self.keys.pop(0) if self.keys else "hangup"


async def counts(env: Env) -> tuple[int, int, int, int]:
    async with env.db.session() as s:
        return (await s.scalar(select(func.count()).select_from(IvrStep)),
                await s.scalar(select(func.count()).select_from(Payment)),
                await s.scalar(select(func.count()).select_from(SurveyResponse)),
                len(env.twilio.requests))


async def test_retried_ivr_steps_answer_the_same_and_change_nothing(real: Env) -> None:
    keys = Replaying(["1", "3", f"{CARD}#", f"{PIN}#", "1", "1*50#", "1", "2"], at=set(range(2, 9)))
    keys.counts = lambda: counts(real)
    caller = real.twilio.caller(keys)
    keys.caller = caller
    await caller.run()

    assert len(keys.replays) == 7
    for original, bodies, unchanged in keys.replays:
        assert all(body == original.body for body in bodies), original.url
        assert unchanged, original.url
    async with real.db.session() as s:
        payments = (await s.scalars(select(Payment))).all()
    assert [p.amount_fen for p in payments] == [150]  # the confirmed transfer moved money once


async def test_retried_transfer_and_survey_enqueue_once_and_store_once(real: Env) -> None:
    keys = Replaying(["1", "0", "3"], at={2, 3, 4})
    keys.counts = lambda: counts(real)
    caller = real.twilio.caller(keys)
    keys.caller = caller
    await caller.run()
    await real.bridge.drain()
    await real.acd.drain()

    for original, bodies, unchanged in keys.replays:
        assert all(body == original.body for body in bodies), original.url
        assert unchanged, original.url
    async with real.db.session() as s:
        surveys = (await s.scalars(select(SurveyResponse))).all()
    assert [sv.score for sv in surveys] == [3]
    updates = [r for r in real.twilio.requests if r.path.endswith(f"{caller.sid}.json")]
    assert len(updates) == 1


async def test_retried_final_status_closes_the_call_once(real: Env) -> None:
    caller = await real.twilio.call(["1", "2"])
    async with real.db.session() as s:
        first = await s.scalar(select(Call).where(Call.external_id == caller.sid))
    final = caller.webhooks[-1]
    assert final.params["CallStatus"] == "completed"
    await caller.fetch(final.url, {**final.params, "CallDuration": "999"})
    async with real.db.session() as s:
        again = await s.scalar(select(Call).where(Call.external_id == caller.sid))
    assert (again.ended_at, again.duration_s) == (first.ended_at, first.duration_s)


async def test_concurrent_first_webhooks_start_one_call(real: Env) -> None:
    caller = real.twilio.caller(["1"])
    url = caller.public_url + "/twilio/voice"
    bodies = await asyncio.gather(*(caller.fetch(url, {"CallStatus": "ringing"}) for _ in range(5)))
    assert len(set(bodies)) == 1
    async with real.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 1
