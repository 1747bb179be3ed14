"""Replays of the real Asterisk 20.20.1 transcripts (tests/data/asterisk/).

1. The FastAGI stand-in, sent the commands of each captured session, answers byte for byte what
   Asterisk answered (header block included).
2. Our AMI protocol, fed the captured AST->PY bytes with their original TCP splits, resolves every
   action the capturing client sent and dispatches every other message as an event.
3. The AMI stand-in's replies agree with the transcript's bytes (timestamps aside).
"""

from __future__ import annotations

import asyncio
import re

import pytest
from panoramisk import actions

from hotline.telephony.asterisk.ami import BufferedAmiProtocol, _Manager
from tests.standins.asterisk import FakeAgiCall, FakeAmiServer, agi_header_block, load_transcript

AGI = load_transcript("fastagi_session.txt")

SCRIPTS = {  # how the caller behaved in each captured session
    1: {"keys": ["1234#", "5"]},
    2: {"hangup_on": "WAIT FOR DIGIT", "hangup_mode": "sighup"},
    3: {"hangup_on": "WAIT FOR DIGIT", "hangup_mode": "nosighup"},
    4: {"hangup_on": "EXEC Wait", "hangup_mode": "exit"},
    5: {"keys": [".", ".", "7", "12", "#", "."], "barge_in": True, "missing_files": ["no-such-file"]},
    6: {},
}


def header_fields(block: bytes) -> dict[str, str]:
    raw = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in block.decode().splitlines() if line)
    return {
        "script": raw["agi_network_script"], "channel": raw["agi_channel"], "language": raw["agi_language"],
        "uniqueid": raw["agi_uniqueid"], "callerid": raw["agi_callerid"], "calleridname": raw["agi_calleridname"],
        "dnid": raw["agi_dnid"], "context": raw["agi_context"], "extension": raw["agi_extension"],
        "priority": raw["agi_priority"], "callingpres": raw["agi_callingpres"], "threadid": raw["agi_threadid"],
    }


@pytest.mark.parametrize("conn", sorted(AGI))
async def test_fastagi_stand_in_answers_like_asterisk(conn: int) -> None:
    blocks = AGI[conn]
    header = b"".join(b.data for b in blocks[: next(i for i, b in enumerate(blocks) if b.direction == "PY->AST")])
    commands = [b.data for b in blocks if b.direction == "PY->AST"]
    expected = b"".join(b.data for b in blocks if b.direction == "AST->PY")[len(header) :]
    fields = header_fields(header)
    assert agi_header_block(**fields) == header  # the stand-in's header block is Asterisk's

    got = asyncio.get_running_loop().create_future()

    async def py_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received_header = await reader.readuntil(b"\n\n")
        for command in commands:
            writer.write(command)
        await writer.drain()
        stream = b""
        try:
            async with asyncio.timeout(5):
                while len(stream) < len(expected):
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    stream += chunk
        finally:
            writer.close()
            got.set_result((received_header, stream))

    server = await asyncio.start_server(py_side, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    split = len(blocks[0].data) if blocks[1].direction == "AST->PY" else None
    phone = FakeAgiCall(port, header_split=split, **SCRIPTS[conn], **fields)
    await asyncio.gather(phone.run(), got)
    received_header, stream = got.result()
    server.close()
    await server.wait_closed()
    assert received_header == header
    assert stream[: len(expected)] == expected


# --- AMI ------------------------------------------------------------------------------------------


class _Transport(asyncio.Transport):
    """Collects what the protocol writes; the bytes read come from the transcript."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _fields(block: bytes) -> list[tuple[str, str]]:
    return [tuple(line.split(": ", 1)) for line in block.decode().split("\r\n") if ": " in line]


def _as_sent(block: bytes) -> actions.Action:
    """The action the capturing client sent, read the way our client reads its reply."""
    fields: dict[str, list[str]] = {}
    for key, value in _fields(block):
        fields.setdefault(key, []).append(value)
    action = {k: v if len(v) > 1 else v[0] for k, v in fields.items()}
    if action["Action"] == "Originate":
        action.setdefault("Async", "false")  # our client always says which
    # as our client does: a list only when the PBX says so (never as_list=True)
    lists = action["Action"] == "Originate" or "Show" in action["Action"] or action["Action"] in (
        "QueueStatus", "QueueSummary", "Status", "SIPpeers")
    return actions.Action(action, as_list=None if lists else False)


def _event_names(stream: bytes) -> list[str]:
    """Every event in the bytes Asterisk sent, read line by line (independent of message splitting)."""
    return [name.decode() for name in re.findall(rb"^Event: ([^\r]+)\r$", stream, re.M)]


@pytest.mark.parametrize("name", ["ami_session.txt", "ami_queue.txt"])
async def test_ami_protocol_replays_every_captured_connection(name: str) -> None:
    for conn, blocks in load_transcript(name).items():
        manager = _Manager(forgetable_actions=("ping",))
        events: list[str] = []
        manager.register_event("*", lambda _m, e, events=events: events.append(e.event))
        protocol = BufferedAmiProtocol(manager)
        protocol.connection_made(_Transport())
        sent: list[tuple[actions.Action, asyncio.Future]] = []
        for block in blocks:
            if block.direction == "PY->AST":
                action = _as_sent(block.data)
                sent.append((action, protocol.send(action, as_list=action.as_list)))
            else:
                protocol.data_received(block.data)

        # every action the capturing client sent got its whole reply, and none failed
        assert [a["Action"] for a, f in sent if not f.done()] == [], conn
        assert not any(f.exception() for _, f in sent)
        assert protocol.version == "9.0.0"
        assert all(f.result().success for a, f in sent if a["Action"] == "Login")
        expected_output = {"core show version": "Asterisk 20.20.1", "core show channels": "0 active calls"}
        for action, future in sent:
            if action["Action"] == "Command":
                outputs = future.result().get("Output")
                text = "".join(outputs if isinstance(outputs, list) else [outputs])
                assert expected_output[action["Command"]] in text  # a reply split across reads, kept whole

        # nothing dropped: each event Asterisk sent was either dispatched or taken into the reply
        # of the action whose ActionID it carries, and the dispatched ones kept their order
        taken = [(a, m) for a, _ in sent for m in a.responses if "event" in m]
        assert all(m.get("ActionID") == a.id for a, m in taken)
        sent_events = _event_names(b"".join(b.data for b in blocks if b.direction == "AST->PY"))
        remaining = list(sent_events)
        for _, message in taken:
            remaining.remove(message.event)
        assert events == remaining, conn
        assert events[0] == "FullyBooted"

        # lists arrived whole: as many items as the Complete event counts
        for action, _ in sent:
            complete = [m for m in action.responses if m.get("EventList") == "Complete"]
            if complete:
                items = [m for m in action.responses if "event" in m and m.get("EventList") != "Complete"]
                assert len(items) == int(complete[0]["ListItems"]), action["Action"]


async def test_ami_utf8_split_inside_a_character_is_kept() -> None:
    manager = _Manager()
    names: list[str] = []
    manager.register_event("UserEvent", lambda _m, e: names.append(e.get("Name")))
    protocol = BufferedAmiProtocol(manager)
    protocol.connection_made(_Transport())
    data = "Asterisk Call Manager/9.0.0\r\nEvent: UserEvent\r\nName: Zoë\r\n\r\n".encode()
    cut = data.index("ë".encode()) + 1
    protocol.data_received(data[:cut])
    protocol.data_received(data[cut:])
    assert names == ["Zoë"]


def _normalise(data: bytes) -> bytes:
    return re.sub(rb"(Timestamp|Uptime|LastReload): [\d.]+", rb"\1: X", data)


async def test_ami_stand_in_replies_agree_with_the_transcript() -> None:
    blocks = load_transcript("ami_session.txt")[1]
    server = FakeAmiServer(username="lab", secret="hotline-secret")
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        assert await reader.readuntil(b"\r\n") == blocks[0].data  # the greeting

        # security events (SuccessfulAuth, RequestBadFormat) are not modelled by the stand-in
        unmodelled = (b"Event: SuccessfulAuth", b"Event: RequestBadFormat")

        async def exchange(index: int) -> tuple[bytes, bytes]:
            """Send the PY->AST block at `index`; return (what the transcript shows next, what we got)."""
            writer.write(blocks[index].data)
            expected = b""
            for block in blocks[index + 1 :]:
                if block.direction == "PY->AST":
                    break
                expected += block.data
            for marker in unmodelled:
                if marker in expected:
                    expected = expected[: expected.index(marker)]
            got = b""
            async with asyncio.timeout(5):
                while len(_normalise(got)) < len(_normalise(expected)):
                    got += await reader.read(65536)
            return expected, got

        want = {"Login", "Ping", "CoreShowChannels", "NoSuchAction"}
        checked = set()
        for i, block in enumerate(blocks):
            if block.direction != "PY->AST":
                continue
            action = dict(_fields(block.data)).get("Action")
            if action not in want or action in checked:
                continue
            expected, got = await exchange(i)
            assert _normalise(got) == _normalise(expected), action
            checked.add(action)
        assert checked == want
    finally:
        writer.close()
        await server.stop()


async def test_ami_stand_in_originate_failure_matches() -> None:
    blocks = load_transcript("ami_session.txt")[1]
    index = next(i for i, b in enumerate(blocks) if b"Channel: Bogus/x" in b.data and b.direction == "PY->AST")
    expected = blocks[index + 1].data + blocks[index + 2].data
    server = FakeAmiServer(username="lab", secret="hotline-secret")
    server.originate_outcomes.append("failure")
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        await reader.readuntil(b"\r\n")
        writer.write(blocks[1].data)  # login
        await reader.readuntil(b"Status: Fully Booted\r\n\r\n")
        writer.write(blocks[index].data)
        got = b""
        async with asyncio.timeout(5):
            while len(got) < len(expected):
                got += await reader.read(65536)
        assert got == expected
    finally:
        writer.close()
        await server.stop()


@pytest.mark.parametrize("name", ["ami_session.txt", "ami_queue.txt"])
def test_fast_message_parser_agrees_with_panoramisk(name: str) -> None:
    from panoramisk.message import Message

    from hotline.telephony.asterisk.ami import parse_message

    stream = b"".join(b.data for blocks in load_transcript(name).values() for b in blocks if b.direction == "AST->PY")
    texts = [t.decode("utf-8").strip() for t in stream.replace(b"Asterisk Call Manager/9.0.0\r\n", b"").split(b"\r\n\r\n")]
    checked = 0
    for text in texts:
        ours, theirs = parse_message(text), Message.from_line(text)
        assert (ours is None) == (theirs is None), text
        if ours is not None:
            mine, reference = dict(ours.items()), dict(theirs.items())
            # one deliberate difference: a last header with an empty value ("Value: ") is kept
            extra = {k: v for k, v in mine.items() if k not in reference}
            assert all(v == "" for v in extra.values()), text
            assert {k: v for k, v in mine.items() if k in reference} == reference, text
            checked += 1
    assert checked > 300
