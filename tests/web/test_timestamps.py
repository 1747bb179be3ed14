"""Every timestamp the JSON API gives carries its offset, and the pages print times in the centre's
zone (Asia/Shanghai), whatever the stored value's form (SQLite hands back naive UTC)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from acd import campaigns
from acd.clock import ManualClock
from acd.ports import WaitingCall
from hotline.web.i18n import iso, local_text, to_zone
from tests.web.conftest import login
from tests.web.desk_support import CONNECTOR, LI_WEI_PATH, add_call, agent_id_of, build_app, customer_id_of

LI_MOBILE = "+8613800138000"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-20 01:02:03 UTC is 09:02:03 in Shanghai (and 20:02:03 the day before in New York)
EARLIER = datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC)


def _offset_of(text: str) -> timedelta:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text!r} has no offset"
    offset = moment.utcoffset()
    assert offset is not None
    return offset


def test_iso_gives_naive_stored_moments_their_utc_offset() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05+00:00"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8)))) == "2026-01-02T03:04:05+08:00"
    assert iso(None) is None


def test_pages_print_moments_in_the_centres_zone() -> None:
    assert local_text(EARLIER, SHANGHAI) == "2026-11-20 09:02:03"
    assert local_text(EARLIER.replace(tzinfo=None), SHANGHAI, "time") == "09:02:03"  # naive: stored UTC
    assert local_text("2026-11-20T01:02:03+00:00", SHANGHAI, "minute") == "2026-11-20 09:02"
    assert local_text("2026-11-20T09:02:03+08:00", ZoneInfo("America/New_York")) == "2026-11-19 20:02:03"
    assert local_text(None, SHANGHAI) == local_text("", SHANGHAI) == local_text("not a time", SHANGHAI) == ""
    assert to_zone("2026-11-20T01:02:03", SHANGHAI) == datetime(2026, 11, 20, 9, 2, 3, tzinfo=SHANGHAI)


@pytest.fixture
async def centre(demo_db, settings, aiohttp_client):
    clock = ManualClock()  # Monday 2026-11-23 10:00 in Shanghai
    app, acd, bridge = build_app(settings, demo_db, clock=clock, replace_bridges=True)
    client = await aiohttp_client(app, headers={"Accept-Language": "en-US"})
    return client, acd, bridge, clock, demo_db


async def _csrf(client, path: str) -> str:
    text = await (await client.get(path)).text()
    return re.search(r'name="csrf-token" content="([^"]+)"', text).group(1)


async def test_every_api_timestamp_has_an_offset(centre) -> None:
    client, acd, bridge, clock, db = centre
    li = await customer_id_of(db, LI_MOBILE)
    await add_call(db, "call-old", customer_id=li, number=LI_MOBILE, verified=True, category="balance",
                   queue="general", steps=[], started_at=EARLIER.replace(tzinfo=None), wrapup_code="balance")
    await add_call(db, "call-now", customer_id=li, number=LI_MOBILE, verified=False, category="card_loss",
                   queue="cards", steps=LI_WEI_PATH)
    agent1 = await agent_id_of(db, "agent1")
    assert (await login(client, "agent1", "agent1-demo")).status == 303
    csrf = await _csrf(client, "/agent")
    assert (await client.post("/api/desktop/state", json={"state": "available"},
                              headers={"X-CSRF-Token": csrf})).status == 200
    await acd.enqueue(WaitingCall("call-now", "cards", "card_loss", CONNECTOR, customer_id=li, caller_number=LI_MOBILE))
    offer = await asyncio.wait_for(bridge.offers.get(), 5)
    assert (offer.call_id, offer.agent_id) == ("call-now", agent1)

    card = await (await client.get("/api/desktop/calls/call-now")).json()
    _offset_of(card["started_at"])
    assert all(_offset_of(step["at"]) == timedelta(0) for step in card["ivr_path"]) and card["ivr_path"]
    [previous] = card["previous_calls"]
    assert datetime.fromisoformat(previous["started_at"]) == EARLIER  # stored naive UTC, given back as UTC

    due = "2026-11-23T15:30"  # as the desktop sends it: the centre's wall clock
    made = await client.post("/api/desktop/callbacks", json={"number": LI_MOBILE, "due": due, "note": "x"},
                             headers={"X-CSRF-Token": csrf})
    assert made.status == 201
    assert datetime.fromisoformat((await made.json())["due_at"]) == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    [listed] = (await (await client.get("/api/desktop/callbacks")).json())["items"]
    assert datetime.fromisoformat(listed["due_at"]) == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert listed["next_attempt_at"] is None or _offset_of(listed["next_attempt_at"]) is not None

    await client.post("/logout", data={"csrf_token": csrf})
    assert (await login(client, "supervisor1", "supervisor1-demo")).status == 303
    calls = (await (await client.get("/api/calls")).json())["items"]
    assert {c["id"] for c in calls} >= {"call-old", "call-now"}
    for c in calls:
        for key in ("started_at", "answered_at", "ended_at"):
            if c[key] is not None:
                _offset_of(c[key])
    assert datetime.fromisoformat(next(c for c in calls if c["id"] == "call-old")["started_at"]) == EARLIER
    for item in (await (await client.get("/api/supervision/callbacks")).json())["items"]:
        _offset_of(item["due_at"])
    snapshot = await (await client.get("/api/supervision/snapshot")).json()
    _offset_of(snapshot["at"])
    assert all(_offset_of(a["since"]) is not None for a in snapshot["agents"] if a["since"])

    await campaigns.create(db, name="Card renewal", department="cards", reason="expiry", script="Hello",
                           customer_ids=[li], created_by="supervisor1", retry_gap_s=3600, now=clock.now())
    for item in (await (await client.get("/api/campaigns")).json())["items"]:
        _offset_of(item["created_at"])


async def test_supervisor_page_shows_shanghai_times_and_no_since_for_agents_never_logged_in(centre) -> None:
    client, acd, bridge, clock, db = centre
    li = await customer_id_of(db, LI_MOBILE)
    await add_call(db, "call-old", customer_id=li, number=LI_MOBILE, verified=True, category="balance",
                   queue="general", steps=[], started_at=EARLIER.replace(tzinfo=None))
    agent1 = await agent_id_of(db, "agent1")
    clock.advance(90)  # the agent logs in at 10:01:30 in Shanghai, 02:01:30 UTC
    await acd.set_state(agent1, "available", None, by="test")
    assert (await login(client, "supervisor1", "supervisor1-demo")).status == 303
    page = await (await client.get("/supervisor")).text()

    row = re.search(r'<tr data-call-id="call-old">(.*?)</tr>', page, re.S).group(1)
    assert '<td class="started">2026-11-20 09:02:03</td>' in row
    since = dict(re.findall(r'<tr data-agent-id="(\d+)".*?<td class="since">(.*?)</td>', page, re.S))
    assert since[str(agent1)] == "10:01:30"
    others = [text for agent_id, text in since.items() if agent_id != str(agent1)]
    assert others and all(text == "" for text in others)  # never logged in: empty, not "now"
    assert "Times are Asia/Shanghai time." in page
