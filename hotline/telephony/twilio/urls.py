"""Webhook paths (documented in docs/twilio.md) and the absolute public URLs put into TwiML.

Absolute URLs because TwiML sent through the REST API has no document URL to resolve against, and
because the signature Twilio sends is computed over exactly this string.
"""

from __future__ import annotations

from urllib.parse import urlencode

VOICE = "/twilio/voice"
STATUS = "/twilio/status"
GATHER = "/twilio/gather"
QUEUE_WAIT = "/twilio/queue/wait"
QUEUE_KEY = "/twilio/queue/key"
QUEUE_LEFT = "/twilio/queue/left"
DIAL = "/twilio/dial"
DIAL_STATUS = "/twilio/dial/status"
RECORDING = "/twilio/recording"
SURVEY = "/twilio/survey"
OUTBOUND_DIAL = "/twilio/outbound/dial"


class Urls:
    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")

    def __call__(self, path: str, **query: object) -> str:
        if not query:
            return self.base + path
        return f"{self.base}{path}?{urlencode({k: str(v) for k, v in query.items()})}"
