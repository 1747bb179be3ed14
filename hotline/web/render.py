"""Page rendering with the logged-in user, their language and the centre's clock in every template's context.

aiohttp_jinja2's context-processor middleware stores its state under a plain string request key,
which aiohttp 3.14 warns about; adding the user here keeps that middleware out."""

from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from hotline.web import i18n
from hotline.web.i18n import Language
from hotline.web.keys import ACD

USER = web.RequestKey("user", object)  # SessionUser | None, set by the auth middleware
LANG_COOKIE = "hotline_lang"  # the switch's choice before login (the login page); a user's choice is stored
CENTRE_ZONE = "Asia/Shanghai"  # when no ACD runs in this app


def request_language(request: web.Request, default: Language = i18n.DEFAULT) -> Language:
    """The user's stored choice, else the switch's cookie, else the browser's Accept-Language, else
    `default`: zh-CN for pages; the JSON API passes en-US, for scripts that name no language."""
    stored = i18n.parse_language(getattr(request.get(USER), "language", None))
    return (stored or i18n.parse_language(request.cookies.get(LANG_COOKIE))
            or i18n.negotiate(request.headers.get("Accept-Language"), default) or default)


def centre_zone(request: web.Request) -> tzinfo:
    acd = request.app.get(ACD)
    return acd.config.zone if acd is not None else ZoneInfo(CENTRE_ZONE)


def t(request: web.Request, key: str, **values: object) -> str:
    """A page's words."""
    return i18n.translate(request_language(request), key, **values)


def api_t(request: web.Request, key: str, **values: object) -> str:
    """A JSON answer's words: the user's language, English for a client that names none."""
    return i18n.translate(request_language(request, Language.EN), key, **values)


def render(template: str, request: web.Request, context: dict[str, Any] | None = None,
           status: int = 200) -> web.Response:
    lang, zone = request_language(request), centre_zone(request)
    frame = {
        "user": request.get(USER), "lang": lang.value, "zone": str(zone), "here": request.path_qs,
        "t": lambda key, **values: i18n.translate(lang, key, **values),
        "label": lambda family, code: i18n.label(lang, family, code),
        "local": lambda moment, form="datetime": i18n.local_text(moment, zone, form),
        "languages": i18n.LANGUAGES,
        "js_strings": json.dumps(i18n.js_strings(lang), ensure_ascii=False, separators=(",", ":")),
    }
    return aiohttp_jinja2.render_template(template, request, {**frame, **(context or {})}, status=status)
