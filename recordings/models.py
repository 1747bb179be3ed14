"""The archive's own tables: the stored file of each recording, the ingest queue, legal holds on calls.

The call record's `recordings` row says a recording exists (Twilio RecordingSid or MixMonitor file);
these tables say where its audio is kept, how it is protected, and how fetching it went. They point
at the call record by table name only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db.base import Base, utcnow

Timestamp = DateTime(timezone=True)


class ArchivedFile(Base):
    """The compressed, encrypted audio of one recording, as stored."""

    __tablename__ = "recording_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    storage_key: Mapped[str] = mapped_column(String(255))  # "" once purged
    format: Mapped[str] = mapped_column(String(8))  # AudioFormat
    codec: Mapped[str] = mapped_column(String(16))
    bitrate_kbps: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # of the audio, before encryption
    sha256: Mapped[str] = mapped_column(String(64))  # of the audio, before encryption
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    # [[start_ms, end_ms], ...] silenced because the caller keyed a PIN or card number there
    secure_spans: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    retention_until: Mapped[datetime] = mapped_column(Timestamp, index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str] = mapped_column(String(200), default="")
    archived_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    purged_at: Mapped[datetime | None] = mapped_column(Timestamp)


class IngestJob(Base):
    """One recording to fetch, compress, encrypt and store; the queue survives restarts."""

    __tablename__ = "recording_ingest_jobs"
    __table_args__ = (Index("ix_recording_ingest_jobs_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    source_kind: Mapped[str] = mapped_column(String(16))  # SourceKind
    source_ref: Mapped[str] = mapped_column(Text)
    secure_spans: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # JobStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp)  # a running job not done by then was lost
    last_error: Mapped[str] = mapped_column(Text, default="")
    source_discarded: Mapped[bool] = mapped_column(Boolean, default=False)  # original deleted after success
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class CallHold(Base):
    """A legal hold on a whole call: none of its recordings is purged, also ones archived later."""

    __tablename__ = "recording_call_holds"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    held_by: Mapped[str] = mapped_column(String(64), default="")
    held_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
