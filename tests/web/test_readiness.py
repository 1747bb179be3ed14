"""/readyz says "not ready" when the database answers SELECT 1 but cannot take writes, and the
PostgreSQL pool survives the server dropping its connections.

The tests run as root, and root ignores file permissions: chmod 0444 would prove nothing. The
faults below are ones root cannot write through either:
- the immutable attribute (chattr +i): the kernel refuses writes to the file to everyone, root
  included. SQLite, unable to open the file for writing, opens it read-only, exactly as for a
  0444 file under an unprivileged server, and every write fails with SQLITE_READONLY.
- PRAGMA max_page_count at the database's current size: SQLite refuses to grow the file and fails
  with SQLITE_FULL, "database or disk is full", the error a full disk gives. A write that fits in
  a page already there still succeeds (shown below), which is why the probe allocates a page.
- a free-space floor above what the filesystem has: the same statvfs check that runs in
  production, against a real filesystem, with only the threshold moved (a disk cannot be filled
  for a test).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, text

from hotline.app import create_app
from hotline.db import Database
from hotline.demo import load_demo
from hotline.schema import metadata
from hotline.settings import Settings, load_settings
from tests.conftest import PG_URL
from tests.web.conftest import login

sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="SQLite file faults")


async def _readyz(aiohttp_client, settings: Settings, db: Database) -> tuple[int, dict[str, object]]:
    client = await aiohttp_client(create_app(settings, db))
    response = await client.get("/readyz")
    return response.status, await response.json()


async def test_a_writable_database_is_ready(aiohttp_client, demo_db, settings):
    status, body = await _readyz(aiohttp_client, settings, demo_db)
    assert status == 200
    assert body["checks"]["database"] is True and body["checks"]["database.writable"] is True


async def test_the_write_probe_leaves_nothing_behind(demo_db):
    async with demo_db.engine.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar()
    assert await demo_db.write_fault() is None
    async with demo_db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar() == before
        tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    assert "hotline_write_probe" not in tables


@pytest.fixture
def immutable(tmp_path: Path):
    """chattr +i on a file for the test's duration (and -i after, or tmp_path could not be removed)."""
    chattr = shutil.which("chattr")
    made: list[Path] = []

    def make(path: Path) -> None:
        if chattr is None:
            pytest.skip("chattr is not installed (e2fsprogs)")
        done = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"this filesystem or container cannot set the immutable attribute: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run([chattr, "-i", str(path)], check=True)


@sqlite_only
async def test_a_database_file_nobody_may_write_is_not_ready(aiohttp_client, demo_db, settings, immutable, caplog):
    client = await aiohttp_client(create_app(settings, demo_db))
    assert (await client.get("/readyz")).status == 200
    path = Path(settings.database.url.removeprefix("sqlite+aiosqlite:///"))
    immutable(path)
    with pytest.raises(PermissionError):
        os.open(path, os.O_WRONLY)  # root included
    await demo_db.dispose()  # the pool's next connections open the file as it now is
    assert await demo_db.ping() is True  # all /readyz asked before: it still says yes

    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503 and body["status"] == "not ready"
    assert body["checks"]["database"] is True and body["checks"]["database.writable"] is False
    assert "attempt to write a readonly database" in caplog.text
    assert [r for r in caplog.records if r.exc_info] == []


@sqlite_only
async def test_a_database_that_cannot_grow_is_not_ready(aiohttp_client, demo_db, settings):
    client = await aiohttp_client(create_app(settings, demo_db))

    @event.listens_for(demo_db.engine.sync_engine, "connect")
    def _no_more_pages(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    await demo_db.dispose()  # every connection from now on has the limit
    async with demo_db.session() as s:  # a write into the pages already there still succeeds...
        await s.execute(text("UPDATE users SET display_name = display_name"))
    assert await demo_db.ping() is True

    response = await client.get("/readyz")
    assert response.status == 503  # ...but nothing can grow
    assert (await response.json())["checks"]["database.writable"] is False
    assert "database or disk is full" in await demo_db.write_fault()


@sqlite_only
async def test_a_disk_below_the_free_space_floor_is_not_ready(aiohttp_client, demo_db, settings):
    path = Path(settings.database.url.removeprefix("sqlite+aiosqlite:///"))
    free = shutil.disk_usage(path.parent).free
    cramped = Database(settings.database.url, min_free_bytes=free + 2**40)  # more than the disk has left
    try:
        status, body = await _readyz(aiohttp_client, settings, cramped)
        fault = await cramped.write_fault()
    finally:
        await cramped.dispose()
    assert status == 503 and body["checks"]["database.writable"] is False
    assert fault.startswith(f"less than {free + 2**40} bytes free in")


@sqlite_only
async def test_a_broken_database_is_logged_once_when_it_breaks_and_once_when_it_heals(aiohttp_client, demo_db,
                                                                                     settings, caplog):
    path = Path(settings.database.url.removeprefix("sqlite+aiosqlite:///"))
    free = shutil.disk_usage(path.parent).free
    cramped = Database(settings.database.url, min_free_bytes=free + 2**40)
    client = await aiohttp_client(create_app(settings, cramped))
    caplog.set_level(logging.INFO, logger="hotline.web.health")
    try:
        for _ in range(3):
            assert (await client.get("/readyz")).status == 503
        cramped.min_free_bytes = 0
        assert (await client.get("/readyz")).status == 200
    finally:
        await cramped.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "hotline.web.health"]
    assert len(messages) == 2
    assert messages[0].startswith("database cannot take writes: less than") and messages[1] == "database takes writes again"


# --- PostgreSQL: the pool after the server drops its connections -------------------------------


@pytest.fixture
async def pg_settings(tmp_path) -> AsyncIterator[Settings]:
    if not PG_URL.startswith("postgresql"):
        pytest.skip("needs HOTLINE_TEST_DATABASE_URL=postgresql+asyncpg://...")
    settings = load_settings(environ={"HOTLINE_DATABASE_URL": PG_URL, "HOTLINE_AGI_ENABLED": "false",
                                      "HOTLINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
                                      "HOTLINE_LOGGING_FORMAT": "text"})
    setup = Database(PG_URL)
    async with setup.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    await load_demo(setup, settings)
    await setup.dispose()
    yield settings


async def test_the_first_request_after_postgresql_drops_every_connection_succeeds(aiohttp_client, pg_settings):
    """Only this test's own pool is terminated (the database is shared with other test runs): its
    connections' server pids are recorded as they are opened. pg_terminate_backend with a timeout
    (PostgreSQL 14+) returns once the backend is gone."""
    db = Database(PG_URL)
    opened: list[int] = []
    event.listen(db.engine.sync_engine, "connect",
                 lambda dbapi_connection, _record: opened.append(dbapi_connection.driver_connection.get_server_pid()))
    killer = Database(PG_URL)
    try:
        client = await aiohttp_client(create_app(pg_settings, db))
        assert (await login(client, "supervisor1", "supervisor1-demo")).status == 303
        assert (await client.get("/api/calls")).status == 200
        dropped = set(opened)
        assert dropped, "the pool opened no connection"
        async with killer.engine.connect() as conn:
            for pid in sorted(dropped):
                gone = await conn.scalar(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
                assert gone is True, pid

        response = await client.get("/api/calls")  # the session lookup and the query, on pooled connections
        assert response.status == 200, await response.text()
        assert set(opened) - dropped, "the pool did not reconnect"
        assert (await client.get("/readyz")).status == 200
    finally:
        await db.dispose()
        await killer.dispose()
