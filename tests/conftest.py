"""Shared fixtures: settings and a real database (SQLite always; PostgreSQL when
HOTLINE_TEST_DATABASE_URL is set, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
