"""Outbound campaigns: approval, preview in working hours, the 3-attempt limit and the retry gap held by
the database itself, outcomes, summaries, and survival across a restart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from acd import campaigns
from acd.campaigns import CampaignError
from acd.clock import ManualClock
from acd.exceptions import AcdError
from acd.models import CampaignAttempt, CampaignContact
from acd.service import Acd
from bank.models import Customer
from tests.acd.conftest import RecordingBridge, agent_ids

GAP_S = 3600.0


async def customers(acd: Acd) -> dict[str, int]:
    async with acd.db.session() as s:
        return {name: cid for cid, name in await s.execute(select(Customer.id, Customer.name_en))}


async def new_campaign(acd: Acd, clock: ManualClock, *names: str) -> int:
    ids = await customers(acd)
    return await campaigns.create(
        acd.db, name="New card fees 2027", department="cards", reason="fee change notice",
        script="Good morning, we are calling about the 2027 card fee schedule...",
        customer_ids=[ids[n] for n in names or ("Li Wei",)], created_by="user:supervisor1",
        retry_gap_s=GAP_S, now=clock.now())


async def dial(acd: Acd, agent: int, clock: ManualClock) -> tuple[campaigns.Preview, str]:
    preview = await campaigns.next_preview_call(acd.db, acd.config, agent, clock.now())
    assert preview is not None
    call_id = await acd.dial_campaign(agent, preview.contact_id)
    return preview, call_id


async def test_nothing_is_dialled_before_approval_and_rejected_never_dials(acd: Acd, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    rejected = await new_campaign(acd, clock)
    assert await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now()) is None
    await campaigns.reject(acd.db, rejected, "user:supervisor1", "wrong customer list")
    with pytest.raises(CampaignError, match="only pending"):
        await campaigns.approve(acd.db, rejected, "user:supervisor1")
    assert await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now()) is None

    approved = await new_campaign(acd, clock, "Zhao Li")
    await campaigns.approve(acd.db, approved, "user:supervisor1")
    preview = await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now())
    assert preview is not None and preview.campaign_id == approved and preview.customer_name == "赵丽"
    assert preview.script.startswith("Good morning") and preview.attempt_no == 1


async def test_preview_calls_only_in_campaign_hours(acd: Acd, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await campaigns.approve(acd.db, await new_campaign(acd, clock), "user:supervisor1")
    night = clock.now() + timedelta(hours=12)  # 22:00 in Shanghai
    assert await campaigns.next_preview_call(acd.db, acd.config, a1, night) is None
    await acd.login(a1)
    preview = await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now())
    clock.advance(12 * 3600)
    with pytest.raises(AcdError, match="campaign hours"):
        await acd.dial_campaign(a1, preview.contact_id)


async def test_two_agents_never_get_the_same_customer(acd: Acd, clock: ManualClock):
    a1, a2 = await agent_ids(acd)
    await campaigns.approve(acd.db, await new_campaign(acd, clock), "user:supervisor1")
    first = await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now())
    assert first is not None
    assert await campaigns.next_preview_call(acd.db, acd.config, a2, clock.now()) is None
    again = await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now())
    assert again is not None and again.contact_id == first.contact_id


async def test_three_failed_attempts_spaced_by_the_gap_then_another_channel(
        acd: Acd, bridge: RecordingBridge, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    campaign = await new_campaign(acd, clock)
    await campaigns.approve(acd.db, campaign, "user:supervisor1")
    for attempt in (1, 2, 3):
        preview, call_id = await dial(acd, a1, clock)
        assert preview.attempt_no == attempt
        await acd.drain()
        out = bridge.outbound[-1]
        assert (out.purpose, out.reference_id, out.customer_number) == ("campaign", preview.contact_id,
                                                                        "+8613800138000")
        await acd.offer_answered(call_id, a1)
        await acd.call_ended(call_id, "no-answer")
        await acd.ready(a1)
        await acd.drain()
        # the next attempt is not due before the gap
        assert await campaigns.next_preview_call(acd.db, acd.config, a1, clock.now()) is None
        clock.advance(GAP_S)
    summary = await campaigns.summary(acd.db, campaign)
    assert (summary.contacts, summary.attempts, summary.other_channel) == (1, 3, 1)
    assert summary.by_outcome == {"no_answer": 3}


async def test_refusal_ends_the_contact_and_outcomes_are_summarised(acd: Acd, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    campaign = await new_campaign(acd, clock, "Li Wei", "Zhao Li")
    await campaigns.approve(acd.db, campaign, "user:supervisor1")
    for outcome in ("refused", "reached"):
        preview, call_id = await dial(acd, a1, clock)
        await acd.offer_answered(call_id, a1)
        await acd.call_ended(call_id, "completed")
        status = await campaigns.record_outcome(acd.db, preview.contact_id, outcome, f"said: {outcome}",
                                                now=clock.now())
        assert status == {"refused": "other_channel", "reached": "done"}[outcome]
        await acd.ready(a1)
    await acd.drain()
    (summary,) = await campaigns.department_summary(acd.db, "cards")
    assert summary.by_status == {"other_channel": 1, "done": 1}
    assert summary.by_outcome == {"refused": 1, "reached": 1} and summary.reached == 1
    with pytest.raises(CampaignError, match="unknown outcome"):
        await campaigns.record_outcome(acd.db, preview.contact_id, "maybe")


async def test_database_refuses_a_fourth_attempt_and_one_inside_the_gap(acd: Acd, clock: ManualClock):
    campaign = await new_campaign(acd, clock)
    async with acd.db.session() as s:
        contact_id = await s.scalar(select(CampaignContact.id).where(CampaignContact.campaign_id == campaign))
    start = clock.now()

    def attempt(no: int, started: timedelta, not_before: timedelta) -> dict:
        return {"contact_id": contact_id, "attempt_no": no, "not_before": start + not_before,
                "started_at": start + started, "notes": ""}

    async with acd.db.session() as s:
        for no in (1, 2, 3):
            await s.execute(insert(CampaignAttempt).values(attempt(no, timedelta(hours=no), timedelta(hours=no))))
    for bad in (attempt(4, timedelta(hours=5), timedelta(hours=4)),    # a 4th attempt
                attempt(2, timedelta(hours=9), timedelta(hours=8)),    # attempt 2 twice
                attempt(0, timedelta(hours=9), timedelta(hours=8))):   # attempt numbers start at 1
        with pytest.raises(IntegrityError):
            async with acd.db.session() as s:
                await s.execute(insert(CampaignAttempt).values(bad))
    other = await new_campaign(acd, clock, "Zhao Li")
    async with acd.db.session() as s:
        other_contact = await s.scalar(select(CampaignContact.id).where(CampaignContact.campaign_id == other))
    with pytest.raises(IntegrityError):  # dialled before the gap allows
        async with acd.db.session() as s:
            await s.execute(insert(CampaignAttempt).values(
                {**attempt(1, timedelta(minutes=10), timedelta(hours=1)), "contact_id": other_contact}))
    with pytest.raises(IntegrityError):  # the contact's own counter cannot pass 3 either
        async with acd.db.session() as s:
            contact = await s.get_one(CampaignContact, contact_id)
            contact.attempts = 4


async def test_campaigns_survive_a_restart(acd: Acd, clock: ManualClock, settings, acd_config):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    campaign = await new_campaign(acd, clock)
    await campaigns.approve(acd.db, campaign, "user:supervisor1")
    _, call_id = await dial(acd, a1, clock)
    await acd.offer_answered(call_id, a1)
    await acd.call_ended(call_id, "busy")
    await acd.stop()

    restarted = Acd(acd_config, acd.db, settings, clock=clock)
    restarted.register_connector("twilio", RecordingBridge())
    await restarted.start()
    try:
        await restarted.login(a1)
        assert await campaigns.next_preview_call(restarted.db, restarted.config, a1, clock.now()) is None
        clock.advance(GAP_S)
        preview, _ = await dial(restarted, a1, clock)
        assert preview.attempt_no == 2 and preview.previous == ((1, "busy", ""),)
    finally:
        await restarted.stop()


async def test_campaign_input_is_checked(acd: Acd, clock: ManualClock):
    with pytest.raises(CampaignError, match="unknown customers: 999"):
        await campaigns.create(acd.db, name="x", department="cards", reason="r", script="s", customer_ids=[999],
                               created_by="user:supervisor1", retry_gap_s=GAP_S)
    with pytest.raises(CampaignError, match="script"):
        await campaigns.create(acd.db, name="x", department="cards", reason="r", script=" ", customer_ids=[1],
                               created_by="user:supervisor1", retry_gap_s=GAP_S)
