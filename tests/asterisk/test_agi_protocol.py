"""FastAGI parsing against the bytes a real Asterisk 20 sent (fed with the transcript's TCP splits)."""

from __future__ import annotations

import asyncio

import pytest

from hotline.telephony.asterisk.agi_protocol import (
    AgiHangup,
    ReplyReader,
    parse_header_block,
    parse_reply_line,
    read_header_block,
    split_script,
)
from tests.standins.asterisk import load_transcript


def reader_with(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


@pytest.mark.parametrize(
    ("line", "code", "value", "data", "endpos", "timed_out", "digit"),
    [
        (b"200 result=0 endpos=12000", 200, 0, None, 12000, False, ""),
        (b"200 result=55 endpos=17600", 200, 55, None, 17600, False, "7"),
        (b"200 result=-1 endpos=0", 200, -1, None, 0, False, ""),
        (b"200 result=1234", 200, 1234, None, None, False, ""),
        (b"200 result= (timeout)", 200, None, "timeout", None, True, ""),
        (b"200 result=12 (timeout)", 200, 12, "timeout", None, True, ""),
        (b"200 result=", 200, None, None, None, False, ""),
        (b"200 result=-1", 200, -1, None, None, False, ""),
        (b"200 result=-2", 200, -2, None, None, False, ""),
        (b"200 result=1 (Local/s@ivr-00000006;2|1795353419.13)", 200, 1, "Local/s@ivr-00000006;2|1795353419.13", None, False, ""),
        (b"200 result=1 (bar baz)", 200, 1, "bar baz", None, False, ""),
        (b"200 result=35 (dtmf) endpos=0", 200, 35, "dtmf", 0, False, "#"),
        (b"200 result=0 (timeout) endpos=0", 200, 0, "timeout", 0, True, ""),
    ],
)
def test_reply_lines_from_a_real_asterisk(line, code, value, data, endpos, timed_out, digit) -> None:
    reply = parse_reply_line(line)
    assert reply is not None
    assert (reply.code, reply.value, reply.data, reply.endpos, reply.timed_out, reply.digit) == (
        code, value, data, endpos, timed_out, digit,
    )


@pytest.mark.parametrize(("line", "keys", "timed_out"), [
    (b"200 result=100*5\n", "100*5", False),      # an amount with `*` as the decimal point
    (b"200 result=12*3 (timeout)\n", "12*3", True),
    (b"200 result=*\n", "*", False),              # `*` alone: repeat
])
def test_get_data_keys_include_the_star(line: bytes, keys: str, timed_out: bool) -> None:
    reply = parse_reply_line(line)
    assert reply is not None and reply.ok
    assert (reply.result, reply.timed_out, reply.value) == (keys, timed_out, None)


def test_error_replies_keep_their_message() -> None:
    assert parse_reply_line(b"510 Invalid or unknown command").message == "Invalid or unknown command"
    dead = parse_reply_line(b"511 Command Not Permitted on a dead channel or intercept routine")
    assert dead.code == 511 and not dead.ok
    assert parse_reply_line(b"HANGUP") is None
    assert parse_reply_line(b"garbage \x00\xff") is None


async def test_timeout_flag_is_kept_through_the_reader() -> None:
    replies = ReplyReader(reader_with(b"200 result= (timeout)\n200 result=12 (timeout)\n"))
    first, second = await replies.read(), await replies.read()
    assert first.timed_out and first.result == ""
    assert second.timed_out and second.result == "12"


async def test_multiline_520_is_read_whole_and_the_next_reply_stays_in_step() -> None:
    conn6 = load_transcript("fastagi_session.txt")[6]
    ast = [b.data for b in conn6 if b.direction == "AST->PY"]
    # blocks: header x2, ANSWER reply, 510, "520-..." alone, the rest of the usage, the SET VARIABLE reply
    replies = ReplyReader(reader_with(*ast[2:]))
    assert (await replies.read()).code == 200
    assert (await replies.read()).code == 510
    usage = await replies.read()
    assert usage.code == 520
    assert usage.message.startswith("Invalid command syntax.")
    assert "Returns the digits received" in usage.message
    after = await replies.read()
    assert (after.code, after.value) == (200, 1)


async def test_hangup_line_before_a_reply_does_not_shift_replies() -> None:
    # conn#2: WAIT FOR DIGIT → -1; then HANGUP arrives, then the GET VARIABLE reply, then 511s.
    conn2 = load_transcript("fastagi_session.txt")[2]
    ast = [b.data for b in conn2 if b.direction == "AST->PY"]
    replies = ReplyReader(reader_with(*ast[2:]))
    assert (await replies.read()).value == 0  # ANSWER
    assert (await replies.read()).value == -1  # WAIT FOR DIGIT: the caller hung up
    channel = await replies.read()  # GET VARIABLE CHANNEL, HANGUP skipped before it
    assert replies.hangup_seen
    assert channel.data == "Local/hangup@ivr-route-00000007;2"
    assert (await replies.read()).code == 511
    assert (await replies.read()).code == 511
    assert (await replies.read()).value == 1
    with pytest.raises(AgiHangup):
        await replies.read()


async def test_exit_on_hangup_sequence_then_eof() -> None:
    conn4 = load_transcript("fastagi_session.txt")[4]
    ast = [b.data for b in conn4 if b.direction == "AST->PY"]
    replies = ReplyReader(reader_with(*ast[1:]))
    assert (await replies.read()).value == 0
    assert (await replies.read()).value == -1
    with pytest.raises(AgiHangup) as gone:
        await replies.read()
    assert gone.value.reason == "closed" and replies.hangup_seen


async def test_garbage_lines_are_skipped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    replies = ReplyReader(reader_with(b"\n\x00\x01junk\nresult=7\n200 result=7\n"))
    assert (await replies.read()).value == 7
    assert "garbage" in caplog.text


async def test_every_transcript_header_block_parses_with_its_split() -> None:
    for number, blocks in load_transcript("fastagi_session.txt").items():
        head = []
        for block in blocks:
            if block.direction != "AST->PY":
                break
            head.append(block.data)
        request = await read_header_block(reader_with(*head))
        assert request is not None, number
        assert request.uniqueid.startswith("17953534")
        assert request.get("agi_threadid")
    first = await read_header_block(reader_with(load_transcript("fastagi_session.txt")[1][0].data))
    assert (first.script, first.channel, first.caller_number, first.caller_name, first.dialled_number) == (
        "ivr", "Local/s@ivr-00000006;2", "5551234", "Lab Caller", "s",
    )


async def test_connect_and_close_reads_as_no_request() -> None:
    assert await read_header_block(reader_with()) is None
    assert await read_header_block(reader_with(b"agi_network: yes\nagi_chan")) is None


def test_truncated_utf8_in_a_header_is_replaced_not_fatal() -> None:
    request = parse_header_block([b"agi_calleridname: \xe6\x9d\x8e\xe4", b"agi_uniqueid: 1.2"])
    assert request.caller_name.startswith("李")
    assert request.undecodable == ("agi_calleridname",)
    assert request.uniqueid == "1.2"


@pytest.mark.parametrize(
    ("script", "request_url", "expected"),
    [
        ("ivr", "agi://h:4573/ivr", ("ivr", {})),
        ("ivr?x=1", "agi://h:4573/ivr?x=1", ("ivr", {"x": "1"})),
        ("/ivr/", "agi://h/ivr/", ("ivr", {})),
        ("", "agi://h:4573/ivr?lang=en-US", ("ivr", {"lang": "en-US"})),
    ],
)
def test_query_strings_in_the_script_path(script: str, request_url: str, expected: tuple) -> None:
    assert split_script(script, request_url) == expected
