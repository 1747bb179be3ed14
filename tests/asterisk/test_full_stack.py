"""The full menu tree over FastAGI with the real IvrService and Acd on the demo data."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select, update

from acd.clock import ManualClock
from acd.models import Agent
from acd.service import Acd
from audit.models import AuditLog
from bank.models import Card
from calls.models import Call, IvrStep
from hotline.telephony.asterisk.bridge import AsteriskBridge
from ivr.service import IvrService
from tests.acd.invariants import check_invariants
from tests.asterisk.conftest import FAST
from tests.asterisk.test_agi_faults import no_errors
from tests.standins.asterisk import FakeAgiCall

CARD, PIN = "6222020000000001", "147258"


@pytest.fixture
async def stack(settings, demo_db):
    async with demo_db.session() as s:
        await s.execute(update(Agent).where(Agent.name.like("Wang%")).values(endpoint="PJSIP/agent1"))
        await s.execute(update(Agent).where(Agent.name.like("Zhang%")).values(endpoint="PJSIP/agent2"))
    ivr = IvrService(settings, demo_db)
    acd = await Acd.load(demo_db, settings, clock=ManualClock())
    bridge = AsteriskBridge(settings, demo_db, ivr, acd, options=FAST)
    await bridge.start()
    yield bridge, ivr, acd
    await bridge.stop()
    await acd.stop()


async def the_call(db, uniqueid: str = "1795353419.13") -> Call:
    async with db.session() as s:
        return (await s.execute(select(Call).where(Call.external_id == uniqueid))).scalar_one()


async def test_balance_check_in_english(stack, demo_db, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="hotline")
    caplog.set_level(logging.DEBUG, logger="ivr")
    bridge, ivr, acd = stack
    phone = FakeAgiCall(bridge.agi.port, keys=["2", "1", f"{CARD}#", f"{PIN}#", "2"])
    await asyncio.wait_for(phone.run(), 30)
    assert "GET DATA hotline/en-US/enter_card 10000 20" in phone.commands
    assert "GET DATA hotline/en-US/enter_pin 10000 7" in phone.commands
    assert 'STREAM FILE hotline/en-US/num/twelve "0123456789*#"' in phone.commands  # 12,345.67 read out
    assert phone.commands[-2:] == ['STREAM FILE hotline/en-US/goodbye ""', "HANGUP"]
    assert phone.variables["HOTLINE_LANGUAGE"] == "en-US"
    call = await the_call(demo_db)
    assert (call.channel, call.caller_number, call.dialled_number, call.verified) == ("asterisk", "13800138000", "95588", True)
    assert call.ended_at is not None and call.customer_id is not None
    assert call.attributes["asterisk_channel"] == "PJSIP/caller-00000001"
    assert call.attributes["caller_name"] == "Lab Caller"
    assert call.attributes["dialplan"] == "hotline,s,3"
    async with demo_db.session() as s:
        details = [step.detail for step in (await s.execute(select(IvrStep).where(IvrStep.call_id == call.id))).scalars()]
    assert not any(PIN in d for d in details)
    assert PIN not in caplog.text and CARD not in caplog.text
    no_errors(caplog)


async def test_pin_lockout_after_three_wrong_pins(stack, demo_db, settings) -> None:
    bridge, ivr, acd = stack
    phone = FakeAgiCall(bridge.agi.port, keys=["2", "1", f"{CARD}#", "111111#", "222222#", "333333#"])
    runner = asyncio.create_task(phone.run())
    await phone.wait_for("STREAM FILE hotline/en-US/pin_locked")
    phone.hang_up()
    await asyncio.wait_for(runner, 30)
    async with demo_db.session() as s:
        locked = [c.phone_banking_locked for c in (await s.execute(select(Card))).scalars()]
        audits = [a.action for a in (await s.execute(select(AuditLog))).scalars()]
    assert True in locked
    assert any("lock" in a for a in audits)
    assert any("pin_locked" in c for c in phone.commands)
    assert (await the_call(demo_db)).ended_at is not None


async def test_transfer_to_an_agent_through_the_real_acd(stack, demo_db) -> None:
    bridge, ivr, acd = stack
    agent_id = acd.agent_by_endpoint("PJSIP/agent1")
    await acd.login(agent_id)
    await acd.set_state(acd.agent_by_endpoint("PJSIP/agent2"), "logged_out")
    phone = FakeAgiCall(bridge.agi.port, keys=["2", "0"], dial_statuses=["ANSWER"])
    await asyncio.wait_for(phone.run(), 30)
    await acd.drain()
    call = await the_call(demo_db)
    assert f'EXEC Dial "PJSIP/agent1,20,U(hotline-record^hotline/{call.id}-{agent_id}-1.wav)"' in phone.commands
    states = {a.agent_id: a.state for a in acd.snapshot().agents}
    assert states[agent_id] == "wrap_up"
    call = await the_call(demo_db)
    assert call.ended_at is not None and call.queue == "general"
    check_invariants(acd)


@pytest.mark.parametrize("step", ["STREAM FILE hotline/en-US/transfer_hold", "WAIT FOR DIGIT 250", "EXEC Dial",
                                  "GET VARIABLE DIALSTATUS"])
async def test_hangup_at_each_transfer_step_leaves_the_acd_consistent(stack, demo_db, step) -> None:
    bridge, ivr, acd = stack
    agent_id = acd.agent_by_endpoint("PJSIP/agent1")
    if step != "WAIT FOR DIGIT 250":
        await acd.login(agent_id)  # with nobody logged in the caller waits on hold
    phone = FakeAgiCall(bridge.agi.port, keys=["2", "0"], hangup_on=step, dial_statuses=["NOANSWER"])
    await asyncio.wait_for(phone.run(), 30)
    await acd.drain()
    check_invariants(acd)
    snapshot = acd.snapshot()
    assert all(q.waiting == 0 for q in snapshot.queues)
    assert {a.state for a in snapshot.agents if a.agent_id == agent_id} <= {"available", "logged_out"}
    await asyncio.wait_for(bridge.wait_idle(), 10)
    assert bridge.sessions == {}
    call = await the_call(demo_db)
    assert call.ended_at is not None


async def _balances(db) -> dict[str, int]:
    from bank.models import Account

    async with db.session() as s:
        return {a.last4: a.balance_fen for a in await s.scalars(select(Account).where(Account.last4.in_(("0001", "0002"))))}


@pytest.mark.parametrize(("name", "keys"), [
    ("card_loss", ["1", "2", "1", f"{CARD}#", f"{PIN}#", "0001#", "2"]),
    ("pin_change", ["1", "2", "2", f"{CARD}#", f"{PIN}#", f"{PIN}#", "135790#", "135790#", "2"]),
    ("transfer", ["1", "3", f"{CARD}#", f"{PIN}#", "1", "100*5#", "1", "2"]),
    ("bill", ["1", "4", f"{CARD}#", f"{PIN}#", "1", "1", "88*8#", "1", "2"]),
])
async def test_every_self_service_operation_over_agi(stack, demo_db, name, keys) -> None:
    """Each branch of the menu, in Mandarin, to its business done and a goodbye, with its effect stored."""
    from hotline.db import verify_secret

    bridge, _, _ = stack
    before = await _balances(demo_db)
    phone = FakeAgiCall(bridge.agi.port, keys=keys)
    await asyncio.wait_for(phone.run(), 30)
    assert phone.commands[-2:] == ['STREAM FILE hotline/zh-CN/goodbye ""', "HANGUP"]
    call = await the_call(demo_db)
    assert call.self_service_done and call.verified and call.language == "zh-CN"
    async with demo_db.session() as s:
        card = (await s.execute(select(Card).where(Card.last4 == "0001"))).scalar_one()
    after = await _balances(demo_db)
    if name == "card_loss":
        assert card.status == "lost"
    elif name == "pin_change":
        assert await verify_secret(card.pin_hash, "135790") and not await verify_secret(card.pin_hash, PIN)
    elif name == "transfer":
        assert (after["0001"], after["0002"]) == (before["0001"] - 100_50, before["0002"] + 100_50)
    else:
        assert after["0001"] == before["0001"] - 88_80 and after["0002"] == before["0002"]


async def _counts(db) -> tuple[int, int]:
    from sqlalchemy import func

    from bank.models import Payment

    async with db.session() as s:
        return (await s.scalar(select(func.count()).select_from(Call)),
                await s.scalar(select(func.count()).select_from(Payment)))


async def test_a_replayed_session_of_a_finished_call_is_refused_and_moves_no_money(stack, demo_db, caplog) -> None:
    bridge, _, _ = stack
    transfer = ["1", "3", f"{CARD}#", f"{PIN}#", "1", "100*5#", "1", "2"]
    await asyncio.wait_for(FakeAgiCall(bridge.agi.port, keys=transfer).run(), 30)
    await asyncio.wait_for(bridge.wait_idle(), 10)
    after_call = (await _counts(demo_db), await _balances(demo_db))
    assert after_call[0] == (1, 1)

    replay = FakeAgiCall(bridge.agi.port, keys=transfer)  # the same agi_uniqueid, the same keys
    await asyncio.wait_for(replay.run(), 30)

    assert replay.commands == ["HANGUP"] and replay.closed_by_server  # not even answered
    assert (await _counts(demo_db), await _balances(demo_db)) == after_call
    assert "belongs to a call that has ended" in caplog.text


async def test_a_second_session_for_a_call_still_in_progress_is_hung_up(stack, demo_db) -> None:
    bridge, _, _ = stack
    first = FakeAgiCall(bridge.agi.port, keys=[], time_scale=1000.0)  # the caller thinks at the language menu
    runner = asyncio.create_task(first.run())
    await asyncio.wait_for(first.wait_for("WAIT FOR DIGIT"), 10)

    second = FakeAgiCall(bridge.agi.port, keys=["1", "3"])
    await asyncio.wait_for(second.run(), 30)

    assert second.commands == ["ANSWER", "HANGUP"]
    assert (await _counts(demo_db))[0] == 1
    first.hang_up()
    await asyncio.wait_for(runner, 30)


async def test_agi_turns_that_keep_failing_apologise_then_end_the_call(stack, demo_db, monkeypatch) -> None:
    from tests.ivr.test_turn_failures import FailingCommits

    bridge, ivr, _ = stack
    phone = FakeAgiCall(bridge.agi.port, keys=["1", "1", "1"])
    writer = ivr.record._batch
    real_commit = writer._commit
    commits = 0

    async def fail_after_the_language(batch) -> None:  # the call and its first two turns are stored
        nonlocal commits
        commits += 1
        if commits > 2:
            await FailingCommits(writer, 1)(batch)
        await real_commit(batch)

    monkeypatch.setattr(writer, "_commit", fail_after_the_language)
    await asyncio.wait_for(phone.run(), 30)

    sorry = [c for c in phone.commands if "service_error" in c]
    assert len(sorry) == 2
    assert phone.commands[-2:] == ['STREAM FILE hotline/zh-CN/goodbye ""', "HANGUP"]
    call = await the_call(demo_db)
    assert (call.status, call.end_reason) == ("completed", "hangup:service_error") and call.ended_at is not None
