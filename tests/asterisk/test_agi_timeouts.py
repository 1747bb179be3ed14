"""A FastAGI peer that sends a valid header block and then stops answering must not hold its call:
each reply is due within the command's own wait plus agi.reply_timeout_s, after which the session
is closed and the call ended ("agi_timeout"). Commands that legitimately run long (a GET DATA or
WAIT FOR DIGIT waiting for keys, a Dial lasting the conversation) are not cut short."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from calls.models import Call
from hotline.db import Database
from hotline.settings import Settings
from hotline.telephony.asterisk.bridge import AsteriskBridge
from ivr.events import Timeout
from ivr.service import IvrService
from tests.asterisk.conftest import FAST
from tests.asterisk.doubles import RecordingAcd, ScriptedIvr, offer
from tests.standins.asterisk import FakeAgiCall, agi_header_block

REPLY_TIMEOUT_S = 0.2
CALL = "call-1795353419.13"


def impatient(settings: Settings) -> Settings:
    return settings.model_copy(update={"agi": settings.agi.model_copy(update={"reply_timeout_s": REPLY_TIMEOUT_S})})


@pytest.fixture
async def bridge(settings: Settings, db: Database, ivr: ScriptedIvr, acd: RecordingAcd) -> AsyncIterator[AsteriskBridge]:
    bridge = AsteriskBridge(impatient(settings), db, ivr, acd, options=FAST)
    await bridge.start()
    yield bridge
    await bridge.stop()


class SilentPeer:
    """Sends the header block, answers the first `answered` commands, then never says a word."""

    def __init__(self, port: int, answered: int = 0) -> None:
        self.port, self.answered = port, answered
        self.commands: list[bytes] = []

    async def run(self) -> None:
        """Returns when the server closes the connection."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(agi_header_block())
            await writer.drain()
            while line := await reader.readline():
                self.commands.append(line.rstrip(b"\n"))
                if len(self.commands) <= self.answered:
                    writer.write(b"200 result=0\n")
                    await writer.drain()
        finally:
            writer.close()


async def test_a_peer_silent_after_its_header_is_closed(bridge, ivr: ScriptedIvr, caplog) -> None:
    peer = SilentPeer(bridge.agi.port)
    await asyncio.wait_for(peer.run(), 10)

    assert peer.commands == [b"ANSWER"]
    assert ivr.started == []  # nothing of the call ran
    assert "no reply to ANSWER in 0.2 s" in caplog.text
    await asyncio.wait_for(bridge.wait_idle(), 10)


async def test_a_peer_silent_mid_call_ends_the_call_with_the_reason(bridge, ivr: ScriptedIvr, acd) -> None:
    peer = SilentPeer(bridge.agi.port, answered=1)
    runner = asyncio.create_task(peer.run())
    await asyncio.wait_for(ivr.hung_up.wait(), 10)

    assert ivr.hangups == [(CALL, "agi_timeout")]
    await asyncio.wait_for(runner, 10)
    assert peer.commands == [b"ANSWER", b'SET VARIABLE HOTLINE_LANGUAGE "en-US"']
    await asyncio.wait_for(bridge.wait_idle(), 10)
    assert bridge.sessions == {}


async def test_the_call_row_of_a_silent_peer_is_closed(settings, demo_db) -> None:
    bridge = AsteriskBridge(impatient(settings), demo_db, IvrService(settings, demo_db), None, options=FAST)
    await bridge.start()
    try:
        peer = SilentPeer(bridge.agi.port, answered=1)
        await asyncio.wait_for(peer.run(), 10)  # the server closes the socket once the call is closed
    finally:
        await bridge.stop()
    async with demo_db.session() as s:
        call = (await s.scalars(select(Call).where(Call.external_id == "1795353419.13"))).one()
    assert (call.status, call.end_reason) == ("completed", "hangup:agi_timeout")
    assert call.ended_at is not None


async def test_waiting_for_keys_longer_than_the_reply_timeout_is_not_silence(bridge, ivr: ScriptedIvr) -> None:
    # time_scale 0.1: WAIT FOR DIGIT 5000 takes the stand-in 0.5 s, more than the 0.2 s reply timeout
    phone = FakeAgiCall(bridge.agi.port, keys=[], time_scale=0.1, hangup_after=8)
    await asyncio.wait_for(phone.run(), 10)
    await asyncio.wait_for(ivr.hung_up.wait(), 10)

    assert ivr.events == [(CALL, Timeout())] * 2  # each menu wait ran to its end: two silences
    assert ivr.hangups == [(CALL, "caller-hangup")]


async def test_a_conversation_longer_than_the_reply_timeout_is_not_silence(bridge, ivr: ScriptedIvr, acd) -> None:
    talking = asyncio.Event()
    phone = FakeAgiCall(bridge.agi.port, keys=["9"], dial_hold=talking)
    runner = asyncio.create_task(phone.run())
    await asyncio.wait_for(phone.wait_for("WAIT FOR DIGIT 250"), 10)
    await bridge.offer(offer(CALL))
    await asyncio.wait_for(phone.wait_for("EXEC Dial"), 10)
    await asyncio.sleep(3 * REPLY_TIMEOUT_S)  # real time must pass for a timeout to be able to fire
    talking.set()
    await asyncio.wait_for(runner, 10)

    assert ivr.hangups == [(CALL, "completed")]
    assert ("offer_answered", CALL, 7) in acd.calls
