"""The agent desktop and the supervisor's live view under the Content-Security-Policy, in a real
browser: no violation is reported, the styles moved out of the templates still apply, and the live
view (the websocket, allowed by connect-src) still updates within a second."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests.browser.conftest import log_in
from tests.web.desk_support import agent_id_of, build_app

LIVE_MS = 1000
# Collects violations from the first moment of every page (Playwright injects this outside the
# page's CSP, so the collector itself is not subject to it).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@dataclass
class Watched:
    page: object
    console_errors: list[str] = field(default_factory=list)
    csp_header: str = ""

    async def violations(self) -> list[str]:
        return await self.page.evaluate("window.__cspViolations")  # type: ignore[attr-defined]


@pytest.fixture
async def centre(demo_db, settings) -> AsyncIterator[tuple[str, object]]:
    app, acd, _ = build_app(settings, demo_db)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", demo_db
    await runner.cleanup()


async def _open(browser, url: str, username: str, landing: str) -> Watched:
    context = await browser.new_context()
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    watched = Watched(page)
    page.on("console", lambda m: watched.console_errors.append(m.text) if m.type == "error" else None)
    await log_in(page, url, username, f"{username}-demo")
    await page.wait_for_url(f"{url}{landing}")
    response = await page.reload()
    watched.csp_header = (await response.all_headers()).get("content-security-policy", "")
    return watched


async def test_desktop_and_supervisor_run_under_the_csp_with_no_violation_and_live_updates(browser, centre):
    from playwright.async_api import expect

    url, db = centre
    agent1 = await agent_id_of(db, "agent1")
    desk = await _open(browser, url, "agent1", "/agent")
    supervisor = await _open(browser, url, "supervisor1", "/supervisor")
    for watched in (desk, supervisor):
        assert "script-src 'self'" in watched.csp_header and "unsafe-inline" not in watched.csp_header
        await expect(watched.page.get_by_test_id("live-status")).to_have_text("live")

    await desk.page.click("[data-action=available]")  # the agent's change reaches the supervisor live
    agent_row = supervisor.page.locator(f"tr[data-agent-id='{agent1}'] .agent-state")
    await expect(agent_row).to_have_text("Available", timeout=LIVE_MS)
    force = supervisor.page.get_by_test_id(f"force-{agent1}")  # and the supervisor's reaches the agent
    await force.locator("select").select_option("away:meeting")
    await force.locator("button").click()
    await expect(desk.page.get_by_test_id("my-state")).to_have_text("Away (meeting)", timeout=LIVE_MS)

    # the rules that were inline <style> blocks now come from hotline.css
    assert await desk.page.eval_on_selector(".desk", "e => getComputedStyle(e).display") == "grid"
    assert await desk.page.eval_on_selector("[data-testid=desk-error]", "e => getComputedStyle(e).display") == "none"
    assert await supervisor.page.eval_on_selector(
        "[data-testid=sup-error]", "e => getComputedStyle(e).display") == "none"

    for watched in (desk, supervisor):
        assert await watched.violations() == []
        assert [e for e in watched.console_errors if "Content Security Policy" in e] == []


async def test_the_violation_collector_sees_inline_script_and_style(browser, centre):
    """The control for the test above: an inline handler and an inline style are refused and reported."""
    url, _ = centre
    desk = await _open(browser, url, "agent1", "/agent")
    await desk.page.evaluate("""() => document.body.insertAdjacentHTML("beforeend",
        '<img src="/static/none.png" onerror="window.__ran = true"><p style="color:red">x</p>')""")
    await desk.page.wait_for_function("window.__cspViolations.length >= 2")
    directives = " ".join(await desk.violations())
    assert "script-src" in directives and "style-src" in directives
    assert await desk.page.evaluate("window.__ran === undefined")
