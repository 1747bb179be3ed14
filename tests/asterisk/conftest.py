from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from acd.models import Agent
from hotline.settings import Settings
from hotline.telephony.asterisk.agi_session import SessionOptions
from hotline.telephony.asterisk.bridge import AsteriskBridge
from tests.asterisk.doubles import RecordingAcd, ScriptedIvr
from tests.standins.asterisk import FakeAgiCall, FakeAmiServer


def with_ami(settings: Settings, port: int, secret: str = "s3cret", **extra: object) -> Settings:
    ami = settings.ami.model_copy(update={"host": "127.0.0.1", "port": port, "username": "hotline",
                                          "secret": __import__("pydantic").SecretStr(secret), **extra})
    return settings.model_copy(update={"ami": ami})


FAST = SessionOptions(hold_slice_s=0.25, announce_every_s=1.0)


@pytest.fixture
async def ivr(db) -> ScriptedIvr:
    # the offers of these tests name agents 1-9: the call record keeps their legs
    async with db.session() as s:
        s.add_all(Agent(id=agent_id, name=f"agent{agent_id}") for agent_id in range(1, 10))
    return ScriptedIvr(db=db)


@pytest.fixture
def acd() -> RecordingAcd:
    return RecordingAcd()


@pytest.fixture
async def bridge(settings: Settings, db, ivr: ScriptedIvr, acd: RecordingAcd) -> AsyncIterator[AsteriskBridge]:
    bridge = AsteriskBridge(settings, db, ivr, acd, options=FAST)
    await bridge.start()
    yield bridge
    await bridge.stop()


@pytest.fixture
def call(bridge: AsteriskBridge) -> Callable[..., FakeAgiCall]:
    def make(**kwargs: object) -> FakeAgiCall:
        assert bridge.agi is not None
        return FakeAgiCall(bridge.agi.port, **kwargs)

    return make


@pytest.fixture
async def ami_server() -> AsyncIterator[FakeAmiServer]:
    server = FakeAmiServer()
    await server.start()
    yield server
    await server.stop()


async def until(predicate: Callable[[], bool], changed: asyncio.Event | None = None) -> None:
    """Wait for a condition that the code under test makes true; yields to the loop between checks."""
    while not predicate():
        if changed is not None:
            changed.clear()
            await changed.wait()
        else:
            await asyncio.sleep(0)
