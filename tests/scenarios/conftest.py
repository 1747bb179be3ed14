"""The player fixture: the stack of the transport a test is parametrised with, on the demo data of the
database tests/conftest.py picks (SQLite, or PostgreSQL with HOTLINE_TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hotline.db import Database
from hotline.settings import Settings
from tests.scenarios.transports import STACKS, Player


@pytest.fixture
async def player(request: pytest.FixtureRequest, settings: Settings, demo_db: Database) -> AsyncIterator[Player]:
    async with STACKS[request.param](settings, demo_db) as built:
        yield built
