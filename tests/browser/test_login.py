import pytest

from tests.browser.conftest import log_in

ROLES = [
    ("agent1", "agent1-demo", "/agent", "Agent desktop", "agent"),
    ("supervisor1", "supervisor1-demo", "/supervisor", "Supervisor", "supervisor"),
    ("qa1", "qa1-demo", "/qa", "Quality assurance", "qa"),
    ("admin", "admin-demo", "/admin", "Administration", "admin"),
]


@pytest.mark.parametrize(("username", "password", "landing", "heading", "role"), ROLES)
async def test_each_role_logs_in_and_sees_its_landing_page(browser, live_server, username, password, landing,
                                                           heading, role):
    page = await browser.new_page()
    await log_in(page, live_server, username, password)
    await page.wait_for_url(f"{live_server}{landing}")
    assert await page.text_content("h1") == heading
    assert f"({role})" in await page.text_content("[data-testid=who]")
    await page.click("text=Log out")
    await page.wait_for_url(f"{live_server}/login")


async def test_wrong_password_shows_an_error(browser, live_server):
    page = await browser.new_page()
    await log_in(page, live_server, "supervisor1", "not-the-password")
    assert "Wrong username or password" in await page.text_content("[role=alert]")
