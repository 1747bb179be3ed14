"""Shared fixtures: settings and a real database (SQLite always; PostgreSQL when
HOTLINE_TEST_DATABASE_URL is set, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import Table, create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from hotline.db import Database
from hotline.demo import load_demo
from hotline.schema import metadata
from hotline.settings import Settings, load_settings

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return PG_URL or f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        environ={
            "HOTLINE_DATABASE_URL": database_url,
            "HOTLINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
            "HOTLINE_HTTP_PORT": "0",
            "HOTLINE_AGI_PORT": "0",
            "HOTLINE_LOGGING_FORMAT": "text",
        }
    )


# The schema is built once per session and database; each test then starts from empty tables
# (SQLite: a copy of an empty database file; PostgreSQL: TRUNCATE), and the demo data is loaded once
# per secret key and copied in as rows afterwards (its argon2 hashes and ORM work are paid once).
_EMPTY_SQLITE: dict[str, Path] = {}
_PG_SCHEMA_READY: set[str] = set()
_DEMO_ROWS: dict[str, list[tuple[Table, list[dict[str, Any]]]]] = {}


def _empty_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "file" not in _EMPTY_SQLITE:
        path = tmp_path_factory.mktemp("schema") / "empty.db"
        engine = create_engine(f"sqlite:///{path}")
        metadata.create_all(engine)
        engine.dispose()
        _EMPTY_SQLITE["file"] = path
    return _EMPTY_SQLITE["file"]


async def _empty_postgresql(database: Database) -> None:
    url = str(database.url)
    if url in _PG_SCHEMA_READY:
        try:
            async with database.engine.begin() as conn:
                tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except ProgrammingError:  # a test dropped tables (the migration tests): build it again
            _PG_SCHEMA_READY.discard(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    _PG_SCHEMA_READY.add(url)


@pytest.fixture
async def db(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """An empty schema of its own for each test."""
    url = make_url(settings.database.url)
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(_empty_sqlite_file(tmp_path_factory), str(url.database))
        database = Database(settings.database.url)
        # open the pool's first connection now, as the test starts: a bridge's background task
        # must not be the one to open it while the test is ending
        async with database.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    else:
        database = Database(settings.database.url)
        await _empty_postgresql(database)
    yield database
    await database.dispose()


async def _copy_rows(database: Database, rows: list[tuple[Table, list[dict[str, Any]]]]) -> None:
    async with database.engine.begin() as conn:
        for table, values in rows:
            if values:
                await conn.execute(insert(table), values)
        if not database.is_sqlite:  # rows came with their ids: move each sequence past them
            for table, values in rows:
                if values and "id" in table.c and table.c.id.autoincrement:
                    await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                            f"(SELECT max(id) FROM \"{table.name}\"))"))


@pytest.fixture
async def demo_db(db: Database, settings: Settings) -> Database:
    """The schema with the README's demo data loaded."""
    key = settings.security.secret_key.get_secret_value()
    if key in _DEMO_ROWS:
        await _copy_rows(db, _DEMO_ROWS[key])
        return db
    await load_demo(db, settings)
    async with db.engine.connect() as conn:
        _DEMO_ROWS[key] = [(table, [dict(row._mapping) for row in await conn.execute(select(table))])
                           for table in metadata.sorted_tables]
    return db


@dataclass(frozen=True)
class LiveServer:
    settings: Settings  # what the server runs with; a webhook client signs with the same token
    url: str


@pytest.fixture
async def live_app(demo_db: Database, settings: Settings, unused_tcp_port: int) -> AsyncIterator[LiveServer]:
    """The whole app (create_app) with demo data, serving on 127.0.0.1 with a Twilio auth token."""
    from hotline.app import create_app

    url = f"http://127.0.0.1:{unused_tcp_port}"
    served = load_settings(environ={
        "HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_TWILIO_AUTH_TOKEN": "live-test-token",
        "HOTLINE_PUBLIC_URL": url, "HOTLINE_AGI_ENABLED": "false", "HOTLINE_HTTP_PORT": str(unused_tcp_port),
        "HOTLINE_RECORDINGS_DIR": str(settings.recordings.dir), "HOTLINE_LOGGING_FORMAT": "text"})
    runner = web.AppRunner(create_app(served, demo_db), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    yield LiveServer(served, url)
    await runner.cleanup()
