"""Security headers on every response: a Content-Security-Policy that allows only our own scripts
and styles (the templates hold no inline script, event handler or style: everything is in
/static), no framing, no MIME sniffing, and no referrer leaving the site.

Set from `on_response_prepare`, so they reach every response, pages and JSON alike, including
error pages, static files and responses raised as HTTP exceptions."""

from __future__ import annotations

import re

from aiohttp import web

_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# A Host we may echo into connect-src: a name or address and a port, nothing that could end the
# directive (;) or add a source (space).
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

FIXED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(host: str) -> str:
    """connect-src: our origin and its websocket (/ws/live). CSP 3 browsers count ws(s) to our own
    host as 'self'; older ones need it spelled out, for both schemes, since TLS may end at a proxy."""
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return f"{_POLICY}; connect-src 'self'{sockets}"


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in FIXED.items():
        headers.setdefault(name, value)
    headers.setdefault("Content-Security-Policy", content_security_policy(request.host))


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)
