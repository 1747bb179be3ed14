"""Login throttling: after too many wrong passwords for one username, or from one client address,
logins are refused (429) for a while, before the password is even checked.

The count is read from the audit log (`login_failed` rows), not kept in memory, so it holds across
restarts and across processes sharing the database. A failure stops counting when it leaves the
window, when the same user later logs in from the same address, or when a supervisor unlocks the
user (`login_unlocked`). A login from one address forgives nothing done from another.

Rows as written here (and read by the audit pages):
    login_failed    actor "web:<address>"   target <username>
    login           actor "user:<username>" target <address>
    login_unlocked  actor "user:<who>"      target <username>
    login_throttled actor "web:<address>"   target <username>   detail {"by", "retry_after_s"}
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select

from audit.models import AuditLog
from hotline.db import Database, aware, utcnow

log = logging.getLogger(__name__)
USERNAME_MAX = 64  # the users table's column; the audit target is cut to it too

FAILED, LOGIN, UNLOCKED, THROTTLED = "login_failed", "login", "login_unlocked", "login_throttled"
_LOGIN_ACTIONS = frozenset({FAILED, LOGIN, UNLOCKED, THROTTLED})


class ThrottledBy(StrEnum):
    USER = "user"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Refusal:
    by: ThrottledBy
    retry_after_s: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_s / 60))


@dataclass(frozen=True, slots=True)
class _Row:
    action: str
    actor: str
    target: str
    at: datetime


def _address_actor(address: str) -> str:
    return f"web:{address}"


def counted_failures(rows: Iterable[_Row]) -> list[_Row]:
    """The `login_failed` rows still held against someone: not followed by a login of that user
    from that address, nor by an unlock of that user."""
    rows = list(rows)
    forgiven_at: dict[tuple[str, str], datetime] = {}  # (address actor, username) -> last login
    unlocked_at: dict[str, datetime] = {}
    for row in rows:
        if row.action == LOGIN:
            key = (_address_actor(row.target), row.actor.removeprefix("user:"))
            forgiven_at[key] = max(row.at, forgiven_at.get(key, row.at))
        elif row.action == UNLOCKED:
            unlocked_at[row.target] = max(row.at, unlocked_at.get(row.target, row.at))
    counted = []
    for row in rows:
        if row.action != FAILED:
            continue
        forgiven = forgiven_at.get((row.actor, row.target))
        unlocked = unlocked_at.get(row.target)
        if (forgiven is None or forgiven < row.at) and (unlocked is None or unlocked < row.at):
            counted.append(row)
    return counted


class LoginThrottle:
    """At most `max_failures` counted failures per username and per address within `window`.

    `clock` is injectable so tests move time instead of sleeping; every row written here takes
    its time from it."""

    def __init__(self, db: Database, max_failures: int, window: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        # key -> (lock, holders and waiters): attempts on one username, or from one address, take
        # turns in this process, so a burst of parallel guesses cannot all pass the check before
        # the first failure is written
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def attempt(self, username: str, address: str) -> AsyncIterator[Refusal | None]:
        """Yields a Refusal (do not check the password), or None: go ahead, and record the outcome
        with `failed` or `succeeded` inside the block."""
        username = username[:USERNAME_MAX]
        async with self._turn(f"user:{username}", _address_actor(address)):
            yield await self._refusal(username, address)

    @asynccontextmanager
    async def _turn(self, *keys: str) -> AsyncIterator[None]:
        ordered = sorted(set(keys))  # always the same order: two attempts never wait on each other
        for key in ordered:
            self._turns.setdefault(key, (asyncio.Lock(), [0]))[1][0] += 1
        try:
            async with AsyncExitStack() as stack:
                for key in ordered:
                    await stack.enter_async_context(self._turns[key][0])
                yield
        finally:
            for key in ordered:
                users = self._turns[key][1]
                users[0] -= 1
                if not users[0]:
                    del self._turns[key]

    async def failed(self, username: str, address: str) -> None:
        await self._write(FAILED, _address_actor(address), username[:USERNAME_MAX])
        log.warning("failed login", extra={"username": username[:USERNAME_MAX], "remote": address})

    async def succeeded(self, username: str, address: str) -> None:
        await self._write(LOGIN, f"user:{username}", address)

    async def unlock(self, username: str, by: str) -> int:
        """Forgive every failure held against `username`; returns how many there were."""
        held = len([f for f in counted_failures(await self._recent(usernames=[username]))
                    if f.target == username])
        await self._write(UNLOCKED, f"user:{by}", username, {"failures": held})
        return held

    async def locked_usernames(self) -> set[str]:
        """Usernames refused right now by their own count (for the admin's user list)."""
        per_user = Counter(f.target for f in counted_failures(await self._recent()))
        return {name for name, count in per_user.items() if count >= self.max_failures}

    async def _refusal(self, username: str, address: str) -> Refusal | None:
        actor = _address_actor(address)
        rows = await self._recent(usernames=[username], address=address)
        counted = counted_failures(rows)
        refusal = None
        for by, held in ((ThrottledBy.USER, [f for f in counted if f.target == username]),
                         (ThrottledBy.ADDRESS, [f for f in counted if f.actor == actor])):
            if len(held) >= self.max_failures:
                refusal = Refusal(by, self._retry_after(held))
                break
        if refusal is None:
            return None
        newest = max(f.at for f in counted)
        already = any(r.action == THROTTLED and r.actor == actor and r.target == username and r.at >= newest
                      for r in rows)
        if not already:  # once per episode: a flood of refused attempts must not flood the log
            await self._write(THROTTLED, actor, username, {"by": refusal.by.value,
                                                           "retry_after_s": refusal.retry_after_s})
            log.warning("login throttled", extra={"username": username, "remote": address, "by": refusal.by.value})
        return refusal

    def _retry_after(self, held: list[_Row]) -> int:
        """Seconds until fewer than max_failures remain in the window."""
        newest_first = sorted((f.at for f in held), reverse=True)
        frees_at = newest_first[self.max_failures - 1] + self.window
        return max(1, math.ceil((frees_at - self.clock()).total_seconds()))

    async def _recent(self, usernames: list[str] | None = None, address: str | None = None) -> list[_Row]:
        """The window's login rows that bear on these usernames and this address (all of them when
        neither is given). Unlocks are few: all of them in the window are read.

        Only the time is filtered on an index: given `action = ...`, SQLite (which keeps no
        statistics) would walk the action index through every login ever recorded."""
        since = self.clock() - self.window
        query = select(AuditLog.action, AuditLog.actor, AuditLog.target, AuditLog.at).where(AuditLog.at >= since)
        if usernames is not None:
            mine = [AuditLog.action == UNLOCKED, AuditLog.target.in_(usernames),
                    AuditLog.actor.in_([f"user:{u}" for u in usernames])]
            if address is not None:
                mine += [AuditLog.actor == _address_actor(address), AuditLog.target == address]
            query = query.where(or_(*mine))
        async with self.db.session() as s:
            rows = await s.execute(query)
            return [_Row(action, actor, target, aware(at)) for action, actor, target, at in rows
                    if action in _LOGIN_ACTIONS]

    async def _write(self, action: str, actor: str, target: str, detail: dict[str, object] | None = None) -> None:
        async with self.db.session() as s:
            s.add(AuditLog(at=self.clock(), actor=actor[:64], action=action, target=target[:128],
                           detail=detail or {}))
