"""Declarative base and the async engine/session pair."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

# Below this much free space where the SQLite file lives, the database counts as not writable.
MIN_FREE_BYTES = 32 * 1024**2

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime: SQLite hands them back without their zone
    (everything we store is UTC); PostgreSQL already keeps it."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Database:
    """One engine and session factory per process; `async with db.session() as s` for work units."""

    def __init__(self, url: str, echo: bool = False, *, min_free_bytes: int = MIN_FREE_BYTES) -> None:
        self.url = make_url(url)
        self.min_free_bytes = min_free_bytes
        if self.url.get_backend_name() == "sqlite" and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(self.url, echo=echo)
            event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            # Every webhook and AGI turn takes a connection briefly: a pool sized for a few hundred
            # concurrent calls. Each checkout is pinged first: after PostgreSQL restarts or drops
            # connections (failover, pg_terminate_backend, an idle timeout in a proxy) the next
            # request gets a fresh connection instead of a 500. The ping costs a round trip per
            # transaction; a dead connection costs a failed call.
            self.engine = create_async_engine(self.url, echo=echo, pool_size=20, max_overflow=30,
                                              pool_recycle=1800, pool_pre_ping=True)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on any exception."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - readiness reports any failure as "not ready"
            return False
        return True

    async def write_fault(self) -> str | None:
        """Why the database cannot take writes now, or None when it can.

        A database that answers SELECT 1 may still refuse every write: a file or filesystem gone
        read-only, a full disk, a PostgreSQL standby. So this writes, in a transaction that is
        always rolled back, leaving nothing behind:
        - SQLite: BEGIN IMMEDIATE (the write lock) and CREATE TABLE, which must allocate a page,
          so a read-only database (SQLITE_READONLY), a database at its size limit (SQLITE_FULL)
          and a write lock held too long all fail it. SQLite writes nothing to disk before commit,
          so a full disk is also checked directly: less than `min_free_bytes` free where the file
          lives is a fault.
        - PostgreSQL: CREATE TEMP TABLE, refused in a read-only transaction and on a standby.
          (A full disk there fails commits, which PostgreSQL reports itself; no probe sees it.)
        """
        if self.is_sqlite:
            fault = self._disk_fault()
            if fault:
                return fault
        probe = ("CREATE TABLE hotline_write_probe (x INTEGER)" if self.is_sqlite
                 else "CREATE TEMP TABLE hotline_write_probe (x INTEGER) ON COMMIT DROP")
        try:
            async with self.engine.connect() as conn:
                transaction = await conn.begin()
                try:
                    await conn.execute(text(probe))
                finally:
                    await transaction.rollback()
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as "not ready"
            first_line = (str(exc).splitlines() or [""])[0]  # the rest is the SQL, already known
            return f"write probe failed: {type(exc).__name__}: {first_line}"
        return None

    def _disk_fault(self) -> str | None:
        if self.url.database in (None, "", ":memory:"):
            return None
        folder = Path(self.url.database).resolve().parent
        try:
            free = shutil.disk_usage(folder).free
        except OSError as exc:
            return f"cannot see the database's folder {folder}: {exc.strerror}"
        if free < self.min_free_bytes:  # the text stays the same while the fault lasts: it is logged once
            return f"less than {self.min_free_bytes} bytes free in {folder}, where the database lives"
        return None

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the driver, open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a commit survives a crash of the process, only an OS crash can lose the last
    # transactions; FULL would fsync on every IVR turn. SQLite is the single-node default; PostgreSQL
    # is the production store.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for the write lock: SQLite
    # fails it at once with "database is locked" under concurrent calls. IMMEDIATE takes the write
    # lock up front, so busy_timeout queues writers instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
