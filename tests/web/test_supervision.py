"""The supervisor's live view, forced states, callbacks and campaigns, against a real Acd and database."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from acd.models import Agent, Callback, Campaign, CampaignContact
from acd.ports import WaitingCall
from audit.models import AuditLog
from tests.web.desk_support import CONNECTOR, add_call, agent_id_of, customer_id_of
from tests.web.test_desktop import LI_MOBILE, Desk, _next, _state
from tests.web.test_desktop import desk as desk  # noqa: F401 - the fixture

ZHAO_MOBILE = "+8613900139000"
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _audit(desk: Desk, action: str) -> list[AuditLog]:
    async with desk.db.session() as s:
        return list(await s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


# --- the live view ------------------------------------------------------------------------------------------


async def test_supervisor_page_lists_agents_queues_and_recent_calls(desk):
    await add_call(desk.db, "call-1", customer_id=None, number="+8613511112222", verified=False,
                   category="balance", queue="general", steps=[])
    await desk.login_as("supervisor1")
    page = await (await desk.client.get("/supervisor")).text()
    assert "<h1>Supervisor</h1>" in page and 'data-testid="recent-calls"' in page and "+8613511112222" in page
    assert 'data-testid="agents"' in page and "Wang Fang 王芳" in page and "Zhang Min 张敏" in page
    assert 'data-queue="cards"' in page and "/static/supervisor.js" in page


@pytest.mark.parametrize("path", ["/supervisor", "/api/supervision/snapshot", "/api/supervision/callbacks",
                                  "/supervisor/campaigns", "/supervisor/callbacks", "/api/campaigns"])
async def test_agents_may_not_supervise(desk, path):
    await desk.login_as("agent1")
    assert (await desk.client.get(path)).status == 403


async def test_snapshot_shows_waiting_callers_and_longest_wait(desk):
    await desk.login_as("supervisor1")
    await desk.acd.enqueue(WaitingCall("c1", "cards", "card_loss", CONNECTOR, caller_number="+8613511112222"))
    desk.clock.advance(42)
    await desk.acd.enqueue(WaitingCall("c2", "cards", "pin", CONNECTOR, caller_number="+8613511113333"))
    snapshot = await (await desk.client.get("/api/supervision/snapshot")).json()
    cards = next(q for q in snapshot["queues"] if q["name"] == "cards")
    assert (cards["waiting"], cards["longest_wait_s"]) == (2, 42.0)
    assert [c["call_id"] for c in cards["calls"]] == ["c1", "c2"]
    assert {a["name"]: a["state"] for a in snapshot["agents"]} == {"Wang Fang 王芳": "logged_out",
                                                                  "Zhang Min 张敏": "logged_out"}


async def test_supervisor_websocket_sees_an_agent_state_change_live(desk):
    await desk.login_as("supervisor1")
    agent1 = await agent_id_of(desk.db, "agent1")
    ws = await desk.client.ws_connect("/ws/live")
    first = await _next(ws, "snapshot")
    assert {a["agent_id"]: a["state"] for a in first["snapshot"]["agents"]}[agent1] == "logged_out"
    await desk.acd.set_state(agent1, "available")
    event = (await _next(ws, "event", kind="state"))["event"]
    assert (event["agent_id"], event["state"]) == (agent1, "available")
    while True:
        message = await _next(ws, "snapshot")
        states = {a["agent_id"]: a["state"] for a in message["snapshot"]["agents"]}
        if states[agent1] == "available":
            break
    await ws.close()


async def test_agent_set_away_for_missed_calls_is_visible(desk, settings):
    await desk.login_as("supervisor1")
    agent1 = await agent_id_of(desk.db, "agent1")
    await desk.acd.login(agent1)
    await desk.acd.enqueue(WaitingCall("c1", "cards", "card_loss", CONNECTOR))
    for _ in range(settings.acd.max_missed_offers):
        offer = await asyncio.wait_for(desk.bridge.offers.get(), 5)
        await desk.acd.offer_failed(offer.call_id, agent1, "no-answer")
    view = _state(desk.acd, agent1)
    assert (view.state, view.reason) == ("away", "missed_calls")
    page = await (await desk.client.get("/supervisor")).text()
    row = re.search(rf'<tr data-agent-id="{agent1}"[^>]*>', page).group(0)
    assert 'class="missed"' in row and "Away (missed calls)" in page


# --- forcing a state -------------------------------------------------------------------------------------------


async def test_supervisor_forces_an_agent_away_and_it_is_audited(desk):
    csrf = await desk.login_as("supervisor1")
    agent1 = await agent_id_of(desk.db, "agent1")
    await desk.acd.login(agent1)
    response = await desk.post(f"/api/supervision/agents/{agent1}/state", {"state": "away", "reason": "meeting"},
                               csrf)
    assert response.status == 200
    assert (_state(desk.acd, agent1).state, _state(desk.acd, agent1).reason) == ("away", "meeting")
    [entry] = await _audit(desk, "agent_state_forced")
    assert (entry.actor, entry.target) == ("user:supervisor1", f"agent:{agent1}")
    assert (entry.detail["from"], entry.detail["to"], entry.detail["reason"]) == ("available", "away", "meeting")


async def test_forcing_during_a_call_applies_after_it(desk):
    csrf = await desk.login_as("supervisor1")
    agent1 = await agent_id_of(desk.db, "agent1")
    await desk.acd.login(agent1)
    await desk.acd.enqueue(WaitingCall("c1", "cards", "card_loss", CONNECTOR))
    await desk.acd.offer_answered((await desk.bridge.offers.get()).call_id, agent1)
    response = await desk.post(f"/api/supervision/agents/{agent1}/state", {"state": "logged_out"}, csrf)
    assert (await response.json())["agent"]["pending"] == "logged_out"
    assert _state(desk.acd, agent1).state == "on_call"
    await desk.acd.call_ended("c1", "completed")
    await desk.acd.ready(agent1)
    assert _state(desk.acd, agent1).state == "logged_out"


async def test_forcing_needs_csrf_and_the_supervisor_role(desk):
    csrf = await desk.login_as("supervisor1")
    agent1 = await agent_id_of(desk.db, "agent1")
    await desk.acd.login(agent1)
    response = await desk.post(f"/api/supervision/agents/{agent1}/state", {"state": "logged_out"}, None)
    assert response.status == 403
    await desk.client.post("/logout", data={"csrf_token": csrf})
    agent_csrf = await desk.login_as("agent2")
    response = await desk.post(f"/api/supervision/agents/{agent1}/state", {"state": "logged_out"}, agent_csrf)
    assert response.status == 403
    assert _state(desk.acd, agent1).state == "available" and await _audit(desk, "agent_state_forced") == []


async def test_forcing_an_unknown_agent_or_state_says_what_is_wrong(desk):
    csrf = await desk.login_as("supervisor1")
    response = await desk.post("/api/supervision/agents/999/state", {"state": "available"}, csrf)
    assert response.status == 404 and "no agent 999" in (await response.json())["error"]["message"]
    agent1 = await agent_id_of(desk.db, "agent1")
    response = await desk.post(f"/api/supervision/agents/{agent1}/state", {"state": "away", "reason": "nap"}, csrf)
    assert response.status == 422 and "away needs a reason" in (await response.json())["error"]["message"]


# --- callbacks -------------------------------------------------------------------------------------------------


async def test_callback_list_shows_queue_and_scheduled_callbacks(desk):
    await desk.login_as("supervisor1")
    agent1 = await agent_id_of(desk.db, "agent1")
    li = await customer_id_of(desk.db, LI_MOBILE)
    await desk.acd.schedule_callback(agent1, li, LI_MOBILE, desk.clock.now() + timedelta(hours=1), "fee refund")
    await desk.acd.enqueue(WaitingCall("c9", "cards", "pin", CONNECTOR, caller_number=ZHAO_MOBILE))
    await desk.acd.request_callback("c9", ZHAO_MOBILE)

    body = await (await desk.client.get("/api/supervision/callbacks")).json()
    assert body["total"] == 2
    assert {(c["kind"], c["number"], c["agent_name"], c["customer_name"]) for c in body["items"]} == {
        ("scheduled", LI_MOBILE, "Wang Fang 王芳", "李伟"), ("queue", ZHAO_MOBILE, None, None)}
    page = await (await desk.client.get("/supervisor/callbacks?status=pending")).text()
    assert "fee refund" in page and "caller kept their place" in page
    assert (await desk.client.get("/api/supervision/callbacks?status=bogus")).status == 400


# --- campaigns -------------------------------------------------------------------------------------------------


async def _form_csrf(desk: Desk) -> str:
    return FORM_CSRF.search(await (await desk.client.get("/supervisor/campaigns")).text()).group(1)


CAMPAIGN = {"name": "Card fee change", "department": "cards", "reason": "annual fee notice",
            "script": "Good morning, we are calling about your card fee."}


async def test_create_approve_and_summarise_a_campaign(desk):
    await desk.login_as("supervisor1")
    csrf = await _form_csrf(desk)
    li = await customer_id_of(desk.db, LI_MOBILE)
    response = await desk.client.post("/supervisor/campaigns", data={
        **CAMPAIGN, "customers": f"{LI_MOBILE}\n{ZHAO_MOBILE.lstrip('+')}\n{li}", "csrf_token": csrf})
    assert response.status == 200 and "waits for approval" in await response.text()
    async with desk.db.session() as s:
        campaign = await s.scalar(select(Campaign))
        contacts = list(await s.scalars(select(CampaignContact.number).order_by(CampaignContact.number)))
    assert campaign.status == "pending" and contacts == [LI_MOBILE, ZHAO_MOBILE]

    response = await desk.client.post(f"/supervisor/campaigns/{campaign.id}/decision",
                                      data={"decision": "approve", "note": "ok", "csrf_token": csrf})
    assert response.status == 200 and "Card fee change approved" in await response.text()
    [audit] = await _audit(desk, "campaign_approved")
    assert audit.target == f"campaign:{campaign.id}"

    again = await desk.client.post(f"/supervisor/campaigns/{campaign.id}/decision",
                                   data={"decision": "reject", "csrf_token": csrf})
    assert again.status == 409 and "only pending campaigns are decided" in await again.text()

    summary = await (await desk.client.get(f"/api/campaigns/{campaign.id}")).json()
    assert (summary["status"], summary["contacts"], summary["by_status"]) == ("approved", 2, {"open": 2})
    department = await (await desk.client.get("/api/campaigns/departments/cards")).json()
    assert department["totals"]["contacts"] == 2
    listed = (await (await desk.client.get("/api/campaigns")).json())["items"]
    assert [(c["name"], c["decided_by"]) for c in listed] == [("Card fee change", "supervisor1")]


async def test_rejected_campaign_offers_no_preview(desk):
    await desk.login_as("supervisor1")
    csrf = await _form_csrf(desk)
    await desk.client.post("/supervisor/campaigns", data={**CAMPAIGN, "customers": LI_MOBILE, "csrf_token": csrf})
    response = await desk.post("/api/campaigns/1/decision", {"decision": "reject", "note": "wrong season"}, csrf)
    assert response.status == 200 and (await response.json())["status"] == "rejected"
    await desk.client.post("/logout", data={"csrf_token": csrf})
    await desk.login_as("agent1")
    assert (await (await desk.client.get("/api/desktop/preview")).json())["preview"] is None


@pytest.mark.parametrize(("customers", "message"), [
    ("+8613000000000", "no customer has the phone number +8613000000000"),
    ("999999", "unknown customers: 999999"),
    ("not-a-number", "not a customer number or phone number"),
    ("", "at least one customer"),
])
async def test_bad_campaign_is_refused_with_the_reason_and_nothing_is_created(desk, customers, message):
    await desk.login_as("supervisor1")
    csrf = await _form_csrf(desk)
    response = await desk.client.post("/supervisor/campaigns",
                                      data={**CAMPAIGN, "customers": customers, "csrf_token": csrf})
    assert response.status == 422
    text = await response.text()
    assert message in text and 'role="alert"' in text and "Card fee change" in text  # the form keeps its input
    async with desk.db.session() as s:
        assert list(await s.scalars(select(Campaign))) == []


async def test_campaign_forms_need_csrf(desk):
    await desk.login_as("supervisor1")
    response = await desk.client.post("/supervisor/campaigns", data={**CAMPAIGN, "customers": LI_MOBILE})
    assert response.status == 403
    async with desk.db.session() as s:
        assert list(await s.scalars(select(Callback))) == [] and list(await s.scalars(select(Campaign))) == []


@pytest.mark.parametrize(("user", "path"), [("supervisor1", "/supervisor"), ("admin", "/admin")])
async def test_supervisor_and_admin_pages_list_each_agents_phone_per_transport_and_what_cannot_be_dialled(
        desk, user, path):
    async with desk.db.session() as s:
        await s.execute(update(Agent).where(Agent.name.like("Zhang%"))
                        .values(endpoints={"asterisk": "client:agent2", "twilio": "client:agent2"}))
    await desk.login_as(user)
    page = await (await desk.client.get(path)).text()
    table = page[page.index('data-testid="agent-phones"'):]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr data-agent-id=[^>]*>(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]
    assert cells[0][:3] == ["Wang Fang 王芳", "PJSIP/agent1", "client:agent1"] and cells[0][3] == ""
    assert cells[1][:3] == ["Zhang Min 张敏", "—", "client:agent2"]
    assert "never dialled: asterisk endpoint &#39;client:agent2&#39; is not one of PJSIP/" in cells[1][3]
    assert "<h2>Agent phones</h2>" in page  # the English page; the Chinese one is tests/web/test_i18n.py
