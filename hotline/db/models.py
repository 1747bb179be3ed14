"""Core records every package shares: calls with their legs, IVR path and recordings, agents,
queues, web users and the audit log.

No business tables: customers and their banking products are bank.models. Calls point at
`customers` by table name only, because the persistence base never imports a domain package.
Passwords are stored only as argon2 hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db.base import Base, utcnow

Timestamp = DateTime(timezone=True)


# --- calls ------------------------------------------------------------------------------------------


class Call(Base):
    """One customer contact, inbound or outbound, from first ring to last hang-up."""

    __tablename__ = "calls"
    # A CallSid / Uniqueid names one call of its transport: a replayed webhook or a second FastAGI
    # session for it must never start the call again (calls without one are not constrained). A unique
    # index rather than a constraint: SQLite adds it without rebuilding a table other tables point to.
    __table_args__ = (Index("uq_calls_channel_external_id", "channel", "external_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4, ours
    channel: Mapped[str] = mapped_column(String(16))  # twilio | asterisk | softphone
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)  # CallSid / Uniqueid
    direction: Mapped[str] = mapped_column(String(10), default="inbound")  # inbound | outbound
    caller_number: Mapped[str] = mapped_column(String(40), default="")
    dialled_number: Mapped[str] = mapped_column(String(40), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    status: Mapped[str] = mapped_column(String(16), default="in-progress")
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    business_category: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    self_service_done: Mapped[bool] = mapped_column(Boolean, default=False)  # IVR containment
    wrapup_code: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    legs: Mapped[list[CallLeg]] = relationship(back_populates="call", order_by="CallLeg.id")
    ivr_path: Mapped[list[IvrStep]] = relationship(order_by="IvrStep.seq")


class CallLeg(Base):
    """One channel of a call: the caller's, an agent's, an outbound dial. Each knows its recording."""

    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # caller | agent | outbound
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    endpoint: Mapped[str] = mapped_column(String(128), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    end_reason: Mapped[str | None] = mapped_column(String(64))

    call: Mapped[Call] = relationship(back_populates="legs")
    recording: Mapped[Recording | None] = relationship(back_populates="leg", uselist=False)


class IvrStep(Base):
    """One step of the caller's path through the menus. Secret keys are stored masked ('******')."""

    __tablename__ = "ivr_steps"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    node: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # enter | key | timeout | operation | transfer | end
    detail: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(64), default="")


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    leg_id: Mapped[int | None] = mapped_column(ForeignKey("call_legs.id"), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # RecordingSid / file name
    storage_key: Mapped[str] = mapped_column(String(255), default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    format: Mapped[str] = mapped_column(String(16), default="wav")
    channels: Mapped[int] = mapped_column(Integer, default=2)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="recording")  # recording | ready | failed
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    leg: Mapped[CallLeg | None] = relationship(back_populates="recording")


# --- contact centre -----------------------------------------------------------------------------


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Where to ring the agent: "client:agent1" (Twilio Client), "sip:agent1@pbx", "+8613...",
    # or "PJSIP/agent1" (Asterisk endpoint).
    endpoint: Mapped[str] = mapped_column(String(128), default="")
    skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # skill -> level 1..10
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Queue(Base):
    """Queue names for reference and reporting; their behaviour is configured in config/acd/queues.yaml."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


# --- web users and audit ------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | qa | admin
    display_name: Mapped[str] = mapped_column(String(100), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    agent: Mapped[Agent | None] = relationship()


class WebSession(Base):
    """Server-side login session; the cookie holds a random token, we keep only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)

    user: Mapped[User] = relationship()


class AuditLog(Base):
    """Security and compliance trail: logins, PIN lockouts, recording playback, forced states..."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "user:supervisor1", "call:<id>", "system"
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
