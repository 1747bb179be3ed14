"""Login brute force: at most 5 wrong passwords per username and per client address in 15 minutes,
then 429 with Retry-After, counted from the audit log (so a restart forgets nothing), until the
window passes or a supervisor unlocks the user.

Two client addresses are real ones: the server sees 127.0.0.1 and 127.0.0.2 (both loopback on
Linux) as each client's socket is bound to one of them. Time is moved by an injected clock."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

import hotline.web.auth
from audit.models import AuditLog
from hotline.app import create_app
from hotline.db import Database, utcnow
from hotline.web.keys import THROTTLE

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
A, B = "127.0.0.1", "127.0.0.2"
RIGHT = {"admin": "admin-demo", "supervisor1": "supervisor1-demo", "agent1": "agent1-demo"}


@dataclass
class Clock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Server:
    url: str
    app: web.Application
    clock: Clock


async def _serve(app: web.Application, clock: Clock) -> tuple[web.AppRunner, Server]:
    app[THROTTLE].clock = clock
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, Server(f"http://127.0.0.1:{port}", app, clock)


@pytest.fixture
async def server(demo_db, settings) -> AsyncIterator[Server]:
    runner, served = await _serve(create_app(settings, demo_db), Clock())
    yield served
    await runner.cleanup()


class Browser:
    """One client, its socket bound to `address`, keeping its cookies like a browser."""

    def __init__(self, server: Server, address: str) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)),
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def log_in(self, username: str, password: str) -> tuple[int, dict[str, str], str]:
        self.http.cookie_jar.clear()  # logged out: the login form is shown, not the landing page
        return await self.post_login(username, password, await self.csrf("/login"))

    async def post_login(self, username: str, password: str, token: str) -> tuple[int, dict[str, str], str]:
        async with self.http.post(self.server.url + "/login", allow_redirects=False,
                                  data={"username": username, "password": password, "csrf_token": token}) as r:
            return r.status, dict(r.headers), await r.text()

    async def fail(self, username: str, times: int = 1) -> None:
        for _ in range(times):
            status, _, _ = await self.log_in(username, "wrong-password")
            assert status == 401
            self.server.clock.advance(seconds=1)

    async def csrf(self, path: str) -> str:
        async with self.http.get(self.server.url + path) as page:
            return CSRF_RE.search(await page.text()).group(1)

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def browsers(server) -> AsyncIterator[tuple[Browser, Browser]]:
    first, second = Browser(server, A), Browser(server, B)
    yield first, second
    await first.close()
    await second.close()


async def _audit(db: Database, action: str) -> list[AuditLog]:
    async with db.session() as s:
        return list(await s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


async def test_five_wrong_passwords_then_the_right_one_is_refused_with_retry_after(browsers, server, demo_db,
                                                                                    monkeypatch):
    a, _ = browsers
    await a.fail("supervisor1", 5)  # one a second: the first at t0, the fifth at t0+4s, now t0+5s
    checked = []
    real_verify = hotline.web.auth.verify_secret

    async def counting_verify(hashed: str, secret: str) -> bool:
        checked.append(secret)
        return await real_verify(hashed, secret)

    monkeypatch.setattr(hotline.web.auth, "verify_secret", counting_verify)
    status, headers, page = await a.log_in("supervisor1", RIGHT["supervisor1"])

    assert status == 429
    assert headers["Retry-After"] == str(15 * 60 - 5)  # when the first failure leaves the window
    chinese, english = page.index("登录失败次数过多，请在15分钟后再试。"), page.index("Too many failed logins")
    assert chinese < english
    assert checked == []  # refused before argon2 ran
    throttled = await _audit(demo_db, "login_throttled")
    assert [(t.actor, t.target, t.detail["by"]) for t in throttled] == [(f"web:{A}", "supervisor1", "user")]
    async with a.http.get(server.url + "/api/calls") as r:
        assert r.status == 401  # no session was opened


async def test_a_throttled_user_is_refused_from_another_address_too(browsers):
    a, b = browsers
    await a.fail("supervisor1", 5)
    status, headers, _ = await b.log_in("supervisor1", RIGHT["supervisor1"])
    assert status == 429 and int(headers["Retry-After"]) > 0


async def test_an_address_guessing_across_usernames_is_refused_for_every_user(browsers, demo_db):
    a, b = browsers
    for username in ("admin", "supervisor1", "agent1", "qa1", "no-such-user"):
        await b.fail(username)
    status, _, _ = await b.log_in("admin", RIGHT["admin"])
    assert status == 429
    assert (await _audit(demo_db, "login_throttled"))[-1].detail["by"] == "address"
    status, _, _ = await a.log_in("admin", RIGHT["admin"])  # one failure on admin: not throttled
    assert status == 303


async def test_the_limit_survives_a_restart(browsers, settings, demo_db):
    a, _ = browsers
    await a.fail("supervisor1", 5)
    restarted_db = Database(settings.database.url)  # a new process would hold nothing of the old one
    runner, restarted = await _serve(create_app(settings, restarted_db), Clock(a.server.clock.now))
    again = Browser(restarted, A)
    try:
        status, _, _ = await again.log_in("supervisor1", RIGHT["supervisor1"])
    finally:
        await again.close()
        await runner.cleanup()
        await restarted_db.dispose()
    assert status == 429


async def test_the_right_password_works_once_the_window_has_passed(browsers, server):
    a, _ = browsers
    await a.fail("supervisor1", 5)
    server.clock.advance(minutes=15, seconds=-5)  # the first failure is exactly 15 minutes old
    status, headers, _ = await a.log_in("supervisor1", RIGHT["supervisor1"])
    assert status == 429 and headers["Retry-After"] == "1"
    server.clock.advance(seconds=1)
    status, headers, _ = await a.log_in("supervisor1", RIGHT["supervisor1"])
    assert status == 303 and headers["Location"] == "/supervisor"


async def test_a_login_forgives_its_own_address_but_not_another(browsers):
    a, b = browsers
    await a.fail("agent1", 4)
    assert (await a.log_in("agent1", RIGHT["agent1"]))[0] == 303
    await a.fail("agent1", 4)  # the four before the login no longer count
    assert (await a.log_in("agent1", RIGHT["agent1"]))[0] == 303

    await b.fail("supervisor1", 4)
    assert (await a.log_in("supervisor1", RIGHT["supervisor1"]))[0] == 303  # from A
    await b.fail("supervisor1", 1)  # B's fifth: A's login forgave nothing done from B
    assert (await b.log_in("supervisor1", RIGHT["supervisor1"]))[0] == 429


async def test_a_supervisor_unlocks_a_user_and_it_is_audited(browsers, server, demo_db):
    a, b = browsers
    await a.fail("agent1", 5)
    assert (await a.log_in("agent1", RIGHT["agent1"]))[0] == 429
    assert (await b.log_in("supervisor1", RIGHT["supervisor1"]))[0] == 303
    unlock = server.url + "/api/users/agent1/unlock"
    async with b.http.post(unlock) as forged:
        assert forged.status == 403  # no CSRF token
    token = await b.csrf("/supervisor")
    async with b.http.post(server.url + "/api/users/nobody/unlock", headers={"X-CSRF-Token": token}) as r:
        assert r.status == 404
    async with b.http.post(unlock, headers={"X-CSRF-Token": token}) as r:
        assert r.status == 200
        assert await r.json() == {"username": "agent1", "unlocked": True, "failures_forgiven": 5}

    unlocked = await _audit(demo_db, "login_unlocked")
    assert [(u.actor, u.target) for u in unlocked] == [("user:supervisor1", "agent1")]
    status, headers, _ = await a.log_in("agent1", RIGHT["agent1"])  # A's address count was agent1's too
    assert status == 303 and headers["Location"] == "/agent"


async def test_an_agent_may_not_unlock_anyone(browsers, server):
    a, _ = browsers
    assert (await a.log_in("agent1", RIGHT["agent1"]))[0] == 303
    token = await a.csrf("/agent")
    async with a.http.post(server.url + "/api/users/supervisor1/unlock", headers={"X-CSRF-Token": token}) as r:
        assert r.status == 403


async def test_the_admin_page_shows_a_locked_user_with_an_unlock_button(browsers, server, demo_db):
    a, b = browsers
    await a.fail("qa1", 5)
    assert (await b.log_in("admin", RIGHT["admin"]))[0] == 303
    async with b.http.get(server.url + "/admin") as page:
        html = await page.text()
    row = re.search(r'<tr data-username="qa1">.*?</tr>', html, re.S).group(0)
    assert "已锁定（登录失败次数过多）" in row and 'action="/admin/users/qa1/unlock"' in row
    assert "已锁定" not in re.search(r'<tr data-username="agent1">.*?</tr>', html, re.S).group(0)

    token = await b.csrf("/admin")
    async with b.http.post(server.url + "/admin/users/qa1/unlock", data={"csrf_token": token}) as r:
        assert r.status == 200
        assert "已解除 qa1 的登录限制。" in await r.text()
    assert [(u.actor, u.target) for u in await _audit(demo_db, "login_unlocked")] == [("user:admin", "qa1")]
    assert (await a.log_in("qa1", "qa1-demo"))[0] == 303


async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit_checked(server, monkeypatch):
    clients = [Browser(server, A) for _ in range(20)]  # each with its own login form and cookie
    tokens = await asyncio.gather(*(c.csrf("/login") for c in clients))
    checked = []
    real_verify = hotline.web.auth.verify_secret

    async def counting_verify(hashed: str, secret: str) -> bool:
        checked.append(secret)
        return await real_verify(hashed, secret)

    monkeypatch.setattr(hotline.web.auth, "verify_secret", counting_verify)
    try:
        answers = await asyncio.gather(*(c.post_login("admin", f"guess-{i}", token)
                                         for i, (c, token) in enumerate(zip(clients, tokens, strict=True))))
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    assert sorted(status for status, _, _ in answers) == [401] * 5 + [429] * 15
    assert len(checked) == 5
