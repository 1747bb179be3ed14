"""A card reported lost stops opening telephone banking: whole calls over FastAGI (the Asterisk
stand-in) to the real IVR and ACD on the demo data."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from acd.clock import ManualClock
from acd.service import Acd
from bank.models import Account, Card, Payment
from calls.models import Call
from hotline.db import Database, verify_secret
from hotline.settings import Settings
from hotline.telephony.asterisk.bridge import AsteriskBridge
from ivr.service import IvrService
from tests.asterisk.conftest import FAST
from tests.standins.asterisk import FakeAgiCall

CARD, PIN = "6222020000000001", "147258"
LOST_CARD, LOST_PIN = "6222020000000002", "258369"
REFUSED = "STREAM FILE hotline/zh-CN/card_blocked"


@pytest.fixture
async def bridge(settings: Settings, demo_db: Database):
    acd = await Acd.load(demo_db, settings, clock=ManualClock())
    bridge = AsteriskBridge(settings, demo_db, IvrService(settings, demo_db), acd, options=FAST)
    await bridge.start()
    yield bridge
    await bridge.stop()
    await acd.stop()


async def the_call(db: Database, uniqueid: str) -> Call:
    async with db.session() as s:
        return (await s.execute(select(Call).where(Call.external_id == uniqueid))).scalar_one()


async def money(db: Database) -> tuple[dict[str, int], int]:
    async with db.session() as s:
        balances = {a.last4: a.balance_fen for a in await s.scalars(select(Account))}
        payments = await s.scalar(select(func.count()).select_from(Payment))
    return balances, payments or 0


async def refused_twice(bridge: AsteriskBridge, keys: list[str], uniqueid: str, callerid: str) -> FakeAgiCall:
    """Dial, key the script, and hang up once the second refusal has been played."""
    assert bridge.agi is not None
    phone = FakeAgiCall(bridge.agi.port, keys=keys, uniqueid=uniqueid, callerid=callerid)
    runner = asyncio.create_task(phone.run())
    await asyncio.wait_for(phone.wait_for(REFUSED, 2), 30)
    phone.hang_up()
    await asyncio.wait_for(runner, 30)
    return phone


async def test_a_card_reported_lost_in_one_call_is_refused_in_the_next(bridge: AsteriskBridge,
                                                                       demo_db: Database) -> None:
    assert bridge.agi is not None
    report = FakeAgiCall(bridge.agi.port, keys=["1", "2", "1", f"{CARD}#", f"{PIN}#", "0001#", "2"],
                         uniqueid="1795353419.21")
    await asyncio.wait_for(report.run(), 30)
    assert any(c.startswith("STREAM FILE hotline/zh-CN/loss_done") for c in report.commands)
    before = await money(demo_db)

    # balance, then a transfer: both refused
    phone = await refused_twice(bridge, ["1", "1", f"{CARD}#", f"{PIN}#", "3", f"{CARD}#", f"{PIN}#"],
                                "1795353419.22", "13800138000")
    refusals = [i for i, c in enumerate(phone.commands) if c.startswith(REFUSED)]
    assert len(refusals) == 2
    assert phone.commands[refusals[0] + 1] == 'STREAM FILE hotline/zh-CN/main_menu "0123456789*#"'
    assert not any("balance_account" in c or "choose_from_account" in c for c in phone.commands)
    call = await the_call(demo_db, "1795353419.22")
    assert (call.verified, call.self_service_done) == (False, False)
    assert await money(demo_db) == before


async def test_the_demo_lost_card_cannot_read_balances_or_change_its_pin(bridge: AsteriskBridge,
                                                                         demo_db: Database) -> None:
    phone = await refused_twice(bridge, ["1", "1", f"{LOST_CARD}#", f"{LOST_PIN}#", "2", "2", f"{LOST_CARD}#",
                                         f"{LOST_PIN}#"], "1795353419.31", "13900139000")
    refusals = [i for i, c in enumerate(phone.commands) if c.startswith(REFUSED)]
    assert phone.commands[refusals[1] + 1] == 'STREAM FILE hotline/zh-CN/cards_menu "0123456789*#"'
    assert not any("balance_account" in c or "pin_enter_old" in c for c in phone.commands)
    assert not (await the_call(demo_db, "1795353419.31")).verified
    async with demo_db.session() as s:
        lost = await s.scalar(select(Card).where(Card.last4 == "0002"))
    assert lost.failed_pin_attempts == 0 and await verify_secret(lost.pin_hash, LOST_PIN)
