"""Real audio made by the bundled ffmpeg, a call with a recording row, and an archive wired to a local store."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calls.models import Call, Recording
from hotline.db import Database
from hotline.settings import Settings, load_settings
from recordings.archive import Archive
from recordings.crypto import KeyRing
from recordings.ingest import IngestWorker
from recordings.sources import RecordingSource
from recordings.spool import AsteriskSpool
from recordings.states import SourceKind
from recordings.storage import LocalStore
from recordings.transcode import ffmpeg_exe

KEY_A = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # base64 of 32 x "A"
KEY_B = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="  # base64 of 32 x "B"


def make_wav(path: Path, *, seconds: float = 2.0, channels: int = 2, rate: int = 8000,
             freqs: Sequence[int] = (440, 660), silent: Sequence[int] = ()) -> Path:
    """A WAV of sine tones, one frequency per channel; channels listed in `silent` are silence."""
    args = [ffmpeg_exe(), "-v", "error", "-y"]
    for channel in range(channels):
        volume = 0 if channel in silent else 0.5
        args += ["-f", "lavfi", "-i", f"sine=f={freqs[channel]}:r={rate}:d={seconds},volume={volume}"]
    if channels == 2:
        args += ["-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo"]
    args += ["-c:a", "pcm_s16le", str(path)]
    subprocess.run(args, check=True)
    return path


def recordings_settings(settings: Settings, **extra: str) -> Settings:
    return load_settings(environ={
        "HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_RECORDINGS_DIR": str(settings.recordings.dir),
        "HOTLINE_RECORDINGS_SPOOL_DIR": str(settings.recordings.dir.parent / "spool"),
        "HOTLINE_RECORDINGS_KEYS": f"a:{KEY_A},b:{KEY_B}", "HOTLINE_RECORDINGS_ACTIVE_KEY": "a",
        "HOTLINE_RECORDINGS_INGEST_MAX_ATTEMPTS": "3", "HOTLINE_RECORDINGS_INGEST_BACKOFF_S": "10",
        "HOTLINE_LOGGING_FORMAT": "text", **extra})


async def add_recording(db: Database, *, category: str | None = None, started_at: datetime | None = None,
                        external_id: str | None = None) -> tuple[str, int]:
    """A call and its recording row, as the bridges write them; returns (call id, recording id)."""
    started = started_at or datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    call_id = str(uuid.uuid4())
    async with db.session() as s:
        s.add(Call(id=call_id, channel="asterisk", business_category=category, started_at=started))
        recording = Recording(call_id=call_id, external_id=external_id or call_id, status="ready",
                              created_at=started)
        s.add(recording)
        await s.flush()
        return call_id, recording.id


@dataclass
class Rig:
    settings: Settings
    db: Database
    store: LocalStore
    ring: KeyRing
    spool: AsteriskSpool
    archive: Archive
    workdir: Path

    def worker(self, sources: dict[SourceKind, RecordingSource] | None = None, **kwargs: object) -> IngestWorker:
        return IngestWorker(self.db, self.settings.recordings, self.store, self.ring,
                            sources or {SourceKind.ASTERISK: self.spool}, workdir=self.workdir, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def rec_settings(settings: Settings) -> Settings:
    return recordings_settings(settings)


@pytest.fixture
def rig(rec_settings: Settings, db: Database, tmp_path: Path) -> Rig:
    store = LocalStore(rec_settings.recordings.dir)
    ring = KeyRing.from_settings(rec_settings)
    spool = AsteriskSpool(rec_settings.recordings.spool_dir)
    spool.root.mkdir(parents=True, exist_ok=True)
    archive = Archive(db, rec_settings.recordings, store, ring)
    return Rig(rec_settings, db, store, ring, spool, archive, tmp_path / "work")
