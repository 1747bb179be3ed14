"""The centre's staff as the web knows them: accounts with a role, and their login sessions.

Passwords are stored only as argon2 hashes; the session cookie holds a random token, we keep only
its SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db.base import Base, utcnow

if TYPE_CHECKING:
    from acd.models import Agent

Timestamp = DateTime(timezone=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | qa | admin
    display_name: Mapped[str] = mapped_column(String(100), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))  # the web UI's language; None: the browser's
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
