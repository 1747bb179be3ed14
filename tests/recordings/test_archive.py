"""The archive after ingest: byte ranges for the player, verify, purge with retention and legal
holds (audited), and key rotation; all on real files made by the real worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from audit.models import AuditLog
from calls.models import Call
from hotline.db import aware
from recordings.archive import Archive
from recordings.crypto import KeyRing, decrypt, encrypt, parse_header
from recordings.errors import BadRange, NotArchived, UnknownRecording
from recordings.ingest import enqueue
from recordings.models import ArchivedFile
from recordings.states import JobStatus, SourceKind
from tests.recordings.conftest import Rig, add_recording, make_wav, recordings_settings

NOW = datetime(2031, 1, 1, tzinfo=UTC)  # five years after the calls below


async def _ingested(rig: Rig, name: str, *, category: str | None = None, seconds: float = 2.0,
                    started_at: datetime | None = None) -> tuple[str, int]:
    make_wav(rig.spool.root / f"{name}.wav", seconds=seconds, channels=2)
    call_id, recording_id = await add_recording(rig.db, category=category, started_at=started_at)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, f"{name}.wav")
    outcome = await rig.worker().run_once()
    assert outcome is not None and outcome.status == JobStatus.DONE, outcome
    return call_id, recording_id


async def _file(rig: Rig, recording_id: int) -> ArchivedFile:
    async with rig.db.session() as s:
        archived = await s.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == recording_id))
        assert archived is not None
        return archived


async def _audit(rig: Rig) -> list[tuple[str, str, str]]:
    async with rig.db.session() as s:
        return [(a.actor, a.action, a.target) for a in await s.scalars(select(AuditLog).order_by(AuditLog.id))]


async def test_the_player_gets_any_byte_range_of_the_decrypted_audio(rig: Rig):
    _, recording_id = await _ingested(rig, "play", seconds=12.0)
    archived = await _file(rig, recording_id)
    whole = decrypt((rig.store.root / archived.storage_key).read_bytes(), rig.ring)
    info = await rig.archive.audio_info(recording_id)
    assert (info.media_type, info.size, info.channels) == ("audio/ogg", len(whole), 2)
    assert await rig.archive.read_audio(recording_id) == whole
    assert await rig.archive.read_audio(recording_id, 0, 1) == whole[:2]
    assert await rig.archive.read_audio(recording_id, 1000, 40_000) == whole[1000:40_001]
    assert await rig.archive.read_audio(recording_id, len(whole) - 10) == whole[-10:]
    assert await rig.archive.read_audio(recording_id, 5, 10**9) == whole[5:]  # an open-ended Range
    with pytest.raises(BadRange):
        await rig.archive.read_audio(recording_id, len(whole))
    pieces = [piece async for piece in rig.archive.iter_audio(recording_id, 10, None, chunk_bytes=7000)]
    assert b"".join(pieces) == whole[10:] and max(map(len, pieces)) == 7000
    with pytest.raises(NotArchived):
        await rig.archive.read_audio(recording_id + 1)


async def test_playback_is_written_to_the_audit_log(rig: Rig):
    _, recording_id = await _ingested(rig, "audited")
    async with rig.db.session() as s:
        await rig.archive.record_access(s, "user:qa1", recording_id, "download", {"range": "bytes=0-"})
    assert await _audit(rig) == [("user:qa1", "recording.download", f"recording:{recording_id}")]


async def test_verify_passes_intact_files_and_names_missing_altered_and_swapped_ones(rig: Rig):
    ids = [(await _ingested(rig, f"v{n}"))[1] for n in range(4)]
    report = await rig.archive.verify(decode=True)
    assert report.ok and report.checked == 4
    files = [await _file(rig, i) for i in ids]
    assert all(f.verified_at is not None for f in files)

    (rig.store.root / files[1].storage_key).unlink()
    altered = bytearray((rig.store.root / files[2].storage_key).read_bytes())
    altered[-100] ^= 0xFF
    (rig.store.root / files[2].storage_key).write_bytes(bytes(altered))
    # a well-formed file, sealed with our key, of the same size, that is not the recording: only
    # the checksum tells
    other = bytearray(decrypt((rig.store.root / files[3].storage_key).read_bytes(), rig.ring))
    other[len(other) // 2] ^= 0x01
    (rig.store.root / files[3].storage_key).write_bytes(encrypt(bytes(other), rig.ring))

    report = await rig.archive.verify()
    assert not report.ok and report.checked == 4
    problems = {p.recording_id: p.problem for p in report.problems}
    assert set(problems) == {ids[1], ids[2], ids[3]}
    assert "no such file" in problems[ids[1]]
    assert "does not authenticate" in problems[ids[2]]
    assert problems[ids[3]] == "checksum does not match"


async def test_verify_reports_a_file_sealed_with_a_key_no_longer_configured(rig: Rig):
    _, recording_id = await _ingested(rig, "oldkey")
    without = Archive(rig.db, rig.settings.recordings, rig.store, KeyRing({"b": b"B" * 32}, "b"))
    report = await without.verify()
    assert [(p.recording_id, p.problem) for p in report.problems] == [
        (recording_id, "encryption key 'a' is not configured (recordings.keys)")]


async def test_purge_is_a_dry_run_by_default_keeps_complaints_and_holds_and_audits_what_it_deletes(rig: Rig):
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    _, expired = await _ingested(rig, "p1", started_at=old)
    _, complaint = await _ingested(rig, "p2", category="complaint", started_at=old)
    _, held = await _ingested(rig, "p3", started_at=old)
    held_call, in_held_call = await _ingested(rig, "p4", started_at=old)
    _, recent = await _ingested(rig, "p5", started_at=NOW - timedelta(days=30))
    await rig.archive.hold_recording(held, True, actor="user:admin", reason="dispute 2026-114")
    await rig.archive.hold_call(held_call, True, actor="user:admin", reason="court order")
    archive = Archive(rig.db, rig.settings.recordings, rig.store, rig.ring, clock=lambda: NOW)

    dry = await archive.purge()
    assert [c.recording_id for c in dry.due] == [expired] and sorted(dry.held) == sorted([held, in_held_call])
    assert len([k async for k in rig.store.keys()]) == 5

    applied = await archive.purge(apply=True, actor="cli")
    assert [c.recording_id for c in applied.due] == [expired]
    gone = await _file(rig, expired)
    assert gone.purged_at is not None and gone.storage_key == ""
    assert len([k async for k in rig.store.keys()]) == 4
    with pytest.raises(NotArchived):
        await archive.read_audio(expired)
    assert ("cli", "recording.purge", f"recording:{expired}") in await _audit(rig)
    assert (await archive.verify()).checked == 4
    assert (await archive.purge(apply=True)).due == []  # nothing twice
    assert {complaint, recent} <= {f.recording_id for f in [await _file(rig, i) for i in (complaint, recent)]
                                   if f.purged_at is None}


async def test_a_call_that_became_a_complaint_after_archiving_is_kept_for_the_complaint_period(rig: Rig):
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    call_id, recording_id = await _ingested(rig, "late", started_at=old)
    assert aware((await _file(rig, recording_id)).retention_until) == old + timedelta(days=1095)
    async with rig.db.session() as s:
        (await s.get(Call, call_id)).business_category = "complaint"  # type: ignore[union-attr]
    archive = Archive(rig.db, rig.settings.recordings, rig.store, rig.ring, clock=lambda: NOW)
    assert (await archive.purge(apply=True)).due == []


async def test_releasing_a_hold_lets_purge_delete_and_holds_on_unknown_calls_are_refused(rig: Rig):
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    call_id, recording_id = await _ingested(rig, "release", started_at=old)
    archive = Archive(rig.db, rig.settings.recordings, rig.store, rig.ring, clock=lambda: NOW)
    await archive.hold_call(call_id, True, actor="user:admin")
    assert (await archive.purge()).held == [recording_id]
    await archive.hold_call(call_id, False, actor="user:admin")
    assert [c.recording_id for c in (await archive.purge()).due] == [recording_id]
    with pytest.raises(UnknownRecording):
        await archive.hold_call("no-such-call", True, actor="user:admin")
    actions = [a for _, a, _ in await _audit(rig)]
    assert actions == ["recording.hold_call", "recording.release_call"]


async def test_rekey_rewrites_old_files_under_the_active_key_so_the_old_key_can_go(rig: Rig):
    ids = [(await _ingested(rig, f"k{n}"))[1] for n in range(2)]
    before = [await rig.archive.read_audio(i) for i in ids]
    rotated = recordings_settings(rig.settings, HOTLINE_RECORDINGS_ACTIVE_KEY="b")
    ring = KeyRing.from_settings(rotated)
    report = await Archive(rig.db, rotated.recordings, rig.store, ring).rekey(actor="cli")
    assert report.rewritten == 2 and report.problems == []
    files = [await _file(rig, i) for i in ids]
    assert [f.key_id for f in files] == ["b", "b"]
    assert [parse_header((rig.store.root / f.storage_key).read_bytes()).key_id for f in files] == ["b", "b"]
    only_b = Archive(rig.db, rotated.recordings, rig.store, KeyRing({"b": ring.key("b")}, "b"))
    assert [await only_b.read_audio(i) for i in ids] == before
    assert (await only_b.verify()).ok
    assert (await Archive(rig.db, rotated.recordings, rig.store, ring).rekey()).rewritten == 0
    assert [a for _, a, _ in await _audit(rig)] == ["recording.rekey", "recording.rekey"]


async def test_a_file_the_store_will_not_delete_is_reported_and_the_rest_purged(rig: Rig):
    from recordings.errors import StorageError
    from recordings.storage import LocalStore

    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    _, stuck = await _ingested(rig, "stuck", started_at=old)
    _, purged = await _ingested(rig, "purged", started_at=old)
    stuck_key = (await _file(rig, stuck)).storage_key

    class Stubborn(LocalStore):
        async def delete(self, key: str) -> None:
            if key == stuck_key:
                raise StorageError(f"cannot delete {key}: read-only file system")
            await super().delete(key)

    archive = Archive(rig.db, rig.settings.recordings, Stubborn(rig.store.root), rig.ring, clock=lambda: NOW)
    report = await archive.purge(apply=True)
    assert [c.recording_id for c in report.due] == [purged]
    assert [(p.recording_id, p.problem) for p in report.failed] == [
        (stuck, f"cannot delete {stuck_key}: read-only file system")]
    assert (await _file(rig, stuck)).purged_at is None and (await _file(rig, purged)).purged_at is not None
