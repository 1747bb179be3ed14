"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from hotline.web.access import public
from hotline.web.keys import DB

log = logging.getLogger(__name__)

# name -> callable(app) returning {"component": up?}; bridges add theirs at setup.
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, Callable[[web.Application], dict[str, bool]]])
# the last write fault seen, so a broken database is logged when it breaks and when it heals, not
# on every probe
_LAST_FAULT = web.AppKey("last_write_fault", list)


async def _database_checks(app: web.Application) -> dict[str, bool]:
    """Reachable (SELECT 1) and writable (a rolled-back write, see Database.write_fault)."""
    db = app[DB]
    if not await db.ping():
        return {"database": False, "database.writable": False}
    fault = await db.write_fault()
    last = app[_LAST_FAULT]
    if fault != last[0]:
        if fault:
            log.warning("database cannot take writes: %s", fault)
        else:
            log.info("database takes writes again")
        last[0] = fault
    return {"database": True, "database.writable": fault is None}


@public("liveness probe")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@public("readiness probe: reports component states only")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks = await _database_checks(app)
    for name, check in app[READINESS_CHECKS].items():
        for component, up in check(app).items():
            checks[f"{name}.{component}"] = up
    ready = all(checks.values())
    return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                             status=200 if ready else 503)


def setup(app: web.Application) -> None:
    app[READINESS_CHECKS] = {}
    app[_LAST_FAULT] = [None]
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
