"""Login and logout. Passwords are argon2-hashed; failed logins are audited without the password.

The login form is protected against login CSRF with a double-submit token: a random cookie that
must come back as a hidden field (there is no session yet to bind a token to)."""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from hotline.db import verify_secret
from hotline.db.models import AuditLog, User
from hotline.web.access import public, requires
from hotline.web.keys import DB, SETTINGS
from hotline.web.middleware import current_user
from hotline.web.render import USER, render
from hotline.web.sessions import COOKIE, close_session, open_session

log = logging.getLogger(__name__)
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
LANDING = {"agent": "/agent", "supervisor": "/supervisor", "qa": "/qa", "admin": "/admin"}
# A constant argon2 hash to verify against when the user does not exist, so that timing does not
# tell an attacker which usernames are real.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$4YrGtFRIWOW/HlzirDAkYg$+PQUCtXDafPILmane72xl29CIPmvKAB3QasoZEfBddA"


def _safe_next(target: str | None, role: str) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return LANDING[role]


def _render_login(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render("login.html", request,
                      {"error": error, "csrf_token": token, "next": request.query.get("next", "")}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.app[SETTINGS].security.cookie_secure)
    return response


@public("login form")
async def login_form(request: web.Request) -> web.StreamResponse:
    user = request.get(USER)
    if user is not None:
        raise web.HTTPSeeOther(LANDING[user.role])
    return _render_login(request)


@public("login: checks the password itself, CSRF by double-submit cookie")
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    sent, expected = str(form.get("csrf_token", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return _render_login(request, "Your login form expired. Please try again.", status=403)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    db = request.app[DB]
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == username))
    ok = await verify_secret(user.password_hash if user else _DUMMY_HASH, password)
    if not (ok and user and user.active):
        async with db.session() as s:
            s.add(AuditLog(actor=f"web:{request.remote}", action="login_failed", target=username[:64]))
        log.warning("failed login", extra={"username": username[:64], "remote": request.remote})
        return _render_login(request, "Wrong username or password.", status=401)
    settings = request.app[SETTINGS]
    token = await open_session(db, user, timedelta(hours=settings.security.session_hours))
    async with db.session() as s:
        s.add(AuditLog(actor=f"user:{user.username}", action="login", target=str(request.remote)))
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", "")), user.role))
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=settings.security.cookie_secure,
                        max_age=int(settings.security.session_hours * 3600))
    response.del_cookie(LOGIN_CSRF_COOKIE)
    raise response


@requires("agent", "supervisor", "qa", "admin")
async def logout(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    await close_session(request.app[DB], request.cookies[COOKIE])
    async with request.app[DB].session() as s:
        s.add(AuditLog(actor=f"user:{user.username}", action="logout"))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE)
    raise response


@public("redirects to login or to the user's landing page")
async def index(request: web.Request) -> web.StreamResponse:
    user = request.get(USER)
    raise web.HTTPSeeOther(LANDING[user.role] if user else "/login")


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
