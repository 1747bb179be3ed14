"""`hotline recordings verify | purge | rekey` as an operator runs them: a real process on the real database."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from audit.models import AuditLog
from recordings.ingest import enqueue
from recordings.models import ArchivedFile
from recordings.states import SourceKind
from tests.conftest import PG_URL
from tests.recordings.conftest import KEY_A, KEY_B, Rig, add_recording, make_wav

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="the commands run on the test's SQLite file")


async def _hotline(rig: Rig, *args: str, active_key: str = "a") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": rig.settings.database.url,
                "HOTLINE_RECORDINGS_DIR": str(rig.settings.recordings.dir),
                "HOTLINE_RECORDINGS_KEYS": f"a:{KEY_A},b:{KEY_B}", "HOTLINE_RECORDINGS_ACTIVE_KEY": active_key,
                "HOTLINE_LOGGING_FORMAT": "text"})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "recordings", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _archive_one(rig: Rig, name: str, started_at: datetime) -> int:
    make_wav(rig.spool.root / name, seconds=1.0, channels=2)
    _, recording_id = await add_recording(rig.db, started_at=started_at)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, name)
    await rig.worker().run_once()
    return recording_id


async def test_verify_exits_0_when_intact_and_1_naming_the_recording_whose_checksum_does_not_match(rig: Rig):
    await _archive_one(rig, "a.wav", datetime(2026, 11, 1, tzinfo=UTC))
    bad = await _archive_one(rig, "b.wav", datetime(2026, 11, 2, tzinfo=UTC))
    code, out, err = await _hotline(rig, "verify", "--decode")
    assert (code, out.splitlines()[-1]) == (0, "2 checked, 0 bad"), err
    async with rig.db.session() as s:
        row = await s.scalar(select(ArchivedFile).where(ArchivedFile.recording_id == bad))
        row.sha256 = "0" * 64  # type: ignore[union-attr]
    code, out, _ = await _hotline(rig, "verify")
    assert code == 1
    assert out.splitlines() == [f"recording {bad}: 2026/11/02/{bad}.ogg.enc: checksum does not match",
                                "2 checked, 1 bad"]


async def test_purge_lists_by_default_and_deletes_with_apply_leaving_an_audit_entry(rig: Rig):
    old = await _archive_one(rig, "old.wav", datetime(2020, 1, 1, tzinfo=UTC))  # past the 1095 days
    await _archive_one(rig, "new.wav", datetime.now(UTC))
    code, out, _ = await _hotline(rig, "purge")
    assert code == 0 and out.splitlines() == [
        f"would purge recording {old} (call {await _call_of(rig, old)}, kept until 2022-12-31)",
        "1 would purge, 0 on hold (dry run; --apply to delete)"]
    assert len([k async for k in rig.store.keys()]) == 2
    code, out, _ = await _hotline(rig, "purge", "--apply")
    assert code == 0 and out.splitlines()[-1] == "1 purged, 0 on hold"
    assert len([k async for k in rig.store.keys()]) == 1
    async with rig.db.session() as s:
        assert [(a.actor, a.action) for a in await s.scalars(select(AuditLog))] == [("cli", "recording.purge")]


async def test_rekey_moves_every_file_to_the_active_key(rig: Rig):
    await _archive_one(rig, "k.wav", datetime(2026, 11, 1, tzinfo=UTC))
    code, out, _ = await _hotline(rig, "rekey", active_key="b")
    assert (code, out.strip()) == (0, "1 rewritten with key b, 0 failed")
    async with rig.db.session() as s:
        assert await s.scalar(select(ArchivedFile.key_id)) == "b"


async def _call_of(rig: Rig, recording_id: int) -> str:
    from calls.models import Recording

    async with rig.db.session() as s:
        recording = await s.get(Recording, recording_id)
        assert recording is not None
        return recording.call_id


async def test_a_database_without_the_archive_tables_is_one_line_not_a_traceback(rig: Rig, tmp_path):
    rig.settings = rig.settings.model_copy(update={"database": rig.settings.database.model_copy(
        update={"url": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"})})
    code, out, err = await _hotline(rig, "verify")
    assert code == 2 and out == ""
    assert err.startswith("hotline recordings verify: (sqlite3.OperationalError) no such table") and "Traceback" not in err
