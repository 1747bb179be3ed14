"""Someone who recorded a finished call's signed webhooks sends them again: the CallSid is never
started twice, nothing of the call runs again, no money moves twice."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from bank.models import Account, Payment
from calls.models import Call
from hotline.twilio_walker import Webhook
from tests.twilio.harness import Env

CARD, PIN = "6222020000000001", "147258"  # 李伟's card
TRANSFER = ["1", "3", f"{CARD}#", f"{PIN}#", "1", "1*50#", "1", "2"]  # Mandarin, transfer 1.50 yuan, confirm, goodbye



async def ledger(env: Env) -> tuple[int, int, dict[str, int]]:
    async with env.db.session() as s:
        calls = await s.scalar(select(func.count()).select_from(Call))
        payments = await s.scalar(select(func.count()).select_from(Payment))
        balances = {a.last4: a.balance_fen for a in await s.scalars(select(Account))}
    return calls, payments, balances


async def call_row(env: Env, sid: str) -> Call:
    async with env.db.session() as s:
        return (await s.scalars(select(Call).where(Call.external_id == sid))).one()


def is_bare_hangup(twiml: str) -> bool:
    root = ET.fromstring(twiml)
    return root.tag == "Response" and [(c.tag, c.text, list(c)) for c in root] == [("Hangup", None, [])]


async def test_replaying_a_finished_transfer_call_starts_nothing_and_pays_nothing(real: Env) -> None:
    before = await ledger(real)
    caller = await real.twilio.call(TRANSFER)
    recorded: list[Webhook] = list(caller.webhooks)
    assert recorded[-1].url.endswith("/twilio/status") and recorded[-1].params["CallStatus"] == "completed"
    after_call = await ledger(real)
    assert (after_call[0], after_call[1]) == (before[0] + 1, before[1] + 1)
    assert after_call[2]["0001"] == before[2]["0001"] - 150
    closed = await call_row(real, caller.sid)

    replies = [await caller.fetch(hook.url, hook.params) for hook in recorded]

    assert await ledger(real) == after_call  # one call row, one payment, balances as the call left them
    voice = [reply for hook, reply in zip(recorded, replies, strict=True) if hook.url.endswith("/twilio/voice")]
    assert len(voice) == 1 and is_bare_hangup(voice[0])
    gathers = [reply for hook, reply in zip(recorded, replies, strict=True) if "/twilio/gather" in hook.url]
    assert len(gathers) == len(TRANSFER) and all(is_bare_hangup(reply) for reply in gathers)
    again = await call_row(real, caller.sid)
    assert (again.status, again.ended_at, again.end_reason) == ("completed", closed.ended_at, closed.end_reason)


async def test_a_replayed_first_webhook_of_a_call_still_open_is_not_started_again(real: Env) -> None:
    """Still open in the database but unknown to this process (another node, or a restart): hang up."""
    caller = await real.twilio.call(["1", "2"])
    async with real.db.session() as s:
        call = await s.scalar(select(Call).where(Call.external_id == caller.sid))
        call.ended_at = call.end_reason = None
        call.status = "in-progress"
    calls = (await ledger(real))[0]

    reply = await caller.fetch(caller.webhooks[0].url, caller.webhooks[0].params)

    assert is_bare_hangup(reply)
    assert (await ledger(real))[0] == calls
