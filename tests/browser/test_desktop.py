"""The agent desktop and the supervisor's live view in a real browser (Debian chromium), against the
real app over TCP with a real Acd. Calls are routed by the Acd; the bridge is the in-process stand-in
(tests/web/desk_support.py), which the ACD asks to ring agents exactly as it asks Twilio or Asterisk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from sqlalchemy import select

from acd.models import RoutingEvent
from acd.ports import WaitingCall
from acd.service import Acd
from audit.models import AuditLog
from calls.models import Call
from hotline.db import Database
from hotline.telephony import asterisk
from hotline.twilio_walker import FarEnd
from tests.browser.conftest import log_in
from tests.standins.asterisk import FakeAgiCall
from tests.standins.twilio import TwilioStandIn
from tests.twilio.harness import PUBLIC_URL, twilio_settings
from tests.web.desk_support import (
    CONNECTOR,
    LI_WEI_PATH,
    BridgeStandIn,
    add_call,
    agent_id_of,
    always_open,
    build_app,
    customer_id_of,
)

LI_MOBILE = "+8613800138000"
LIVE_MS = 1000  # the promise: state changes show within a second, without reloading


@dataclass
class Centre:
    url: str
    acd: Acd
    bridge: BridgeStandIn
    db: Database


@pytest.fixture
async def centre(demo_db, settings) -> AsyncIterator[Centre]:
    app, acd, bridge = build_app(settings, demo_db)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Centre(f"http://127.0.0.1:{port}", acd, bridge, demo_db)
    await runner.cleanup()


async def _page_for(browser, centre: Centre, username: str, landing: str):
    context = await browser.new_context()
    page = await context.new_page()
    await log_in(page, centre.url, username, f"{username}-demo")
    await page.wait_for_url(f"{centre.url}{landing}")
    return page


async def _live(page) -> None:
    from playwright.async_api import expect

    await expect(page.get_by_test_id("live-status")).to_have_text("live")


async def test_agent_takes_a_routed_call_and_wraps_up_while_the_supervisor_watches(browser, centre):
    from playwright.async_api import expect

    agent1 = await agent_id_of(centre.db, "agent1")
    supervisor = await _page_for(browser, centre, "supervisor1", "/supervisor")
    await _live(supervisor)
    agent_row = supervisor.locator(f"[data-testid=agents] tr[data-agent-id='{agent1}'] .agent-state")
    await expect(agent_row).to_have_text("Logged out")

    desk = await _page_for(browser, centre, "agent1", "/agent")
    await _live(desk)
    await expect(desk.get_by_test_id("my-state")).to_have_text("Logged out")
    await desk.click("[data-action=available]")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Available")
    await expect(agent_row).to_have_text("Available", timeout=LIVE_MS)

    li = await customer_id_of(centre.db, LI_MOBILE)
    await add_call(centre.db, "call-browser-1", customer_id=li, number=LI_MOBILE, verified=False,
                   category="card_loss", queue="cards", steps=LI_WEI_PATH)
    await centre.acd.enqueue(WaitingCall("call-browser-1", "cards", "card_loss", CONNECTOR, customer_id=li,
                                         caller_number=LI_MOBILE))
    offer = await asyncio.wait_for(centre.bridge.offers.get(), 5)
    assert offer.agent_id == agent1

    card = desk.get_by_test_id("call-card")
    await expect(card).to_be_visible(timeout=LIVE_MS)
    await expect(desk.get_by_test_id("call-heading")).to_have_text("Incoming call")
    await expect(desk.get_by_test_id("customer-name")).to_have_text("李伟 (Li Wei)")
    await expect(desk.get_by_test_id("verification")).to_have_text("NOT verified")
    await expect(desk.get_by_test_id("business-category")).to_have_text("Card loss")
    pressed_zero = desk.locator("[data-testid=ivr-path] li.to-agent")
    await expect(pressed_zero.first).to_contain_text("Card loss: pressed 0 ← asked for an agent here")
    await expect(desk.get_by_test_id("ivr-path")).to_contain_text("self-service: check the card → failed")
    await expect(desk.get_by_test_id("open-tickets")).to_have_text("No open tickets")
    await expect(agent_row).to_have_text("Ringing", timeout=LIVE_MS)
    await expect(supervisor.get_by_test_id("activity")).to_contain_text("offered Wang Fang", timeout=LIVE_MS)

    await centre.acd.offer_answered("call-browser-1", agent1)
    await expect(desk.get_by_test_id("call-heading")).to_have_text("On call", timeout=LIVE_MS)
    await expect(agent_row).to_have_text("On a call", timeout=LIVE_MS)
    await centre.acd.call_ended("call-browser-1", "completed")

    wrapup = desk.get_by_test_id("wrapup-form")
    await expect(wrapup).to_be_visible(timeout=LIVE_MS)
    await wrapup.locator("select[name=wrapup_code]").select_option("card_loss")
    await wrapup.locator("textarea[name=notes]").fill("Card blocked, replacement posted")
    await wrapup.locator("input[name=ready]").check()
    await wrapup.locator("button[type=submit]").click()
    await expect(desk.get_by_test_id("desk-notice")).to_have_text("Wrap-up saved.")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Available", timeout=LIVE_MS)
    await expect(agent_row).to_have_text("Available", timeout=LIVE_MS)
    async with centre.db.session() as s:
        call = await s.get(Call, "call-browser-1")
    assert (call.wrapup_code, call.notes) == ("card_loss", "Card blocked, replacement posted")


async def test_supervisor_forces_a_state_and_the_agent_sees_it_live(browser, centre):
    from playwright.async_api import expect

    agent1 = await agent_id_of(centre.db, "agent1")
    desk = await _page_for(browser, centre, "agent1", "/agent")
    await _live(desk)
    await desk.click("[data-action=available]")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Available")

    supervisor = await _page_for(browser, centre, "supervisor1", "/supervisor")
    await _live(supervisor)
    force = supervisor.get_by_test_id(f"force-{agent1}")
    await force.locator("select").select_option("away:meeting")
    await force.locator("button").click()
    await expect(supervisor.get_by_test_id("sup-notice")).to_contain_text("is now Away")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Away (meeting)", timeout=LIVE_MS)
    await expect(supervisor.get_by_test_id("activity").locator("li").first).to_contain_text("Away (meeting)")
    async with centre.db.session() as s:
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "agent_state_forced"))
    assert audit is not None and audit.actor == "user:supervisor1"


async def test_a_failed_action_shows_a_clear_error(browser, centre):
    from playwright.async_api import expect

    desk = await _page_for(browser, centre, "agent1", "/agent")
    await _live(desk)
    await desk.get_by_test_id("away-form").locator("select").select_option("break")
    await desk.get_by_test_id("away-form").locator("button").click()
    await expect(desk.get_by_test_id("desk-error")).to_contain_text("is logged out: log in first")
    await expect(desk.get_by_test_id("my-state")).to_have_text("Logged out")


async def test_agent_schedules_a_callback_from_the_desktop(browser, centre):
    from playwright.async_api import expect

    desk = await _page_for(browser, centre, "agent1", "/agent")
    form = desk.get_by_test_id("callback-form")
    await form.locator("input[name=number]").fill(LI_MOBILE)
    await form.locator("input[name=due]").fill("2030-01-02T10:30")
    await form.locator("input[name=note]").fill("check the refund")
    await form.locator("button").click()
    await expect(desk.get_by_test_id("desk-notice")).to_have_text("Callback scheduled.")
    await expect(desk.get_by_test_id("callbacks")).to_contain_text("check the refund")


# --- end to end: two agents, calls from the Twilio and AGI stand-ins -------------------------------------


@dataclass
class Telephony:
    url: str
    acd: Acd
    db: Database
    twilio: TwilioStandIn
    agi_port: int


@pytest.fixture
async def telephony(demo_db, settings, tmp_path) -> AsyncIterator[Telephony]:
    """The whole server as create_app wires it: IVR, ACD, Twilio bridge, FastAGI listener."""
    stand_in = TwilioStandIn(public_url=PUBLIC_URL, far_end={"client:agent1": FarEnd("answered", 90)})
    app_settings = always_open(twilio_settings(settings, await stand_in.start()), tmp_path)
    app, acd, _ = build_app(app_settings, demo_db)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    stand_in.target_url = url
    port = asterisk.agi_port(app)
    assert port is not None
    yield Telephony(url, acd, demo_db, stand_in, port)
    await runner.cleanup()
    await stand_in.close()


async def _call_of(db: Database, **where: str) -> Call:
    async with db.session() as s:
        return await s.scalar(select(Call).filter_by(**where))


async def test_two_agents_take_calls_routed_from_twilio_and_asterisk(browser, telephony):
    from playwright.async_api import expect

    agent1 = await agent_id_of(telephony.db, "agent1")
    agent2 = await agent_id_of(telephony.db, "agent2")
    centre = Centre(telephony.url, telephony.acd, BridgeStandIn(), telephony.db)
    supervisor = await _page_for(browser, centre, "supervisor1", "/supervisor")
    desks = {}
    for username in ("agent1", "agent2"):  # agent1 first: the longest idle takes the first call
        desks[username] = desk = await _page_for(browser, centre, username, "/agent")
        await _live(desk)
        await desk.click("[data-action=available]")
        await expect(desk.get_by_test_id("my-state")).to_have_text("Available")
    await _live(supervisor)

    # 李伟 phones through Twilio, picks Chinese, presses 0: the general queue; agent1 answers
    caller = telephony.twilio.caller(["1", "0"])
    await caller.run()
    await telephony.twilio.settle()
    desk1 = desks["agent1"]
    await expect(desk1.get_by_test_id("customer-name")).to_have_text("李伟 (Li Wei)")
    await expect(desk1.get_by_test_id("caller-number")).to_have_text(LI_MOBILE)
    await expect(desk1.get_by_test_id("verification")).to_have_text("NOT verified")
    await expect(desk1.locator("[data-testid=ivr-path] li.to-agent").first).to_contain_text(
        "pressed 0 ← asked for an agent here")
    wrapup = desk1.get_by_test_id("wrapup-form")
    await expect(wrapup).to_be_visible()
    await wrapup.locator("select[name=wrapup_code]").select_option("balance")
    await wrapup.locator("textarea[name=notes]").fill("Wanted the branch opening hours")
    await wrapup.locator("button[type=submit]").click()
    await expect(desk1.get_by_test_id("desk-notice")).to_have_text("Wrap-up saved.")
    twilio_call = await _call_of(telephony.db, external_id=caller.sid)
    assert (twilio_call.agent_id, twilio_call.wrapup_code, twilio_call.notes) == (
        agent1, "balance", "Wanted the branch opening hours")

    # 赵丽 phones through Asterisk (FastAGI); agent1 is in wrap-up, so agent2's desktop rings
    answer = asyncio.Event()
    agi = FakeAgiCall(telephony.agi_port, keys=["1", "0"], dial_statuses=["ANSWER"], dial_hold=answer,
                      callerid="+8613900139000", uniqueid="1795353500.21")
    agi_task = asyncio.create_task(agi.run())
    desk2 = desks["agent2"]
    await expect(desk2.get_by_test_id("call-heading")).to_have_text("Incoming call")
    await expect(desk2.get_by_test_id("customer-name")).to_have_text("赵丽 (Zhao Li)")
    await expect(desk2.locator("[data-testid=ivr-path] li.to-agent").first).to_contain_text("pressed 0")
    ringing = supervisor.locator(f"[data-testid=agents] tr[data-agent-id='{agent2}'] .agent-state")
    await expect(ringing).to_have_text("Ringing", timeout=LIVE_MS)
    answer.set()  # agent2 picks up; the fake channel ends the conversation when Dial returns
    await asyncio.wait_for(agi_task, 10)
    await expect(desk2.get_by_test_id("wrapup-form")).to_be_visible()
    await desk2.get_by_test_id("wrapup-form").locator("select[name=wrapup_code]").select_option("card_loss")
    await desk2.get_by_test_id("wrapup-form").locator("button[type=submit]").click()
    await expect(desk2.get_by_test_id("desk-notice")).to_have_text("Wrap-up saved.")
    agi_call = await _call_of(telephony.db, channel="asterisk")
    assert agi_call.wrapup_code == "card_loss"
    events = [(e.kind, e.agent_id) async for e in _routing_events(telephony.db)]
    assert ("answered", agent1) in events and ("answered", agent2) in events


async def _routing_events(db: Database) -> AsyncIterator[RoutingEvent]:
    async with db.session() as s:
        for row in await s.scalars(select(RoutingEvent).order_by(RoutingEvent.id)):
            yield row


async def test_campaign_created_approved_then_previewed_dialled_and_recorded(browser, telephony):
    from playwright.async_api import expect

    centre = Centre(telephony.url, telephony.acd, BridgeStandIn(), telephony.db)
    supervisor = await _page_for(browser, centre, "supervisor1", "/supervisor")
    await supervisor.goto(f"{telephony.url}/supervisor/campaigns")
    await supervisor.fill("input[name=name]", "Card fee change")
    await supervisor.fill("input[name=department]", "cards")
    await supervisor.fill("input[name=reason]", "annual fee notice")
    await supervisor.fill("textarea[name=script]", "Good morning, we are calling about your card fee.")
    await supervisor.fill("textarea[name=customers]", "+8613000000000")
    await supervisor.click("text=Create campaign")
    await expect(supervisor.get_by_role("alert")).to_contain_text("no customer has the phone number +8613000000000")
    await supervisor.fill("textarea[name=customers]", LI_MOBILE)
    await supervisor.click("text=Create campaign")
    await expect(supervisor.get_by_role("status")).to_contain_text("waits for approval")

    desk = await _page_for(browser, centre, "agent1", "/agent")
    await _live(desk)
    await desk.click("[data-action=available]")
    await desk.click("[data-action=next-preview]")
    await expect(desk.get_by_test_id("preview-message")).to_have_text("no campaign customer is due now")

    await supervisor.click("button[value=approve]")
    await expect(supervisor.get_by_role("status")).to_have_text("Campaign Card fee change approved.")
    await expect(supervisor.locator("[data-testid=campaigns] .status")).to_have_text("approved")

    await desk.click("[data-action=next-preview]")
    await expect(desk.get_by_test_id("preview-customer")).to_have_text("李伟")
    await expect(desk.get_by_test_id("preview-script")).to_have_text(
        "Good morning, we are calling about your card fee.")
    await expect(desk.get_by_test_id("preview-attempt")).to_have_text("attempt 1 of 3")
    await desk.click("[data-action=dial]")
    await expect(desk.get_by_test_id("desk-notice")).to_contain_text("Dialling")
    await telephony.twilio.wait_rest(1)
    await telephony.twilio.settle()
    assert [c.to for c in telephony.twilio.outbound][:1] == ["client:agent1"]

    outcome = desk.get_by_test_id("outcome-form")
    await outcome.locator("select[name=outcome]").select_option("reached")
    await outcome.locator("textarea[name=notes]").fill("understood the new fee")
    await outcome.locator("button[type=submit]").click()
    await expect(desk.get_by_test_id("desk-notice")).to_have_text("Outcome recorded; the customer is now done.")
    await supervisor.reload()
    cells = supervisor.locator("[data-testid=department-summary] tbody tr td")
    await expect(cells).to_have_text(["cards", "1", "1", "1", "1", "0"])  # campaigns, customers, tries, reached
