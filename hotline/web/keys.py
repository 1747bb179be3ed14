"""Typed keys for what the aiohttp application holds (string keys warn on aiohttp >= 3.9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from calls.record import CallRecord
from hotline.db import Database
from hotline.settings import Settings
from hotline.web.throttle import LoginThrottle

if TYPE_CHECKING:
    from acd.service import Acd
    from ivr.service import IvrService

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
RECORD = web.AppKey("call_record", CallRecord)
# typed by the annotation alone: IvrService and Acd are imported for the type checker only
IVR: web.AppKey[IvrService] = web.AppKey("ivr")
ACD: web.AppKey[Acd] = web.AppKey("acd")
