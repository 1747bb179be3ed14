"""The call record: each call, its legs, the caller's path through the menus and its recordings.

Written only through calls.record.CallRecord. Calls point at `customers` and `agents` by table name
only: the call record imports no other domain package.
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


class CallEvent(Base):
    """One fact about a call, never updated or deleted: statistics replay these for any period.

    A fact is recorded once: (call, fact, key) is unique, so a retried webhook, a replayed AMI event
    or a second report of the same thing changes nothing. The caller's path through the menus is its
    own append-only log (`ivr_steps`, numbered per call) and is not repeated here.
    """

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "fact", "key", name="uq_call_events_fact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    fact: Mapped[str] = mapped_column(String(24))  # calls.facts.Fact
    key: Mapped[str] = mapped_column(String(80), default="")  # what makes this fact one of a kind
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
