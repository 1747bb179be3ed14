"""Downloading recordings from Twilio for the archive (recordings.sources.RecordingSource).

A RecordingUrl arrives in a webhook, so it is checked before anything is fetched: the scheme, host
and port of the configured twilio.api_base, our own account's Recordings path, nothing else. A
forged callback therefore cannot make us fetch an internal address; redirects are followed only
within that same origin. Media is asked for as WAV with the account's credentials (basic auth),
streamed to disk, and network errors, 5xx and 429 are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import logging
import re
from pathlib import Path

import aiohttp
from yarl import URL

from hotline.settings import TwilioSettings
from recordings.errors import DownloadFailed, SourceRefused, StorageFull

log = logging.getLogger(__name__)
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_MAX_REDIRECTS = 3


class TwilioRecordingSource:
    def __init__(self, settings: TwilioSettings, *, delete_at_source: bool = False, backoff_s: float = 0.5,
                 max_backoff_s: float = 8.0, chunk_bytes: int = 256 * 1024) -> None:
        self._settings = settings
        self._api = URL(settings.api_base.rstrip("/"))
        self._delete_at_source = delete_at_source
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._chunk_bytes = chunk_bytes
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._http is None:
            credentials = f"{self._settings.account_sid}:{self._settings.auth_token.get_secret_value()}"
            self._http = aiohttp.ClientSession(
                headers={"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._settings.rest_timeout_s,
                                              sock_read=self._settings.rest_timeout_s))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _same_origin(self, url: URL) -> bool:
        return (url.scheme == self._api.scheme and (url.host or "").lower() == (self._api.host or "").lower()
                and url.port == self._api.port)

    def media_url(self, recording_url: str) -> tuple[URL, str]:
        """The URL of the recording's WAV and its RecordingSid; SourceRefused for anything but one of
        our account's recordings on the configured API host."""
        if not self._settings.account_sid:
            raise SourceRefused("twilio.account_sid is empty: recordings cannot be downloaded")
        try:
            url = URL(recording_url)
        except (ValueError, TypeError):
            raise SourceRefused(f"not a URL: {recording_url!r}") from None
        if not url.is_absolute() or not self._same_origin(url) or url.user or url.password:
            raise SourceRefused(f"{url.with_query(None).human_repr()!r} is not on the configured Twilio API "
                                f"host {self._api.origin()}")
        parts = url.path.split("/")
        sid = parts[-1].rsplit(".", 1)[0] if parts else ""
        expected = ["", "2010-04-01", "Accounts", self._settings.account_sid, "Recordings"]
        if parts[:-1] != expected or not _RECORDING_SID.match(sid):
            raise SourceRefused(f"{url.path!r} is not a recording of account {self._settings.account_sid}")
        return self._api.with_path("/".join([*expected, sid + ".wav"])), sid

    async def fetch(self, ref: str, workdir: Path) -> list[Path]:
        url, sid = self.media_url(ref)
        await self.start()
        target = workdir / f"{sid}.wav"
        attempts = self._settings.rest_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                await self._download(url, target)
                return [target]
            except _Retryable as exc:
                if attempt == attempts:
                    raise DownloadFailed(f"{sid}: {exc} (after {attempts} attempts)") from None
                delay = min(self._max_backoff_s, self._backoff_s * 2 ** (attempt - 1))
                log.warning("twilio recording %s: attempt %d/%d failed (%s); retrying in %.2fs",
                            sid, attempt, attempts, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _download(self, url: URL, target: Path) -> None:
        assert self._http is not None
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                async with self._http.get(url, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location", "")
                        url = url.join(URL(location))
                        if not self._same_origin(url):
                            raise SourceRefused(f"redirect to another host refused: {url.origin()}")
                        continue
                    if response.status == 429 or response.status >= 500:
                        raise _Retryable(f"HTTP {response.status}")
                    if response.status != 200:
                        raise DownloadFailed(f"HTTP {response.status} from Twilio for {url.path}")
                    await self._save(response, target)
                    return
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        raise DownloadFailed(f"more than {_MAX_REDIRECTS} redirects for {url.path}")

    async def _save(self, response: aiohttp.ClientResponse, target: Path) -> None:
        try:
            with target.open("wb") as out:  # noqa: ASYNC230 - local disk, small writes
                async for chunk in response.content.iter_chunked(self._chunk_bytes):
                    out.write(chunk)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(f"downloading into {target.parent}: {exc.strerror}") from exc
            raise

    async def discard(self, ref: str) -> None:
        """Delete Twilio's copy (recordings.delete_at_source); a copy already gone is fine."""
        if not self._delete_at_source:
            return
        url, sid = self.media_url(ref)
        await self.start()
        assert self._http is not None
        try:
            async with self._http.delete(url.with_suffix(".json"), allow_redirects=False) as response:
                if response.status not in (200, 204, 404):
                    raise DownloadFailed(f"deleting {sid} at Twilio: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(f"deleting {sid} at Twilio: {type(exc).__name__}: {exc}") from exc


class _Retryable(Exception):
    """A failure worth another attempt: the network, a 5xx, rate limiting."""
