"""Property: no input makes any route answer 5xx or log a traceback.

Every route in the router (walked, so a new route is covered the day it is added) gets random
query strings, path parameters drawn from its own pattern, and random bodies (forms with our field
names, JSON, raw bytes under assorted content types, broken multipart), as a user of each role it
admits (and anonymously when it is public), always with a valid CSRF token so the request reaches
the handler. The Twilio webhooks get random forms signed with the app's auth token, so they get
past the signature check too.

One app and database serve the whole module (a fresh one per route would cost more than the
requests); sessions are minted straight into the database, so neither a fuzzed /logout nor the
login throttle (which fuzzed logins from this address soon trip) locks the roles out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hotline.app import create_app
from hotline.db import Database
from hotline.demo import load_demo
from hotline.schema import metadata
from hotline.settings import Settings, load_settings
from hotline.staff import User
from hotline.web.access import declared_roles, is_public
from hotline.web.sessions import COOKIE, load_session, open_session
from tests.conftest import PG_URL

pytestmark = pytest.mark.asyncio(loop_scope="module")

PUBLIC_URL = "http://hotline.test"
AUTH_TOKEN = "fuzz-test-token"
USERS = {"agent": "agent1", "supervisor": "supervisor1", "qa": "qa1", "admin": "admin"}
ANONYMOUS = "anonymous"
PARAM = re.compile(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})+))?\}")
CSRF_META = re.compile(r'name="csrf_token" value="([^"]+)"')

# The names our forms, JSON bodies, queries and webhooks read: random values under real names go
# deeper than random names alone.
QUERY_FIELDS = ["page", "per_page", "status", "next", "call", "turn", "agent", "leg"]
FIELDS = ["username", "password", "next", "display_name", "role", "name", "department", "reason", "script",
          "customers", "decision", "note", "notes", "state", "wrapup_code", "ready", "number", "due",
          "customer_id", "outcome", "csrf_token"]
TWILIO_FIELDS = ["CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "Digits", "CallDuration",
                 "QueueResult", "QueueTime", "DialCallStatus", "DialCallDuration", "DialCallSid",
                 "ParentCallSid", "RecordingSid", "RecordingStatus", "RecordingUrl", "RecordingDuration",
                 "RecordingChannels", "AnsweredBy"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
                 "application/x-www-form-urlencoded; charset=klingon", "multipart/form-data",
                 "multipart/form-data; boundary=b0undary", "application/json", "application/json; charset=utf-16",
                 "text/plain", "application/octet-stream"]


def _route_table() -> list[tuple[str, str, frozenset[str] | None]]:
    """(method, path pattern, roles or None for public) of every route but the static files."""
    throwaway = Settings(database={"url": "sqlite+aiosqlite:///:memory:"}, agi={"enabled": False})
    app = create_app(throwaway)
    table = []
    for route in app.router.routes():
        if route.resource is None or route.resource.__class__.__name__ == "StaticResource":
            continue
        if route.method == "HEAD":  # aiohttp adds one per GET; the GET is fuzzed
            continue
        roles = None if is_public(route.handler) else declared_roles(route.handler)
        table.append((route.method, route.resource.canonical, roles))
    return table


ROUTES = _route_table()


# --- strategies --------------------------------------------------------------------------------

SPECIALS = ["", "0", "-1", "1", "²", "٣", "1e999", "NaN", "null", "true", str(2**31), str(2**63), str(10**30),
            "9" * 400, "9" * 5000, "CA" + "0" * 32, "away", "available", "approve", "2030-01-01T09:00:00",
            "+8613800138000", "../..", "%00", "\x00", "<script>", " 1 ", "1_000", "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00"]
# numbers past every integer column (2**31) and past 64 bits (SPECIALS holds one past int()'s 4300 digits)
huge = st.from_regex(r"[1-9][0-9]{9,44}", fullmatch=True)
texts = st.one_of(st.sampled_from(SPECIALS), huge, st.integers().map(str), st.text(max_size=40))


def _fields(names: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Each known name present about half the time, plus a few random names."""
    known = st.fixed_dictionaries({}, optional={name: values for name in names})
    extra = st.dictionaries(st.text(max_size=10), values, max_size=2)
    return st.tuples(known, extra).map(lambda both: {**both[1], **both[0]})


queries = _fields(QUERY_FIELDS, texts)
forms = _fields(FIELDS, texts)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | texts,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                           max_leaves=8)
json_objects = _fields(FIELDS, json_values)


@dataclass(frozen=True)
class Body:
    kind: str  # "form" | "json" | "raw" | "none"
    form: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    content_type: str = ""


bodies = st.one_of(
    st.just(Body("none")),
    forms.map(lambda f: Body("form", form=f)),
    st.one_of(json_objects, json_values).map(
        lambda v: Body("raw", raw=json.dumps(v).encode(), content_type="application/json")),
    st.tuples(st.binary(max_size=200), st.sampled_from(CONTENT_TYPES)).map(
        lambda b: Body("raw", raw=b[0], content_type=b[1])),
    st.text(max_size=60).map(lambda t: Body(
        "raw", content_type="multipart/form-data; boundary=b0undary",
        raw=f'--b0undary\r\nContent-Disposition: form-data; name="username"\r\n\r\n{t}'.encode(errors="replace"))),
)
twilio_forms = _fields(TWILIO_FIELDS, st.one_of(texts, st.from_regex(r"CA[0-9a-f]{32}", fullmatch=True),
                                               st.sampled_from(["completed", "in-progress", "busy", "no-answer",
                                                                "bridged", "hangup", "1#", "*", "#"])))


def _path_strategy(pattern: str) -> st.SearchStrategy[str]:
    """Paths matching the route: each {name:regex} drawn from its regex, {name} from any text."""
    parts: list[st.SearchStrategy[str]] = []
    last = 0
    for match in PARAM.finditer(pattern):
        parts.append(st.just(pattern[last:match.start()]))
        regex = match.group(2) or r"[^{}/]+"
        parts.append(st.from_regex(regex, fullmatch=True).map(lambda v: quote(v, safe="")))
        last = match.end()
    parts.append(st.just(pattern[last:]))
    return st.tuples(*parts).map("".join)


# --- the app, one logged-in client per role -----------------------------------------------------


class ErrorLog(logging.Handler):
    """Collects what is logged at ERROR, or with a traceback, while a request runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    @contextmanager
    def watching(self) -> Iterator[list[logging.LogRecord]]:
        self.records = []
        root = logging.getLogger()
        root.addHandler(self)
        try:
            yield self.records
        finally:
            root.removeHandler(self)


@dataclass
class Fuzzer:
    db: Database
    server: TestServer
    clients: dict[str, aiohttp.ClientSession]  # anonymous, and one logged in per role
    csrf: dict[str, str] = field(default_factory=dict)
    errors: ErrorLog = field(default_factory=ErrorLog)

    async def log_in(self, role: str) -> None:
        """A fresh session for `role`'s demo user, straight into the database and the cookie jar."""
        async with self.db.session() as s:
            user = await s.scalar(select(User).where(User.username == USERS[role]))
        token = await open_session(self.db, user, timedelta(hours=1))
        self.clients[role].cookie_jar.update_cookies({COOKIE: token}, self.server.make_url("/"))
        self.csrf[role] = (await load_session(self.db, token)).csrf_token

    async def still_logged_in(self, role: str) -> None:
        cookie = self.clients[role].cookie_jar.filter_cookies(self.server.make_url("/")).get(COOKIE)
        if cookie is None or await load_session(self.db, cookie.value) is None:
            await self.log_in(role)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fuzzer(tmp_path_factory) -> AsyncIterator[Fuzzer]:
    folder = tmp_path_factory.mktemp("fuzz")
    settings = load_settings(environ={
        "HOTLINE_DATABASE_URL": PG_URL or f"sqlite+aiosqlite:///{folder / 'hotline.db'}",
        "HOTLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "HOTLINE_PUBLIC_URL": PUBLIC_URL, "HOTLINE_AGI_ENABLED": "false",
        "HOTLINE_HTTP_PORT": "0", "HOTLINE_RECORDINGS_DIR": str(folder / "recordings"),
        "HOTLINE_LOGGING_FORMAT": "text"})
    db = Database(settings.database.url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    await load_demo(db, settings)
    server = TestServer(create_app(settings, db))
    await server.start_server()
    base = str(server.make_url(""))
    clients = {who: aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
               for who in (ANONYMOUS, *USERS)}
    fuzzer = Fuzzer(db, server, clients)
    for role in USERS:
        await fuzzer.log_in(role)
    yield fuzzer
    for client in clients.values():
        await client.close()
    await server.close()
    await db.dispose()


async def _send(fuzzer: Fuzzer, who: str, method: str, path: str, query: dict[str, str], body: Body,
                twilio_form: dict[str, str] | None) -> tuple[int, str]:
    client = fuzzer.clients[who]
    if who != ANONYMOUS:
        await fuzzer.still_logged_in(who)  # a fuzzed /logout may have ended the session
    path_qs = path + (f"?{urlencode(query)}" if query else "")
    headers: dict[str, str] = {}
    data: Any = None
    token = fuzzer.csrf.get(who, "")
    if who == ANONYMOUS and method == "POST" and path == "/login":
        async with client.get("/login") as form:  # the double-submit cookie and its token
            token = CSRF_META.search(await form.text()).group(1)
    urlencoded = "application/x-www-form-urlencoded"
    if twilio_form is not None:
        data, headers["Content-Type"] = urlencode(twilio_form).encode(), urlencoded
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path_qs,
                                                                                       twilio_form)
    elif body.kind == "form":
        data, headers["Content-Type"] = urlencode({**body.form, "csrf_token": token}).encode(), urlencoded
    elif body.kind == "raw":
        data = body.raw
        headers["Content-Type"] = body.content_type
    if token:
        headers["X-CSRF-Token"] = token
    async with client.request(method, path_qs, data=data, headers=headers, allow_redirects=False) as response:
        return response.status, (await response.text(errors="replace"))[:300]


@pytest.mark.parametrize(("method", "pattern", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@hypothesis_settings(max_examples=25, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_no_input_makes_a_route_fail_with_5xx_or_a_traceback(fuzzer, method, pattern, roles, data):
    callers = sorted(roles) if roles is not None else [ANONYMOUS, "agent", "supervisor", "admin"]
    who = data.draw(st.sampled_from(callers), label="who")
    path = data.draw(_path_strategy(pattern), label="path")
    query = data.draw(queries, label="query")
    body = data.draw(bodies if method != "GET" else st.just(Body("none")), label="body")
    twilio_form = data.draw(twilio_forms, label="twilio_form") if pattern.startswith("/twilio/") else None
    with fuzzer.errors.watching() as logged:
        status, text = await _send(fuzzer, who, method, path, query, body, twilio_form)
    assert status < 500, f"{method} {path} as {who}: {status} {text}"
    assert [r.getMessage() for r in logged] == [], f"{method} {path} as {who} logged an error"
