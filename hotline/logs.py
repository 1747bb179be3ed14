"""Structured logging with a redaction filter.

Secrets reach the filter two ways: a bridge marks the digits a caller keyed into a secure gather
(`mark_secret`), and settings secrets (auth token, AMI secret, secret key) are marked at start-up.
On top, any free-standing run of 15-19 digits (card and account numbers; phone numbers are shorter)
is masked even if nobody marked it. The filter rewrites the record itself, so every handler sees the masked text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

MASK = "[REDACTED]"
_MAX_MARKED = 10_000
# Not inside an alphanumeric token: a Twilio SID (CA + 32 hex) may hold 16 digits in a row.
_CARD_RE = re.compile(r"(?<![0-9A-Za-z])\d{15,19}(?![0-9A-Za-z])")
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _Secrets:
    """The set of values to mask: bounded, oldest forgotten first, safe across threads."""

    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def mark(self, value: str) -> None:
        if len(value) < 4:  # masking "1" or "12" would blank out every number in every line
            return
        with self._lock:
            self._values[value] = None
            self._values.move_to_end(value)
            while len(self._values) > _MAX_MARKED:
                self._values.popitem(last=False)
            self._pattern = None

    def pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # longest first, so a PIN inside a marked card number cannot leave a tail behind
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, alternatives)))
            return self._pattern


_secrets = _Secrets()


def mark_secret(value: str) -> None:
    """Never let `value` appear in a log line (PIN or card digits, passwords, tokens)."""
    _secrets.mark(value)


def redact(text: str) -> str:
    pattern = _secrets.pattern()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _CARD_RE.sub(MASK, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and every `extra=` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach the filter to the root logger's handlers and to the root logger itself.

    Handler-level filters also catch records from child loggers that propagate up (logger-level
    filters do not), so both are set.
    """
    logger = logger or logging.getLogger()
    existing = next((f for f in logger.filters if isinstance(f, RedactingFilter)), None)
    redacting = existing or RedactingFilter()
    if existing is None:
        logger.addFilter(redacting)
    for handler in logger.handlers:
        if redacting not in handler.filters:
            handler.addFilter(redacting)
    return redacting


# Libraries whose INFO lines say nothing an operator acts on (Alembic: "Context impl SQLiteImpl",
# "Will assume non-transactional DDL"); they speak at DEBUG level only.
QUIET_LIBRARIES = ("alembic",)
ACCESS_LOG = logging.getLogger("hotline.access")


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    install_redaction(root)


class AccessLogger(AbstractAccessLogger):
    """One line per HTTP request: method, path, status, duration. Never the query string (a login
    redirect or a callback URL may carry a token) and never the body (a Twilio webhook's form holds
    the keys a caller pressed); the line still passes the redaction filter like any other."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d", request.method, request.path, response.status, extra={
            "method": request.method, "path": request.path, "status": response.status,
            "duration_ms": round(time * 1000, 1), "remote": request.remote or ""})

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
