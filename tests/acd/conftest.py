"""ACD fixtures: the shipped queue config, a manual clock, and a bridge that records what it is asked.

The recording bridge stands in for the Twilio/Asterisk connectors at the port (`acd.ports.Connector`);
the ACD itself, its database and its timers are the real ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from acd.clock import ManualClock
from acd.config import AcdConfig, load_for
from acd.models import Agent
from acd.ports import Offer, OutboundCall, Overflow, WaitingCall
from acd.service import Acd
from hotline.db import Database
from hotline.settings import Settings


@dataclass
class RecordingBridge:
    offers: list[Offer] = field(default_factory=list)
    overflows: list[Overflow] = field(default_factory=list)
    outbound: list[OutboundCall] = field(default_factory=list)
    fail_offers: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def offer(self, offer: Offer) -> None:
        if self.fail_offers:
            raise ConnectionError("bridge down")
        self.offers.append(offer)
        self.changed.set()

    async def overflow(self, overflow: Overflow) -> None:
        self.overflows.append(overflow)
        self.changed.set()

    async def place_outbound(self, call: OutboundCall) -> None:
        self.outbound.append(call)
        self.changed.set()


@pytest.fixture
def acd_config(settings: Settings) -> AcdConfig:
    return load_for(settings)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def bridge() -> RecordingBridge:
    return RecordingBridge()


@pytest.fixture
async def acd(demo_db: Database, settings: Settings, acd_config: AcdConfig, clock: ManualClock,
              bridge: RecordingBridge) -> AsyncIterator[Acd]:
    service = Acd(acd_config, demo_db, settings, clock=clock)
    service.register_connector("twilio", bridge)
    await service.start()
    yield service
    await service.stop()


def caller(call_id: str, queue: str = "general", **extra: object) -> WaitingCall:
    return WaitingCall(call_id=call_id, queue=queue, category=extra.pop("category", "balance"),  # type: ignore[arg-type]
                       connector="twilio", **extra)  # type: ignore[arg-type]


async def agent_ids(acd: Acd) -> tuple[int, int]:
    a1, a2 = acd.agent_by_endpoint("client:agent1"), acd.agent_by_endpoint("client:agent2")
    assert a1 is not None and a2 is not None
    return a1, a2


async def add_agents(db: Database, skills: list[dict[str, int]]) -> list[int]:
    async with db.session() as s:
        rows = [Agent(name=f"Agent {i}", endpoint=f"client:extra{i}", skills=sk) for i, sk in enumerate(skills)]
        s.add_all(rows)
        await s.flush()
        return [r.id for r in rows]
