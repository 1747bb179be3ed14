"""Reading what a client sent. A form, JSON body, query or path that cannot be read is the client's
mistake: a 400 (or 422 for JSON that is not what the route wants), never a 500 and never a traceback.

Forms are parsed once, up front, by `body_middleware`: aiohttp keeps the parsed form, so every later
`await request.post()` (the CSRF check, the login form, the Twilio webhooks) gets it back without
reading the body again, and a broken multipart body is refused before any handler sees it.

Text holding a NUL character is refused as well: PostgreSQL cannot store it in a text column, and
no field of ours has a use for it."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What aiohttp and the codecs raise on a body they cannot parse: a bad or missing multipart boundary,
# a truncated part, an unknown charset (LookupError), an unknown transfer encoding (RuntimeError).
_UNREADABLE = (ValueError, LookupError, RuntimeError, AssertionError, HttpProcessingError)


class BadInput(web.HTTPBadRequest):
    """The request cannot be read as sent; the text says which part, for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(text=message)


class NotJson(web.HTTPUnprocessableEntity):
    """The body is not the JSON the route expects."""

    def __init__(self, message: str = "the body must be JSON (UTF-8)") -> None:
        super().__init__(text=message)


def has_nul(value: Any) -> bool:
    """A NUL character anywhere in a string, or in the strings and keys of a JSON value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The urlencoded or multipart form; BadInput when it cannot be parsed."""
    try:
        form = await request.post()
    except _UNREADABLE:
        raise BadInput("the form cannot be read: malformed or truncated body") from None
    if any(isinstance(v, str) and has_nul(v) or has_nul(k) for k, v in form.items()):
        raise BadInput("the form holds a NUL character")
    return form


async def read_json(request: web.Request) -> Any:
    """The JSON body; NotJson (422) when it is not UTF-8 JSON, nests absurdly deep, or holds NUL."""
    try:
        data = json.loads(await request.text())
    except (ValueError, LookupError, RecursionError):
        raise NotJson() from None
    if has_nul(data):
        raise NotJson("the body holds a NUL character")
    return data


def _check_url(request: web.Request) -> None:
    try:
        query = request.query  # decodes percent-escapes; a bad escape becomes U+FFFD, not an error
    except (ValueError, UnicodeError):
        raise BadInput("the query string cannot be read") from None
    if "\x00" in request.path or any(has_nul(k) or has_nul(v) for k, v in query.items()):
        raise BadInput("the address holds a NUL character")


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an unreadable address or form before the CSRF check or any handler reads it."""
    _check_url(request)
    if request.method in BODY_METHODS and request.content_type in FORM_TYPES:
        await read_form(request)
    return await handler(request)


class _UnparseableRequests(logging.Filter):
    """aiohttp answers a request it cannot even parse (a request line over 8 KiB, a malformed
    header) with 400 itself, and logs it at ERROR with a traceback. It is the client's mistake:
    one WARNING line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            record.msg, record.args = f"{record.getMessage()}: {exc.code} {exc.message[:200]!r}", None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            record.exc_info, record.exc_text = None, None
        return True


def setup(app: web.Application) -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _UnparseableRequests) for f in server_log.filters):
        server_log.addFilter(_UnparseableRequests())
