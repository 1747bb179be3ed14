"""The ingest queue and its worker: fetch the original, compress (decoding the result completely
as it is made), encrypt, store, read back, decrypt and compare checksums, record, and only then
delete the original.

Jobs are rows (recording_ingest_jobs), so the queue survives restarts. A job is claimed by setting
it `running` with a lease; a worker that dies leaves it `running`, and the next start (`recover`)
or the lease's end puts it back in the queue. Its storage key is fixed by the recording, so a second
attempt overwrites what a dead one may have stored: one file per recording, whatever the crashes.
The archived-file row and the job's `done` are committed together; the original is deleted after
that commit, and a deletion that fails is retried by `discard_pending`, never the ingest.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from calls.models import Call, Recording
from hotline.db import Database, aware, utcnow
from hotline.settings import RecordingsSettings
from recordings.crypto import KeyRing, decrypt, encrypt
from recordings.errors import IngestError, RecordingsError, StorageFull, UnknownRecording, VerificationFailed
from recordings.models import ArchivedFile, IngestJob
from recordings.retention import retention_until
from recordings.sources import RecordingSource
from recordings.spool import AsteriskSpool, UnclaimedFile
from recordings.states import AudioFormat, JobStatus, SourceKind
from recordings.storage import Store, storage_key
from recordings.transcode import compress, normalise_spans

log = logging.getLogger(__name__)

async def enqueue(session: AsyncSession, recording_id: int, kind: SourceKind, ref: str,
                  secure_spans: Sequence[Sequence[int]] = ()) -> IngestJob:
    """Queue a recording for ingest, in the caller's transaction (so "recording ready" and "to be
    archived" commit together). Idempotent: a replayed callback returns the existing job."""
    spans = [list(span) for span in normalise_spans(secure_spans)]
    job = await session.scalar(select(IngestJob).where(IngestJob.recording_id == recording_id))
    if job is not None:
        return job
    if await session.get(Recording, recording_id) is None:
        raise UnknownRecording(f"recording {recording_id} does not exist")
    if not ref:
        raise ValueError(f"recording {recording_id}: empty source reference")
    job = IngestJob(recording_id=recording_id, source_kind=SourceKind(kind), source_ref=ref, secure_spans=spans,
                    status=JobStatus.QUEUED, attempts=0, next_attempt_at=utcnow(), last_error="")
    session.add(job)
    await session.flush()
    return job

async def requeue(session: AsyncSession, recording_id: int) -> IngestJob:
    """An admin's "try again" on a quarantined job: a fresh set of attempts, now."""
    job = await session.scalar(select(IngestJob).where(IngestJob.recording_id == recording_id))
    if job is None:
        raise UnknownRecording(f"recording {recording_id} has no ingest job")
    if job.status == JobStatus.QUARANTINED:
        job.status, job.attempts, job.next_attempt_at = JobStatus.QUEUED, 0, utcnow()
    return job

async def quarantined(session: AsyncSession) -> list[IngestJob]:
    """Jobs given up on, newest first, each with its reason (last_error) for the admins' page."""
    result = await session.scalars(select(IngestJob).where(IngestJob.status == JobStatus.QUARANTINED)
                                   .order_by(IngestJob.finished_at.desc()))
    return list(result)

async def spool_orphans(session: AsyncSession, spool: AsteriskSpool, *, older_than_s: float = 600.0) -> list[UnclaimedFile]:
    """MixMonitor files no job names (their AMI event never came), for the admins to see; none is deleted.
    (An event without a file is the other half: its job fails as "original not found" and is quarantined.)"""
    refs = await session.scalars(select(IngestJob.source_ref).where(IngestJob.source_kind == SourceKind.ASTERISK))
    return spool.unclaimed(list(refs), older_than_s=older_than_s)


@dataclass(frozen=True)
class IngestOutcome:
    recording_id: int
    status: JobStatus
    error: str = ""

class IngestWorker:
    """Runs jobs one at a time, off the request path. One worker per database (see recover)."""

    def __init__(self, db: Database, settings: RecordingsSettings, store: Store, ring: KeyRing,
                 sources: Mapping[SourceKind, RecordingSource], *, workdir: Path,
                 lease_s: float = 1800.0, poll_s: float = 30.0,
                 clock: Callable[[], datetime] = utcnow,
                 on_outcome: Callable[[IngestOutcome], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.store = store
        self.ring = ring
        self.sources = sources
        self.workdir = workdir
        self.lease = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self.clock = clock
        self.on_outcome = on_outcome  # e.g. the call record marking a quarantined recording failed
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    async def recover(self) -> int:
        """At start-up: jobs left `running` by a process that died go back to the queue, due now."""
        async with self.db.session() as s:
            result = await s.execute(update(IngestJob).where(IngestJob.status == JobStatus.RUNNING)
                                     .values(status=JobStatus.QUEUED, lease_until=None, next_attempt_at=self.clock()))
        count: int = getattr(result, "rowcount", 0) or 0
        if count:
            log.warning("recordings: %d interrupted ingest job(s) queued again", count)
        return count

    async def run(self, stop: asyncio.Event, *, idle_first: bool = False) -> None:
        """Work through due jobs until `stop` is set; between them wait for wake() or the poll interval.
        idle_first: the caller already ran recover() and woke us if anything is due (the app does, at
        start-up), so the first pass waits like any other instead of racing whatever starts next."""
        if idle_first:
            await self._idle(stop)
        else:
            await self.recover()
        while not stop.is_set():
            self._wake.clear()  # before the pass: a job queued during it wakes the next one
            try:
                while not stop.is_set() and await self.run_once() is not None:
                    pass
                await self.discard_pending()
            except Exception:  # the database away: keep the worker alive, try again at the next poll
                log.exception("recordings: ingest worker pass failed")
            await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({stopping, woken}, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stopping, woken):
            waiter.cancel()

    async def pending(self) -> bool:
        """Whether a pass has anything to do: a job queued, or an original still to delete."""
        async with self.db.session() as s:
            found = await s.scalar(select(IngestJob.id).where(or_(
                IngestJob.status == JobStatus.QUEUED,
                (IngestJob.status == JobStatus.DONE) & IngestJob.source_discarded.is_(False))).limit(1))
        return found is not None

    async def run_once(self) -> IngestOutcome | None:
        """Claim the next due job and do it; None when no job is due."""
        job = await self._claim()
        if job is None:
            return None
        outcome = await self._process(job)
        if self.on_outcome is not None:
            try:
                await self.on_outcome(outcome)
            except Exception:  # the job's own state is committed; a listener's failure must not undo it
                log.exception("recordings: outcome listener failed for recording %d", outcome.recording_id)
        return outcome

    async def _claim(self) -> IngestJob | None:
        now = self.clock()
        async with self.db.session() as s:
            due = or_(IngestJob.status == JobStatus.QUEUED,
                      (IngestJob.status == JobStatus.RUNNING) & (IngestJob.lease_until < now))
            candidates = await s.scalars(select(IngestJob.id).where(due, IngestJob.next_attempt_at <= now)
                                         .order_by(IngestJob.next_attempt_at, IngestJob.id).limit(5))
            for job_id in candidates:
                # conditional update: of two workers racing for a job, one gets it
                claimed = await s.execute(
                    update(IngestJob).where(IngestJob.id == job_id, due)
                    .values(status=JobStatus.RUNNING, attempts=IngestJob.attempts + 1, lease_until=now + self.lease))
                if getattr(claimed, "rowcount", 0) == 1:
                    return await s.get(IngestJob, job_id, populate_existing=True)
        return None

    async def _process(self, job: IngestJob) -> IngestOutcome:
        workdir = self.workdir / f"job-{job.id}"
        stored_key: str | None = None
        try:
            shutil.rmtree(workdir, ignore_errors=True)  # what a dead attempt left
            workdir.mkdir(parents=True, exist_ok=True)
            async with self.db.session() as s:
                recording = await s.get(Recording, job.recording_id)
                if recording is None:
                    raise UnknownRecording(f"recording {job.recording_id} no longer exists")
                call = await s.get(Call, recording.call_id)
            source = self.sources.get(SourceKind(job.source_kind))
            if source is None:
                raise IngestError(f"no {job.source_kind} source configured")
            originals = await source.fetch(job.source_ref, workdir)
            fmt = AudioFormat(self.settings.format)
            spans = normalise_spans(job.secure_spans)
            compressed = await compress(originals, fmt, self.settings.bitrate_kbps, spans)
            audio = compressed.audio
            sealed = await asyncio.to_thread(encrypt, audio, self.ring)
            stored_key = storage_key(recording.id, aware(recording.created_at), fmt)
            await self.store.put(stored_key, sealed)
            await self._verify(stored_key, compressed.sha256)
            started = call.started_at if call is not None else recording.created_at
            category = call.business_category if call is not None else None
            async with self.db.session() as s:
                archived = await s.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == recording.id))
                if archived is None:
                    archived = ArchivedFile(recording_id=recording.id, legal_hold=False, hold_reason="")
                    s.add(archived)
                archived.storage_key, archived.format, archived.codec = stored_key, fmt.value, fmt.codec
                archived.bitrate_kbps = self.settings.bitrate_kbps
                archived.channels, archived.duration_ms = compressed.channels, compressed.duration_ms
                archived.size_bytes, archived.sha256 = len(audio), compressed.sha256
                archived.key_id = self.ring.active
                archived.secure_spans = [list(span) for span in spans]
                archived.retention_until = retention_until(self.settings, category, started)
                archived.archived_at = archived.verified_at = self.clock()
                archived.purged_at = None
                await s.execute(update(IngestJob).where(IngestJob.id == job.id).values(
                    status=JobStatus.DONE, lease_until=None, last_error="", finished_at=self.clock()))
        except Exception as exc:  # every failure is a retry, then a quarantine; nothing is deleted
            if stored_key is not None:
                await self._forget(stored_key)
            return await self._failed(job, exc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        log.info("recordings: recording %d archived (%d ms, %d ch, %d bytes)", recording.id,
                 compressed.duration_ms, compressed.channels, len(audio))
        await self._discard(job.id, source, job.source_ref)
        return IngestOutcome(job.recording_id, JobStatus.DONE)

    async def _verify(self, key: str, digest: str) -> None:
        """Read the stored copy back and decrypt it: its SHA-256 must be that of the bytes the
        encoder produced and the decoder decoded completely (transcode.compress), so it plays."""
        back = await self.store.read(key)
        try:
            plain = await asyncio.to_thread(decrypt, back, self.ring)
        except RecordingsError as exc:
            raise VerificationFailed(str(exc)) from exc
        if hashlib.sha256(plain).hexdigest() != digest:
            raise VerificationFailed("checksum of the copy read back differs from the one written")

    async def _forget(self, key: str) -> None:
        try:  # our own unverified copy, not the original: a retry writes it again
            await self.store.delete(key)
        except Exception as exc:  # noqa: BLE001 - the failure being reported matters more
            log.warning("recordings: could not remove unverified copy %s: %s", key, exc)

    async def _failed(self, job: IngestJob, exc: Exception) -> IngestOutcome:
        reason = _describe(exc)
        now = self.clock()
        give_up = job.attempts >= self.settings.ingest_max_attempts
        delay = min(self.settings.ingest_max_backoff_s, self.settings.ingest_backoff_s * 2 ** (job.attempts - 1))
        values = ({"status": JobStatus.QUARANTINED, "finished_at": now} if give_up
                  else {"status": JobStatus.QUEUED, "next_attempt_at": now + timedelta(seconds=delay)})
        async with self.db.session() as s:
            await s.execute(update(IngestJob).where(IngestJob.id == job.id)
                            .values(lease_until=None, last_error=reason[:2000], **values))
        if give_up:
            log.error("recordings: recording %d quarantined after %d attempts: %s",
                      job.recording_id, job.attempts, reason)
            return IngestOutcome(job.recording_id, JobStatus.QUARANTINED, reason)
        log.warning("recordings: recording %d attempt %d failed (%s); retry in %.0fs",
                    job.recording_id, job.attempts, reason, delay)
        return IngestOutcome(job.recording_id, JobStatus.QUEUED, reason)

    async def _discard(self, job_id: int, source: RecordingSource, ref: str) -> bool:
        try:
            await source.discard(ref)
        except Exception as exc:  # noqa: BLE001 - the copy is safe; deleting the original is retried later
            log.warning("recordings: job %d: original not deleted yet: %s", job_id, _describe(exc))
            return False
        async with self.db.session() as s:
            await s.execute(update(IngestJob).where(IngestJob.id == job_id).values(source_discarded=True))
        return True

    async def discard_pending(self) -> int:
        """Delete the originals of finished jobs whose deletion failed or was cut short by a crash."""
        async with self.db.session() as s:
            pending = list(await s.scalars(select(IngestJob).where(
                IngestJob.status == JobStatus.DONE, IngestJob.source_discarded.is_(False))))
        done = 0
        for job in pending:
            source = self.sources.get(SourceKind(job.source_kind))
            if source is not None and await self._discard(job.id, source, job.source_ref):
                done += 1
        return done

def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecordingsError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(StorageFull(exc.strerror or str(exc)))
    return f"unexpected error: {type(exc).__name__}: {exc}"

