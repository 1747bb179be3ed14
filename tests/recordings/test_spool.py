"""The Asterisk spool: files only from inside it, legs by name, and files no event claimed reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recordings.errors import SourceMissing, SourceRefused
from recordings.spool import AsteriskSpool, leg_ref


@pytest.fixture
def spool(tmp_path: Path) -> AsteriskSpool:
    (tmp_path / "spool" / "hotline").mkdir(parents=True)
    (tmp_path / "secret.wav").write_bytes(b"outside")
    return AsteriskSpool(tmp_path / "spool")


@pytest.mark.parametrize("ref", ["../secret.wav", "/etc/passwd", "hotline/../../secret.wav", "a|b|c", "", "a.wav|"])
async def test_a_reference_outside_the_spool_or_malformed_is_refused(spool: AsteriskSpool, ref: str, tmp_path: Path):
    with pytest.raises(SourceRefused):
        await spool.fetch(ref, tmp_path)
    with pytest.raises(SourceRefused):
        await spool.discard(ref)
    assert (tmp_path / "secret.wav").exists()


async def test_legs_are_found_in_order_and_a_missing_one_is_named(spool: AsteriskSpool, tmp_path: Path):
    (spool.root / "hotline" / "c1-r.wav").write_bytes(b"r")
    (spool.root / "hotline" / "c1-t.wav").write_bytes(b"t")
    paths = await spool.fetch(leg_ref("hotline/c1-r.wav", "hotline/c1-t.wav"), tmp_path)
    assert [p.name for p in paths] == ["c1-r.wav", "c1-t.wav"]
    with pytest.raises(SourceMissing, match="c2-t.wav not in the spool"):
        await spool.fetch(leg_ref("hotline/c1-r.wav", "hotline/c2-t.wav"), tmp_path)


def test_a_file_without_an_event_is_reported_once_nobody_writes_to_it_and_claimed_ones_are_not(
        spool: AsteriskSpool):
    for name in ("claimed.wav", "orphan.wav", "fresh.wav", "notes.txt"):
        (spool.root / "hotline" / name).write_bytes(b"x" * 10)
    now = (spool.root / "hotline" / "fresh.wav").stat().st_mtime + 5
    for name in ("claimed.wav", "orphan.wav", "notes.txt"):
        os.utime(spool.root / "hotline" / name, (now - 3600, now - 3600))
    found = spool.unclaimed(["hotline/claimed.wav|hotline/other.wav"], older_than_s=600, now=now)
    assert [(f.name, f.size, round(f.age_s)) for f in found] == [("hotline/orphan.wav", 10, 3600)]
    assert (spool.root / "hotline" / "orphan.wav").exists()


async def test_the_archive_reports_spool_files_that_no_ingest_job_names(db, tmp_path: Path):
    from recordings.ingest import enqueue, spool_orphans
    from recordings.states import SourceKind
    from tests.recordings.conftest import add_recording

    spool = AsteriskSpool(tmp_path / "spool")
    spool.root.mkdir()
    for name in ("known.wav", "lost.wav"):
        (spool.root / name).write_bytes(b"x")
        os.utime(spool.root / name, (1_000_000, 1_000_000))
    _, recording_id = await add_recording(db)
    async with db.session() as s:
        await enqueue(s, recording_id, SourceKind.ASTERISK, "known.wav")
    async with db.session() as s:
        assert [f.name for f in await spool_orphans(s, spool)] == ["lost.wav"]
