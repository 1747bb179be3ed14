"""One shape for every JSON API error: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

from aiohttp import web

from acd.exceptions import AcdError, ErrorKind

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid", 500: "internal_error",
          503: "unavailable"}


def json_error(status: int, message: str, code: str | None = None) -> web.Response:
    return web.json_response({"error": {"code": code or _CODES.get(status, "error"), "message": message}},
                             status=status)


# The one place where what the ACD refuses becomes an HTTP status.
ACD_STATUS = {ErrorKind.NOT_FOUND: 404, ErrorKind.CONFLICT: 409, ErrorKind.INVALID: 422,
              ErrorKind.UNAVAILABLE: 503}


def acd_error_status(exc: AcdError) -> int:
    return ACD_STATUS[exc.kind]
