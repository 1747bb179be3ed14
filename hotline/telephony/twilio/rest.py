"""Twilio REST calls without blocking the event loop.

The twilio library's AsyncTwilioHttpClient must be created inside the running loop (it opens an
aiohttp session) and ignores its own timeout, so every request runs under asyncio.timeout. Server
errors, rate limiting and network failures are retried with exponential backoff (placing a call only
when Twilio cannot have acted on the request); anything else, and
the last failure, is raised as RestError for the caller to report (the ACD, the log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from hotline.settings import TwilioSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class RestError(Exception):
    """A Twilio REST request failed for good (after retries, or a client error that retrying cannot fix)."""


class RestNotConfigured(RestError):
    """twilio.account_sid is empty: inbound webhooks work, mid-call changes and outbound calls do not."""


def _retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether trying again is safe. A request that creates something (a call) is retried only when
    Twilio certainly did not act on it: rate limited, or no connection was made at all. After a
    timeout or a 5xx it may have placed the call, and a second one would ring the agent twice."""
    if isinstance(exc, TwilioRestException):
        return exc.status == 429 or (idempotent and exc.status >= 500)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return True
    return idempotent and isinstance(exc, aiohttp.ClientError | OSError | TimeoutError)


class TwilioRest:
    def __init__(self, settings: TwilioSettings, *, backoff_s: float = 0.5, max_backoff_s: float = 8.0) -> None:
        self._settings = settings
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    @property
    def configured(self) -> bool:
        return bool(self._settings.account_sid)

    @property
    def ready(self) -> bool:
        return self._client is not None

    async def start(self) -> None:
        """Call inside the running loop (app startup)."""
        if not self.configured or self._client is not None:
            return
        self._http = AsyncTwilioHttpClient()
        self._client = Client(self._settings.account_sid, self._settings.auth_token.get_secret_value(),
                              http_client=self._http)
        # The library has no base-URL option; its domain object carries the one it prefixes (tests, proxies)
        self._client.api.base_url = self._settings.api_base.rstrip("/")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    async def update_call(self, call_sid: str, *, twiml: str | None = None, url: str | None = None) -> None:
        """Replace what a live call is doing (redirect a queued caller to an agent)."""
        client = self._require()
        if twiml is not None:
            await self._call(f"update call {call_sid}", lambda: client.calls(call_sid).update_async(twiml=twiml))
        else:
            await self._call(f"update call {call_sid}",
                             lambda: client.calls(call_sid).update_async(url=url, method="POST"))

    async def create_call(self, *, to: str, from_: str, twiml: str, status_callback: str,
                          timeout_s: float) -> str:
        """Place a call; returns its CallSid."""
        client = self._require()
        call = await self._call(f"create call to {to}", lambda: client.calls.create_async(
            to=to, from_=from_, twiml=twiml, timeout=int(timeout_s), status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"]), idempotent=False)
        sid: str = call.sid
        return sid

    def _require(self) -> Client:
        if self._client is None:
            raise RestNotConfigured("Twilio REST client not available (twilio.account_sid empty or app not started)")
        return self._client

    async def _call(self, what: str, request: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        attempts = self._settings.rest_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                async with asyncio.timeout(self._settings.rest_timeout_s):
                    return await request()
            except Exception as exc:
                if not _retryable(exc, idempotent=idempotent):
                    raise RestError(f"{what}: {_describe(exc)}") from exc
                if attempt == attempts:
                    raise RestError(f"{what}: failed after {attempts} attempts: {_describe(exc)}") from exc
                delay = min(self._max_backoff_s, self._backoff_s * 2 ** (attempt - 1))
                log.warning("twilio REST %s: attempt %d/%d failed (%s); retrying in %.2fs",
                            what, attempt, attempts, _describe(exc), delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TwilioRestException):
        return f"HTTP {exc.status}: {exc.msg}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
