"""Schema migrations (Alembic) for `hotline db upgrade` and the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` on the database's own engine (works inside a running loop)."""
    await _run_with_connection(db.engine, lambda cfg: command.upgrade(cfg, revision))


async def _run_with_connection(engine: AsyncEngine, action: Callable[[Config], object]) -> None:
    def run(sync_connection: Connection) -> None:
        config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
        config.attributes["connection"] = sync_connection
        action(config)

    async with engine.begin() as conn:
        await conn.run_sync(run)
