"""The app with a real Acd for the desktop and supervision tests, plus a bridge stand-in that takes
the ACD's requests in process (the Twilio and AGI stand-ins replace it in the end-to-end tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from sqlalchemy import select

from acd.clock import Clock
from acd.ports import Offer, OutboundCall, Overflow
from acd.service import Acd
from bank.models import Customer
from calls.models import Call, IvrStep
from hotline.app import create_app
from hotline.db import Database
from hotline.settings import Settings
from hotline.staff import User
from hotline.web.keys import ACD

CONNECTOR = "test"


@dataclass
class BridgeStandIn:
    """Records what the ACD asks a bridge to do; tests await the next request instead of sleeping."""

    offers: asyncio.Queue[Offer] = field(default_factory=asyncio.Queue)
    outbound: asyncio.Queue[OutboundCall] = field(default_factory=asyncio.Queue)
    overflows: list[Overflow] = field(default_factory=list)

    async def offer(self, offer: Offer) -> None:
        self.offers.put_nowait(offer)

    async def overflow(self, overflow: Overflow) -> None:
        self.overflows.append(overflow)

    async def place_outbound(self, call: OutboundCall) -> None:
        self.outbound.put_nowait(call)


def build_app(settings: Settings, db: Database, *, clock: Clock | None = None,
              replace_bridges: bool = False) -> tuple[web.Application, Acd, BridgeStandIn]:
    """create_app with the desktop modules, its Acd on `clock`, and the in-process bridge registered
    as "test" (and, with `replace_bridges`, in place of the Twilio bridge, which the ACD picks first
    for outbound calls)."""
    app = create_app(settings, db)
    acd = app[ACD]  # create_app starts and stops it with the app
    if clock is not None:
        acd.clock = clock
    bridge = BridgeStandIn()
    for name in (CONNECTOR, "twilio") if replace_bridges else (CONNECTOR,):
        acd.register_connector(name, bridge)
    return app, acd, bridge


def always_open(settings: Settings, folder: Path) -> Settings:
    """The shipped queue file with every queue and campaign hours open around the clock, for tests
    on the wall clock (a browser against real Twilio/AGI timing) whatever the hour they run."""
    data = yaml.safe_load(settings.config_path(settings.acd.queues).read_text(encoding="utf-8"))
    for queue in data["queues"].values():
        queue["hours"] = "always"
    data["campaigns"]["hours"] = "always"
    path = folder / "queues-always-open.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return settings.model_copy(update={"acd": settings.acd.model_copy(update={"queues": path})})


async def agent_id_of(db: Database, username: str) -> int:
    async with db.session() as s:
        agent_id = await s.scalar(select(User.agent_id).where(User.username == username))
    assert agent_id is not None
    return agent_id


async def customer_id_of(db: Database, mobile: str) -> int:
    async with db.session() as s:
        customer_id = await s.scalar(select(Customer.id).where(Customer.mobile == mobile))
    assert customer_id is not None
    return customer_id


async def add_call(db: Database, call_id: str, *, customer_id: int | None, number: str, verified: bool,
                   category: str, queue: str, steps: list[tuple[str, str, str, str]],
                   started_at: datetime | None = None, **values: Any) -> None:
    """A call as the IVR leaves it when the caller asks for an agent: row plus path (node, kind, detail, outcome)."""
    async with db.session() as s:
        extra = {"started_at": started_at} if started_at else {}
        s.add(Call(id=call_id, channel="twilio", caller_number=number, dialled_number="95588", customer_id=customer_id,
                   verified=verified, business_category=category, queue=queue, **extra, **values))
        await s.flush()
        for seq, (node, kind, detail, outcome) in enumerate(steps, start=1):
            s.add(IvrStep(call_id=call_id, seq=seq, node=node, kind=kind, detail=detail, outcome=outcome))


LI_WEI_PATH = [
    ("start", "enter", "", "zh-CN"),
    ("main", "key", "2", ""),
    ("cards", "key", "1", ""),
    ("card_loss", "key", "****************", ""),
    ("card_loss", "operation", "verify_card", "failed"),
    ("card_loss", "key", "0", ""),
    ("card_loss", "transfer", "cards/card_loss", ""),
]
