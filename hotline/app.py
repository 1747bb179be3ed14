"""The application factory: one aiohttp app holding the web UI, the JSON API, the Twilio webhooks,
and (through start-up hooks) the FastAGI listener and the AMI client."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from acd.config import load_for
from acd.service import Acd
from hotline.db import Database
from hotline.settings import Settings
from hotline.telephony import asterisk, twilio
from hotline.web import api, auth, desktop, health, live, pages, supervision
from hotline.web.health import READINESS_CHECKS
from hotline.web.keys import ACD, DB, IVR, SETTINGS
from hotline.web.middleware import auth_middleware, error_middleware
from ivr.service import IvrService

WEB_DIR = Path(__file__).parent / "web"


def create_app(settings: Settings, db: Database | None = None) -> web.Application:
    """Build the app. Pass `db` to share a Database (tests); otherwise one is made from settings
    and disposed on cleanup."""
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=1024**2)
    app[SETTINGS] = settings
    owns_db = db is None
    app[DB] = db or Database(settings.database.url, echo=settings.database.echo)
    if owns_db:
        async def _dispose(app: web.Application) -> None:
            await app[DB].dispose()
        app.on_cleanup.append(_dispose)

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
    return app


def _setup_call_handling(app: web.Application) -> None:
    """The ACD and the IVR, then the bridges that carry calls to them.

    Order matters: the ACD starts before the bridges accept calls and stops after they have
    hung up, so no routing fact is lost on shutdown."""
    settings, db = app[SETTINGS], app[DB]
    acd = Acd(load_for(settings), db, settings)
    app[ACD] = acd
    app[IVR] = IvrService(settings, db, is_open=acd.is_open)

    async def start_acd(app: web.Application) -> None:
        await app[ACD].start()

    async def stop_acd(app: web.Application) -> None:
        await app[ACD].stop()

    app.on_startup.append(start_acd)
    twilio.setup(app)
    asterisk.setup(app)
    app.on_cleanup.append(stop_acd)
    app[READINESS_CHECKS].update({"twilio": twilio.status, "asterisk": asterisk.status})
