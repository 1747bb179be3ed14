"""The application factory: one aiohttp app holding the web UI, the JSON API, the Twilio webhooks,
and (through start-up hooks) the FastAGI listener and the AMI client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from acd.config import load_for
from acd.service import Acd
from calls.record import CallRecord
from hotline.db import Database
from hotline.settings import Settings
from hotline.telephony import asterisk, twilio
from hotline.telephony.twilio.recording_source import TwilioRecordingSource
from hotline.web import (
    api,
    auth,
    bodies,
    desktop,
    headers,
    health,
    live,
    metrics,
    pages,
    recordings,
    supervision,
)
from hotline.web.health import READINESS_CHECKS
from hotline.web.keys import ACD, DB, IVR, RECORD, SETTINGS
from hotline.web.middleware import auth_middleware, error_middleware
from ivr.service import IvrService, routing_of
from recordings.sources import RecordingSource
from recordings.spool import AsteriskSpool
from recordings.states import SourceKind

WEB_DIR = Path(__file__).parent / "web"


def create_app(settings: Settings, db: Database | None = None) -> web.Application:
    """Build the app. Pass `db` to share a Database (tests); otherwise one is made from settings
    and disposed on cleanup."""
    app = web.Application(middlewares=[error_middleware, bodies.body_middleware, auth_middleware],
                          client_max_size=1024**2)
    headers.setup(app)
    bodies.setup(app)
    app[SETTINGS] = settings
    owns_db = db is None
    app[DB] = db or Database(settings.database.url, echo=settings.database.echo)
    if owns_db:
        # the first cleanup context: it is torn down last, after everything that writes
        async def _database(app: web.Application) -> AsyncIterator[None]:
            yield
            await app[DB].dispose()
        app.cleanup_ctx.append(_database)
    app[RECORD] = CallRecord(app[DB])
    recordings.setup(app, _recording_sources(settings))  # its worker stops just before the database closes
    app.cleanup_ctx.append(_close_calls_left_open)  # before the bridges and the ACD take calls

    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
                         autoescape=jinja2.select_autoescape(default=True))
    app.router.add_static("/static", WEB_DIR / "static")
    health.setup(app)
    auth.setup(app)
    pages.setup(app)
    api.setup(app)
    _setup_call_handling(app)
    desktop.setup(app)
    supervision.setup(app)
    live.setup(app)
    metrics.setup(app)
    return app


def _recording_sources(settings: Settings) -> dict[SourceKind, RecordingSource]:
    """Where the archive fetches originals: Twilio's REST API, and the MixMonitor spool."""
    return {SourceKind.TWILIO: TwilioRecordingSource(settings.twilio,
                                                     delete_at_source=settings.recordings.delete_at_source),
            SourceKind.ASTERISK: AsteriskSpool(settings.recordings.spool_dir)}


async def _close_calls_left_open(app: web.Application) -> AsyncIterator[None]:
    """A crash or a kill ends a process, not the rows of its calls: nothing of this process serves
    the calls still open, so they are closed before any call is taken. (One node for now: with
    several nodes sharing the database, a node must close only the calls it owned.)"""
    await app[RECORD].close_left_open()
    yield


def _setup_call_handling(app: web.Application) -> None:
    """The ACD and the IVR, then the bridges that carry calls to them.

    Each part is a cleanup context, so shutdown runs in exactly the reverse order of start-up:
    the Asterisk listener stops taking calls, the ACD drains what it asked the bridges to do (the
    Twilio REST client still open), the REST client closes, and the database goes last."""
    settings, db = app[SETTINGS], app[DB]
    acd = Acd(load_for(settings), db, settings)
    app[ACD] = acd
    app[IVR] = IvrService(settings, db, is_open=acd.is_open, routing=routing_of(acd.config), record=app[RECORD])

    async def run_acd(app: web.Application) -> AsyncIterator[None]:
        await app[ACD].start()  # restored callbacks may dial at once: the REST client is up by now
        yield
        await app[ACD].stop()

    twilio.setup(app)
    app.cleanup_ctx.append(run_acd)
    asterisk.setup(app)
    app[READINESS_CHECKS].update({"twilio": twilio.status, "asterisk": asterisk.status})
