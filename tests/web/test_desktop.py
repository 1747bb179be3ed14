"""The agent desktop's pages, JSON API and live websocket, against a real Acd and database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import WSMsgType
from sqlalchemy import select

from acd import campaigns
from acd.clock import ManualClock
from acd.models import Callback, CampaignContact
from acd.ports import WaitingCall
from acd.service import Acd
from calls.models import Call
from hotline.db import Database
from hotline.web import live
from hotline.web.live import HUB
from tests.web.conftest import login
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


@dataclass
class Desk:
    client: object
    acd: Acd
    bridge: BridgeStandIn
    clock: ManualClock
    db: Database

    async def login_as(self, username: str) -> str:
        response = await login(self.client, username, f"{username}-demo")
        assert response.status == 303
        page = await self.client.get("/agent" if username.startswith("agent") else "/supervisor")
        text = await page.text()
        marker = 'name="csrf-token" content="'
        return text[text.index(marker) + len(marker):].split('"', 1)[0]

    async def post(self, path: str, body: object, csrf: str | None):
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        return await self.client.post(path, json=body, headers=headers)


@pytest.fixture
async def desk(demo_db, settings, aiohttp_client) -> Desk:
    clock = ManualClock()  # Monday 10:00 in Shanghai: every queue and campaign hours open
    app, acd, bridge = build_app(settings, demo_db, clock=clock, replace_bridges=True)
    return Desk(await aiohttp_client(app, headers={"Accept-Language": "en-US"}), acd, bridge, clock, demo_db)


async def _routed_call(desk: Desk, call_id: str = "call-li-1", **call_values) -> int:
    """李伟 calls about a lost card, fails verification, presses 0; the ACD offers the call to agent1."""
    agent1 = await agent_id_of(desk.db, "agent1")
    li = await customer_id_of(desk.db, LI_MOBILE)
    await add_call(desk.db, call_id, customer_id=li, number=LI_MOBILE, verified=False, category="card_loss",
                   queue="cards", steps=LI_WEI_PATH, **call_values)
    await desk.acd.enqueue(WaitingCall(call_id, "cards", "card_loss", CONNECTOR, customer_id=li,
                                       caller_number=LI_MOBILE))
    offer = await asyncio.wait_for(desk.bridge.offers.get(), 5)
    assert (offer.call_id, offer.agent_id) == (call_id, agent1)
    return agent1


def _state(acd: Acd, agent_id: int):
    return next(a for a in acd.snapshot().agents if a.agent_id == agent_id)


# --- access ------------------------------------------------------------------------------------------------


async def test_agent_page_is_the_desktop_with_csrf_for_scripts(desk):
    csrf = await desk.login_as("agent1")
    page = await (await desk.client.get("/agent")).text()
    assert "<h1>Agent desktop</h1>" in page and csrf and "/static/desktop.js" in page
    assert 'data-testid="call-card"' in page and 'value="card_loss"' in page


@pytest.mark.parametrize("path", ["/agent", "/api/desktop", "/api/desktop/callbacks", "/api/desktop/preview"])
async def test_supervisor_may_not_use_the_desktop(desk, path):
    await desk.login_as("supervisor1")
    response = await desk.client.get(path)
    assert response.status == 403


async def test_desktop_api_needs_a_login(desk):
    response = await desk.client.get("/api/desktop")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


# --- own state ----------------------------------------------------------------------------------------------


async def test_agent_goes_available_then_away_with_a_reason(desk):
    csrf = await desk.login_as("agent1")
    agent1 = await agent_id_of(desk.db, "agent1")
    response = await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    assert response.status == 200 and (await response.json())["agent"]["state"] == "available"
    assert _state(desk.acd, agent1).state == "available"

    response = await desk.post("/api/desktop/state", {"state": "away", "reason": "meal"}, csrf)
    body = await response.json()
    assert (body["agent"]["state"], body["agent"]["reason"]) == ("away", "meal")

    response = await desk.post("/api/desktop/state", {"state": "logged_out"}, csrf)
    assert (await response.json())["agent"]["state"] == "logged_out"


async def test_state_change_without_csrf_is_refused_and_changes_nothing(desk):
    await desk.login_as("agent1")
    agent1 = await agent_id_of(desk.db, "agent1")
    response = await desk.post("/api/desktop/state", {"state": "available"}, None)
    assert response.status == 403
    assert "CSRF" in (await response.json())["error"]["message"]
    assert _state(desk.acd, agent1).state == "logged_out"


@pytest.mark.parametrize(("body", "message"), [
    ({"state": "away"}, "away needs a reason"),
    ({"state": "away", "reason": "missed_calls"}, "away needs a reason"),
    ({"state": "on_call"}, "state:"),
    ({"state": "available", "extra": 1}, "extra:"),
])
async def test_bad_state_requests_get_a_clear_422(desk, body, message):
    csrf = await desk.login_as("agent1")
    response = await desk.post("/api/desktop/state", body, csrf)
    assert response.status == 422
    assert message in (await response.json())["error"]["message"]


async def test_a_body_that_is_not_json_is_a_422(desk):
    csrf = await desk.login_as("agent1")
    response = await desk.client.post("/api/desktop/state", data=b"state=available",
                                      headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert response.status == 422 and "JSON" in (await response.json())["error"]["message"]


async def test_away_while_logged_out_is_a_conflict_with_the_reason(desk):
    csrf = await desk.login_as("agent1")
    response = await desk.post("/api/desktop/state", {"state": "away", "reason": "break"}, csrf)
    assert response.status == 409 and "log in first" in (await response.json())["error"]["message"]


# --- the incoming call -----------------------------------------------------------------------------------------


async def test_routed_call_shows_who_calls_their_ivr_path_and_history(desk):
    csrf = await desk.login_as("agent1")
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    li = await customer_id_of(desk.db, LI_MOBILE)
    await add_call(desk.db, "call-li-old", customer_id=li, number=LI_MOBILE, verified=True, category="balance",
                   queue="general", steps=[], started_at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC),
                   wrapup_code="balance", notes="asked about savings interest")
    await _routed_call(desk)

    state = await (await desk.client.get("/api/desktop")).json()
    assert state["agent"]["state"] == "reserved" and state["agent"]["call_id"] == "call-li-1"
    card = state["call"]
    assert card["customer"]["name"] == "李伟" and card["customer"]["segment"] == "standard"
    assert card["number"] == LI_MOBILE and card["verified"] is False
    assert card["business_category"] == "card_loss" and card["open_tickets"] == []
    pressed_zero = [s for s in card["ivr_path"] if s["to_agent"]]
    assert [(s["kind"], s["detail"]) for s in pressed_zero] == [("key", "0"), ("transfer", "cards/card_loss")]
    assert "6222" not in str(card["ivr_path"])  # the card number typed in the IVR is stored masked
    assert [(p["call_id"], p["notes"]) for p in card["previous_calls"]] == [
        ("call-li-old", "asked about savings interest")]

    same = await (await desk.client.get("/api/desktop/calls/call-li-1")).json()
    assert same == card


async def test_an_agent_cannot_open_another_agents_call(desk):
    csrf = await desk.login_as("agent1")
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    await _routed_call(desk)
    await desk.client.post("/logout", data={"csrf_token": csrf})
    csrf2 = await desk.login_as("agent2")
    response = await desk.client.get("/api/desktop/calls/call-li-1")
    assert response.status == 404
    response = await desk.post("/api/desktop/calls/call-li-1/wrapup", {"wrapup_code": "other"}, csrf2)
    assert response.status == 404


async def test_an_agent_only_offered_the_call_cannot_write_its_wrap_up(desk):
    csrf = await desk.login_as("agent1")
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    agent1 = await _routed_call(desk)
    await desk.acd.offer_failed("call-li-1", agent1, "no-answer")
    assert (await desk.client.get("/api/desktop/calls/call-li-1")).status == 200
    response = await desk.post("/api/desktop/calls/call-li-1/wrapup", {"wrapup_code": "other", "notes": "x"}, csrf)
    assert response.status == 404
    async with desk.db.session() as s:
        call = await s.get(Call, "call-li-1")
    assert (call.wrapup_code, call.notes) == (None, None)


async def test_wrap_up_saves_code_and_notes_and_ends_wrap_up(desk):
    csrf = await desk.login_as("agent1")
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    agent1 = await _routed_call(desk)
    await desk.acd.offer_answered("call-li-1", agent1)
    await desk.acd.call_ended("call-li-1", "completed")
    assert _state(desk.acd, agent1).state == "wrap_up"

    response = await desk.post("/api/desktop/calls/call-li-1/wrapup",
                               {"wrapup_code": "card_loss", "notes": "Card blocked; new card posted", "ready": True},
                               csrf)
    assert response.status == 200
    async with desk.db.session() as s:
        call = await s.get(Call, "call-li-1")
    assert (call.wrapup_code, call.notes) == ("card_loss", "Card blocked; new card posted")
    assert _state(desk.acd, agent1).state == "available"


async def test_bad_wrap_up_is_refused_and_keeps_what_was_saved(desk):
    csrf = await desk.login_as("agent1")
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    await _routed_call(desk, wrapup_code="pin", notes="first notes")
    response = await desk.post("/api/desktop/calls/call-li-1/wrapup", {"wrapup_code": "lunch", "notes": "x"}, csrf)
    assert response.status == 422 and "wrapup_code" in (await response.json())["error"]["message"]
    response = await desk.post("/api/desktop/calls/call-li-1/wrapup", {"wrapup_code": "pin", "notes": "x"}, None)
    assert response.status == 403
    async with desk.db.session() as s:
        call = await s.get(Call, "call-li-1")
    assert (call.wrapup_code, call.notes) == ("pin", "first notes")


# --- callbacks ---------------------------------------------------------------------------------------------------


async def test_agent_schedules_a_callback_it_survives_in_the_database(desk):
    csrf = await desk.login_as("agent1")
    agent1 = await agent_id_of(desk.db, "agent1")
    li = await customer_id_of(desk.db, LI_MOBILE)
    due = desk.clock.now() + timedelta(hours=2)
    response = await desk.post("/api/desktop/callbacks", {"number": LI_MOBILE, "due": due.isoformat(),
                                                          "note": "check the fee refund", "customer_id": li}, csrf)
    assert response.status == 201
    callback_id = (await response.json())["id"]
    items = (await (await desk.client.get("/api/desktop/callbacks")).json())["items"]
    assert [(c["id"], c["number"], c["note"]) for c in items] == [(callback_id, LI_MOBILE, "check the fee refund")]
    async with desk.db.session() as s:
        row = await s.get(Callback, callback_id)
    assert (row.kind, row.agent_id, row.status) == ("scheduled", agent1, "pending")


@pytest.mark.parametrize(("body", "message"), [
    ({"number": LI_MOBILE, "due": "2020-01-01T10:00:00+08:00"}, "in the future"),
    ({"number": "call me", "due": "2030-01-01T10:00:00+08:00"}, "number:"),
    ({"number": LI_MOBILE, "due": "tomorrow"}, "due:"),
    ({"number": LI_MOBILE, "due": "2030-01-01T10:00:00+08:00", "customer_id": 999999}, "no customer"),
])
async def test_bad_callbacks_are_refused_with_the_reason(desk, body, message):
    csrf = await desk.login_as("agent1")
    response = await desk.post("/api/desktop/callbacks", body, csrf)
    assert response.status == 422 and message in (await response.json())["error"]["message"]
    async with desk.db.session() as s:
        assert list(await s.scalars(select(Callback))) == []


# --- preview campaign calls ----------------------------------------------------------------------------------------


async def _approved_campaign(desk: Desk) -> int:
    li = await customer_id_of(desk.db, LI_MOBILE)
    campaign_id = await campaigns.create(desk.db, name="Card fee change", department="cards", reason="fee notice",
                                         script="Good morning, about your card fee...", customer_ids=[li],
                                         created_by="supervisor1", retry_gap_s=3600, now=desk.clock.now())
    await campaigns.approve(desk.db, campaign_id, "supervisor1", now=desk.clock.now())
    return campaign_id


async def test_preview_then_dial_then_record_outcome(desk):
    csrf = await desk.login_as("agent1")
    agent1 = await agent_id_of(desk.db, "agent1")
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    await _approved_campaign(desk)

    preview = (await (await desk.client.get("/api/desktop/preview")).json())["preview"]
    assert preview["customer_name"] == "李伟" and preview["script"].startswith("Good morning")
    assert preview["attempt_no"] == 1 and preview["previous"] == []
    contact = preview["contact_id"]

    response = await desk.post(f"/api/desktop/preview/{contact}/dial", {}, csrf)
    assert response.status == 200
    outbound = await asyncio.wait_for(desk.bridge.outbound.get(), 5)
    assert (outbound.agent_id, outbound.customer_number, outbound.purpose) == (agent1, LI_MOBILE, "campaign")

    response = await desk.post(f"/api/desktop/preview/{contact}/outcome",
                               {"outcome": "reached", "notes": "understood the new fee"}, csrf)
    assert response.status == 200 and (await response.json())["status"] == "done"
    async with desk.db.session() as s:
        row = await s.get(CampaignContact, contact)
    assert (row.status, row.notes) == ("done", "understood the new fee")


async def test_dial_and_outcome_need_the_agents_own_preview(desk):
    csrf = await desk.login_as("agent1")
    await _approved_campaign(desk)
    response = await desk.post("/api/desktop/preview/1/dial", {}, csrf)
    assert response.status == 409 and "not in your preview" in (await response.json())["error"]["message"]
    response = await desk.post("/api/desktop/preview/1/outcome", {"outcome": "reached"}, csrf)
    assert response.status == 404
    response = await desk.post("/api/desktop/preview/1/outcome", {"outcome": "sold"}, csrf)
    assert response.status == 422 and "outcome:" in (await response.json())["error"]["message"]


async def test_skip_returns_the_customer_without_spending_an_attempt(desk):
    csrf = await desk.login_as("agent1")
    await _approved_campaign(desk)
    contact = (await (await desk.client.get("/api/desktop/preview")).json())["preview"]["contact_id"]
    response = await desk.post(f"/api/desktop/preview/{contact}/skip", {}, csrf)
    assert response.status == 200
    async with desk.db.session() as s:
        row = await s.get(CampaignContact, contact)
    assert (row.status, row.attempts, row.agent_id) == ("open", 0, None)


async def test_no_preview_outside_working_hours_says_why(desk):
    await desk.login_as("agent1")
    await _approved_campaign(desk)
    desk.clock.advance(12 * 3600)  # 22:00 in Shanghai
    body = await (await desk.client.get("/api/desktop/preview")).json()
    assert body["preview"] is None and "working hours" in body["message"]


# --- live -----------------------------------------------------------------------------------------------------------


async def _next(ws, message_type: str, **match):
    """The next message of `kind` (and matching fields of its event/agent); skips others."""
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 5)
        if message["type"] != message_type:
            continue
        payload = message.get("event") or message.get("agent") or message.get("snapshot") or {}
        if all(payload.get(k) == v for k, v in match.items()):
            return message


async def test_agent_websocket_pops_the_offer_and_follows_own_state(desk):
    csrf = await desk.login_as("agent1")
    ws = await desk.client.ws_connect("/ws/live")
    first = await asyncio.wait_for(ws.receive_json(), 5)
    assert first == {"type": "self", "agent": first["agent"]} and first["agent"]["state"] == "logged_out"

    await desk.post("/api/desktop/state", {"state": "available"}, csrf)
    await _next(ws, "self", state="available")
    await _routed_call(desk)
    offered = await _next(ws, "event", kind="offered")
    assert offered["event"]["call_id"] == "call-li-1"
    await _next(ws, "self", state="reserved")
    await ws.close()


async def test_agent_websocket_does_not_carry_other_agents_events(desk):
    csrf = await desk.login_as("agent2")
    agent1 = await agent_id_of(desk.db, "agent1")
    ws = await desk.client.ws_connect("/ws/live")
    await _next(ws, "self")
    await desk.acd.login(agent1)
    await desk.post("/api/desktop/state", {"state": "available"}, csrf)  # agent2's own change comes through
    message = await _next(ws, "event", kind="state")
    assert message["event"]["agent_id"] == await agent_id_of(desk.db, "agent2")
    await ws.close()


async def test_websocket_from_a_foreign_origin_is_refused(desk):
    await desk.login_as("agent1")
    response = await desk.client.get("/ws/live", headers={
        "Origin": "http://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status == 403


async def test_websocket_needs_a_login(desk):
    response = await desk.client.get("/ws/live")
    assert response.status == 401


async def test_two_open_desktops_of_one_agent_both_get_its_events(desk):
    hub = desk.client.server.app[HUB]
    agent1 = await agent_id_of(desk.db, "agent1")
    first, second = hub.join(agent1), hub.join(agent1)
    await desk.acd.login(agent1)
    for viewer in (first, second):
        assert (await viewer.outbox.get())["type"] == "self"
        event = (await viewer.outbox.get())["event"]
        assert (event["kind"], event["agent_id"], event["state"]) == ("state", agent1, "available")
    hub.leave(first)
    hub.leave(second)


async def test_a_viewer_that_falls_behind_is_told_to_reconnect(desk):
    hub = desk.client.server.app[HUB]
    agent1 = await agent_id_of(desk.db, "agent1")
    slow = hub.join(agent1)  # nobody reads its outbox
    await desk.acd.login(agent1)
    while not slow.outbox.full():
        await desk.acd.set_state(agent1, "away", "break")
        await desk.acd.set_state(agent1, "available")
    await desk.acd.set_state(agent1, "away", "meal")  # one more than fits
    await desk.acd.set_state(agent1, "available")  # no longer delivered: the viewer has left
    assert slow.outbox.qsize() == 1 and slow.outbox.get_nowait() == {"type": "closing"}


async def test_websocket_closes_when_the_session_ends(desk, monkeypatch):
    monkeypatch.setattr(live, "SESSION_RECHECK_S", 0.05)
    csrf = await desk.login_as("agent1")
    ws = await desk.client.ws_connect("/ws/live")
    await _next(ws, "self")
    await desk.client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    while True:
        message = await asyncio.wait_for(ws.receive(), 5)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            break
    assert ws.close_code == live.CLOSE_LOGGED_OUT
