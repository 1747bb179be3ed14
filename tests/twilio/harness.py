"""Building blocks of tests/twilio: the app with the Twilio bridge, served over real HTTP, and the Twilio stand-in in front of it.

The public URL is https://hotline.example.com while the app listens on 127.0.0.1: every test runs
"behind a reverse proxy", so signatures must be checked against the public URL, not the Host header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from hotline.db import Database
from hotline.settings import PublicSettings, Settings, TwilioSettings
from hotline.telephony import twilio
from hotline.telephony.twilio.bridge import TwilioBridge
from tests.standins.twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TwilioStandIn

PUBLIC_URL = "https://hotline.example.com"


@dataclass
class Env:
    twilio: TwilioStandIn
    app: web.Application
    settings: Settings
    db: Database
    ivr: Any
    acd: Any
    base_url: str  # where the app really listens

    @property
    def bridge(self) -> TwilioBridge:
        return self.app[twilio.BRIDGE]


def twilio_settings(settings: Settings, api_base: str, **overrides: Any) -> Settings:
    values = dict(account_sid=TEST_ACCOUNT_SID, auth_token=SecretStr(TEST_AUTH_TOKEN), api_base=api_base,
                  caller_id="+8695588", rest_timeout_s=2.0, rest_retries=2)
    values.update(overrides)
    return settings.model_copy(update={"public": PublicSettings(url=PUBLIC_URL),
                                       "twilio": TwilioSettings(**values)})


