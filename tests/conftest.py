"""Shared fixtures: settings and a real database (SQLite always; PostgreSQL when
HOTLINE_TEST_DATABASE_URL is set, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

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


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """An empty schema, created fresh for each test."""
    database = Database(settings.database.url)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def demo_db(db: Database, settings: Settings) -> Database:
    """The schema with the README's demo data loaded."""
    await load_demo(db, settings)
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
