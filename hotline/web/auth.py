"""Login and logout. Passwords are argon2-hashed; failed logins are audited without the password,
and too many of them for one user or from one address refuse further tries for a while
(hotline.web.throttle) until the window passes or a supervisor unlocks the user.

The login form is protected against login CSRF with a double-submit token: a random cookie that
must come back as a hidden field (there is no session yet to bind a token to)."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web

from audit.models import AuditLog
from hotline.db import verify_secret
from hotline.users import find_user
from hotline.web.access import public, requires
from hotline.web.bodies import read_form
from hotline.web.keys import DB, SETTINGS, THROTTLE
from hotline.web.middleware import current_user
from hotline.web.render import USER, render
from hotline.web.sessions import COOKIE, close_session, cookie_secure, open_session
from hotline.web.throttle import LoginThrottle, Refusal

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


FORM_EXPIRED = "登录表单已过期，请重试。Your login form expired. Please try again."
WRONG_PASSWORD = "用户名或密码错误。Wrong username or password."


def too_many_message(refusal: Refusal) -> str:
    n = refusal.minutes
    return (f"登录失败次数过多，请在{n}分钟后再试。"
            f"Too many failed logins: please try again in {n} minute{'' if n == 1 else 's'}.")


def _render_login(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render("login.html", request,
                      {"error": error, "csrf_token": token, "next": request.query.get("next", "")}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        secure=cookie_secure(request.app[SETTINGS]))
    return response


@public("login form")
async def login_form(request: web.Request) -> web.StreamResponse:
    user = request.get(USER)
    if user is not None:
        raise web.HTTPSeeOther(LANDING[user.role])
    return _render_login(request)


@public("login: checks the password itself, CSRF by double-submit cookie, throttled per user and address")
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    sent, expected = str(form.get("csrf_token", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return _render_login(request, FORM_EXPIRED, status=403)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    address = str(request.remote)
    db, throttle = request.app[DB], request.app[THROTTLE]
    async with throttle.attempt(username, address) as refusal:
        if refusal is not None:  # refused before argon2 runs: a throttled guess costs us nothing
            response = _render_login(request, too_many_message(refusal), status=429)
            response.headers["Retry-After"] = str(refusal.retry_after_s)
            return response
        user = await find_user(db, username)
        ok = await verify_secret(user.password_hash if user else _DUMMY_HASH, password)
        if not (ok and user and user.active):
            await throttle.failed(username, address)
            return _render_login(request, WRONG_PASSWORD, status=401)
        await throttle.succeeded(user.username, address)
    settings = request.app[SETTINGS]
    token = await open_session(db, user, timedelta(hours=settings.security.session_hours))
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", "")), user.role))
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=cookie_secure(settings),
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


async def unlock_user(request: web.Request, username: str) -> int:
    """Lift the login throttle on `username` (audited as login_unlocked); returns the failures it
    forgave. 404 for a user who does not exist."""
    if await find_user(request.app[DB], username) is None:
        raise web.HTTPNotFound(text=f"no user {username!r}")
    return await request.app[THROTTLE].unlock(username, by=current_user(request).username)


@requires("supervisor", "admin")
async def unlock_api(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    forgiven = await unlock_user(request, username)
    return web.json_response({"username": username, "unlocked": True, "failures_forgiven": forgiven})


def setup(app: web.Application) -> None:
    security = app[SETTINGS].security
    app[THROTTLE] = LoginThrottle(app[DB], security.login_max_failures,
                                  timedelta(minutes=security.login_window_minutes))
    app.router.add_get("/", index)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/api/users/{username}/unlock", unlock_api)
