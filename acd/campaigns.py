"""Outbound campaigns: create, approve or reject, preview calls for agents, outcomes, summaries.

The rules that must hold even against a buggy caller are in the database: at most 3 attempts per
customer (check + unique on the attempt number), no attempt before `next_allowed_at` (check on the
attempt row), and claiming a contact is a conditional UPDATE, so two agents never get the same one.
Dialling itself goes through `Acd.dial_campaign`, which reserves the agent first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from acd.config import AcdConfig
from acd.models import MAX_CAMPAIGN_ATTEMPTS, Campaign, CampaignAttempt, CampaignContact
from bank.models import Customer
from hotline.db import Database, aware


class CampaignOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    REFUSED = "refused"
    WRONG_NUMBER = "wrong_number"
    AGENT_UNREACHABLE = "agent_unreachable"


class CampaignStatus(StrEnum):
    PENDING = "pending"  # awaiting a supervisor's decision
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"


class ContactStatus(StrEnum):
    OPEN = "open"
    PREVIEWING = "previewing"  # claimed by an agent who reads the preview
    DIALING = "dialing"
    DONE = "done"
    OTHER_CHANNEL = "other_channel"  # not to be called again: write, message or visit instead


OUTCOMES = tuple(CampaignOutcome)
_OUTCOMES = frozenset(CampaignOutcome)
_FINAL: dict[str, ContactStatus] = {CampaignOutcome.REACHED: ContactStatus.DONE,
                                    CampaignOutcome.REFUSED: ContactStatus.OTHER_CHANNEL,
                                    CampaignOutcome.WRONG_NUMBER: ContactStatus.OTHER_CHANNEL}
_TRY_AGAIN = frozenset({CampaignOutcome.NO_ANSWER, CampaignOutcome.BUSY, CampaignOutcome.FAILED})


class CampaignError(Exception):
    """The campaign request breaks a rule (not approved, unknown customer, attempt limit...)."""


@dataclass(frozen=True, slots=True)
class Preview:
    """What the agent sees before dialling: who, why, what to say, and earlier tries."""

    contact_id: int
    campaign_id: int
    campaign: str
    department: str
    reason: str
    script: str
    customer_id: int
    customer_name: str
    number: str
    attempt_no: int  # the attempt a dial would make
    previous: tuple[tuple[int, str | None, str], ...]  # (attempt_no, outcome, notes)


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign_id: int
    name: str
    department: str
    status: str
    contacts: int
    by_status: dict[str, int]
    by_outcome: dict[str, int]
    attempts: int
    reached: int
    other_channel: int




async def create(db: Database, *, name: str, department: str, reason: str, script: str,
                 customer_ids: Iterable[int], created_by: str, retry_gap_s: float,
                 now: datetime | None = None) -> int:
    """A new campaign awaiting approval. Every customer must exist and have a mobile number."""
    ids = list(dict.fromkeys(customer_ids))
    for label, value in (("name", name), ("department", department), ("reason", reason), ("script", script)):
        if not value.strip():
            raise CampaignError(f"a campaign needs a {label}")
    if not ids:
        raise CampaignError("a campaign needs at least one customer")
    now = now or datetime.now(UTC)
    async with db.session() as s:
        rows = {c.id: c for c in await s.scalars(select(Customer).where(Customer.id.in_(ids)))}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise CampaignError(f"unknown customers: {', '.join(map(str, missing))}")
        no_number = [i for i in ids if not rows[i].mobile]
        if no_number:
            raise CampaignError(f"customers without a phone number: {', '.join(map(str, no_number))}")
        campaign = Campaign(name=name.strip(), department=department.strip(), reason=reason.strip(), script=script,
                            status=CampaignStatus.PENDING, retry_gap_s=retry_gap_s, created_by=created_by, created_at=now)
        s.add(campaign)
        await s.flush()
        s.add_all(CampaignContact(campaign_id=campaign.id, customer_id=i, number=rows[i].mobile or "",
                                  next_allowed_at=now) for i in ids)
        return campaign.id


async def approve(db: Database, campaign_id: int, supervisor: str, note: str = "",
                  now: datetime | None = None) -> None:
    await _decide(db, campaign_id, CampaignStatus.APPROVED, supervisor, note, now)


async def reject(db: Database, campaign_id: int, supervisor: str, note: str = "",
                 now: datetime | None = None) -> None:
    await _decide(db, campaign_id, CampaignStatus.REJECTED, supervisor, note, now)


async def _decide(db: Database, campaign_id: int, status: CampaignStatus, supervisor: str, note: str,
                  now: datetime | None) -> None:
    async with db.session() as s:
        decided = await s.execute(
            update(Campaign).where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.PENDING)
            .values(status=status, decided_by=supervisor, decided_at=now or datetime.now(UTC), decision_note=note)
            .returning(Campaign.id))
        if decided.first() is None:
            current = await s.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
            raise CampaignError(f"campaign {campaign_id} is {current or 'unknown'}: only pending campaigns are decided")


async def next_preview_call(db: Database, config: AcdConfig, agent_id: int, now: datetime) -> Preview | None:
    """The next customer for this agent, claimed for them; None outside campaign hours or when none is due.
    An agent who already holds a preview gets the same one again."""
    if not config.campaigns.hours.is_open(now.astimezone(config.zone)):
        return None
    async with db.session() as s:
        held = await s.scalar(select(CampaignContact.id).where(
            CampaignContact.agent_id == agent_id, CampaignContact.status == ContactStatus.PREVIEWING))
        if held is not None:
            return await _preview(s, held)
        candidates = await s.scalars(
            select(CampaignContact.id)
            .join(Campaign, Campaign.id == CampaignContact.campaign_id)
            .where(Campaign.status == CampaignStatus.APPROVED, CampaignContact.status == ContactStatus.OPEN,
                   CampaignContact.attempts < MAX_CAMPAIGN_ATTEMPTS, CampaignContact.next_allowed_at <= now)
            .order_by(CampaignContact.next_allowed_at, CampaignContact.id).limit(20))
        for contact_id in list(candidates):
            claimed = await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact_id, CampaignContact.status == ContactStatus.OPEN)
                .values(status=ContactStatus.PREVIEWING, agent_id=agent_id)
                .returning(CampaignContact.id))
            if claimed.first() is not None:
                return await _preview(s, contact_id)
    return None


async def _preview(s: AsyncSession, contact_id: int) -> Preview:
    contact = await s.get_one(CampaignContact, contact_id)
    campaign = await s.get_one(Campaign, contact.campaign_id)
    customer = await s.get_one(Customer, contact.customer_id)
    previous = await s.execute(select(CampaignAttempt.attempt_no, CampaignAttempt.outcome, CampaignAttempt.notes)
                               .where(CampaignAttempt.contact_id == contact_id).order_by(CampaignAttempt.attempt_no))
    return Preview(contact_id=contact.id, campaign_id=campaign.id, campaign=campaign.name,
                   department=campaign.department, reason=campaign.reason, script=campaign.script,
                   customer_id=customer.id, customer_name=customer.name, number=contact.number,
                   attempt_no=contact.attempts + 1, previous=tuple((n, o, t) for n, o, t in previous))


async def release_preview(db: Database, contact_id: int, agent_id: int) -> None:
    """The agent skips the customer without dialling: back to the pool, no attempt spent."""
    async with db.session() as s:
        await s.execute(update(CampaignContact)
                        .where(CampaignContact.id == contact_id, CampaignContact.agent_id == agent_id,
                               CampaignContact.status == ContactStatus.PREVIEWING)
                        .values(status=ContactStatus.OPEN, agent_id=None))


async def start_attempt(s: AsyncSession, contact_id: int, agent_id: int, call_id: str, now: datetime) -> str:
    """Record a dial of a contact previewed by this agent; return the number to dial.
    Called by `Acd.dial_campaign` inside its journal so the attempt is written before the bridge dials."""
    approved = select(Campaign.id).where(Campaign.id == CampaignContact.campaign_id,
                                         Campaign.status == CampaignStatus.APPROVED)
    claimed = await s.execute(
        update(CampaignContact)
        .where(CampaignContact.id == contact_id, CampaignContact.agent_id == agent_id,
               CampaignContact.status == ContactStatus.PREVIEWING, approved.exists())
        .values(status=ContactStatus.DIALING, attempts=CampaignContact.attempts + 1)
        .returning(CampaignContact.attempts, CampaignContact.next_allowed_at, CampaignContact.number))
    row = claimed.one_or_none()
    if row is None:
        raise CampaignError(f"contact {contact_id} is not previewed by agent {agent_id} in an approved campaign")
    attempt_no, not_before, number = row
    s.add(CampaignAttempt(contact_id=contact_id, attempt_no=attempt_no, agent_id=agent_id, call_id=call_id,
                          not_before=aware(not_before), started_at=now))
    await s.flush()  # the database's checks speak here: a 4th attempt or one inside the gap fails
    return number


async def record_outcome(db: Database, contact_id: int, outcome: str, notes: str = "",
                         now: datetime | None = None) -> str:
    """The result of the latest attempt (the agent's wrap-up). Returns the contact's new status."""
    async with db.session() as s:
        return await record_outcome_in(s, contact_id, outcome, notes, now or datetime.now(UTC))


async def record_outcome_in(s: AsyncSession, contact_id: int, outcome: str, notes: str, now: datetime) -> str:
    if outcome not in _OUTCOMES:
        raise CampaignError(f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
    contact = await s.get(CampaignContact, contact_id, with_for_update=True)
    if contact is None:
        raise CampaignError(f"unknown campaign contact {contact_id}")
    attempt = await s.scalar(select(CampaignAttempt).where(CampaignAttempt.contact_id == contact_id)
                             .order_by(CampaignAttempt.attempt_no.desc()).limit(1))
    if attempt is None:
        raise CampaignError(f"contact {contact_id} has not been dialled")
    if attempt.outcome is None or attempt.outcome in _TRY_AGAIN and outcome in _FINAL:
        attempt.outcome, attempt.ended_at = outcome, attempt.ended_at or now
    attempt.notes = notes or attempt.notes
    campaign = await s.get_one(Campaign, contact.campaign_id)
    if outcome in _FINAL:
        contact.status = _FINAL[outcome]
    elif contact.attempts >= MAX_CAMPAIGN_ATTEMPTS:
        contact.status = ContactStatus.OTHER_CHANNEL  # three tries without a conversation: write, message, visit
    else:
        contact.status = ContactStatus.OPEN
        contact.next_allowed_at = now + timedelta(seconds=campaign.retry_gap_s)
    contact.agent_id = None
    contact.outcome = outcome
    if notes:
        contact.notes = notes
    return contact.status


async def summary(db: Database, campaign_id: int) -> CampaignSummary:
    async with db.session() as s:
        campaign = await s.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignError(f"unknown campaign {campaign_id}")
        return await _summary(s, campaign)


async def department_summary(db: Database, department: str) -> list[CampaignSummary]:
    async with db.session() as s:
        rows = await s.scalars(select(Campaign).where(Campaign.department == department).order_by(Campaign.id))
        return [await _summary(s, c) for c in list(rows)]


async def _summary(s: AsyncSession, campaign: Campaign) -> CampaignSummary:
    statuses = Counter({status: n for status, n in await s.execute(
        select(CampaignContact.status, func.count()).where(CampaignContact.campaign_id == campaign.id)
        .group_by(CampaignContact.status))})
    outcomes = Counter({outcome: n for outcome, n in await s.execute(
        select(CampaignAttempt.outcome, func.count())
        .join(CampaignContact, CampaignContact.id == CampaignAttempt.contact_id)
        .where(CampaignContact.campaign_id == campaign.id).group_by(CampaignAttempt.outcome))})
    return CampaignSummary(
        campaign_id=campaign.id, name=campaign.name, department=campaign.department, status=campaign.status,
        contacts=sum(statuses.values()), by_status=dict(statuses),
        by_outcome={k or "pending": v for k, v in outcomes.items()}, attempts=sum(outcomes.values()),
        reached=outcomes.get(CampaignOutcome.REACHED, 0), other_channel=statuses.get(ContactStatus.OTHER_CHANNEL, 0))
