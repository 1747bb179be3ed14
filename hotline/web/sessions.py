"""Server-side login sessions. The cookie carries a random token; the database keeps only its
SHA-256, so a leaked database does not hand out live sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import joinedload

from hotline.db import Database, aware, utcnow
from hotline.settings import Settings
from hotline.staff import User, WebSession

COOKIE = "hotline_session"


def cookie_secure(settings: Settings) -> bool:
    """Whether our cookies carry `Secure`: security.cookie_secure when set, otherwise whenever the
    public URL is https (a cookie sent over plain HTTP can be read off the wire)."""
    forced = settings.security.cookie_secure
    if isinstance(forced, bool):
        return forced
    return settings.public.url.lower().startswith("https://")


@dataclass(frozen=True, slots=True)
class SessionUser:
    id: int
    username: str
    role: str
    display_name: str
    agent_id: int | None
    csrf_token: str
    language: str | None = None  # zh-CN | en-US as chosen with the page header's switch; None: the browser's


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(db: Database, user: User, lifetime: timedelta) -> str:
    """Create a session for `user`; returns the cookie token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.session() as s:
        await s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.add(WebSession(id=_key(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                         created_at=now, expires_at=now + lifetime))
    return token


async def load_session(db: Database, token: str) -> SessionUser | None:
    async with db.session() as s:
        row = await s.scalar(
            select(WebSession).options(joinedload(WebSession.user)).where(WebSession.id == _key(token))
        )
        if row is None or aware(row.expires_at) < utcnow():
            return None
        user = row.user
        if not user.active:
            return None
        return SessionUser(user.id, user.username, user.role, user.display_name, user.agent_id, row.csrf_token,
                           user.language)


async def close_session(db: Database, token: str) -> None:
    async with db.session() as s:
        await s.execute(delete(WebSession).where(WebSession.id == _key(token)))
