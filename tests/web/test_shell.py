from __future__ import annotations

import pytest
from aiohttp import web

from hotline.web.access import declared_roles, is_public
from tests.web.conftest import csrf_of, login

DEMO = {"agent1": ("agent1-demo", "/agent"), "supervisor1": ("supervisor1-demo", "/supervisor"),
        "qa1": ("qa1-demo", "/qa"), "admin": ("admin-demo", "/admin")}


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200 and body["checks"]["database"] is True


async def test_every_route_declares_its_access(client):
    undeclared = []
    for route in client.server.app.router.routes():
        if route.resource.__class__.__name__ == "StaticResource":
            continue
        if declared_roles(route.handler) is None and not is_public(route.handler):
            undeclared.append(f"{route.method} {route.resource.canonical}")
    assert undeclared == []


async def test_route_without_declared_roles_is_refused(aiohttp_client, demo_db, settings):
    from hotline.app import create_app

    app = create_app(settings, demo_db)

    async def forgotten(request):
        return web.Response(text="secret")

    app.router.add_get("/api/forgotten", forgotten)
    client = await aiohttp_client(app)
    await login(client, "admin", "admin-demo")
    response = await client.get("/api/forgotten")
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


@pytest.mark.parametrize("username", sorted(DEMO))
async def test_login_lands_on_the_role_page(client, username):
    password, landing = DEMO[username]
    response = await login(client, username, password)
    assert response.status == 303 and response.headers["Location"] == landing


async def test_wrong_password_is_refused_and_audited(client, demo_db):
    from sqlalchemy import select

    from audit.models import AuditLog

    response = await login(client, "supervisor1", "nope-nope")
    assert response.status == 401
    assert "Wrong username or password" in await response.text()
    async with demo_db.session() as s:
        actions = [a.action for a in await s.scalars(select(AuditLog))]
    assert "login_failed" in actions


async def test_login_without_csrf_token_is_refused(client):
    response = await client.post("/login", data={"username": "admin", "password": "admin-demo"},
                                 allow_redirects=False)
    assert response.status == 403


async def test_open_redirect_after_login_is_refused(client):
    page = await client.get("/login?next=//evil.example/")
    assert page.status == 200
    response = await login(client, "admin", "admin-demo")
    assert response.headers["Location"] == "/admin"


async def test_api_errors_are_json_401_then_403(client):
    anonymous = await client.get("/api/calls")
    assert anonymous.status == 401
    assert (await anonymous.json())["error"]["code"] == "unauthorized"
    await login(client, "agent1", "agent1-demo")
    agent = await client.get("/api/calls")
    assert agent.status == 403
    assert (await agent.json())["error"]["code"] == "forbidden"


async def test_pages_redirect_to_login_and_forbid_wrong_role(client):
    response = await client.get("/supervisor", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login?next=/supervisor"
    await login(client, "qa1", "qa1-demo")
    assert (await client.get("/supervisor")).status == 403


async def test_api_calls_paginates(client, demo_db):
    from datetime import timedelta

    from calls.models import Call
    from hotline.db import utcnow

    start = utcnow()
    async with demo_db.session() as s:
        for i in range(7):
            s.add(Call(id=f"call-{i}", channel="twilio", caller_number=f"+86138{i:08d}",
                       started_at=start + timedelta(seconds=i)))
    await login(client, "supervisor1", "supervisor1-demo")
    first = await (await client.get("/api/calls?per_page=3")).json()
    assert first["total"] == 7 and [c["id"] for c in first["items"]] == ["call-6", "call-5", "call-4"]
    last = await (await client.get("/api/calls?per_page=3&page=3")).json()
    assert [c["id"] for c in last["items"]] == ["call-0"]
    bad = await client.get("/api/calls?per_page=1000")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_request"


async def test_forms_need_the_session_csrf_token(client):
    await login(client, "admin", "admin-demo")
    forged = await client.post("/admin/users", data={"username": "x1", "password": "long-enough", "role": "qa"})
    assert forged.status == 403
    token = await csrf_of(client, "/admin")
    ok = await client.post("/admin/users", data={"username": "qa2", "password": "long-enough", "role": "qa",
                                                 "csrf_token": token})
    assert ok.status == 200 and "User qa2 (qa) created." in await ok.text()
    weak = await client.post("/admin/users", data={"username": "qa3", "password": "short", "role": "qa",
                                                   "csrf_token": token})
    assert weak.status == 422 and "at least 8 characters" in await weak.text()


async def test_logout_ends_the_session(client):
    await login(client, "supervisor1", "supervisor1-demo")
    token = await csrf_of(client, "/supervisor")
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/api/calls")).status == 401
