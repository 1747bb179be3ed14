"""X-Twilio-Signature: the HMAC Twilio computes over the URL it requested and the form it posted.

The URL is the public one (settings.public.url + the path and query we received), never built from
the Host header: behind a reverse proxy the Host is the proxy's upstream, and a forged Host must not
be able to make a signature for another URL pass.
"""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


class SignatureChecker:
    def __init__(self, public_url: str, auth_token: str) -> None:
        self._base = public_url.rstrip("/")
        self._validator = RequestValidator(auth_token) if auth_token else None

    def public_url(self, request: web.Request) -> str:
        # raw_path keeps the query string and its percent-encoding exactly as Twilio sent them
        return self._base + request.raw_path

    def is_valid(self, request: web.Request, form: MultiDictProxy[str]) -> bool:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if self._validator is None:
            log.error("twilio webhook refused: twilio.auth_token is not configured (path=%s)", request.path)
            return False
        if not signature:
            log.warning("twilio webhook refused: no %s (path=%s, peer=%s)", SIGNATURE_HEADER,
                        request.path, request.remote)
            return False
        if not self._validator.validate(self.public_url(request), form, signature):
            log.warning("twilio webhook refused: bad %s (path=%s, peer=%s)", SIGNATURE_HEADER,
                        request.path, request.remote)
            return False
        return True
