"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from hotline.web.access import public
from hotline.web.keys import DB

# name -> callable(app) returning {"component": up?}; bridges add theirs at setup.
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, Callable[[web.Application], dict[str, bool]]])


@public("liveness probe")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@public("readiness probe: reports component states only")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, bool] = {"database": await app[DB].ping()}
    for name, check in app[READINESS_CHECKS].items():
        for component, up in check(app).items():
            checks[f"{name}.{component}"] = up
    ready = all(checks.values())
    return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                             status=200 if ready else 503)


def setup(app: web.Application) -> None:
    app[READINESS_CHECKS] = {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
