"""Waiting for an agent over FastAGI: music on hold in slices, announcements, the callback offer,
Offers that interrupt the wait, Dial outcomes, and a caller hanging up at every step."""

from __future__ import annotations

import asyncio

import pytest

from tests.asterisk.doubles import RecordingAcd, ScriptedIvr, offer
from tests.asterisk.test_agi_faults import no_errors

CALL = "call-1795353419.13"


async def start_waiting(call, acd: RecordingAcd, **kwargs):
    phone = call(keys=["9"], **kwargs)
    runner = asyncio.create_task(phone.run())
    await acd.wait_for("enqueue")
    return phone, runner


async def test_offer_interrupts_the_wait_and_noanswer_goes_back_to_waiting(bridge, call, ivr, acd, caplog) -> None:
    phone, runner = await start_waiting(call, acd, dial_statuses=["NOANSWER", "ANSWER"])
    waiting = acd.calls[0][1]
    assert (waiting.call_id, waiting.queue, waiting.connector, waiting.caller_number) == (CALL, "general", "asterisk", "13800138000")
    await phone.wait_for("WAIT FOR DIGIT 250")
    await bridge.offer(offer(CALL, agent_id=7))
    await phone.wait_for("EXEC Dial")
    await acd.wait_for("offer_failed")
    assert await phone.wait_for("SET MUSIC on", 2)  # back on hold after the no-answer
    await bridge.offer(offer(CALL, agent_id=8, endpoint="PJSIP/agent2"))
    await asyncio.wait_for(runner, 10)
    assert [c for c in acd.calls if c[0] != "enqueue"] == [
        ("offer_failed", CALL, 7, "no-answer"),
        ("offer_answered", CALL, 8),
        ("call_ended", CALL, "completed"),
    ]
    dials = [c for c in phone.commands if c.startswith(("EXEC Dial", "EXEC MixMonitor", "GET VARIABLE"))]
    assert dials == [  # recorded only from an answer on: the agent's channel runs the subroutine
        f'EXEC Dial "PJSIP/agent1,20,U(hotline-record^hotline/{CALL}-7-1.wav)"',
        "GET VARIABLE DIALSTATUS",
        f'EXEC Dial "PJSIP/agent2,20,U(hotline-record^hotline/{CALL}-8-2.wav)"',
        "GET VARIABLE DIALSTATUS",
    ]
    assert phone.recordings == [("PJSIP/agent2-00000002", f"/var/spool/asterisk/monitor/hotline/{CALL}-8-2.wav")]
    assert phone.monitors == []  # it stopped with the agent's leg
    assert ivr.hangups == [(CALL, "completed")]
    # the announcement plays before the music: position, then the callback offer
    queue_prompts = [c for c in phone.commands if "queue_position" in c or "callback_offer" in c]
    assert queue_prompts[:2] == [
        'STREAM FILE hotline/en-US/queue_position "0123456789*#"',
        'STREAM FILE hotline/en-US/callback_offer "0123456789*#"',
    ]
    no_errors(caplog)


async def test_periodic_announcements_while_waiting(bridge, call, acd) -> None:
    phone, runner = await start_waiting(call, acd)
    await phone.wait_for('STREAM FILE hotline/en-US/queue_position', 3)  # every 1 s = every 4 slices
    between = phone.commands.index('STREAM FILE hotline/en-US/queue_position "0123456789*#"')
    assert phone.commands[between + 2 : between + 3] == ["SET MUSIC on default"]
    waits = [c for c in phone.commands if c.startswith("WAIT FOR DIGIT")]
    assert len(waits) >= 8
    phone.hang_up()
    await asyncio.wait_for(runner, 10)


async def test_pressing_1_books_a_callback(bridge, call, ivr, acd, caplog) -> None:
    phone, runner = await start_waiting(call, acd)
    await phone.wait_for("WAIT FOR DIGIT 250")
    phone.press("1")
    await asyncio.wait_for(runner, 10)
    assert ("request_callback", CALL, "13800138000") in acd.calls
    assert not any(c[0] == "call_ended" for c in acd.calls)  # not an abandon: the place is kept
    assert 'STREAM FILE hotline/en-US/callback_confirmed ""' in phone.commands
    assert ivr.hangups == [(CALL, "callback")]
    no_errors(caplog)


STEPS = [
    "STREAM FILE hotline/en-US/transfer_hold",
    "STREAM FILE hotline/en-US/queue_position",
    "STREAM FILE hotline/en-US/callback_offer",
    "SET MUSIC on",
    "WAIT FOR DIGIT 250",
    "SET MUSIC off",
    "EXEC Dial",
    "GET VARIABLE DIALSTATUS",
]


@pytest.mark.parametrize("mode", ["sighup", "exit", "close"])
@pytest.mark.parametrize("step", STEPS)
async def test_hangup_at_every_step_of_a_transfer(bridge, call, ivr: ScriptedIvr, acd: RecordingAcd, step, mode, caplog) -> None:
    phone = call(keys=["9"], hangup_on=step, hangup_mode=mode, dial_statuses=["NOANSWER"])
    runner = asyncio.create_task(phone.run())
    if step not in STEPS[:1]:
        await acd.wait_for("enqueue")
    if STEPS.index(step) >= STEPS.index("SET MUSIC off"):
        await phone.wait_for("WAIT FOR DIGIT 250")
        await bridge.offer(offer(CALL))
    await asyncio.wait_for(runner, 10)
    await asyncio.wait_for(ivr.hung_up.wait(), 10)
    reason = "pbx_lost" if mode == "close" else "caller-hangup"  # "close": the socket ends with no hang-up
    assert ivr.hangups == [(CALL, reason)]
    # Once the ACD knows the call it hears of its end exactly once.
    ended = [c for c in acd.calls if c[0] == "call_ended"]
    if any(c[0] == "enqueue" for c in acd.calls):
        assert ended == [("call_ended", CALL, reason)]
    else:
        assert step == STEPS[0] and acd.calls == []
    # the agent is never blamed for a caller who hung up while their phone rang
    assert [c for c in acd.calls if c[0] == "offer_failed" and c[3] != "no-answer"] == []
    if step in ("EXEC Dial",):
        assert not any(c[0] == "offer_failed" for c in acd.calls)
    await asyncio.wait_for(bridge.wait_idle(), 10)
    assert bridge.sessions == {}
    no_errors(caplog)


async def test_hangup_during_the_conversation(bridge, call, ivr, acd, caplog) -> None:
    talking = asyncio.Event()
    phone, runner = await start_waiting(call, acd, dial_hold=talking)
    await phone.wait_for("WAIT FOR DIGIT 250")
    await bridge.offer(offer(CALL))
    await phone.wait_for("EXEC Dial")
    phone.hang_up()  # the caller hangs up while talking to the agent
    await asyncio.wait_for(runner, 10)
    await asyncio.wait_for(ivr.hung_up.wait(), 10)
    assert [c for c in acd.calls if c[0] != "enqueue"] == [
        ("offer_answered", CALL, 7),
        ("call_ended", CALL, "completed"),
    ]
    no_errors(caplog)


async def test_overflow_to_voicemail(bridge, call, ivr, acd) -> None:
    from acd.ports import Overflow

    phone, runner = await start_waiting(call, acd)
    await phone.wait_for("WAIT FOR DIGIT 250")
    await bridge.overflow(Overflow(CALL, "voicemail", "1000@hotline"))
    await asyncio.wait_for(runner, 10)
    assert 'EXEC VoiceMail "1000@hotline,u"' in phone.commands
    assert ("call_ended", CALL, "voicemail") in acd.calls
    assert ivr.hangups == [(CALL, "voicemail")]


async def test_offer_for_a_call_no_longer_here_tells_the_acd(bridge) -> None:
    """LookupError is how a connector says "that caller is gone": the ACD frees the agent at once."""
    with pytest.raises(LookupError, match="no live session"):
        await bridge.offer(offer("nope"))


async def test_overflow_to_another_queue_keeps_the_call_details(bridge, call, ivr, acd) -> None:
    from acd.ports import Overflow

    phone, runner = await start_waiting(call, acd)
    await phone.wait_for("WAIT FOR DIGIT 250")
    await bridge.overflow(Overflow(CALL, "queue", "complaints"))
    requeued = None
    while requeued is None:
        requeued = next((c[1] for c in acd.calls[1:] if c[0] == "enqueue"), None)
        if requeued is None:
            acd.changed.clear()
            await acd.changed.wait()
    assert (requeued.queue, requeued.category, requeued.caller_number) == ("complaints", "other", "13800138000")
    await bridge.offer(offer(CALL))
    await asyncio.wait_for(runner, 10)
    assert ("offer_answered", CALL, 7) in acd.calls
