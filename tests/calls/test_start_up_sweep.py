"""After a crash, the calls the previous run had open are closed when the server starts again,
before it takes any call: reason "server_restart", with their open legs, and a log line says how many."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from calls.models import Call, CallLeg
from hotline.app import create_app
from hotline.db import Database, aware, utcnow
from hotline.settings import Settings


async def test_start_up_closes_the_calls_the_previous_run_left_open(settings: Settings, db: Database,
                                                                     caplog) -> None:
    caplog.set_level(logging.INFO)
    long_ago = utcnow() - timedelta(minutes=5)
    ended_at = long_ago + timedelta(minutes=1)
    async with db.session() as s:
        s.add_all([
            Call(id="ivr", channel="twilio", external_id="CA" + "1" * 32, started_at=long_ago),
            Call(id="queued", channel="asterisk", external_id="1795353419.13", started_at=long_ago,
                 queue="general"),
            Call(id="done", channel="twilio", external_id="CA" + "2" * 32, started_at=long_ago, status="completed",
                 ended_at=ended_at, duration_s=60, end_reason="hangup"),
        ])
        await s.flush()
        s.add_all([
            CallLeg(call_id="ivr", kind="caller", started_at=long_ago),
            CallLeg(call_id="queued", kind="caller", started_at=long_ago),
            CallLeg(call_id="queued", kind="agent", agent_id=None, started_at=long_ago, ended_at=ended_at,
                    end_reason="no-answer"),
        ])

    runner = web.AppRunner(create_app(settings, db))
    await runner.setup()  # start-up hooks run here, before any site serves
    try:
        async with db.session() as s:
            calls = {c.id: c for c in await s.scalars(select(Call))}
            legs = list(await s.scalars(select(CallLeg).order_by(CallLeg.id)))
    finally:
        await runner.cleanup()

    for call_id in ("ivr", "queued"):
        call = calls[call_id]
        assert (call.status, call.end_reason) == ("completed", "server_restart")
        assert call.ended_at is not None and call.duration_s == int((aware(call.ended_at) - long_ago).total_seconds())
    done = calls["done"]
    assert (done.end_reason, aware(done.ended_at), done.duration_s) == ("hangup", ended_at, 60)
    assert [(leg.call_id, leg.end_reason) for leg in legs] == [
        ("ivr", "server_restart"), ("queued", "server_restart"), ("queued", "no-answer")]
    assert all(leg.ended_at is not None for leg in legs)
    assert "closed 2 calls left open by the previous run" in caplog.text
