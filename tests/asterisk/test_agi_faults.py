"""Every FastAGI fault listed in LIBRARIES.md, over real TCP against the stand-in Asterisk."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hotline.telephony.asterisk.agi_channel import AgiChannel
from hotline.telephony.asterisk.agi_server import AgiServer
from hotline.telephony.asterisk.agi_session import AgiCallSession
from ivr.events import Digits, Timeout
from tests.asterisk.doubles import RecordingAcd, ScriptedIvr
from tests.standins.asterisk import FakeAgiCall, agi_header_block


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


async def test_a_normal_call_walks_the_menu(call, ivr: ScriptedIvr, caplog) -> None:
    phone = call(keys=["2"])
    await phone.run()
    assert phone.commands == [
        "ANSWER",
        'SET VARIABLE HOTLINE_LANGUAGE "en-US"',
        'STREAM FILE hotline/en-US/welcome "0123456789*#"',
        'STREAM FILE hotline/en-US/main_menu "0123456789*#"',
        "WAIT FOR DIGIT 5000",
        'STREAM FILE hotline/en-US/goodbye ""',
        "HANGUP",
    ]
    assert ivr.events == [("call-1795353419.13", Digits("2"))]
    assert ivr.hangups == [("call-1795353419.13", "completed")]
    started = ivr.started[0]
    assert (started.caller_number, started.dialled_number, started.language) == ("13800138000", "95588", None)
    no_errors(caplog)


async def test_connect_and_close_does_not_freeze_the_listener(bridge, call, ivr: ScriptedIvr, caplog) -> None:
    port = bridge.agi.port
    for partial in (b"", b"agi_network: yes\n", agi_header_block()[:200]):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(partial)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)  # a port scan that stays
    phone = call(keys=["2"])
    await asyncio.wait_for(phone.run(), 10)
    assert ivr.hangups == [("call-1795353419.13", "completed")]
    assert len(ivr.started) == 1
    silent_writer.close()
    await silent_writer.wait_closed()
    no_errors(caplog)


async def test_silent_connection_times_out_without_blocking_others(ivr: ScriptedIvr) -> None:
    served = []

    async def handler(chan: AgiChannel) -> None:
        served.append(chan.request.uniqueid)
        await chan.answer()

    server = AgiServer(handler, "127.0.0.1", 0, header_timeout_s=0.05)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        phone = FakeAgiCall(server.port)
        await asyncio.wait_for(phone.run(), 10)
        assert served == ["1795353419.13"]
        assert await reader.read() == b""  # the silent one was closed by the header timeout
        writer.close()
    finally:
        await server.stop()


@pytest.mark.parametrize(("mode", "reason"), [("sighup", "caller-hangup"), ("nosighup", "caller-hangup"),
                                              ("exit", "caller-hangup"), ("close", "pbx_lost")])
async def test_hangup_mid_command_ends_the_call_cleanly(call, ivr: ScriptedIvr, bridge, mode: str, reason: str,
                                                        caplog) -> None:
    phone = call(keys=["1"], hangup_on="GET DATA", hangup_mode=mode)
    await phone.run()
    await asyncio.wait_for(ivr.hung_up.wait(), 10)
    assert ivr.hangups == [("call-1795353419.13", reason)]
    assert ivr.events == [("call-1795353419.13", Digits("1"))]  # nothing invented for the lost entry
    await asyncio.wait_for(bridge.wait_idle(), 10)
    assert bridge.sessions == {}
    assert phone.commands[-1].startswith("GET DATA") or mode in ("sighup", "nosighup")
    no_errors(caplog)


async def test_a_hangup_during_a_prompt_is_the_caller_and_nothing_more_is_sent(call, ivr: ScriptedIvr, caplog) -> None:
    # The caller hangs up while hearing the welcome prompt: STREAM FILE answers -1 and Asterisk sends
    # the HANGUP line a few ms later. That is the caller, not a missing file, and the channel is dead:
    # no further command goes out.
    caplog.set_level(logging.INFO, logger="hotline")
    phone = call(keys=["2"], hangup_on="STREAM FILE hotline/en-US/welcome", hangup_mode="sighup")
    await phone.run()
    assert phone.commands == [
        "ANSWER",
        'SET VARIABLE HOTLINE_LANGUAGE "en-US"',
        'STREAM FILE hotline/en-US/welcome "0123456789*#"',
    ]
    assert phone.sent.endswith(b"200 result=-1 endpos=4000\nHANGUP\n")
    assert ivr.hangups == [("call-1795353419.13", "caller-hangup")]
    assert ivr.events == []
    assert "the caller hung up" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_511_on_a_dead_channel_without_agisighup(call, ivr: ScriptedIvr, caplog) -> None:
    phone = call(keys=["2"], hangup_after=2, hangup_mode="nosighup")  # gone before the welcome prompt
    await phone.run()
    assert b"HANGUP" not in phone.sent
    assert phone.sent.endswith(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert phone.commands[-1] == 'STREAM FILE hotline/en-US/welcome "0123456789*#"'
    assert ivr.hangups == [("call-1795353419.13", "caller-hangup")]
    no_errors(caplog)


async def test_a_prompt_cut_short_without_agisighup_is_the_caller(call, ivr: ScriptedIvr, caplog) -> None:
    # No HANGUP line comes, but the file played part-way (endpos > 0): it exists, so the -1 is the hang-up.
    phone = call(keys=["2"], hangup_on="STREAM FILE hotline/en-US/welcome", hangup_mode="nosighup")
    await phone.run()
    assert phone.commands[-1] == 'STREAM FILE hotline/en-US/welcome "0123456789*#"'
    assert b"HANGUP" not in phone.sent
    assert ivr.hangups == [("call-1795353419.13", "caller-hangup")]
    no_errors(caplog)


async def test_gather_timeout_and_partial_entry(call, ivr: ScriptedIvr) -> None:
    # "1" → card entry (GET DATA, '#'-terminated); "12" then the timeout is a partial entry;
    # the PIN gather gets nothing at all: a Timeout event, not an error.
    phone = call(keys=["1", "12", "."])
    await phone.run()
    call_id = "call-1795353419.13"
    assert ivr.events == [(call_id, Digits("1")), (call_id, Digits("12")), (call_id, Timeout())]
    assert "GET DATA hotline/en-US/then_hash 5000 20" in phone.commands
    assert 'STREAM FILE hotline/en-US/enter_card "0123456789*#"' in phone.commands


async def test_keys_pressed_during_a_prompt_are_kept(call, ivr: ScriptedIvr) -> None:
    # Barge-in: the caller types the card number while "enter card" plays: the key that cut the prompt
    # starts the entry and GET DATA collects the rest.
    phone = call(keys=["1", "6222020000000001#", "147258#"], barge_in=True)
    await phone.run()
    call_id = "call-1795353419.13"
    assert ivr.events == [(call_id, Digits("1")), (call_id, Digits("6222020000000001")), (call_id, Digits("147258"))]
    assert "GET DATA silence/1 5000 19" in phone.commands


async def test_hash_as_a_menu_key_is_not_swallowed(call, ivr: ScriptedIvr) -> None:
    phone = call(keys=["#", "2"])
    await phone.run()
    assert [e for _, e in ivr.events] == [Digits("#"), Digits("2")]


async def test_stray_hash_ends_a_gather_with_nothing_entered(call, ivr: ScriptedIvr) -> None:
    phone = call(keys=["1", "#", "#"])
    await phone.run()
    assert [e for _, e in ivr.events] == [Digits("1"), Timeout(), Timeout()]


async def test_secure_digits_never_reach_the_logs(call, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    phone = call(keys=["1", "6222020000000001#", "147258#"])
    await phone.run()
    assert "147258" not in caplog.text
    assert "secure entry of 6 keys" in caplog.text


async def test_truncated_utf8_caller_name_does_not_cost_the_call(call, ivr: ScriptedIvr) -> None:
    header = agi_header_block(calleridname="李伟").replace("李伟".encode(), "李伟".encode()[:4])
    phone = call(keys=["2"], header=header)
    await phone.run()
    assert ivr.hangups == [("call-1795353419.13", "completed")]
    assert ivr.started[0].caller_number == "13800138000"


async def test_query_string_in_the_script_path_routes_and_forces_language(call, ivr: ScriptedIvr) -> None:
    phone = call(keys=["2"], script="ivr?lang=en-US", header_split=150)
    await phone.run()
    assert ivr.started[0].language == "en-US"
    assert phone.commands[0] == "ANSWER"


async def test_unknown_script_is_refused(call, ivr: ScriptedIvr) -> None:
    phone = call(script="something-else")
    await phone.run()
    assert phone.commands == [] and phone.closed_by_server
    assert ivr.started == []


async def test_cancellation_is_not_swallowed_and_closes_the_call() -> None:
    ivr = ScriptedIvr()
    acd = RecordingAcd()
    sessions: list[asyncio.Task] = []
    entered = asyncio.Event()

    async def handler(chan: AgiChannel) -> None:
        session = AgiCallSession(chan, ivr, acd)
        task = asyncio.current_task()
        sessions.append(task)
        entered.set()
        await session.run()

    server = AgiServer(handler, "127.0.0.1", 0)
    await server.start()
    phone = FakeAgiCall(server.port, time_scale=1000.0)  # WAIT FOR DIGIT blocks: the caller is thinking
    runner = asyncio.create_task(phone.run())
    await phone.wait_for("WAIT FOR DIGIT")
    await server.stop()
    assert sessions[0].cancelled()  # CancelledError went through, not swallowed
    assert ivr.hangups == [("call-1795353419.13", "server-shutdown")]
    assert server.active_calls == 0
    await asyncio.wait_for(runner, 10)


async def test_many_concurrent_calls_with_hangups_leave_nothing_behind(call, ivr: ScriptedIvr, bridge) -> None:
    phones = []
    for i in range(30):
        kwargs = {"uniqueid": f"1795353419.{100 + i}", "channel": f"PJSIP/c-{i:08x}"}
        if i % 3 == 0:
            kwargs.update(hangup_on="GET DATA", hangup_mode=["sighup", "exit", "close"][i % 9 // 3])
        phones.append(call(keys=["1", "6222020000000001#", "147258#"], **kwargs))
    await asyncio.wait_for(asyncio.gather(*(p.run() for p in phones)), 30)
    while len(ivr.hangups) < 30:
        ivr.hung_up.clear()
        await ivr.hung_up.wait()
    reasons = [r for _, r in ivr.hangups]
    assert (reasons.count("caller-hangup"), reasons.count("pbx_lost")) == (7, 3)  # 3 in "close" mode
    await asyncio.wait_for(bridge.wait_idle(), 10)
    assert bridge.sessions == {}
    assert bridge.agi.active_calls == 0
