"""The web UI's two languages: the table is complete, every word the pages and scripts ask for
exists, the language follows the user's stored choice, then the switch's cookie, then the
browser's Accept-Language, and zh-CN when nothing says otherwise; error pages and the favicon."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from sqlalchemy import select

from acd.states import AgentState, AwayReason
from hotline.app import create_app
from hotline.roles import ROLES
from hotline.staff import User
from hotline.web import i18n
from hotline.web.access import public
from hotline.web.i18n import STRINGS, Language, label, negotiate, translate
from tests.web.conftest import login

WEB = Path(__file__).resolve().parents[2] / "hotline" / "web"
CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize(("header", "expected"), [
    (None, Language.ZH),
    ("", Language.ZH),
    ("en-US,en;q=0.9", Language.EN),
    ("en-GB", Language.EN),
    ("zh-TW,zh;q=0.9,en;q=0.8", Language.ZH),
    ("fr-FR, en;q=0.5", Language.EN),
    ("en;q=0.4, zh-CN;q=0.8", Language.ZH),
    ("de-DE, fr;q=0.9", Language.ZH),
    ("en;q=0, zh;q=0.1", Language.ZH),
    ("*", Language.ZH),
    ("en;q=abc, ;;;, zh-Hans-CN", Language.ZH),
])
def test_accept_language_picks_the_best_ranked_language_we_serve_and_chinese_otherwise(header, expected) -> None:
    assert negotiate(header) is expected


def test_every_string_exists_in_both_languages() -> None:
    assert STRINGS[Language.ZH].keys() == STRINGS[Language.EN].keys()
    for lang in Language:
        empty = [key for key, text in STRINGS[lang].items() if not text.strip()]
        assert not empty, (lang, empty)
    # the Chinese table is Chinese: no entry is left as the English text (names of products aside)
    same = {k for k in STRINGS[Language.ZH] if STRINGS[Language.ZH][k] == STRINGS[Language.EN][k]}
    assert same <= {"channel.twilio", "channel.asterisk"}, same


def _keys_used(pattern: str, files: list[Path]) -> set[str]:
    """Literal keys; a key built at run time ("role." ~ user.role) is checked by its family below."""
    return {key for path in files for key in re.findall(pattern, path.read_text(encoding="utf-8"))
            if not key.endswith(".")}


def test_every_word_the_templates_and_scripts_ask_for_is_in_the_table() -> None:
    templates = _keys_used(r"""\bt\(\s*["']([a-z_.0-9]+)["']""", sorted((WEB / "templates").glob("*.html")))
    scripts = _keys_used(r"""\bt\(\s*"([a-z_.0-9]+)\"""", sorted((WEB / "static").glob("*.js")))
    python = _keys_used(r"""\bt\(request, "([a-z_.0-9]+)\"""", sorted(WEB.glob("*.py")))
    assert len(templates) > 100 and len(scripts) > 40 and python
    assert not (templates | python) - STRINGS[Language.EN].keys()
    assert not scripts - STRINGS[Language.EN].keys()
    # and the scripts receive every word they ask for
    assert not scripts - i18n.js_strings(Language.ZH).keys()
    built = [f"role.{role}" for role in ROLES] + [f"error.{status}" for status in (403, 404, 500)]
    built += [f"error.{status}.explain" for status in (403, 404, 500)] + ["camp.approved", "camp.rejected"]
    assert not set(built) - STRINGS[Language.EN].keys()


def test_states_reasons_categories_queues_and_menus_have_labels_in_both_languages() -> None:
    queues = yaml.safe_load((CONFIG / "acd" / "queues.yaml").read_text(encoding="utf-8"))
    menus = yaml.safe_load((CONFIG / "ivr" / "menus.yaml").read_text(encoding="utf-8"))
    codes = ([("agent_state", s.value) for s in AgentState] + [("away", r.value) for r in AwayReason]
             + [("category", c) for c in queues["categories"]] + [("queue", q) for q in queues["queues"]]
             + [("node", n) for n in menus["nodes"]])
    for lang in Language:
        missing = [(family, code) for family, code in codes if f"{family}.{code}" not in STRINGS[lang]]
        assert not missing, (lang, missing)
    assert label(Language.ZH, "away", "phone_unreachable") == "话机无法接通"
    assert label(Language.ZH, "category", "card_loss") == "挂失"
    assert label(Language.EN, "category", "card_loss") == "Card loss"
    assert label(Language.ZH, "node", "main") == "主菜单"
    assert label(Language.EN, "category", "new_business") == "new business"  # a category added to the yaml later
    assert label(Language.EN, "category", None) == ""
    assert translate(Language.EN, "sup.set_state_of", name="王芳") == "Set state of 王芳"
    assert translate(Language.ZH, "sup.set_state_of", name="王芳") == "设置 王芳 的状态"


async def test_pages_default_to_chinese_and_follow_accept_language(client) -> None:
    zh = await client.get("/login", headers={"Accept-Language": ""})
    text = await zh.text()
    assert '<html lang="zh-CN">' in text and "<h1>登录</h1>" in text and 'data-lang="zh-CN"' in text
    en = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    text = await en.text()
    assert '<html lang="en-US">' in text and "<h1>Log in</h1>" in text
    assert '<link rel="icon" href="/static/favicon.svg"' in text


async def test_the_switch_before_login_sets_a_cookie_and_a_logged_in_users_choice_is_stored(client, demo_db) -> None:
    switched = await client.post("/language", data={"language": "zh-CN", "next": "/login"}, allow_redirects=False)
    assert switched.status == 303 and switched.headers["Location"] == "/login"
    text = await (await client.get("/login")).text()  # the client says en-US; the cookie wins
    assert '<html lang="zh-CN">' in text

    assert (await login(client, "agent1", "agent1-demo")).status == 303
    page = await (await client.get("/agent")).text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    refused = await client.post("/language", data={"language": "en-US", "next": "/agent"}, allow_redirects=False)
    assert refused.status == 403  # a logged-in user's stored choice needs their CSRF token
    bad = await client.post("/language", data={"language": "fr-FR", "csrf_token": csrf}, allow_redirects=False)
    assert bad.status == 400
    evil = await client.post("/language", data={"language": "en-US", "csrf_token": csrf,
                                                "next": "//evil.example/"}, allow_redirects=False)
    assert evil.status == 303 and evil.headers["Location"] == "/"
    async with demo_db.session() as s:
        assert await s.scalar(select(User.language).where(User.username == "agent1")) == "en-US"

    client.session.cookie_jar.clear(lambda c: c.key == "hotline_lang")  # another browser: only the stored choice
    assert (await client.post("/logout", data={"csrf_token": csrf})).status in (200, 303)
    assert (await login(client, "agent1", "agent1-demo")).status == 303
    page = await (await client.get("/agent", headers={"Accept-Language": "zh-CN"})).text()
    assert '<html lang="en-US">' in page and "<h1>Agent desktop</h1>" in page
    assert '<option value="phone_unreachable">' not in page  # only the PBX sets it
    assert '<option value="card_loss">Card loss</option>' in page


async def test_the_desktop_and_supervisor_pages_in_chinese(client) -> None:
    assert (await login(client, "supervisor1", "supervisor1-demo")).status == 303
    page = await (await client.get("/supervisor", headers={"Accept-Language": "zh-CN"})).text()
    assert "<h1>班长席</h1>" in page and "<h2>坐席话机</h2>" in page and "最近通话" in page
    assert "暂离：话机无法接通" not in page and "暂离：小休" in page  # the force menu: the reasons a person may set
    assert "已退出" in page  # agents' states as words, not logged_out
    assert "logged_out</td>" not in page
    strings = re.search(r'data-strings="([^"]*)"', page).group(1)
    assert "&#34;" in strings or "&quot;" in strings  # JSON for the scripts, escaped in the attribute
    assert 'data-zone="Asia/Shanghai"' in page


async def test_not_found_and_internal_error_pages_are_styled_in_the_users_language(settings, demo_db,
                                                                                   aiohttp_client) -> None:
    @public("a test route that fails")
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaput")

    app = create_app(settings, demo_db)
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    html = {"Accept": "text/html"}
    missing = await client.get("/no/such/page", headers=html)
    text = await missing.text()
    assert missing.status == 404 and 'data-testid="error-page" data-status="404"' in text
    assert "<h1>页面不存在</h1>" in text and '<link rel="stylesheet" href="/static/hotline.css">' in text
    missing_en = await client.get("/no/such/page", headers={**html, "Accept-Language": "en-US"})
    assert "<h1>Not found</h1>" in await missing_en.text()
    failed = await client.get("/boom", headers={**html, "Accept-Language": "en-US"})
    text = await failed.text()
    assert failed.status == 500 and "<h1>Something went wrong</h1>" in text and "kaput" not in text
    assert "it has been logged" in text
    api = await client.get("/api/no-such-thing")
    assert api.status == 404 and (await api.json())["error"]["code"] == "not_found"


async def test_the_favicon_is_served(client) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status == 200 and icon.content_type == "image/svg+xml" and b"<svg" in await icon.read()
    static = await client.get("/static/favicon.svg")
    assert static.status == 200
