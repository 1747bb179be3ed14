"""The storage interface: a local directory laid out by date with atomic writes, and the S3 adapter
against a stub of the aiobotocore client (no S3-compatible server is installable here)."""

from __future__ import annotations

import errno
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from recordings.errors import ObjectMissing, StorageError, StorageFull
from recordings.states import AudioFormat
from recordings.storage import LocalStore, S3Store, storage_key


def test_a_recording_has_one_key_laid_out_by_date_whatever_the_attempt():
    at = datetime(2026, 3, 7, 23, 59, tzinfo=UTC)
    assert storage_key(41, at, AudioFormat.OPUS) == "2026/03/07/41.ogg.enc"
    assert storage_key(41, at, AudioFormat.MP3) == "2026/03/07/41.mp3.enc"


async def test_local_store_writes_reads_ranges_and_lists(tmp_path: Path):
    store = LocalStore(tmp_path / "rec")
    await store.put("2026/12/01/1.ogg.enc", b"0123456789")
    assert (tmp_path / "rec" / "2026" / "12" / "01" / "1.ogg.enc").read_bytes() == b"0123456789"
    assert await store.read("2026/12/01/1.ogg.enc") == b"0123456789"
    assert await store.read("2026/12/01/1.ogg.enc", 3, 4) == b"3456"
    assert await store.exists("2026/12/01/1.ogg.enc") and not await store.exists("2026/12/01/2.ogg.enc")
    assert [key async for key in store.keys()] == ["2026/12/01/1.ogg.enc"]
    await store.delete("2026/12/01/1.ogg.enc")
    with pytest.raises(ObjectMissing):
        await store.read("2026/12/01/1.ogg.enc")


async def test_local_store_replaces_a_file_whole_and_leaves_no_temporary_files(tmp_path: Path):
    store = LocalStore(tmp_path)
    await store.put("a/1.enc", b"old contents")
    await store.put("a/1.enc", b"new")
    assert await store.read("a/1.enc") == b"new"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["1.enc"]


async def test_a_full_disk_is_reported_as_such_and_the_old_file_is_kept(tmp_path: Path, monkeypatch):
    store = LocalStore(tmp_path)
    await store.put("a/1.enc", b"kept")

    def no_space(fd: int) -> None:  # where a buffered write on a full disk fails
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageFull, match="No space left"):
        await store.put("a/1.enc", b"replacement")
    monkeypatch.undo()
    assert await store.read("a/1.enc") == b"kept"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["1.enc"]


@pytest.mark.parametrize("key", ["../escape.enc", "/etc/passwd", "a/../../b", "", "a//b", ".hidden"])
async def test_keys_that_would_leave_the_store_are_refused(tmp_path: Path, key: str):
    with pytest.raises(StorageError, match="invalid storage key"):
        await LocalStore(tmp_path / "rec").put(key, b"x")


class _NoSuchKey(Exception):
    def __init__(self) -> None:
        super().__init__("An error occurred (NoSuchKey)")
        self.response = {"Error": {"Code": "NoSuchKey"}}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self.data


class StubS3:
    """The S3 calls S3Store makes, over a dict, with S3's Range and error shapes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.calls: list[str] = []

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        self.calls.append(f"put {Key}")
        self.objects[Bucket, Key] = bytes(Body)
        return {}

    async def get_object(self, *, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:
        self.calls.append(f"get {Key} {Range}")
        if (Bucket, Key) not in self.objects:
            raise _NoSuchKey()
        data = self.objects[Bucket, Key]
        if Range:
            first, _, last = Range.removeprefix("bytes=").partition("-")
            data = data[int(first):int(last) + 1 if last else None]
        return {"Body": _Body(data)}

    async def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise type("ClientError", (Exception,), {"response": {"Error": {"Code": "404"}}})()
        return {}

    async def delete_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.objects.pop((Bucket, Key), None)
        return {}

    async def list_objects_v2(self, *, Bucket: str, Prefix: str, ContinuationToken: str | None = None) -> dict[str, Any]:
        names = sorted(k for b, k in self.objects if b == Bucket and k.startswith(Prefix))
        start = int(ContinuationToken or 0)
        page = names[start:start + 2]  # tiny pages, so paging is exercised
        more = start + 2 < len(names)
        return {"Contents": [{"Key": k} for k in page], "IsTruncated": more,
                **({"NextContinuationToken": str(start + 2)} if more else {})}


def _s3(stub: StubS3) -> S3Store:
    @asynccontextmanager
    async def client():  # type: ignore[no-untyped-def]
        yield stub

    return S3Store(client, "archive", "rec/")


async def test_s3_store_puts_reads_ranges_and_pages_through_keys_under_its_prefix():
    stub = StubS3()
    store = _s3(stub)
    for n in range(3):
        await store.put(f"2026/12/01/{n}.ogg.enc", b"abcdef%d" % n)
    stub.objects["archive", "elsewhere/x"] = b"not ours"
    assert stub.objects["archive", "rec/2026/12/01/0.ogg.enc"] == b"abcdef0"
    assert await store.read("2026/12/01/1.ogg.enc") == b"abcdef1"
    assert await store.read("2026/12/01/1.ogg.enc", 2, 3) == b"cde"
    assert "get rec/2026/12/01/1.ogg.enc bytes=2-4" in stub.calls
    assert [k async for k in store.keys()] == [f"2026/12/01/{n}.ogg.enc" for n in range(3)]
    assert await store.exists("2026/12/01/2.ogg.enc")
    await store.delete("2026/12/01/2.ogg.enc")
    assert not await store.exists("2026/12/01/2.ogg.enc")


async def test_s3_store_reports_a_missing_object_as_missing():
    with pytest.raises(ObjectMissing, match="no such object"):
        await _s3(StubS3()).read("2026/12/01/9.ogg.enc")
