"""ACD records: agents and queue names, the routing event log, callbacks and outbound campaigns.

Live agent and queue state lives in memory; what must survive a restart (callbacks, campaigns) and
every routing fact statistics need (the append-only event log) is written here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, utcnow

Timestamp = DateTime(timezone=True)

MAX_CAMPAIGN_ATTEMPTS = 3


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Where to ring the agent: "client:agent1" (Twilio Client), "sip:agent1@pbx", "+8613...",
    # or "PJSIP/agent1" (Asterisk endpoint); it counts for the transport its syntax belongs to.
    endpoint: Mapped[str] = mapped_column(String(128), default="")
    # One endpoint per transport, {"asterisk": "PJSIP/agent1", "twilio": "client:agent1"} (acd/endpoints.py):
    # a call is offered only to agents with a phone on the call's own transport.
    endpoints: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # skill -> level 1..10
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Queue(Base):
    """Queue names for reference and reporting; their behaviour is configured in config/acd/queues.yaml."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class RoutingEvent(Base):
    """One routing fact, never updated or deleted: statistics replay these for any period.

    kind: enqueued | offered | answered | missed | abandoned | overflowed | transferred | ended |
          wrap_up | state | callback_requested | callback_scheduled | callback_attempt |
          callback_done | callback_failed
    """

    __tablename__ = "routing_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the bridge's call id (no FK: facts outlive rows)
    queue: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(Integer, index=True)
    wait_s: Mapped[float | None] = mapped_column(Float)  # answered / abandoned / overflowed
    talk_s: Mapped[float | None] = mapped_column(Float)  # ended
    state: Mapped[str | None] = mapped_column(String(16))  # state: the agent's new state
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Callback(Base):
    """A promise to call a customer back: from the queue (caller kept their place) or scheduled by an agent."""

    __tablename__ = "callbacks"
    __table_args__ = (
        CheckConstraint("kind IN ('queue', 'scheduled')", name="kind"),
        CheckConstraint("status IN ('pending', 'dialing', 'done', 'failed', 'cancelled')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    queue: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32), default="other")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    connector: Mapped[str] = mapped_column(String(32), default="")
    origin_call_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(40))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))  # scheduled: the agent who promised
    note: Mapped[str] = mapped_column(Text, default="")
    enqueued_at: Mapped[datetime] = mapped_column(Timestamp)  # the caller's place in the queue
    due_at: Mapped[datetime | None] = mapped_column(Timestamp)  # scheduled callbacks
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class CallbackAttempt(Base):
    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("callback_id", "attempt_no"), CheckConstraint("attempt_no >= 1", name="attempt_no"))

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    result: Mapped[str | None] = mapped_column(String(32))  # reached | no-answer | busy | failed ...


class Campaign(Base):
    """A department's project of outbound calls. Nothing is dialled before a supervisor approves it."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'closed')", name="status"),
        CheckConstraint("retry_gap_s >= 0", name="retry_gap_s"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    script: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    retry_gap_s: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class CampaignContact(Base):
    """One customer of a campaign. `next_allowed_at` is the earliest moment of the next attempt; the
    claim of a contact is a conditional UPDATE on it, so two agents can never dial the same customer."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        CheckConstraint(f"attempts BETWEEN 0 AND {MAX_CAMPAIGN_ATTEMPTS}", name="attempts"),
        CheckConstraint("status IN ('open', 'previewing', 'dialing', 'done', 'other_channel')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_allowed_at: Mapped[datetime] = mapped_column(Timestamp)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))  # holding the preview
    outcome: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, default="")


class CampaignAttempt(Base):
    """One dial of a campaign contact. The database itself refuses a 4th attempt (check + unique) and an
    attempt earlier than the gap allows (`started_at >= not_before`, copied from the contact)."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (
        UniqueConstraint("contact_id", "attempt_no"),
        CheckConstraint(f"attempt_no BETWEEN 1 AND {MAX_CAMPAIGN_ATTEMPTS}", name="attempt_no"),
        CheckConstraint("started_at >= not_before", name="gap"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("campaign_contacts.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    call_id: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(Timestamp)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    outcome: Mapped[str | None] = mapped_column(String(32))  # reached | no_answer | busy | failed | refused ...
    notes: Mapped[str] = mapped_column(Text, default="")
