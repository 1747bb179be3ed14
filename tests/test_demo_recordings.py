"""hotline.demo.load_demo_recordings: the demo's recorded agent calls, filed through the call record
and archived through the real ingest, so a new user finds them on /recordings."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from calls.models import Call, CallEvent, Recording
from hotline.db import Database
from hotline.demo import DEMO_CONVERSATIONS, load_demo_recordings
from hotline.settings import Settings
from qa.models import SurveyResponse
from recordings.archive import Archive
from recordings.crypto import KeyRing
from recordings.models import ArchivedFile
from recordings.storage import store_from_settings
from tests.recordings.conftest import recordings_settings


async def test_the_demo_calls_are_recorded_archived_and_playable(demo_db: Database, settings: Settings) -> None:
    rec = recordings_settings(settings)
    now = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)

    assert await load_demo_recordings(demo_db, rec, now=now) == len(DEMO_CONVERSATIONS)
    assert await load_demo_recordings(demo_db, rec, now=now) == 0  # once only

    async with demo_db.session() as s:
        rows = (await s.execute(select(Call, Recording, ArchivedFile).join(Recording, Recording.call_id == Call.id)
                                .join(ArchivedFile, ArchivedFile.recording_id == Recording.id)
                                .order_by(Call.started_at))).all()
        surveys = await s.scalar(select(func.count()).select_from(SurveyResponse))
        facts = list(await s.scalars(select(CallEvent.fact).where(CallEvent.call_id == rows[0][0].id)
                                     .order_by(CallEvent.id)))
    assert [(c.external_id, c.queue, c.business_category, c.status) for c, _, _ in rows] == [
        (t.external_id, t.queue, t.category, "completed") for t in DEMO_CONVERSATIONS]
    assert all(c.agent_id is not None and c.customer_id is not None for c, _, _ in rows)
    assert all(f.channels == 2 and f.duration_ms > 20_000 and r.status == "ready" for _, r, f in rows)
    assert surveys == len(DEMO_CONVERSATIONS)
    assert facts[:5] == ["opened", "queued", "offered", "answered", "recording_started"]
    assert not list((rec.recordings.spool_dir / "hotline").iterdir())  # originals removed once archived

    archive = Archive(demo_db, rec.recordings, store_from_settings(rec), KeyRing.from_settings(rec))
    assert (await archive.read_audio(rows[0][1].id, 0, 3)) == b"OggS"
    assert (await archive.verify(decode=True)).ok
