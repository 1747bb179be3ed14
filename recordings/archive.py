"""The archive once files are in it: playing a byte range, verifying every file, purging by
retention (legal holds kept), rotating keys, and the audit trail of all of it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.models import AuditLog
from calls.models import Call, Recording
from hotline.db import Database, aware, utcnow
from hotline.settings import RecordingsSettings
from recordings.crypto import KeyRing, decrypt, decrypt_range, encrypt, read_header
from recordings.errors import BadRange, NotArchived, RecordingsError, UnknownRecording
from recordings.models import ArchivedFile, CallHold
from recordings.retention import retention_until
from recordings.states import AudioFormat
from recordings.storage import Store
from recordings.transcode import decode_check

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioInfo:
    """What a player needs before the first byte: the type and the length of the decrypted audio."""

    recording_id: int
    media_type: str
    size: int
    duration_ms: int
    channels: int
    secure_spans: list[list[int]]


@dataclass(frozen=True)
class Problem:
    recording_id: int
    storage_key: str
    problem: str


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PurgeCandidate:
    recording_id: int
    call_id: str
    storage_key: str
    retention_until: datetime


@dataclass
class PurgeReport:
    applied: bool
    due: list[PurgeCandidate] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # recording ids past retention but on legal hold
    failed: list[Problem] = field(default_factory=list)  # with apply: could not be deleted


@dataclass
class RekeyReport:
    rewritten: int = 0
    problems: list[Problem] = field(default_factory=list)


class Archive:
    def __init__(self, db: Database, settings: RecordingsSettings, store: Store, ring: KeyRing,
                 *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.store = store
        self.ring = ring
        self.clock = clock

    # --- playing ------------------------------------------------------------------------------

    async def _file(self, session: AsyncSession, recording_id: int) -> ArchivedFile:
        archived = await session.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == recording_id))
        if archived is None or archived.purged_at is not None or not archived.storage_key:
            raise NotArchived(f"recording {recording_id} has no archived audio")
        return archived

    async def audio_info(self, recording_id: int) -> AudioInfo:
        async with self.db.session() as s:
            archived = await self._file(s, recording_id)
        return AudioInfo(recording_id, AudioFormat(archived.format).media_type, archived.size_bytes,
                         archived.duration_ms, archived.channels, archived.secure_spans)

    async def read_audio(self, recording_id: int, start: int = 0, end: int | None = None) -> bytes:
        """Decrypted audio bytes start..end inclusive (end None: to the last byte), reading only the
        encrypted chunks that hold them. BadRange when outside the audio (HTTP 416)."""
        async with self.db.session() as s:
            archived = await self._file(s, recording_id)
        key = archived.storage_key

        async def read_at(offset: int, length: int) -> bytes:
            return await self.store.read(key, offset, length)

        header = await read_header(read_at)
        last = header.length - 1 if end is None else min(end, header.length - 1)
        return await decrypt_range(read_at, self.ring, start, last, header)

    async def iter_audio(self, recording_id: int, start: int = 0, end: int | None = None,
                         *, chunk_bytes: int = 256 * 1024) -> AsyncIterator[bytes]:
        """The same bytes as read_audio, in pieces, for a whole-file download without holding it in memory."""
        info = await self.audio_info(recording_id)
        last = info.size - 1 if end is None else min(end, info.size - 1)
        if not 0 <= start <= last:
            raise BadRange(f"bytes {start}-{end} outside 0-{info.size - 1}")
        for offset in range(start, last + 1, chunk_bytes):
            yield await self.read_audio(recording_id, offset, min(last, offset + chunk_bytes - 1))

    async def record_access(self, session: AsyncSession, actor: str, recording_id: int, action: str = "play",
                            detail: dict[str, Any] | None = None) -> None:
        """Audit a playback or download (`recording.play` / `recording.download`), in the caller's transaction."""
        session.add(AuditLog(actor=actor, action=f"recording.{action}", target=f"recording:{recording_id}",
                             detail=detail or {}))

    # --- holds --------------------------------------------------------------------------------

    async def hold_recording(self, recording_id: int, held: bool, *, actor: str, reason: str = "") -> None:
        async with self.db.session() as s:
            archived = await self._file(s, recording_id)
            archived.legal_hold, archived.hold_reason = held, reason if held else ""
            s.add(AuditLog(actor=actor, action="recording.hold" if held else "recording.release",
                           target=f"recording:{recording_id}", detail={"reason": reason}))

    async def hold_call(self, call_id: str, held: bool, *, actor: str, reason: str = "") -> None:
        """A hold on a whole call covers every recording of it, also those archived later."""
        async with self.db.session() as s:
            if await s.get(Call, call_id) is None:
                raise UnknownRecording(f"call {call_id} does not exist")
            hold = await s.get(CallHold, call_id)
            if held and hold is None:
                s.add(CallHold(call_id=call_id, reason=reason, held_by=actor))
            elif not held and hold is not None:
                await s.delete(hold)
            s.add(AuditLog(actor=actor, action="recording.hold_call" if held else "recording.release_call",
                           target=f"call:{call_id}", detail={"reason": reason}))

    # --- verify -------------------------------------------------------------------------------

    async def verify(self, *, decode: bool = False) -> VerifyReport:
        """Re-read every archived file, decrypt it and compare its checksum (and decode it, if asked)."""
        report = VerifyReport()
        async with self.db.session() as s:
            files = list(await s.scalars(select(ArchivedFile).where(ArchivedFile.purged_at.is_(None))
                                         .order_by(ArchivedFile.id)))
        for archived in files:
            report.checked += 1
            problem = await self._check(archived, decode=decode)
            if problem:
                report.problems.append(Problem(archived.recording_id, archived.storage_key, problem))
        verified = [f.id for f in files if f.recording_id not in {p.recording_id for p in report.problems}]
        if verified:
            async with self.db.session() as s:
                for archived in await s.scalars(select(ArchivedFile).where(ArchivedFile.id.in_(verified))):
                    archived.verified_at = self.clock()
        return report

    async def _check(self, archived: ArchivedFile, *, decode: bool) -> str:
        try:
            blob = await self.store.read(archived.storage_key)
            plain = await asyncio.to_thread(decrypt, blob, self.ring)
        except RecordingsError as exc:
            return str(exc)
        if len(plain) != archived.size_bytes:
            return f"size {len(plain)} differs from the recorded {archived.size_bytes}"
        if hashlib.sha256(plain).hexdigest() != archived.sha256:
            return "checksum does not match"
        if decode:
            try:
                await decode_check(plain)
            except RecordingsError as exc:
                return str(exc)
        return ""

    # --- purge --------------------------------------------------------------------------------

    async def purge(self, *, apply: bool = False, actor: str = "system") -> PurgeReport:
        """Recordings past retention and not on hold. A dry run (the default) only lists them; with
        apply, each file is deleted and its row kept as a tombstone, each with an audit entry.
        Retention is reckoned from the call's category now (it may have become a complaint since
        archiving) and never ends before the date set at archiving."""
        now = self.clock()
        report = PurgeReport(applied=apply)
        async with self.db.session() as s:
            rows = (await s.execute(
                select(ArchivedFile, Recording.call_id, Call.business_category, Call.started_at, CallHold.call_id)
                .join(Recording, Recording.id == ArchivedFile.recording_id)
                .join(Call, Call.id == Recording.call_id)
                .outerjoin(CallHold, CallHold.call_id == Recording.call_id)
                .where(ArchivedFile.purged_at.is_(None))
                .order_by(ArchivedFile.id))).all()
        for archived, call_id, category, started_at, call_hold in rows:
            until = max(aware(archived.retention_until), retention_until(self.settings, category, started_at))
            if until > now:
                continue
            if archived.legal_hold or call_hold is not None:
                report.held.append(archived.recording_id)
                continue
            report.due.append(PurgeCandidate(archived.recording_id, call_id, archived.storage_key, until))
        if apply:
            for candidate in list(report.due):
                try:
                    await self.store.delete(candidate.storage_key)
                except RecordingsError as exc:  # the others are still purged; this one stays listed as failed
                    report.due.remove(candidate)
                    report.failed.append(Problem(candidate.recording_id, candidate.storage_key, str(exc)))
                    continue
                async with self.db.session() as s:
                    archived = await self._file(s, candidate.recording_id)
                    archived.purged_at, archived.storage_key = now, ""
                    s.add(AuditLog(actor=actor, action="recording.purge", target=f"recording:{candidate.recording_id}",
                                   detail={"call_id": candidate.call_id, "storage_key": candidate.storage_key,
                                           "retention_until": candidate.retention_until.isoformat()}))
                log.info("recordings: recording %d purged (retention ended %s)",
                         candidate.recording_id, candidate.retention_until.isoformat())
        return report

    # --- rekey --------------------------------------------------------------------------------

    async def rekey(self, *, actor: str = "system") -> RekeyReport:
        """Rewrite every file not sealed with the active key under it (same storage key, atomic put);
        the old key can be removed from the settings once this reports no problems."""
        report = RekeyReport()
        async with self.db.session() as s:
            files = list(await s.scalars(select(ArchivedFile).where(
                ArchivedFile.purged_at.is_(None), ArchivedFile.key_id != self.ring.active).order_by(ArchivedFile.id)))
        for archived in files:
            try:
                plain = await asyncio.to_thread(decrypt, await self.store.read(archived.storage_key), self.ring)
                if hashlib.sha256(plain).hexdigest() != archived.sha256:
                    raise RecordingsError("checksum does not match; not rewritten")
                await self.store.put(archived.storage_key, await asyncio.to_thread(encrypt, plain, self.ring))
            except RecordingsError as exc:
                report.problems.append(Problem(archived.recording_id, archived.storage_key, str(exc)))
                continue
            async with self.db.session() as s:
                row = await self._file(s, archived.recording_id)
                old, row.key_id = row.key_id, self.ring.active
                s.add(AuditLog(actor=actor, action="recording.rekey", target=f"recording:{archived.recording_id}",
                               detail={"from": old, "to": self.ring.active}))
            report.rewritten += 1
        return report
