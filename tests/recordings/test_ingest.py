"""The ingest worker on a real database, real ffmpeg and a real directory store: one stored file per
recording whatever the crashes, retries with backoff, then quarantine with the reason; originals kept
until the copy is verified."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.db import aware
from recordings.crypto import decrypt
from recordings.errors import DownloadFailed, UnknownRecording
from recordings.ingest import IngestOutcome, enqueue, quarantined, requeue
from recordings.models import ArchivedFile, IngestJob
from recordings.spool import leg_ref
from recordings.states import JobStatus, SourceKind
from recordings.storage import LocalStore
from tests.recordings.audio_probe import channels_of, rms
from tests.recordings.conftest import Rig, add_recording, make_wav


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Crash(BaseException):
    """The process dying: not an Exception, so nothing in the worker handles it."""


class CrashAfterPut(LocalStore):
    """Stores the file, then the process dies before the database hears of it."""

    async def put(self, key: str, data: bytes) -> None:
        await super().put(key, data)
        raise Crash()


class CorruptingStore(LocalStore):
    """A disk that flips a bit on the way: what is read back is not what was written."""

    async def put(self, key: str, data: bytes) -> None:
        await super().put(key, data[:-1] + bytes([data[-1] ^ 1]))


class FailingSource:
    def __init__(self) -> None:
        self.fetches = 0

    async def fetch(self, ref: str, workdir: Path) -> list[Path]:
        self.fetches += 1
        raise DownloadFailed(f"{ref}: HTTP 503 from Twilio (after 4 attempts)")

    async def discard(self, ref: str) -> None:
        raise AssertionError("an original is never discarded after a failure")


async def _queue(rig: Rig, name: str, *, spans: list[list[int]] = (), **wav: object) -> int:  # type: ignore[assignment]
    make_wav(rig.spool.root / name, **wav)  # type: ignore[arg-type]
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, name, spans)
    return recording_id


async def _job(rig: Rig, recording_id: int) -> IngestJob:
    async with rig.db.session() as s:
        job = await s.scalar(select(IngestJob).where(IngestJob.recording_id == recording_id))
        assert job is not None
        return job


async def _stored(rig: Rig) -> list[str]:
    return [key async for key in rig.store.keys()]


async def test_a_spool_recording_is_compressed_encrypted_stored_verified_and_the_original_removed(rig: Rig):
    recording_id = await _queue(rig, "call-7.wav", seconds=4.0, channels=2, spans=[[1000, 2000]])
    outcome = await rig.worker().run_once()
    assert outcome is not None and outcome.status == JobStatus.DONE
    assert await rig.worker().run_once() is None  # nothing else due
    async with rig.db.session() as s:
        archived = await s.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == recording_id))
    assert archived is not None
    assert archived.storage_key == f"2026/12/01/{recording_id}.ogg.enc"
    assert (archived.format, archived.codec, archived.channels, archived.key_id) == ("opus", "libopus", 2, "a")
    assert abs(archived.duration_ms - 4000) <= 60 and archived.secure_spans == [[1000, 2000]]
    assert aware(archived.retention_until) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC) + timedelta(days=1095)
    audio = decrypt((rig.store.root / archived.storage_key).read_bytes(), rig.ring)
    assert hashlib.sha256(audio).hexdigest() == archived.sha256 and len(audio) == archived.size_bytes
    left, _ = channels_of(audio)
    assert rms(left, 1100, 1900) < 30 < 500 < rms(left, 2200, 3800)
    assert not (rig.spool.root / "call-7.wav").exists()
    job = await _job(rig, recording_id)
    assert (job.status, job.attempts, job.source_discarded, job.last_error) == (JobStatus.DONE, 1, True, "")
    assert list(rig.workdir.iterdir()) == []


async def test_mixmonitor_legs_become_one_stereo_recording(rig: Rig):
    make_wav(rig.spool.root / "c-r.wav", seconds=2.0, channels=1)
    make_wav(rig.spool.root / "c-t.wav", seconds=2.0, channels=1, freqs=[300])
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, leg_ref("c-r.wav", "c-t.wav"))
    assert (await rig.worker().run_once()).status == JobStatus.DONE  # type: ignore[union-attr]
    async with rig.db.session() as s:
        assert await s.scalar(select(ArchivedFile.channels)) == 2
    assert list(rig.spool.root.iterdir()) == []


async def test_crash_mid_ingest_then_restart_leaves_exactly_one_stored_recording(rig: Rig):
    recording_id = await _queue(rig, "crash.wav", seconds=2.0, channels=2)
    crashing = rig.worker()
    crashing.store = CrashAfterPut(rig.store.root)
    with pytest.raises(Crash):
        await crashing.run_once()
    assert len(await _stored(rig)) == 1 and (await _job(rig, recording_id)).status == JobStatus.RUNNING
    assert (rig.spool.root / "crash.wav").exists()  # the original outlives the crash

    restarted = rig.worker()  # a new process: finds the job it was doing, does it once
    assert await restarted.recover() == 1
    assert (await restarted.run_once()).status == JobStatus.DONE  # type: ignore[union-attr]
    assert await restarted.run_once() is None
    assert len(await _stored(rig)) == 1
    async with rig.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ArchivedFile)) == 1
    job = await _job(rig, recording_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert not (rig.spool.root / "crash.wav").exists()


async def test_a_job_whose_worker_vanished_is_taken_again_when_its_lease_runs_out(rig: Rig):
    clock = Clock()
    recording_id = await _queue(rig, "lease.wav", seconds=1.0, channels=1)
    crashing = rig.worker(clock=clock, lease_s=600)
    crashing.store = CrashAfterPut(rig.store.root)
    with pytest.raises(Crash):
        await crashing.run_once()
    other = rig.worker(clock=clock, lease_s=600)
    assert await other.run_once() is None  # still leased
    clock.now += timedelta(seconds=601)
    assert (await other.run_once()).status == JobStatus.DONE  # type: ignore[union-attr]
    assert (await _job(rig, recording_id)).attempts == 2


async def test_a_corrupt_original_is_retried_with_growing_backoff_then_quarantined_and_kept(rig: Rig):
    clock = Clock()
    (rig.spool.root / "bad.wav").write_bytes(b"RIFF garbage that is no wave file" * 50)
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, "bad.wav")
    worker = rig.worker(clock=clock)
    waits = []
    for _ in range(2):
        outcome = await worker.run_once()
        assert outcome is not None and outcome.status == JobStatus.QUEUED
        job = await _job(rig, recording_id)
        waits.append((aware(job.next_attempt_at) - clock.now).total_seconds())
        assert await worker.run_once() is None  # not due yet
        clock.now = aware(job.next_attempt_at)
    assert waits == [10.0, 20.0]  # ingest_backoff_s, doubled
    outcome = await worker.run_once()
    assert outcome is not None and outcome.status == JobStatus.QUARANTINED
    assert outcome.error.startswith("corrupt or unknown audio format: bad.wav")
    async with rig.db.session() as s:
        [job] = await quarantined(s)
    assert job.recording_id == recording_id and job.attempts == 3 and "bad.wav" in job.last_error
    assert (rig.spool.root / "bad.wav").exists() and await _stored(rig) == []
    async with rig.db.session() as s:
        await requeue(s, recording_id)
    assert (await _job(rig, recording_id)).status == JobStatus.QUEUED


@pytest.mark.parametrize("content, reason", [(b"", "empty recording: empty.wav is 0 bytes"),
                                             (None, "original not found: empty.wav not in the spool")])
async def test_an_empty_or_missing_original_is_quarantined_with_a_clear_reason(rig: Rig, content, reason):
    if content is not None:
        (rig.spool.root / "empty.wav").write_bytes(content)
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, "empty.wav")
    worker = rig.worker(clock=Clock())
    worker.settings = worker.settings.model_copy(update={"ingest_max_attempts": 1})
    outcome = await worker.run_once()
    assert outcome is not None and outcome.status == JobStatus.QUARANTINED and outcome.error.startswith(reason)
    assert (rig.spool.root / "empty.wav").exists() == (content is not None)


async def test_a_failed_download_is_retried_then_quarantined(rig: Rig):
    clock = Clock()
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.TWILIO, "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
    source = FailingSource()
    worker = rig.worker({SourceKind.TWILIO: source}, clock=clock)
    for _ in range(3):
        clock.now += timedelta(hours=1)
        await worker.run_once()
    job = await _job(rig, recording_id)
    assert source.fetches == 3 and job.status == JobStatus.QUARANTINED
    assert job.last_error == "download failed: https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1: " \
                             "HTTP 503 from Twilio (after 4 attempts)"


async def test_a_copy_that_does_not_read_back_as_written_is_not_kept_and_the_original_stays(rig: Rig):
    recording_id = await _queue(rig, "flip.wav", seconds=1.0, channels=1)
    worker = rig.worker()
    worker.store = CorruptingStore(rig.store.root)
    outcome = await worker.run_once()
    assert outcome is not None and outcome.status == JobStatus.QUEUED
    assert outcome.error.startswith("stored copy failed verification: chunk 0 does not authenticate")
    assert await _stored(rig) == [] and (rig.spool.root / "flip.wav").exists()
    async with rig.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ArchivedFile)) == 0
    assert (await _job(rig, recording_id)).status == JobStatus.QUEUED


async def test_a_full_disk_is_retried_and_named_and_the_original_kept(rig: Rig, monkeypatch):
    import errno

    recording_id = await _queue(rig, "full.wav", seconds=1.0, channels=1)

    def no_space(fd: int) -> None:  # where writing to a full disk fails for buffered writes
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    outcome = await rig.worker().run_once()
    monkeypatch.undo()
    assert outcome is not None and outcome.status == JobStatus.QUEUED
    assert outcome.error.startswith("no space left for the recording")
    assert (rig.spool.root / "full.wav").exists() and await _stored(rig) == []
    assert (await _job(rig, recording_id)).last_error == outcome.error


async def test_an_original_that_could_not_be_deleted_is_deleted_by_a_later_pass(rig: Rig, monkeypatch):
    recording_id = await _queue(rig, "keep.wav", seconds=1.0, channels=1)

    async def refuse(ref: str) -> None:
        raise PermissionError(13, "Permission denied", ref)

    monkeypatch.setattr(rig.spool, "discard", refuse)
    worker = rig.worker()
    assert (await worker.run_once()).status == JobStatus.DONE  # type: ignore[union-attr]
    assert (rig.spool.root / "keep.wav").exists() and not (await _job(rig, recording_id)).source_discarded
    monkeypatch.undo()
    assert await worker.discard_pending() == 1
    assert not (rig.spool.root / "keep.wav").exists() and (await _job(rig, recording_id)).source_discarded


async def test_enqueue_is_idempotent_and_refuses_unknown_recordings(rig: Rig):
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        first = await enqueue(s, recording_id, SourceKind.ASTERISK, "a.wav")
        again = await enqueue(s, recording_id, SourceKind.ASTERISK, "a.wav")
        assert first.id == again.id
    with pytest.raises(UnknownRecording):
        async with rig.db.session() as s:
            await enqueue(s, 9999, SourceKind.ASTERISK, "a.wav")
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        async with rig.db.session() as s:
            await enqueue(s, recording_id + 1, SourceKind.ASTERISK, "a.wav", [[5, 1]])


async def test_the_worker_loop_picks_up_a_job_when_woken_and_reports_the_outcome(rig: Rig):
    outcomes: asyncio.Queue[IngestOutcome] = asyncio.Queue()
    worker = rig.worker(poll_s=3600, on_outcome=outcomes.put)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    recording_id = await _queue(rig, "loop.wav", seconds=1.0, channels=1)
    worker.wake()  # with an hour between polls, only the wake-up can start the job in time
    outcome = await asyncio.wait_for(outcomes.get(), 30)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert outcome == IngestOutcome(recording_id, JobStatus.DONE)
    assert (await _job(rig, recording_id)).status == JobStatus.DONE


_CHILD = r'''
import asyncio, sys
from hotline.db import Database
from hotline.settings import load_settings
from recordings.crypto import KeyRing
from recordings.ingest import IngestWorker
from recordings.spool import AsteriskSpool
from recordings.states import SourceKind
from recordings.storage import LocalStore


class StoreThenHang(LocalStore):
    async def put(self, key, data):
        await super().put(key, data)
        print("stored", flush=True)
        await asyncio.Event().wait()  # killed here: the file is stored, the database not told


async def main():
    settings = load_settings()
    db = Database(settings.database.url)
    worker = IngestWorker(db, settings.recordings, StoreThenHang(settings.recordings.dir),
                          KeyRing.from_settings(settings), {SourceKind.ASTERISK: AsteriskSpool(settings.recordings.spool_dir)},
                          workdir=settings.recordings.dir.parent / "work")
    await worker.run_once()

asyncio.run(main())
'''


@pytest.mark.skipif(bool(os.environ.get("HOTLINE_TEST_DATABASE_URL")), reason="the child process uses the SQLite file")
async def test_a_worker_process_killed_after_storing_leaves_one_file_after_restart(rig: Rig):
    import signal
    import sys

    from tests.recordings.conftest import KEY_A, KEY_B

    recording_id = await _queue(rig, "killed.wav", seconds=2.0, channels=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": rig.settings.database.url,
                "HOTLINE_RECORDINGS_DIR": str(rig.settings.recordings.dir),
                "HOTLINE_RECORDINGS_SPOOL_DIR": str(rig.spool.root),
                "HOTLINE_RECORDINGS_KEYS": f"a:{KEY_A},b:{KEY_B}", "HOTLINE_RECORDINGS_ACTIVE_KEY": "a"})
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, env=env,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 60)  # type: ignore[union-attr]
        assert line == b"stored\n", (await child.stderr.read()).decode()  # type: ignore[union-attr]
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert len(await _stored(rig)) == 1 and (await _job(rig, recording_id)).status == JobStatus.RUNNING

    restarted = rig.worker()
    assert await restarted.recover() == 1
    assert (await restarted.run_once()).status == JobStatus.DONE  # type: ignore[union-attr]
    assert len(await _stored(rig)) == 1
    async with rig.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ArchivedFile)) == 1
    assert not (rig.spool.root / "killed.wav").exists()
