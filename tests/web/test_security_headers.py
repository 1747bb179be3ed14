"""Security headers on every HTML page, a CSP that needs no inline script or style, and the
session cookie marked Secure whenever the public URL is https."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.app import WEB_DIR, create_app
from hotline.settings import load_settings
from hotline.web.access import declared_roles, is_public
from tests.web.conftest import login

DEMO_PASSWORDS = {"agent1": "agent1-demo", "supervisor1": "supervisor1-demo", "qa1": "qa1-demo", "admin": "admin-demo"}
ROLE_USER = {"agent": "agent1", "supervisor": "supervisor1", "qa": "qa1", "admin": "admin"}
PARAM = re.compile(r"\{[^}]+\}")
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def assert_security_headers(headers, where: str) -> None:
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in csp.split(";")) if d}
    assert directives.get("script-src") == ["'self'"], where
    assert directives.get("style-src") == ["'self'"], where
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where


def _get_routes(app) -> list[tuple[str, frozenset[str] | None]]:
    """Every GET route's path (parameters filled with 1) and the roles it admits (None: public)."""
    routes = []
    for route in app.router.routes():
        if route.method != "GET" or route.resource.__class__.__name__ == "StaticResource":
            continue
        roles = None if is_public(route.handler) else declared_roles(route.handler)
        routes.append((PARAM.sub("1", route.resource.canonical), roles))
    return routes


async def test_every_html_page_carries_the_security_headers(aiohttp_client, demo_db, settings):
    app = create_app(settings, demo_db)
    html_pages = set()
    for path, roles in _get_routes(app):
        for role in sorted(roles or {"agent"}):  # each role that may see it; public pages once
            client = await aiohttp_client(create_app(settings, demo_db))
            username = ROLE_USER[role]
            await login(client, username, DEMO_PASSWORDS[username])
            response = await client.get(path, headers=BROWSER, allow_redirects=False)
            if response.content_type == "text/html":
                html_pages.add(path)
                assert_security_headers(response.headers, f"{path} as {role}")
            await client.close()
    anonymous = await aiohttp_client(create_app(settings, demo_db))
    for path in ("/login", "/no-such-page"):
        response = await anonymous.get(path, headers=BROWSER)
        assert response.content_type == "text/html"
        assert_security_headers(response.headers, path)
    assert {"/agent", "/supervisor", "/supervisor/callbacks", "/supervisor/campaigns", "/qa", "/admin"} <= html_pages


async def test_static_files_and_json_are_not_sniffed_or_framed_either(client):
    for path in ("/static/live.js", "/static/hotline.css", "/healthz"):
        response = await client.get(path)
        assert response.status == 200, path
        assert_security_headers(response.headers, path)


async def test_the_websocket_is_allowed_by_connect_src_and_a_forged_host_is_not_echoed(client):
    page = await client.get("/login")
    host = f"127.0.0.1:{client.server.port}"
    connect = next(d for d in page.headers["Content-Security-Policy"].split("; ") if d.startswith("connect-src"))
    assert connect == f"connect-src 'self' ws://{host} wss://{host}"
    forged = await client.get("/login", headers={"Host": "evil.example; script-src *"})
    assert "evil" not in forged.headers["Content-Security-Policy"]
    assert_security_headers(forged.headers, "forged Host")


TEMPLATES = sorted((WEB_DIR / "templates").glob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_template_holds_inline_script_or_style(template: Path):
    html = template.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script\s*>", html, re.S | re.I)
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts), scripts
    assert not re.search(r"\son[a-z]+\s*=", html, re.I), "inline event handler"
    assert "javascript:" not in html.lower()
    assert not re.search(r"<style\b", html, re.I), "inline <style> block"
    assert not re.search(r"\sstyle\s*=", html, re.I), "inline style attribute"


@pytest.mark.parametrize(("public_url", "override", "secure"), [
    ("https://hotline.example.com", None, True),
    ("http://127.0.0.1:8080", None, False),
    ("https://hotline.example.com", "false", False),  # an explicit choice wins
    ("http://10.0.0.5:8080", "true", True),  # TLS ends at a proxy that forwards plain HTTP
])
async def test_the_session_cookie_is_secure_whenever_the_public_url_is_https(aiohttp_client, demo_db, settings,
                                                                             public_url, override, secure):
    environ = {"HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_PUBLIC_URL": public_url}
    if override is not None:
        environ["HOTLINE_SECURITY_COOKIE_SECURE"] = override
    client = await aiohttp_client(create_app(load_settings(environ=environ), demo_db))
    form_page = await client.get("/login")
    form_cookie = form_page.cookies["hotline_login_csrf"]
    assert form_cookie["secure"] == (True if secure else "")
    # a client keeps a Secure cookie for https only: this one (over http) hands it back itself
    token = re.search(r'name="csrf_token" value="([^"]+)"', await form_page.text()).group(1)
    response = await client.post("/login", allow_redirects=False,
                                 data={"username": "admin", "password": "admin-demo", "csrf_token": token},
                                 headers={"Cookie": f"hotline_login_csrf={form_cookie.value}"})
    assert response.status == 303
    assert response.cookies["hotline_session"]["secure"] == (True if secure else "")


def test_the_shipped_default_is_auto_and_not_secure_over_http():
    from hotline.web.sessions import cookie_secure

    settings = load_settings(environ={})
    assert settings.security.cookie_secure == "auto"
    assert settings.public.url.startswith("http://") and cookie_secure(settings) is False
