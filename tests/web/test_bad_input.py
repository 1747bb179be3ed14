"""Bad input gets a 400 (a page for a browser, the JSON error body under /api/), never a 500 and
never a traceback in the log."""

from __future__ import annotations

import inspect
import logging
import re

import pytest

from hotline.web.api import MAX_PAGE
from tests.web.conftest import CSRF_RE, csrf_of, login

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
BROKEN_FORMS = {
    "a boundary that is not in the body": ("multipart/form-data; boundary=abc", b"garbage"),
    "no boundary at all": ("multipart/form-data", b"--abc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1"),
    "a truncated part": ("multipart/form-data; boundary=abc",
                         b"--abc\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nadm"),
    "a part header without a colon": ("multipart/form-data; boundary=abc",
                                      b"--abc\r\nnonsense\r\n\r\n1\r\n--abc--\r\n"),
    "a part without a name": ("multipart/form-data; boundary=abc", b"--abc\r\n\r\n1\r\n--abc--\r\n"),
    "an unknown transfer encoding": ("multipart/form-data; boundary=abc",
                                     b"--abc\r\nContent-Transfer-Encoding: x-rot13\r\n"
                                     b"Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--abc--\r\n"),
    "an unknown charset": ("application/x-www-form-urlencoded; charset=klingon", b"username=admin"),
    "bytes that are not UTF-8": ("application/x-www-form-urlencoded", b"\xff\xfe=1"),
    "a NUL character": ("application/x-www-form-urlencoded", b"username=ad%00min"),
}


def logged_errors(caplog) -> list[str]:
    """What was logged at ERROR or with a traceback."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("case", sorted(BROKEN_FORMS))
async def test_a_broken_login_form_is_a_400_page(client, caplog, case):
    content_type, body = BROKEN_FORMS[case]
    response = await client.post("/login", data=body, headers={"Content-Type": content_type, **BROWSER})
    assert response.status == 400
    assert response.content_type == "text/html"
    assert "Error 400" in await response.text()
    assert logged_errors(caplog) == []


async def test_a_broken_form_from_a_logged_in_user_is_a_400_before_the_csrf_check(client, caplog):
    await login(client, "admin", "admin-demo")
    content_type, body = BROKEN_FORMS["a truncated part"]
    response = await client.post("/admin/users", data=body, headers={"Content-Type": content_type})
    assert response.status == 400
    assert logged_errors(caplog) == []


async def test_a_broken_form_to_the_api_is_the_json_error_body(client, caplog):
    await login(client, "supervisor1", "supervisor1-demo")
    content_type, body = BROKEN_FORMS["a boundary that is not in the body"]
    response = await client.post("/api/campaigns/1/decision", data=body, headers={"Content-Type": content_type})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"
    assert logged_errors(caplog) == []


def _paginated(app) -> list[tuple[str, bool]]:
    """Every GET route whose handler reads ?page= through page_args, and whether it is JSON."""
    found = []
    for route in app.router.routes():
        if route.method == "GET" and "page_args(" in inspect.getsource(route.handler):
            found.append((route.resource.canonical, route.resource.canonical.startswith("/api/")))
    return found


@pytest.mark.parametrize("query", [f"page={10**30}", "page=abc", "page=0", "page=-1", f"page={MAX_PAGE + 1}",
                                   f"per_page={10**30}", "per_page=0", "page=1.5", "page=" + "9" * 5000])
async def test_every_paginated_route_answers_a_bad_page_with_a_400(client, caplog, query):
    await login(client, "supervisor1", "supervisor1-demo")
    routes = _paginated(client.server.app)
    assert {"/api/calls", "/api/supervision/callbacks", "/supervisor/callbacks"} <= {path for path, _ in routes}
    for path, is_json in routes:
        response = await client.get(f"{path}?{query}", headers=BROWSER)
        assert response.status == 400, path
        if is_json:
            error = (await response.json())["error"]
            assert error["code"] == "bad_request" and "page" in error["message"], path
        else:
            assert "Error 400" in await response.text(), path
    assert logged_errors(caplog) == []


async def test_the_last_page_that_fits_a_64_bit_offset_is_served_empty(client):
    await login(client, "supervisor1", "supervisor1-demo")
    for path, is_json in _paginated(client.server.app):
        response = await client.get(f"{path}?page={MAX_PAGE}&per_page=200")
        assert response.status == 200, path
        if is_json:
            assert (await response.json())["items"] == []


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json; charset=klingon", b"{}"),
    ("application/json", b"\xff\xfe"),
    ("application/json", b"[" * 100_000 + b"]" * 100_000),
    ("application/json", b'{"state": "away", "reason": "break\\u0000"}'),
])
async def test_an_unreadable_json_body_is_a_422_with_the_json_error_body(client, caplog, content_type, body):
    await login(client, "agent1", "agent1-demo")
    page = await client.get("/agent")
    token = re.search(r'name="csrf-token" content="([^"]+)"', await page.text()).group(1)
    response = await client.post("/api/desktop/state", data=body,
                                 headers={"Content-Type": content_type, "X-CSRF-Token": token})
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "invalid"
    assert logged_errors(caplog) == []


async def test_a_nul_in_the_query_or_path_is_a_400(client, caplog):
    await login(client, "supervisor1", "supervisor1-demo")
    for path in ("/api/calls?page=1%00", "/api/campaigns/departments/cards%00x", "/supervisor?x%00=1"):
        response = await client.get(path)
        assert response.status == 400, path
    assert logged_errors(caplog) == []


async def test_a_customer_list_with_superscript_digits_is_refused_not_a_500(client, caplog):
    await login(client, "supervisor1", "supervisor1-demo")
    token = await csrf_of(client, "/supervisor/campaigns")
    response = await client.post("/supervisor/campaigns", data={
        "csrf_token": token, "name": "Card renewal", "department": "cards", "reason": "expiring cards",
        "script": "Hello", "customers": "1\n²"})
    assert response.status == 422
    assert "not a customer number or phone number: ²" in await response.text()
    assert logged_errors(caplog) == []


async def test_a_display_name_longer_than_its_column_is_refused(client, caplog):
    await login(client, "admin", "admin-demo")
    token = CSRF_RE.search(await (await client.get("/admin")).text()).group(1)
    response = await client.post("/admin/users", data={"csrf_token": token, "username": "qa9", "role": "qa",
                                                       "password": "long-enough", "display_name": "名" * 101})
    assert response.status == 422 and "at most 100 characters" in await response.text()
    assert logged_errors(caplog) == []


async def test_a_callback_due_past_the_last_storable_moment_is_a_422(client, caplog):
    await login(client, "agent1", "agent1-demo")
    page = await client.get("/agent")
    token = re.search(r'name="csrf-token" content="([^"]+)"', await page.text()).group(1)
    response = await client.post("/api/desktop/callbacks", headers={"X-CSRF-Token": token},
                                 json={"number": "+8613800138000", "due": "9999-12-31T23:59:59-12:00"})  # year 10000 in UTC
    assert response.status == 422
    assert (await response.json())["error"]["message"] == "due: the callback time is out of range"
    assert logged_errors(caplog) == []
