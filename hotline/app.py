"""The application factory: one aiohttp app holding the web UI, the JSON API, the Twilio webhooks,
and (through start-up hooks) the FastAGI listener and the AMI client."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hotline.db import Database
from hotline.settings import Settings
from hotline.web import api, auth, health, pages
from hotline.web.keys import DB, SETTINGS
from hotline.web.middleware import auth_middleware, error_middleware

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
    return app
