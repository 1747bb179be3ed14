"""Each role's landing page, and user administration."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hotline.roles import ROLES
from hotline.staff import User
from hotline.users import UserError, add_user
from hotline.web.access import requires
from hotline.web.auth import unlock_user
from hotline.web.bodies import read_form
from hotline.web.keys import DB, THROTTLE
from hotline.web.middleware import current_user
from hotline.web.render import render


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
    return render("admin.html", request, {"users": users, "roles": ROLES, "error": error, "notice": notice,
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
        return await _render_admin(request, error=str(exc), status=422)
    return await _render_admin(request, notice=f"User {user.username} ({user.role}) created.")


@requires("admin")
async def admin_unlock_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    await unlock_user(request, username)
    return await _render_admin(request, notice=f"已解除 {username} 的登录限制。{username} may log in again.")


def setup(app: web.Application) -> None:
    app.router.add_get("/qa", qa_home)
    app.router.add_get("/admin", admin_home)
    app.router.add_post("/admin/users", admin_add_user)
    app.router.add_post("/admin/users/{username}/unlock", admin_unlock_user)
