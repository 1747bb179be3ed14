"""hotline/web/recordings.py: the app archives what the call record says is ready (a Twilio call
through the stand-in, whose RecordingUrl serves a real WAV; an Asterisk MixMonitor file in a spool),
plays it by byte range with every play audited, and finds it on the search page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.models import AuditLog
from bank.models import Customer
from calls.models import Recording
from calls.record import CallRecord
from hotline.app import create_app
from hotline.db import Database
from hotline.settings import Settings
from hotline.twilio_walker import FarEnd
from hotline.web.keys import ACD, RECORD
from hotline.web.recordings import RECORDINGS, RangeNotSatisfiable, mask_number, parse_range, source_ref
from qa.survey import store_survey
from recordings import ingest
from recordings.crypto import decrypt
from recordings.ingest import IngestOutcome
from recordings.models import ArchivedFile, IngestJob
from recordings.states import JobStatus, SourceKind
from tests.recordings.conftest import make_wav, recordings_settings
from tests.standins.twilio import TwilioStandIn
from tests.twilio.harness import PUBLIC_URL, twilio_settings
from tests.web.conftest import CSRF_RE, login
from tests.web.desk_support import agent_id_of, always_open

PBX_MONITOR = "/var/spool/asterisk/monitor"


def app_settings(settings: Settings, **extra: str) -> Settings:
    return recordings_settings(settings, HOTLINE_AGI_PORT="0", HOTLINE_HTTP_PORT="0", **extra)


def outcomes(app: Any) -> asyncio.Queue[IngestOutcome]:
    queue: asyncio.Queue[IngestOutcome] = asyncio.Queue()
    app[RECORDINGS].listeners.append(queue.put_nowait)
    return queue


async def next_outcome(queue: asyncio.Queue[IngestOutcome]) -> IngestOutcome:
    return await asyncio.wait_for(queue.get(), 60)


async def asterisk_call(record: CallRecord, db: Database, *, agent: str = "agent1", file: str,
                        caller: str = "+8613800138000", queue: str = "general", category: str | None = None,
                        uniqueid: str = "1795353900.1") -> tuple[str, int]:
    """An Asterisk call answered by `agent`, recorded by MixMonitor into `file` (Asterisk's own path),
    reported through the call record exactly as the AMI bridge reports it."""
    agent_id = await agent_id_of(db, agent)
    call_id = await record.open_inbound("asterisk", uniqueid, caller=caller, dialled="95588", language="zh-CN")
    async with db.session() as s:  # the IVR knows a demo customer by their mobile
        customer_id = await s.scalar(select(Customer.id).where(Customer.mobile == caller))
    if customer_id is not None:
        await record.ivr_turn(call_id, [], {"customer_id": customer_id})
    await record.queued(call_id, queue, category)
    leg = await record.offered(call_id, agent_id, f"PJSIP/{agent}")
    await record.answered(call_id, agent_id, leg, f"{uniqueid}-agent")
    name = Path(file).name
    await record.recording_started(call_id, name, leg_id=leg, source=file)
    await record.recording_ready(call_id, name)
    async with db.session() as s:
        recording_id = await s.scalar(select(Recording.id).where(Recording.external_id == name))
    assert recording_id is not None
    return call_id, recording_id


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
async def served(demo_db: Database, aiohttp_client: Callable[..., Any], settings: Settings,
                 spool: Path) -> Callable[..., Any]:
    # demo_db first: set up before the client, it is disposed after the app has stopped
    async def make(**extra: str) -> Any:
        s = app_settings(settings, HOTLINE_RECORDINGS_SPOOL_DIR=str(spool), HOTLINE_AGI_ENABLED="false", **extra)
        (spool / "hotline").mkdir(parents=True, exist_ok=True)
        return await aiohttp_client(create_app(s, demo_db))
    return make


# --- wiring: both transports end in the archive -------------------------------------------------------


async def test_a_twilio_agent_call_is_archived_encrypted(
        demo_db: Database, aiohttp_client, settings: Settings, tmp_path: Path) -> None:
    stand_in = TwilioStandIn(public_url=PUBLIC_URL, far_end={"client:agent1": FarEnd("answered", 30)})
    try:
        served = always_open(twilio_settings(app_settings(settings), await stand_in.start()), tmp_path)
        client = await aiohttp_client(create_app(served, demo_db))
        app = client.server.app
        stand_in.target_url = str(client.server.make_url("")).rstrip("/")
        done = outcomes(app)
        await app[ACD].login(await agent_id_of(demo_db, "agent1"))

        caller = await stand_in.call(["1", "0"])  # Chinese, then "an agent, please"
        await stand_in.settle()
        outcome = await next_outcome(done)
    finally:
        await stand_in.close()

    assert caller.final_status == "completed"
    assert outcome.status == JobStatus.DONE, outcome.error
    media = [r for r in stand_in.requests if r.method == "GET"]
    assert len(media) == 1 and media[0].path.endswith(".wav") and "/Recordings/RE" in media[0].path
    async with demo_db.session() as s:
        recording = await s.get(Recording, outcome.recording_id)
        archived = await s.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == outcome.recording_id))
        job = await s.scalar(select(IngestJob).where(IngestJob.recording_id == outcome.recording_id))
    assert recording.status == "ready" and recording.source_url.startswith(stand_in.api_base)
    assert (job.status, job.source_kind, job.source_ref) == (JobStatus.DONE, SourceKind.TWILIO, recording.source_url)
    assert archived.channels == 2 and archived.codec == "libopus" and 2500 <= archived.duration_ms <= 3500
    stored = (served.recordings.dir / archived.storage_key).read_bytes()
    assert b"OggS" not in stored  # encrypted at rest
    assert decrypt(stored, app[RECORDINGS].archive.ring)[:4] == b"OggS"



async def test_an_asterisk_mixmonitor_file_is_archived_from_the_spool_and_removed_there(
        served, demo_db: Database, spool: Path) -> None:
    client = await served()
    app = client.server.app
    done = outcomes(app)
    make_wav(spool / "hotline" / "c1-1-1.wav", seconds=2.0, silent=(1,))  # the customer says nothing

    _, recording_id = await asterisk_call(app[RECORD], demo_db, file=f"{PBX_MONITOR}/hotline/c1-1-1.wav")
    outcome = await next_outcome(done)

    assert (outcome.recording_id, outcome.status) == (recording_id, JobStatus.DONE), outcome.error
    assert not (spool / "hotline" / "c1-1-1.wav").exists()  # deleted at the source once ours was verified
    async with demo_db.session() as s:
        job = await s.scalar(select(IngestJob).where(IngestJob.recording_id == recording_id))
        archived = await s.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == recording_id))
    assert (job.source_kind, job.source_ref, job.source_discarded) == (SourceKind.ASTERISK, "hotline/c1-1-1.wav", True)
    assert archived.channels == 2 and 1500 <= archived.duration_ms <= 2500

    await login(client, "supervisor1", "supervisor1-demo")
    peaks = await (await client.get(f"/recordings/{recording_id}/peaks")).json()
    agent, customer = peaks["channels"]
    assert max(agent) > 0.05 and max(customer) < 0.1 * max(agent)  # lavfi's sine: 1/8 of full scale, here at half
    client.session.cookie_jar.clear()
    await login(client, "qa1", "qa1-demo")
    whole = await app[RECORDINGS].archive.read_audio(recording_id)
    first = await client.get(f"/recordings/{recording_id}/audio", headers={"Range": "bytes=0-"})
    assert first.status == 206 and first.headers["Accept-Ranges"] == "bytes"
    assert first.headers["Content-Range"] == f"bytes 0-{len(whole) - 1}/{len(whole)}"
    assert first.headers["Content-Type"] == "audio/ogg" and await first.read() == whole
    middle = await client.get(f"/recordings/{recording_id}/audio", headers={"Range": "bytes=100-199"})
    assert middle.status == 206 and middle.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert await middle.read() == whole[100:200]
    tail = await client.get(f"/recordings/{recording_id}/audio", headers={"Range": "bytes=-10"})
    assert (tail.status, await tail.read()) == (206, whole[-10:])
    beyond = await client.get(f"/recordings/{recording_id}/audio", headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(whole)}"
    async with demo_db.session() as s:
        plays = list(await s.scalars(select(AuditLog).where(AuditLog.target == f"recording:{recording_id}")))
    # the player's later ranges belong to the one play that began at byte 0
    assert [(a.actor, a.action) for a in plays] == [("user:qa1", "recording.play")]
    page = await client.get(f"/recordings/{recording_id}")
    text = await page.text()
    assert page.status == 200 and "user:qa1" in text and "recording.play" in text
    assert f'src="/recordings/{recording_id}/audio"' in text

    download = await client.get(f"/recordings/{recording_id}/audio?download=1")
    assert download.status == 200 and "attachment" in download.headers["Content-Disposition"]
    assert "Content-Range" not in download.headers
    async with demo_db.session() as s:
        actions = [a.action for a in await s.scalars(select(AuditLog).where(
            AuditLog.target == f"recording:{recording_id}"))]
    assert actions == ["recording.play", "recording.download"]


def test_the_job_ref_is_the_file_relative_to_the_spool(settings: Settings, spool: Path) -> None:
    rec = app_settings(settings, HOTLINE_RECORDINGS_SPOOL_DIR=str(spool)).recordings
    call = type("C", (), {"channel": "asterisk"})()

    def ref(url: str) -> tuple[SourceKind, str] | None:
        return source_ref(rec, call, Recording(source_url=url))  # type: ignore[arg-type]

    assert ref(f"{PBX_MONITOR}/hotline/a.wav") == (SourceKind.ASTERISK, "hotline/a.wav")  # Asterisk's own path
    assert ref(f"{spool.resolve()}/hotline/b.wav") == (SourceKind.ASTERISK, "hotline/b.wav")  # the same host
    assert ref("hotline/c.wav") == (SourceKind.ASTERISK, "hotline/c.wav")
    assert ref("/etc/passwd") == (SourceKind.ASTERISK, "/etc/passwd")  # the spool refuses it when fetched
    assert ref("") is None


async def test_a_missing_file_is_quarantined_shown_to_admins_and_requeued(served, demo_db: Database,
                                                                          spool: Path) -> None:
    client = await served(HOTLINE_RECORDINGS_INGEST_MAX_ATTEMPTS="1")
    app = client.server.app
    done = outcomes(app)
    _, recording_id = await asterisk_call(app[RECORD], demo_db, file=f"{PBX_MONITOR}/hotline/late.wav")
    assert (await next_outcome(done)).status == JobStatus.QUARANTINED

    await login(client, "admin", "admin-demo")
    page = await (await client.get("/recordings/admin")).text()
    assert f'data-recording-id="{recording_id}"' in page and "original not found: late.wav" in page
    missing = await client.get(f"/recordings/{recording_id}/audio")
    assert missing.status == 404
    refused = await client.post(f"/recordings/{recording_id}/requeue", data={}, allow_redirects=False)
    assert refused.status == 403  # no CSRF token

    make_wav(spool / "hotline" / "late.wav", seconds=1.0)
    token = CSRF_RE.search(page).group(1)
    again = await client.post(f"/recordings/{recording_id}/requeue", data={"csrf_token": token},
                              allow_redirects=False)
    assert again.status == 303
    assert (await next_outcome(done)).status == JobStatus.DONE
    async with demo_db.session() as s:
        audit = [a.action for a in await s.scalars(select(AuditLog).where(
            AuditLog.target == f"recording:{recording_id}"))]
    assert audit == ["recording.requeue"]
    assert f'data-recording-id="{recording_id}"' not in await (await client.get("/recordings/admin")).text()
    unknown = await client.post("/recordings/999999/requeue", data={"csrf_token": token}, allow_redirects=False)
    assert unknown.status == 404


# --- who may listen ------------------------------------------------------------------------------------


async def test_agents_are_refused_unless_allowed_and_then_hear_only_their_own_calls(
        served, demo_db: Database, spool: Path) -> None:
    client = await served(HOTLINE_RECORDINGS_AGENTS_HEAR_OWN_CALLS="true")
    app = client.server.app
    _, own = await asterisk_call(app[RECORD], demo_db, agent="agent1", file=f"{PBX_MONITOR}/hotline/own.wav",
                                 uniqueid="1795353900.11")
    _, other = await asterisk_call(app[RECORD], demo_db, agent="agent2", file=f"{PBX_MONITOR}/hotline/other.wav",
                                   uniqueid="1795353900.12")
    await login(client, "agent1", "agent1-demo")
    listed = await (await client.get("/api/recordings")).json()
    assert [item["id"] for item in listed["items"]] == [own]
    assert (await client.get(f"/recordings/{own}")).status == 200
    assert (await client.get(f"/recordings/{other}")).status == 404
    assert (await client.get(f"/recordings/{other}/audio")).status == 404
    assert (await client.get("/recordings/admin")).status == 403


async def test_agents_are_refused_by_default(served) -> None:
    client = await served()
    await login(client, "agent1", "agent1-demo")
    assert (await client.get("/recordings")).status == 403
    assert (await client.get("/api/recordings")).status == 403


# --- search ----------------------------------------------------------------------------------------------


async def test_search_by_shanghai_date_agent_customer_duration_and_pages(served, demo_db: Database) -> None:
    client = await served()
    # 17:30 UTC on 1 December is 01:30 on 2 December in Shanghai
    clock = iter([datetime(2026, 12, 1, 17, 30, tzinfo=UTC) + timedelta(seconds=i) for i in range(200)])
    record = CallRecord(demo_db, clock=lambda: next(clock))
    record.on_recording_ready.extend(client.server.app[RECORD].on_recording_ready)  # the app's archive hook
    first, _ = await asterisk_call(record, demo_db, agent="agent1", file="hotline/a.wav", uniqueid="u.1",
                                   caller="+8613800138000", queue="cards", category="card_loss")
    second, _ = await asterisk_call(record, demo_db, agent="agent2", file="hotline/b.wav", uniqueid="u.2",
                                    caller="+8613900139000", queue="general")
    await store_survey(record, demo_db, second, None, "general", 2)
    await login(client, "qa1", "qa1-demo")

    async def found(**query: str) -> list[str]:
        response = await client.get("/api/recordings", params=query)
        assert response.status == 200, await response.text()
        return [item["call_id"] for item in (await response.json())["items"]]

    assert await found(**{"from": "2026-12-02", "to": "2026-12-02"}) == [second, first]
    assert await found(**{"from": "2026-12-01", "to": "2026-12-01"}) == []
    assert await found(agent=str(await agent_id_of(demo_db, "agent1"))) == [first]
    assert await found(queue="cards") == [first]
    assert await found(category="card_loss") == [first]
    assert await found(customer="138****8000") == [first]
    assert await found(customer="9000") == [second]
    assert await found(customer="李伟") == [first]  # the demo customer whose mobile called
    assert await found(customer="li wei") == [first]
    assert await found(score="2") == [second]
    assert await found(min_s="0", max_s="3600") == [second, first]
    assert await found(min_s="3600") == []
    paged = await (await client.get("/api/recordings", params={"per_page": "1", "page": "2"})).json()
    assert (paged["total"], [i["call_id"] for i in paged["items"]]) == (2, [first])
    item = (await (await client.get("/api/recordings", params={"queue": "cards"})).json())["items"][0]
    assert item["started_at"] == "2026-12-02T01:30:00+08:00" and item["number"] == "+86138****8000"
    assert item["state"] == "archiving"

    page = await (await client.get("/recordings", params={"customer": "李伟"})).text()
    assert "2026-12-02 01:30:00" in page and "+86138****8000" in page and "+8613800138000" not in page
    for bad in ({"from": "yesterday"}, {"score": "6"}, {"agent": "x"}, {"min_s": "-1"},
                {"from": "2026-12-02", "to": "2026-12-01"}, {"customer": "x" * 41}):
        assert (await client.get("/recordings", params=bad)).status == 400, bad


async def test_a_recording_page_shows_the_path_the_facts_and_who_listened(served, demo_db: Database) -> None:
    client = await served()
    app = client.server.app
    call_id, recording_id = await asterisk_call(app[RECORD], demo_db, file="hotline/p.wav", uniqueid="u.9")
    await app[RECORD].ivr_turn(call_id, [{"call_id": call_id, "seq": 1, "node": "main_menu", "kind": "key",
                                          "detail": "0", "outcome": "agent"}], {})
    await login(client, "supervisor1", "supervisor1-demo")
    detail = await (await client.get(f"/api/recordings/{recording_id}")).json()
    assert [e["fact"] for e in detail["events"]][:4] == ["opened", "queued", "offered", "answered"]
    assert all(e["at"].endswith("+08:00") for e in detail["events"])
    assert [(st["node"], st["detail"]) for st in detail["ivr_path"]] == [("main_menu", "0")]
    page = await client.get(f"/recordings/{recording_id}")
    text = await page.text()
    assert page.status == 200 and "main_menu" in text and "recording_ready" in text
    assert "no-accesses" in text and "<audio" not in text  # not archived yet: nothing to play
    assert (await client.get(f"/recordings/{recording_id}/audio")).status == 404
    assert (await client.get("/recordings/999999")).status == 404
    assert (await client.get("/recordings/999999/audio")).status == 404


async def test_nav_links_to_the_recordings_for_those_who_may_listen(served) -> None:
    client = await served()
    await login(client, "qa1", "qa1-demo")
    assert 'href="/recordings"' in await (await client.get("/qa")).text()
    client.session.cookie_jar.clear()
    await login(client, "agent1", "agent1-demo")
    assert 'href="/recordings"' not in await (await client.get("/agent")).text()


# --- byte ranges -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("bytes=0-", (0, 999)), ("bytes=0-0", (0, 0)), ("bytes=10-2000", (10, 999)),
    ("bytes=-100", (900, 999)), ("bytes=-5000", (0, 999)), ("items=0-5", None), ("bytes=0-1,5-6", None),
])
def test_ranges_that_are_served(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=-", "bytes=abc",
                                    "bytes=" + "9" * 30 + "-"])
def test_ranges_that_are_refused(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


def test_numbers_are_masked() -> None:
    assert mask_number("+8613800138000") == "+86138****8000"
    assert mask_number("95588") == "***88"
    assert mask_number(None) == ""



async def test_a_job_left_running_by_a_dead_process_is_done_once_the_app_starts_again(
        demo_db: Database, aiohttp_client, settings: Settings, spool: Path) -> None:
    record = CallRecord(demo_db)
    (spool / "hotline").mkdir(parents=True)
    make_wav(spool / "hotline" / "crash.wav", seconds=1.0)
    _, recording_id = await asterisk_call(record, demo_db, file=f"{PBX_MONITOR}/hotline/crash.wav")
    async with demo_db.session() as s:  # queued, claimed, and then the process died
        job = await ingest.enqueue(s, recording_id, SourceKind.ASTERISK, "hotline/crash.wav")
        job.status, job.attempts = JobStatus.RUNNING, 1
    served = app_settings(settings, HOTLINE_RECORDINGS_SPOOL_DIR=str(spool), HOTLINE_AGI_ENABLED="false")
    app = create_app(served, demo_db)
    done: asyncio.Queue[IngestOutcome] = asyncio.Queue()
    app[RECORDINGS].listeners.append(done.put_nowait)
    await aiohttp_client(app)

    outcome = await next_outcome(done)
    assert (outcome.recording_id, outcome.status) == (recording_id, JobStatus.DONE)
    async with demo_db.session() as s:
        files = list(await s.scalars(select(ArchivedFile)))
        job = await s.scalar(select(IngestJob))
    assert [f.recording_id for f in files] == [recording_id] and (job.status, job.attempts) == (JobStatus.DONE, 2)
