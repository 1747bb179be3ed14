from __future__ import annotations

import re

import pytest

from hotline.app import create_app

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def client(aiohttp_client, demo_db, settings):
    # these tests read the pages' English words; tests/web/test_i18n.py covers zh-CN, the default
    return await aiohttp_client(create_app(settings, demo_db), headers={"Accept-Language": "en-US"})


async def login(client, username: str, password: str, *, follow: bool = False):
    page = await client.get("/login")
    token = CSRF_RE.search(await page.text()).group(1)
    return await client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                             allow_redirects=follow)


async def csrf_of(client, path: str) -> str:
    page = await client.get(path)
    return CSRF_RE.search(await page.text()).group(1)
