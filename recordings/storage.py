"""Where encrypted recordings live, behind one small interface: a local directory by default, or an
S3-compatible bucket. Keys are relative paths laid out by date (`2026/12/02/41.ogg.enc`)."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from hotline.settings import Settings, SettingsError
from recordings.errors import ObjectMissing, StorageError, StorageFull
from recordings.states import AudioFormat

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def storage_key(recording_id: int, recorded_at: datetime, fmt: AudioFormat) -> str:
    """One key per recording, the same on every attempt: a retried ingest overwrites, never duplicates."""
    return f"{recorded_at:%Y/%m/%d}/{recording_id}.{fmt.extension}.enc"


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class Store(Protocol):
    """What the archive needs from a place to keep files."""

    async def put(self, key: str, data: bytes) -> None:
        """Write the whole object; readers see the old object or the new one, never part of one."""

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of the object from offset (all of it, or `length` bytes); ObjectMissing if absent."""

    async def delete(self, key: str) -> None:
        """Remove the object; no error if absent."""

    async def exists(self, key: str) -> bool: ...

    def keys(self) -> AsyncIterator[str]:
        """Every stored key (to find files no row points to)."""


class LocalStore:
    """A directory: each object is written to a temporary file beside its place, flushed to disk,
    renamed over it, and the directory flushed too, so a crash leaves the old file or the new one."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self.path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(f"{path.parent}: {exc.strerror}") from exc
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        return await asyncio.to_thread(self._read, self.path(key), offset, length)

    @staticmethod
    def _read(path: Path, offset: int, length: int | None) -> bytes:
        try:
            with path.open("rb") as src:
                src.seek(offset)
                return src.read() if length is None else src.read(length)
        except FileNotFoundError:
            raise ObjectMissing(f"{path}: no such file") from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    async def keys(self) -> AsyncIterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()


class S3Client(Protocol):
    """The part of an aiobotocore S3 client the archive uses."""

    async def put_object(self, **kwargs: Any) -> dict[str, Any]: ...
    async def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    async def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    async def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...
    async def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]: ...


ClientFactory = Callable[[], AbstractAsyncContextManager[S3Client]]


def _s3_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("NoSuchKey", "404", "NotFound")


class S3Store:
    """An S3-compatible bucket (AWS, MinIO, Ceph...). A PUT is atomic in S3 already; `prefix` keeps
    the archive apart from anything else in the bucket."""

    def __init__(self, client: ClientFactory, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        async with self._client() as s3:
            try:
                await s3.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
            except Exception as exc:
                raise StorageError(f"s3://{self.bucket}/{self._name(key)}: {exc}") from exc

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        extra = {}
        if offset or length is not None:
            extra["Range"] = f"bytes={offset}-" + ("" if length is None else str(offset + length - 1))
        async with self._client() as s3:
            try:
                response = await s3.get_object(Bucket=self.bucket, Key=self._name(key), **extra)
                async with response["Body"] as body:
                    data: bytes = await body.read()
                    return data
            except Exception as exc:
                if _s3_missing(exc):
                    raise ObjectMissing(f"s3://{self.bucket}/{self._name(key)}: no such object") from exc
                raise StorageError(f"s3://{self.bucket}/{self._name(key)}: {exc}") from exc

    async def delete(self, key: str) -> None:
        async with self._client() as s3:
            try:
                await s3.delete_object(Bucket=self.bucket, Key=self._name(key))
            except Exception as exc:
                raise StorageError(f"s3://{self.bucket}/{self._name(key)}: {exc}") from exc

    async def exists(self, key: str) -> bool:
        async with self._client() as s3:
            try:
                await s3.head_object(Bucket=self.bucket, Key=self._name(key))
            except Exception as exc:
                if _s3_missing(exc):
                    return False
                raise StorageError(f"s3://{self.bucket}/{self._name(key)}: {exc}") from exc
            return True

    async def keys(self) -> AsyncIterator[str]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            async with self._client() as s3:
                page = await s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix):]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return


def store_from_settings(settings: Settings) -> Store:
    rec = settings.recordings
    if rec.storage == "local":
        return LocalStore(rec.dir)
    if not rec.s3_bucket:
        raise SettingsError("recordings.s3_bucket: required when recordings.storage is s3")
    try:
        import aioboto3  # type: ignore[import-not-found,unused-ignore]  # the optional `s3` extra
    except ImportError:
        raise SettingsError("recordings.storage is s3 but aioboto3 is not installed "
                            "(pip install 'hotline[s3]')") from None
    session = aioboto3.Session()
    options = {"endpoint_url": rec.s3_endpoint_url or None, "region_name": rec.s3_region or None}

    def client() -> AbstractAsyncContextManager[S3Client]:
        made: AbstractAsyncContextManager[S3Client] = session.client("s3", **options)
        return made

    return S3Store(client, rec.s3_bucket, rec.s3_prefix)
