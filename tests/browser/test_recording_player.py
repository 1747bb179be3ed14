"""A recording's page in a real browser (Debian chromium): the <audio> element plays the archived,
encrypted recording through GET /recordings/<id>/audio by byte range (206), seeks, and the play
shows up in the page's list of who listened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from hotline.app import create_app
from hotline.db import Database
from hotline.settings import Settings
from hotline.web.keys import RECORD
from hotline.web.recordings import RECORDINGS
from recordings.ingest import IngestOutcome
from recordings.states import JobStatus
from tests.browser.conftest import log_in
from tests.recordings.conftest import make_wav, recordings_settings
from tests.web.test_recordings_pages import PBX_MONITOR, asterisk_call


@dataclass
class Served:
    url: str
    app: web.Application


@pytest.fixture
async def served(demo_db: Database, settings: Settings, tmp_path: Path) -> AsyncIterator[Served]:
    spool = tmp_path / "spool"
    (spool / "hotline").mkdir(parents=True)
    app = create_app(recordings_settings(settings, HOTLINE_AGI_ENABLED="false", HOTLINE_HTTP_PORT="0",
                                         HOTLINE_RECORDINGS_SPOOL_DIR=str(spool)), demo_db)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Served(f"http://127.0.0.1:{port}", app)
    await runner.cleanup()


async def test_play_seek_and_the_play_is_audited(browser, served: Served, demo_db: Database, tmp_path: Path) -> None:
    from playwright.async_api import expect

    app = served.app
    done: asyncio.Queue[IngestOutcome] = asyncio.Queue()
    app[RECORDINGS].listeners.append(done.put_nowait)
    spool = app[RECORDINGS].spool.root
    make_wav(spool / "hotline" / "play-1-1.wav", seconds=20.0, freqs=(330, 550))
    _, recording_id = await asterisk_call(app[RECORD], demo_db, file=f"{PBX_MONITOR}/hotline/play-1-1.wav")
    outcome = await asyncio.wait_for(done.get(), 60)
    assert outcome.status == JobStatus.DONE, outcome.error

    context = await browser.new_context()
    page = await context.new_page()
    audio_responses: list[tuple[int, str]] = []
    page.on("response", lambda r: audio_responses.append((r.status, r.request.headers.get("range", "")))
            if r.url.endswith(f"/recordings/{recording_id}/audio") else None)
    await log_in(page, served.url, "qa1", "qa1-demo")
    await page.wait_for_url(f"{served.url}/qa")
    await page.goto(f"{served.url}/recordings/{recording_id}")
    await expect(page.get_by_test_id("no-accesses")).to_be_visible()
    await expect(page.locator(".activity[data-loaded=yes]")).to_be_visible()  # the peaks were drawn

    player = page.get_by_test_id("player")
    await player.evaluate("a => { a.muted = true; return a.play(); }")
    await page.wait_for_function("a => a.currentTime > 0.2", arg=await player.element_handle())
    await player.evaluate("a => new Promise(done => { a.addEventListener('seeked', done, {once: true}); "
                          "a.currentTime = 12.5; })")
    position = await player.evaluate("a => a.currentTime")
    assert 12.4 <= position <= 14.0
    duration = await player.evaluate("a => a.duration")
    assert 19.5 <= duration <= 20.5
    assert audio_responses and all(status == 206 for status, _ in audio_responses), audio_responses
    assert all(asked.startswith("bytes=") for _, asked in audio_responses)

    await page.screenshot(path="/tmp/rec_page.png", full_page=True)
    await page.reload()
    accesses = page.get_by_test_id("accesses")
    await expect(accesses).to_contain_text("user:qa1")
    await expect(accesses.locator("tbody tr")).to_have_count(1)
    await expect(accesses).to_contain_text("recording.play")
    await page.screenshot(path="/tmp/rec_page.png", full_page=True)
    await context.close()
