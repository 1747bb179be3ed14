"""Request pipeline: who is calling (session), may they (declared roles), is the form theirs (CSRF),
and errors in the shape the caller understands (JSON under /api/, pages elsewhere)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from acd.exceptions import AcdError
from hotline.web.access import declared_roles, is_public, public
from hotline.web.bodies import read_form
from hotline.web.errors import acd_error_status, json_error
from hotline.web.keys import DB
from hotline.web.render import USER, render
from hotline.web.sessions import COOKIE, SessionUser, load_session

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/ws")


def current_user(request: web.Request) -> SessionUser:
    user = request.get(USER)
    if not isinstance(user, SessionUser):  # only reachable from a handler wrongly marked public
        raise web.HTTPUnauthorized()
    return user


def _resolved_handler(request: web.Request) -> object | None:
    match_info = request.match_info
    if match_info.http_exception is not None:
        return None
    route = match_info.route
    if route.resource is not None and route.resource.__class__.__name__ == "StaticResource":
        return _static_marker
    return route.handler


@public("static assets")
async def _static_marker(request: web.Request) -> web.StreamResponse:  # pragma: no cover - marker only
    raise web.HTTPNotFound()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    user = await load_session(request.app[DB], token) if token else None
    request[USER] = user
    target = _resolved_handler(request)
    if target is None or is_public(target):
        return await handler(request)
    roles = declared_roles(target)
    if roles is None:
        log.error("route %s %s declares no roles: refused", request.method, request.path)
        return _deny(request, 403, "this route declares no access roles")
    if user is None:
        return _deny(request, 401, "login required")
    if user.role not in roles:
        return _deny(request, 403, f"role {user.role!r} may not use this")
    if request.method in UNSAFE and not await _csrf_ok(request, user):
        return _deny(request, 403, "missing or wrong CSRF token")
    return await handler(request)


async def _csrf_ok(request: web.Request, user: SessionUser) -> bool:
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = str((await read_form(request)).get("csrf_token", ""))
    return bool(sent) and hmac.compare_digest(sent, user.csrf_token)


def _deny(request: web.Request, status: int, message: str) -> web.StreamResponse:
    if wants_json(request):
        return json_error(status, message)
    if status == 401:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}")
    return render("error.html", request, {"status": status, "message": message}, status=status)


def _wants_page(request: web.Request) -> bool:
    """A browser navigating (it asks for HTML); webhooks and scripts get aiohttp's plain text."""
    return "text/html" in request.headers.get("Accept", "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON bodies for API errors; a logged 500 (never a traceback to the client) for the unexpected."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if wants_json(request) and exc.status >= 400:
            return json_error(exc.status, exc.text or exc.reason)
        if _wants_page(request) and exc.status >= 400 and exc.status != 401:
            page = render("error.html", request, {"status": exc.status, "message": exc.text or exc.reason},
                          status=exc.status)
            for kept in ("Allow", "Retry-After"):
                if kept in exc.headers:
                    page.headers[kept] = exc.headers[kept]
            return page
        raise
    except AcdError as exc:
        status = acd_error_status(exc)
        if wants_json(request):
            return json_error(status, str(exc))
        return render("error.html", request, {"status": status, "message": str(exc)}, status=status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json(request):
            return json_error(500, "internal error; it has been logged")
        return render("error.html", request,
                      {"status": 500, "message": "Something went wrong; it has been logged."}, status=500)
