"""Each role's landing page, user administration, the language switch and the favicon."""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select, update

from hotline.roles import ROLES
from hotline.staff import User
from hotline.users import UserError, add_user
from hotline.web.access import public, requires
from hotline.web.auth import unlock_user
from hotline.web.bodies import read_form
from hotline.web.i18n import parse_language
from hotline.web.keys import DB, THROTTLE
from hotline.web.middleware import current_user
from hotline.web.render import LANG_COOKIE, USER, render, t
from hotline.web.sessions import SessionUser
from hotline.web.supervision import agent_phones

FAVICON = Path(__file__).parent / "static" / "favicon.svg"


@requires("qa", "admin")
async def qa_home(request: web.Request) -> web.Response:
    return render("qa.html", request)


@requires("admin")
async def admin_home(request: web.Request) -> web.Response:
    return await _render_admin(request)


async def _render_admin(request: web.Request, error: str = "", notice: str = "", status: int = 200) -> web.Response:
    async with request.app[DB].session() as s:
        users = list(await s.scalars(select(User).order_by(User.username)))
    locked = await request.app[THROTTLE].locked_usernames()
    phones = await agent_phones(request.app[DB])
    return render("admin.html", request, {"users": users, "roles": ROLES, "error": error, "notice": notice,
                                          "phones": phones,
                                          "locked": locked}, status=status)


@requires("admin")
async def admin_add_user(request: web.Request) -> web.Response:
    form = await read_form(request)
    admin = current_user(request)
    try:
        user = await add_user(
            request.app[DB], str(form.get("username", "")), str(form.get("password", "")),
            str(form.get("role", "")), display_name=str(form.get("display_name", "")), actor=admin.username)
    except UserError as exc:
        return await _render_admin(request, error=t(request, "admin.not_created", error=exc), status=422)
    return await _render_admin(request, notice=t(request, "admin.created", name=user.username,
                                                  role=t(request, f"role.{user.role}")))


@requires("admin")
async def admin_unlock_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    await unlock_user(request, username)
    return await _render_admin(request, notice=t(request, "admin.unlocked", name=username))


def _back_to(target: str) -> str:
    """Only same-site paths (no open redirect); the start page otherwise."""
    if target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return "/"


@public("the language switch: a logged-in user's choice is stored (CSRF checked here); before login, a cookie")
async def choose_language(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    language = parse_language(str(form.get("language", "")))
    if language is None:
        raise web.HTTPBadRequest(text="language must be zh-CN or en-US")
    user = request.get(USER)
    if isinstance(user, SessionUser):
        sent = str(form.get("csrf_token", ""))
        if not sent or not hmac.compare_digest(sent, user.csrf_token):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
        async with request.app[DB].session() as s:
            await s.execute(update(User).where(User.id == user.id).values(language=language.value))
    response = web.HTTPSeeOther(_back_to(str(form.get("next", "/"))))
    response.set_cookie(LANG_COOKIE, language.value, max_age=365 * 86400, samesite="Lax", httponly=True)
    raise response


@public("the site icon")
async def favicon(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(FAVICON, headers={"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"})


def setup(app: web.Application) -> None:
    app.router.add_post("/language", choose_language)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/qa", qa_home)
    app.router.add_get("/admin", admin_home)
    app.router.add_post("/admin/users", admin_add_user)
    app.router.add_post("/admin/users/{username}/unlock", admin_unlock_user)
