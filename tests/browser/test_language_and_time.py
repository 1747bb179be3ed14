"""The desktop and the supervisor view in Chromium: Chinese or English by Accept-Language and by the
user's own switch (kept for their next login), times in the centre's zone for a browser in New
York, the banner while the server is gone, the error pages, and buttons named for screen readers.
Screenshots go to /tmp/ui_*.png."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from sqlalchemy import select

from acd.models import Callback
from acd.ports import WaitingCall
from acd.service import Acd
from hotline.db import Database
from hotline.web.i18n import local_text
from tests.browser.conftest import log_in
from tests.web.desk_support import (
    CONNECTOR,
    LI_WEI_PATH,
    BridgeStandIn,
    add_call,
    agent_id_of,
    build_app,
    customer_id_of,
)

LI_MOBILE = "+8613800138000"
LIVE_MS = 1000
SHANGHAI = ZoneInfo("Asia/Shanghai")
EARLIER = datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC)  # 09:02:03 in Shanghai, 20:02:03 the day before in New York


@dataclass
class Centre:
    url: str
    acd: Acd
    bridge: BridgeStandIn
    db: Database
    runner: web.AppRunner
    stopped: list[bool] = field(default_factory=list)

    async def stop(self) -> None:
        self.stopped.append(True)
        await self.runner.cleanup()


@pytest.fixture
async def centre(demo_db, settings) -> AsyncIterator[Centre]:
    app, acd, bridge = build_app(settings, demo_db)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    centre = Centre(f"http://127.0.0.1:{port}", acd, bridge, demo_db, runner)
    yield centre
    if not centre.stopped:
        await runner.cleanup()


async def _page(browser, centre: Centre, username: str | None, landing: str = "", **context_args):
    context = await browser.new_context(viewport={"width": 1100, "height": 900}, **context_args)
    page = await context.new_page()
    if username:
        await log_in(page, centre.url, username, f"{username}-demo")
        await page.wait_for_url(f"{centre.url}{landing}")
    return page


async def _live(page, word: str) -> None:
    from playwright.async_api import expect

    await expect(page.get_by_test_id("live-status")).to_have_text(word)


async def test_chinese_by_default_english_by_accept_language_and_the_users_own_switch_kept(browser, centre):
    from playwright.async_api import expect

    zh = await _page(browser, centre, None, locale="zh-CN")
    await zh.goto(f"{centre.url}/login")
    assert await zh.get_attribute("html", "lang") == "zh-CN"
    await expect(zh.locator("h1")).to_have_text("登录")
    font = await zh.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in font and "Microsoft YaHei" in font and "PingFang SC" in font
    await log_in(zh, centre.url, "agent1", "agent1-demo")
    await zh.wait_for_url(f"{centre.url}/agent")
    await _live(zh, "已连接")
    await expect(zh.locator("h1")).to_have_text("坐席工作台")
    await expect(zh.get_by_test_id("my-state")).to_have_text("已退出")
    await zh.click("[data-action=available]")
    await expect(zh.get_by_test_id("my-state")).to_have_text("空闲")
    await expect(zh.locator("select[name=reason] option[value=break]")).to_have_text("小休")
    await zh.screenshot(path="/tmp/ui_agent_zh.png", full_page=True)

    en = await _page(browser, centre, "agent2", "/agent", locale="en-US")
    assert await en.get_attribute("html", "lang") == "en-US"
    await _live(en, "live")
    await expect(en.locator("h1")).to_have_text("Agent desktop")
    await expect(en.get_by_test_id("my-state")).to_have_text("Logged out")
    await en.screenshot(path="/tmp/ui_agent_en.png", full_page=True)

    # agent2 prefers Chinese in an English browser: the switch in the header, kept for the next login
    await en.get_by_test_id("language-switch").get_by_role("button", name="中文").click()
    await en.wait_for_url(f"{centre.url}/agent")
    assert await en.get_attribute("html", "lang") == "zh-CN"
    await _live(en, "已连接")
    await expect(en.get_by_test_id("my-state")).to_have_text("已退出")
    elsewhere = await _page(browser, centre, "agent2", "/agent", locale="en-US")
    assert await elsewhere.get_attribute("html", "lang") == "zh-CN"
    await expect(elsewhere.locator("h1")).to_have_text("坐席工作台")


async def test_the_pop_shows_labels_and_every_time_is_shanghai_time_in_a_new_york_browser(browser, centre):
    from playwright.async_api import expect

    agent1 = await agent_id_of(centre.db, "agent1")
    li = await customer_id_of(centre.db, LI_MOBILE)
    await add_call(centre.db, "call-before", customer_id=li, number=LI_MOBILE, verified=True, category="balance",
                   queue="general", steps=[], started_at=EARLIER.replace(tzinfo=None), wrapup_code="balance",
                   notes="asked about fees")
    new_york = {"timezone_id": "America/New_York"}
    desk = await _page(browser, centre, "agent1", "/agent", locale="zh-CN", **new_york)
    assert await desk.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"
    await _live(desk, "已连接")
    await desk.click("[data-action=available]")
    await expect(desk.get_by_test_id("my-state")).to_have_text("空闲")

    await add_call(centre.db, "call-now", customer_id=li, number=LI_MOBILE, verified=False, category="card_loss",
                   queue="cards", steps=LI_WEI_PATH)
    await centre.acd.enqueue(WaitingCall("call-now", "cards", "card_loss", CONNECTOR, customer_id=li,
                                         caller_number=LI_MOBILE))
    offer = await asyncio.wait_for(centre.bridge.offers.get(), 5)
    assert offer.agent_id == agent1
    await expect(desk.get_by_test_id("call-heading")).to_have_text("来电", timeout=LIVE_MS)
    await expect(desk.get_by_test_id("business-category")).to_have_text("挂失")
    await expect(desk.get_by_test_id("verification")).to_have_text("未验证身份")
    path = desk.get_by_test_id("ivr-path")
    await expect(path.locator("li[data-node=main]")).to_have_text("主菜单: 按键 2")
    await expect(path.locator("li.to-agent").first).to_have_text("挂失: 按键 0 ← 在此要求转人工")
    await expect(path).to_contain_text("挂失: 自助：验证银行卡 → 失败")
    await expect(path).to_contain_text("挂失: 输入了保密信息")
    previous = desk.locator("[data-testid=previous-calls] tr[data-call-id=call-before] td")
    await expect(previous).to_have_text(["2026-11-20 09:02:03", "余额查询", "余额查询", "asked about fees"])
    await desk.screenshot(path="/tmp/ui_pop_zh_new_york.png", full_page=True)

    # a callback typed as 09:30 is 09:30 in Shanghai, listed so, though the browser is in New York
    form = desk.get_by_test_id("callback-form")
    await form.locator("input[name=number]").fill(LI_MOBILE)
    await form.locator("input[name=due]").fill("2030-01-02T09:30")
    await form.locator("button").click()
    await expect(desk.get_by_test_id("desk-notice")).to_have_text("回拨已安排。")
    await expect(desk.get_by_test_id("callbacks")).to_contain_text("2030-01-02 09:30")
    async with centre.db.session() as s:
        due = await s.scalar(select(Callback.due_at).where(Callback.agent_id == agent1))
    assert due is not None and due.replace(tzinfo=UTC) == datetime(2030, 1, 2, 1, 30, tzinfo=UTC)

    supervisor = await _page(browser, centre, "supervisor1", "/supervisor", locale="en-US", **new_york)
    await _live(supervisor, "live")
    started = supervisor.locator("[data-testid=recent-calls] tr[data-call-id=call-before] .started")
    await expect(started).to_have_text("2026-11-20 09:02:03")
    since = next(a.since for a in centre.acd.snapshot().agents if a.agent_id == agent1)
    rows = supervisor.locator("[data-testid=agents] tbody tr")
    await expect(supervisor.get_by_role("button", name="Set state of Wang Fang 王芳")).to_have_count(1)
    await expect(rows.locator(f"xpath=self::*[@data-agent-id='{agent1}']").locator(".since")).to_have_text(
        local_text(since, SHANGHAI, "time"))
    never = rows.locator(f"xpath=self::*[not(@data-agent-id='{agent1}')]").locator(".since")
    assert await never.count() >= 1
    await expect(never).to_have_text([""] * await never.count())
    await supervisor.screenshot(path="/tmp/ui_supervisor_en_new_york.png", full_page=True)


async def test_the_desktop_says_when_the_server_is_gone_and_greys_the_state_controls(browser, centre):
    from playwright.async_api import expect

    desk = await _page(browser, centre, "agent1", "/agent", locale="en-US")
    await _live(desk, "live")
    await desk.click("[data-action=available]")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Available")
    banner = desk.get_by_test_id("offline-banner")
    await expect(banner).to_be_hidden()

    await centre.stop()
    await expect(banner).to_be_visible(timeout=5000)
    await expect(banner).to_contain_text("The server cannot be reached")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Not connected")  # not a stale green "Available"
    for control in ("[data-action=available]", "[data-action=logged_out]", "[data-testid=away-form] button",
                    "[data-testid=away-form] select"):
        await expect(desk.locator(control)).to_be_disabled()
    await desk.screenshot(path="/tmp/ui_offline.png", full_page=True)


async def test_styled_error_pages_a_favicon_and_named_buttons(browser, centre):
    from playwright.async_api import expect

    page = await _page(browser, centre, "supervisor1", "/supervisor", locale="zh-CN")
    await _live(page, "已连接")
    await expect(page.get_by_role("button", name="设置 Wang Fang 王芳 的状态")).to_have_count(1)
    await expect(page.get_by_role("combobox", name="Wang Fang 王芳 的新状态")).to_have_count(1)
    icon = await page.get_attribute("link[rel=icon]", "href")
    assert icon == "/static/favicon.svg"
    assert (await page.request.get(f"{centre.url}{icon}")).ok

    response = await page.goto(f"{centre.url}/no/such/page")
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("页面不存在")
    await expect(page.locator(".error-status")).to_have_text("404")
    await expect(page.get_by_text("Not Found")).to_have_count(0)  # aiohttp's English text is not repeated
    assert await page.evaluate("getComputedStyle(document.querySelector('.card')).borderRadius") == "8px"
    await page.screenshot(path="/tmp/ui_404_zh.png", full_page=True)
