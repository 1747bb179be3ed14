"""Page rendering with the logged-in user in every template's context.

aiohttp_jinja2's context-processor middleware stores its state under a plain string request key,
which aiohttp 3.14 warns about; adding the user here keeps that middleware out."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

USER = web.RequestKey("user", object)  # SessionUser | None, set by the auth middleware


def render(template: str, request: web.Request, context: dict[str, Any] | None = None,
           status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, {"user": request.get(USER), **(context or {})},
                                          status=status)
