"""Protocol-faithful Asterisk stand-ins over real TCP, for tests and benchmarks.

Every reply below is byte for byte what Asterisk 20.20.1 sent in the transcripts under
tests/data/asterisk/ (tests/asterisk/test_transcripts.py checks it).

FakeAgiCall — a call Asterisk hands to our FastAGI listener:

    call = FakeAgiCall(port, keys=["2", "1", "6222020000000001#", "147258#"], dial_statuses=["ANSWER"])
    await call.run()                       # connect, send the header block, answer commands until closed
    call.commands                          # every command line we received
    call.press("1"); call.hang_up()        # drive it live from another task
    await call.wait_for("EXEC Dial")       # wait until a command starting with that text arrives

  The caller: `keys` is one entry per key-reading command: GET DATA takes a whole entry ("1234#" → keys
  1234 ended by '#'; "12" → "12 (timeout)"; "" or "." → nothing entered); WAIT FOR DIGIT takes one key
  at a time. With `barge_in=True` a STREAM FILE with escape digits is interrupted by the next key.
  With no key queued, GET DATA / WAIT FOR DIGIT wait for `press()` up to `timeout * time_scale`.
  Hang-ups: `hangup_on="EXEC Dial"` (during the first such command), `hangup_after=N` (after N
  answered commands), or `hang_up()` at any time; `hangup_mode` is "sighup" (Asterisk's default:
  pending command → `200 result=-1` (STREAM FILE: `... endpos=<where it stopped>`) and the `HANGUP`
  line right after it, 511 for channel commands), "nosighup" (no HANGUP line), "exit"
  (AGIEXITONHANGUP: `200 result=-1`, `HANGUP`, `HANGUP`, close) or "close" (the PBX dies: the socket
  just closes, no reply, no HANGUP, no AMI Hangup).
  Dial: `dial_statuses` one per Dial; a peer without technology/ (`client:agent1`) fails as
  Asterisk's app_dial does (`200 result=-1`, DIALSTATUS=INVALIDARGS, "Dial argument takes format
  (technology/resource)" in `pbx_log`); CHANUNAVAIL/CONGESTION return at once. The `U(hotline-record^FILE)`
  option runs MixMonitor on the agent's channel when they answer; `EXEC MixMonitor` runs it on the
  caller's channel until the caller hangs up (`monitors`: running, `recordings`: ever started).
  With `ami=FakeAmiServer` the channel's events go to its clients as Asterisk sends them: DialEnd,
  VarSet MIXMONITOR_FILENAME + MixMonitorStart, the agent leg's Hangup and the caller's.
  A missing sound file: `200 result=-1 endpos=0` with the channel still up, logged in `pbx_log`.

FakeAmiServer — an AMI endpoint:

    ami = FakeAmiServer(username="hotline", secret="s3cret"); await ami.start(); ami.port
    ami.channels / ami.devices             # what CoreShowChannels / DeviceStateList report
    ami.emit({"Event": "Hangup", ...})     # push an event to logged-in clients (their Filters apply)
    await ami.wait_action("Originate")     # the next action of that name we received
    ami.originate_outcomes.append("failure")
    await ami.restart()                    # drop every client, listen again on the same port
    ami.silent = True                      # stop answering (liveness tests)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "data" / "asterisk"

# --- transcripts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    direction: str  # "AST->PY" or "PY->AST"
    data: bytes


_HEADING = re.compile(rb"^##### \[\s*[\d.]+s conn#(\d+)\] (AST->PY|PY->AST) \d+ bytes #####\n", re.M)
_MARKER = re.compile(rb"^##### conn#\d+ .* #####\n", re.M)


def load_transcript(name: str) -> dict[int, list[Block]]:
    """Blocks per connection number, as they crossed the wire (one block = one TCP read)."""
    raw = (TRANSCRIPTS / name).read_bytes()
    starts = [(m.start(), m.end(), int(m.group(1)), m.group(2).decode()) for m in _HEADING.finditer(raw)]
    cuts = sorted([m.start() for m in _HEADING.finditer(raw)] + [m.start() for m in _MARKER.finditer(raw)] + [len(raw)])
    conns: dict[int, list[Block]] = {}
    for start, body, conn, direction in starts:
        end = next(c for c in cuts if c > start)
        data = raw[body:end]
        data = data[:-1] if data.endswith(b"\n") else data  # the separator line the log adds
        if data:
            conns.setdefault(conn, []).append(Block(direction, data))
    return conns


# --- FastAGI ----------------------------------------------------------------------------------------

USAGE_GET_DATA = (
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b"Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
    b"Returns the digits received from the channel at the other end.\n"
    b"520 End of proper usage.\n"
)
DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"
UNKNOWN = b"510 Invalid or unknown command\n"
ALIVE_ON_DEAD_CHANNEL = ("GET VARIABLE", "SET VARIABLE", "GET FULL VARIABLE", "DATABASE", "VERBOSE", "NOOP")


def agi_header_block(
    *,
    script: str = "ivr",
    host: str = "127.0.0.1:4573",
    channel: str = "PJSIP/caller-00000001",
    language: str = "en",
    uniqueid: str = "1795353419.13",
    callerid: str = "13800138000",
    calleridname: str = "Lab Caller",
    dnid: str = "95588",
    context: str = "hotline",
    extension: str = "s",
    priority: str = "3",
    callingpres: str = "0",
    threadid: str = "140563689989824",
) -> bytes:
    """The header block exactly as Asterisk 20 writes it (order, spacing, trailing blank line)."""
    fields = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", f"agi://{host}/{script}"),
        ("agi_channel", channel),
        ("agi_language", language),
        ("agi_type", channel.split("/", 1)[0]),
        ("agi_uniqueid", uniqueid),
        ("agi_version", "20.20.1"),
        ("agi_callerid", callerid),
        ("agi_calleridname", calleridname),
        ("agi_callingpres", callingpres),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", dnid),
        ("agi_rdnis", "unknown"),
        ("agi_context", context),
        ("agi_extension", extension),
        ("agi_priority", priority),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", threadid),
    ]
    return "".join(f"{k}: {v}\n" for k, v in fields).encode() + b"\n"


_ARGS = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def split_args(line: str) -> list[str]:
    """Split a command line the way Asterisk's AGI parser does (double quotes group, \\ escapes)."""
    args = []
    for match in _ARGS.finditer(line):
        quoted, word = match.groups()
        args.append(word if word is not None else re.sub(r"\\(.)", r"\1", quoted))
    return args


class FakeAgiCall:
    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        keys: Iterable[str] = (),
        barge_in: bool = False,
        dial_statuses: Iterable[str] = ("ANSWER",),
        dial_hold: asyncio.Event | None = None,
        hangup_on: str | None = None,
        hangup_after: int | None = None,
        hangup_mode: str = "sighup",
        missing_files: Iterable[str] = (),
        time_scale: float = 0.001,
        header: bytes | None = None,
        header_split: int | None = None,
        variables: dict[str, str] | None = None,
        ami: FakeAmiServer | None = None,
        subroutines: Iterable[str] = ("hotline-record",),
        **header_fields: str,
    ) -> None:
        self.port, self.host = port, host
        self.keys: deque[str] = deque(keys)
        self.barge_in = barge_in
        self.dial_statuses: deque[str] = deque(dial_statuses)
        self.dial_hold = dial_hold
        self.hangup_on = hangup_on
        self.hangup_after = hangup_after
        self.hangup_mode = hangup_mode
        self.missing_files = set(missing_files)
        self.time_scale = time_scale
        self.header_fields = header_fields
        self.header = header if header is not None else agi_header_block(**header_fields)
        self.header_split = header_split
        self.channel = header_fields.get("channel", "PJSIP/caller-00000001")
        self.variables: dict[str, str] = {"CHANNEL": self.channel, "UNIQUEID": header_fields.get("uniqueid", "1795353419.13")}
        self.variables.update(variables or {})
        self.database: dict[tuple[str, str], str] = {}
        self.commands: list[str] = []
        self.sent = bytearray()  # every byte we wrote after the header block
        self.dead = False  # the caller hung up
        self.hangup_announced = False
        self.closed_by_server = False
        self.music = False
        self._key_event = asyncio.Event()
        self._hangup_event = asyncio.Event()
        self._command_seen = asyncio.Condition()
        self._reader: asyncio.StreamReader | None = None
        self._pushback = b""
        self.peer_gone = False  # the server closed the socket while we were busy with a command
        self.turnarounds: list[float] = []  # seconds from our reply to the next command (benchmarks)
        self.ami = ami  # when set, the channel's AMI events (DialEnd, MixMonitor, Hangup) go to its clients
        self.subroutines = set(subroutines)  # dialplan contexts a Dial U() option can run
        self.pbx_log: list[str] = []  # what Asterisk would have logged about this call
        self.dials: list[tuple[str, str]] = []  # (first peer, DIALSTATUS) of every Dial that rang
        self.monitors: list[tuple[str, str]] = []  # MixMonitors running: (channel, file)
        self.recordings: list[tuple[str, str]] = []  # every MixMonitor ever started: (channel, file)
        self._legs = 0

    # --- live control ---------------------------------------------------------------------------

    def press(self, keys: str) -> None:
        self.keys.append(keys)
        self._key_event.set()

    def hang_up(self) -> None:
        """The caller hangs up now: a pending command ends with -1, later ones see HANGUP/511."""
        self.dead = True
        self._hangup_event.set()

    async def wait_for(self, prefix: str, count: int = 1) -> str:
        """Wait until `count` commands starting with `prefix` have arrived; return the last one."""
        async with self._command_seen:
            await self._command_seen.wait_for(lambda: len(self._matching(prefix)) >= count)
            return self._matching(prefix)[count - 1]

    def _matching(self, prefix: str) -> list[str]:
        return [c for c in self.commands if c.startswith(prefix)]

    # --- the call ---------------------------------------------------------------------------------

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._reader = reader
        try:
            if self.header_split:
                writer.write(self.header[: self.header_split])
                await writer.drain()
                writer.write(self.header[self.header_split :])
            else:
                writer.write(self.header)
            await writer.drain()
            last_reply = time.perf_counter()
            while True:
                raw, self._pushback = self._pushback + await reader.readline(), b""
                if not raw or self.peer_gone:
                    self.closed_by_server = True
                    return
                self.turnarounds.append(time.perf_counter() - last_reply)
                line = raw.decode("utf-8").rstrip("\n")
                async with self._command_seen:
                    self.commands.append(line)
                    self._command_seen.notify_all()
                if not await self._answer(line, writer):
                    return
                last_reply = time.perf_counter()
        except ConnectionError:
            self.closed_by_server = True
        finally:
            if not (self.dead and self.hangup_mode == "close"):  # a PBX that died sends no more events
                self._channel_gone(self.channel, self.variables["UNIQUEID"])
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        self.sent += data
        writer.write(data)

    async def _answer(self, line: str, writer: asyncio.StreamWriter) -> bool:
        """Reply to one command; False once the connection is to close."""
        if not self.dead and self.hangup_after is not None and len(self.commands) > self.hangup_after:
            self.dead = True
        if self.dead and self.hangup_mode in ("exit", "close") and len(self.commands) > 0:
            return await self._dead_exit(writer)
        if self.dead:
            if self.hangup_mode == "sighup" and not self.hangup_announced:
                self.hangup_announced = True
                self._write(writer, b"HANGUP\n")
            self._write(writer, self._dead_reply(line))
            await writer.drain()
            return True
        if self.hangup_on and line.startswith(self.hangup_on):
            self.hangup_on = None
            self.dead = True
            if line.upper().startswith("EXEC DIAL"):
                self.variables["DIALSTATUS"] = "CANCEL"  # the caller gave up while the agent's phone rang
            if line.startswith(ALIVE_ON_DEAD_CHANNEL) and self.hangup_mode in ("sighup", "nosighup"):
                return await self._answer(line, writer)  # instant commands: answered, after the HANGUP line
            return await self._died_during(line, writer)
        reply = await self._live_reply(line)
        if self.peer_gone:
            return False
        if self.dead and reply is None:  # hung up while the command was running
            return await self._died_during(line, writer)
        self._write(writer, reply or b"200 result=0\n")
        await writer.drain()
        return True

    async def _died_during(self, line: str, writer: asyncio.StreamWriter) -> bool:
        """The caller hung up while `line` ran. Asterisk answers it with -1 (STREAM FILE: with the
        position reached) and, with AGISIGHUP, sends the HANGUP line as soon as it notices, a few ms
        later, whether or not another command comes. "close" is the PBX dying: the socket just closes."""
        if self.hangup_mode == "close":
            return False
        pending = b"200 result=-1 endpos=4000\n" if line.upper().startswith("STREAM FILE") else b"200 result=-1\n"
        if self.hangup_mode == "exit":
            self._write(writer, pending + b"HANGUP\nHANGUP\n")
            await writer.drain()
            return False
        self._write(writer, pending)
        if self.hangup_mode == "sighup" and not self.hangup_announced:
            self.hangup_announced = True
            self._write(writer, b"HANGUP\n")
        await writer.drain()
        return True

    async def _dead_exit(self, writer: asyncio.StreamWriter, pending: bool = False) -> bool:
        if self.hangup_mode == "exit":
            self._write(writer, (b"200 result=-1\n" if pending else b"") + b"HANGUP\nHANGUP\n")
            await writer.drain()
        return False

    def _dead_reply(self, line: str) -> bytes:
        if not line.startswith(ALIVE_ON_DEAD_CHANNEL):
            return DEAD
        return self._variable_reply(split_args(line)) or b"200 result=1\n"

    async def _wait(self, timeout_ms: int, *, keys: bool) -> bool:
        """Wait (scaled) for a key, a hang-up or the server closing the socket (Asterisk watches the
        AGI socket while it waits); True when something happened."""
        assert self._reader is not None
        peek = asyncio.ensure_future(self._reader.read(1))
        waits = [asyncio.ensure_future(self._hangup_event.wait()), peek]
        if keys:
            self._key_event.clear()
            if self.keys:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
                return True
            waits.append(asyncio.ensure_future(self._key_event.wait()))
        done, pending = await asyncio.wait(waits, timeout=timeout_ms / 1000 * self.time_scale,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if peek in done:
            data = peek.result()
            if data:
                self._pushback += data
            else:
                self.peer_gone = True
        return bool(done)

    def _next_key(self) -> str:
        while self.keys and self.keys[0] in ("", "."):
            self.keys.popleft()
            return ""
        if not self.keys:
            return ""
        entry = self.keys.popleft()
        if len(entry) > 1:
            self.keys.appendleft(entry[1:])
        return entry[0]

    async def _live_reply(self, line: str) -> bytes | None:
        args = split_args(line)
        words = [a.upper() for a in args[:3]]
        if words[:1] == ["ANSWER"]:
            return b"200 result=0\n"
        if words[:2] == ["STREAM", "FILE"]:
            return self._stream_file(args)
        if words[:2] == ["GET", "DATA"]:
            if len(args) < 3:
                return USAGE_GET_DATA
            return await self._get_data(args)
        if words[:3] == ["WAIT", "FOR", "DIGIT"]:
            timeout_ms = int(args[3]) if len(args) > 3 else 0
            if not await self._wait(timeout_ms, keys=True) and not self.keys:
                return b"200 result=0\n"
            if self.dead:
                return None
            key = self._next_key()
            return f"200 result={ord(key)}\n".encode() if key else b"200 result=0\n"
        if words[:1] == ["EXEC"] and len(args) >= 2:
            return await self._exec(args[1], args[2] if len(args) > 2 else "")
        if words[:2] == ["SET", "MUSIC"]:
            self.music = len(args) > 2 and args[2].lower() == "on"
            return b"200 result=0\n"
        if words[:2] in (["SET", "VARIABLE"], ["GET", "VARIABLE"], ["GET", "FULL"]) or words[:1] == ["DATABASE"]:
            return self._variable_reply(args)
        if words[:2] == ["CHANNEL", "STATUS"]:
            return b"200 result=6\n"
        if words[:1] == ["VERBOSE"]:
            return b"200 result=1\n"
        if words[:1] == ["NOOP"] or words[:2] in (["SAY", "DIGITS"], ["SAY", "NUMBER"], ["ASYNCAGI", "BREAK"]):
            return b"200 result=0\n"
        if words[:2] == ["RECORD", "FILE"]:
            key = self._next_key()
            escape = args[4] if len(args) > 4 else ""
            if key and key in escape:
                return f"200 result={ord(key)} (dtmf) endpos=0\n".encode()
            return b"200 result=0 (timeout) endpos=0\n"
        if words[:1] == ["HANGUP"]:
            self.dead = True
            self._hangup_event.set()
            return b"200 result=1\n"
        return UNKNOWN

    def _stream_file(self, args: list[str]) -> bytes:
        name = args[2] if len(args) > 2 else ""
        escape = args[3] if len(args) > 3 else ""
        if name in self.missing_files:
            self.pbx_log.append(f"WARNING file.c: File {name} does not exist in any format")
            return b"200 result=-1 endpos=0\n"
        if self.barge_in and escape and self.keys and self.keys[0][:1] and self.keys[0][0] in escape:
            key = self._next_key()
            return f"200 result={ord(key)} endpos=17600\n".encode()
        return b"200 result=0 endpos=12000\n"

    async def _get_data(self, args: list[str]) -> bytes | None:
        timeout_ms = int(args[3]) if len(args) > 3 else 5000
        max_digits = int(args[4]) if len(args) > 4 else 1024
        if not self.keys and await self._wait(timeout_ms, keys=True) and self.dead:
            return None
        if self.dead:
            return None
        entry = self.keys.popleft() if self.keys else ""
        if entry == ".":
            entry = ""
        typed = entry.split("#", 1)[0]
        if "#" in entry:
            return f"200 result={typed[:max_digits]}\n".encode()
        if len(typed) >= max_digits:
            return f"200 result={typed[:max_digits]}\n".encode()
        return f"200 result={typed} (timeout)\n".encode()

    async def _exec(self, app: str, data: str) -> bytes | None:
        app_l = app.lower()
        if app_l == "dial":
            return await self._dial(data)
        if app_l == "mixmonitor":
            self._mix_monitor(self.channel, self.variables["UNIQUEID"], data.split(",", 1)[0])
            return b"200 result=0\n"
        if app_l == "stopmixmonitor":
            self.monitors = [m for m in self.monitors if m[0] != self.channel]
            return b"200 result=0\n"
        if app_l == "set" and "=" in data:
            key, value = data.split("=", 1)
            self.variables[key] = value
            return b"200 result=0\n"
        if app_l in ("wait", "playback", "voicemail", "musiconhold"):
            return b"200 result=0\n"
        return b"200 result=-2\n"

    async def _dial(self, data: str) -> bytes | None:
        """app_dial: `peers[,timeout[,options]]`, each peer technology/resource. A peer without a
        technology (`client:agent1`) fails the whole Dial at once: WARNING, DIALSTATUS=INVALIDARGS and
        -1. CHANUNAVAIL/CONGESTION come back at once with 0. With `U(context^args)` the context's
        subroutine runs on the agent's channel once it answers (`hotline-record`: MixMonitor(ARG1))."""
        parts = data.split(",")
        peers = [p.strip() for p in parts[0].split("&") if p.strip()]
        options = parts[2] if len(parts) > 2 else ""
        for peer in peers:
            tech, _, resource = peer.partition("/")
            if not resource:
                self.pbx_log.append("WARNING app_dial.c: Dial argument takes format (technology/resource)")
                self.variables["DIALSTATUS"] = "INVALIDARGS"
                return b"200 result=-1\n"
        if not peers:
            self.variables["DIALSTATUS"] = "CHANUNAVAIL"
            return b"200 result=0\n"
        status = self.dial_statuses.popleft() if self.dial_statuses else "NOANSWER"
        self.dials.append((peers[0], status))
        tech = peers[0].partition("/")[0]
        if status in ("CHANUNAVAIL", "CONGESTION"):
            cause = "20 - Subscriber absent" if status == "CHANUNAVAIL" else "34 - Circuit/channel congestion"
            self.pbx_log.append(f"NOTICE app_dial.c: Unable to create channel of type '{tech}' (cause {cause})")
            self.variables["DIALSTATUS"] = status
            return b"200 result=0\n"
        self._legs += 1
        leg_channel = f"{peers[0]}-{self._legs:08x}"
        leg_uid = f"{self.variables['UNIQUEID']}{self._legs}"
        if status == "ANSWER":
            self._ami_event("DialEnd", Channel=self.channel, Uniqueid=self.variables["UNIQUEID"],
                            DestChannel=leg_channel, DestUniqueid=leg_uid, DestLinkedid=self.variables["UNIQUEID"],
                            DialStatus="ANSWER")
            gosub = re.search(r"U\(([^)^]*)\^?([^)]*)\)", options)
            if gosub is not None and gosub.group(1) in self.subroutines:
                self._mix_monitor(leg_channel, leg_uid, gosub.group(2).split("^")[0])
            if self.dial_hold is not None:
                hold = asyncio.ensure_future(self.dial_hold.wait())
                hung = asyncio.ensure_future(self._hangup_event.wait())
                await asyncio.wait([hold, hung], return_when=asyncio.FIRST_COMPLETED)
                for task in (hold, hung):
                    task.cancel()
                await asyncio.gather(hold, hung, return_exceptions=True)
        else:
            self._ami_event("DialEnd", Channel=self.channel, Uniqueid=self.variables["UNIQUEID"],
                            DestChannel=leg_channel, DestUniqueid=leg_uid, DestLinkedid=self.variables["UNIQUEID"],
                            DialStatus=status)
        self._channel_gone(leg_channel, leg_uid)
        self.variables["DIALSTATUS"] = status
        if self.dead:
            return None
        return b"200 result=0\n"

    def _mix_monitor(self, channel: str, uniqueid: str, name: str) -> None:
        """MixMonitor on `channel`: the file's full path comes in VarSet MIXMONITOR_FILENAME just before
        MixMonitorStart; it stops only by StopMixMonitor or when the channel hangs up."""
        path = name if name.startswith("/") else f"/var/spool/asterisk/monitor/{name}"
        self.monitors.append((channel, path))
        self.recordings.append((channel, path))
        self._ami_event("VarSet", Channel=channel, Uniqueid=uniqueid, Linkedid=self.variables["UNIQUEID"],
                        Variable="MIXMONITOR_FILENAME", Value=path)
        self._ami_event("MixMonitorStart", Channel=channel, Uniqueid=uniqueid, Linkedid=self.variables["UNIQUEID"])

    def _channel_gone(self, channel: str, uniqueid: str, cause: str = "16", text: str = "Normal Clearing") -> None:
        self.monitors = [m for m in self.monitors if m[0] != channel]
        self._ami_event("Hangup", Channel=channel, Uniqueid=uniqueid, Linkedid=self.variables["UNIQUEID"],
                        Cause=cause, **{"Cause-txt": text})

    def _ami_event(self, event: str, **fields: str) -> None:
        if self.ami is not None:
            self.ami.emit({"Event": event, "Privilege": "call,all", **fields})

    def _variable_reply(self, args: list[str]) -> bytes:
        words = [a.upper() for a in args[:2]]
        if words == ["SET", "VARIABLE"] and len(args) >= 4:
            self.variables[args[2]] = args[3]
            return b"200 result=1\n"
        if words == ["GET", "VARIABLE"] and len(args) >= 3:
            value = self.variables.get(args[2])
            return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
        if words == ["GET", "FULL"] and len(args) >= 4:
            expanded = re.sub(r"\$\{(\w+)\}", lambda m: self.variables.get(m.group(1), ""), args[3])
            return f"200 result=1 ({expanded})\n".encode()
        if words[:1] == ["DATABASE"] and len(args) >= 4:
            op = args[1].upper()
            if op == "PUT" and len(args) >= 5:
                self.database[(args[2], args[3])] = args[4]
                return b"200 result=1\n"
            if op == "GET":
                value = self.database.get((args[2], args[3]))
                return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
        return b"200 result=1\n"


# --- AMI ----------------------------------------------------------------------------------------------

GREETING = b"Asterisk Call Manager/9.0.0\r\n"


def ami_message(*fields: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in fields) + b"\r\n"


def _as_fields(event: dict[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(event.items()) if isinstance(event, dict) else list(event)


class _AmiSession:
    def __init__(self, server: FakeAmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.logged_in = False
        self.filters: list[re.Pattern[str]] = []

    def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        if self.server.split_writes and len(data) > 3:
            # Deliver in small pieces to exercise the client's buffering (splits inside UTF-8 too).
            for i in range(0, len(data), self.server.split_writes):
                self.writer.write(data[i : i + self.server.split_writes])
        else:
            self.writer.write(data)

    def wants(self, text: str) -> bool:
        return not self.filters or any(f.search(text) for f in self.filters)


class FakeAmiServer:
    def __init__(self, *, username: str = "hotline", secret: str = "s3cret", host: str = "127.0.0.1", port: int = 0):
        self.username, self.secret, self.host = username, secret, host
        self._port = port
        self._server: asyncio.Server | None = None
        self.sessions: list[_AmiSession] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.actions: list[dict[str, str | list[str]]] = []
        self._action_seen = asyncio.Condition()
        self.channels: dict[str, dict[str, str]] = {}  # uniqueid -> fields (CoreShowChannels)
        self.devices: dict[str, str] = {}  # device -> state (DeviceStateList)
        self.originate_outcomes: deque[str] = deque()  # "success" (default) | "failure" | "error"
        self.silent = False
        self.split_writes = 0
        self.logins = 0
        self.started_at = time.time()
        self._uniqueid = 1795353600

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        self.started_at = time.time()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.writer.transport.abort()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.sessions.clear()

    async def restart(self) -> None:
        """The PBX restarts: every connection drops; it listens again on the same port."""
        await self.stop()
        await self.start()

    # --- events ---------------------------------------------------------------------------------------

    def emit(self, event: dict[str, str] | Iterable[tuple[str, str]]) -> None:
        data = ami_message(*_as_fields(event))
        text = data.decode("utf-8")
        for session in self.sessions:
            if session.logged_in and session.wants(text):
                session.send(data)

    async def drain(self) -> None:
        for session in list(self.sessions):
            with contextlib.suppress(ConnectionError):
                await session.writer.drain()

    async def wait_action(self, name: str, count: int = 1) -> dict[str, str | list[str]]:
        async with self._action_seen:
            await self._action_seen.wait_for(lambda: len(self._named(name)) >= count)
            return self._named(name)[count - 1]

    def _named(self, name: str) -> list[dict[str, str | list[str]]]:
        return [a for a in self.actions if str(a.get("Action", "")).lower() == name.lower()]

    # --- connections -----------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _AmiSession(self, reader, writer)
        self.sessions.append(session)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            writer.write(GREETING)
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                action = _parse_action(raw)
                async with self._action_seen:
                    self.actions.append(action)
                    self._action_seen.notify_all()
                if self.silent:
                    continue
                if not await self._handle(session, action):
                    return
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        finally:
            self._tasks.discard(task)
            if session in self.sessions:
                self.sessions.remove(session)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _handle(self, s: _AmiSession, a: dict[str, str | list[str]]) -> bool:
        name = str(a.get("Action", "")).lower()
        aid = str(a.get("ActionID", ""))
        if name == "login":
            if a.get("Username") != self.username or a.get("Secret") != self.secret:
                s.send(ami_message(("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")))
                await s.writer.drain()
                return False  # Asterisk ends the session after a failed login
            s.logged_in = True
            self.logins += 1
            uptime = str(int(time.time() - self.started_at))
            s.send(
                ami_message(("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted"))
                + ami_message(
                    ("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", uptime),
                    ("LastReload", uptime), ("Status", "Fully Booted"),
                )
            )
            return True
        if not s.logged_in:
            s.send(ami_message(("Response", "Error"), ("ActionID", aid), ("Message", "Permission denied")))
            return True
        if not name:
            s.send(ami_message(("Response", "Error"), ("ActionID", aid), ("Message", "Missing action in request")))
            return True
        handler = getattr(self, f"_action_{name}", None)
        if handler is None:
            s.send(
                ami_message(
                    ("Response", "Error"),
                    ("ActionID", aid),
                    ("Message", f"Invalid/unknown command: {a.get('Action')}. Use Action: ListCommands to show available commands."),
                )
            )
            return True
        return handler(s, a, aid) is not False

    def _ok(self, s: _AmiSession, aid: str, *fields: tuple[str, str]) -> None:
        s.send(ami_message(("Response", "Success"), ("ActionID", aid), *fields))

    def _error(self, s: _AmiSession, aid: str, message: str) -> None:
        s.send(ami_message(("Response", "Error"), ("ActionID", aid), ("Message", message)))

    def _action_logoff(self, s: _AmiSession, a: dict, aid: str) -> bool:
        s.send(ami_message(("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")))
        return False

    def _action_ping(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._ok(s, aid, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    def _action_filter(self, s: _AmiSession, a: dict, aid: str) -> None:
        expression = str(a.get("Filter", ""))
        try:
            s.filters.append(re.compile(expression))
        except re.error:
            self._error(s, aid, "Filter Not Added")
            return
        self._ok(s, aid, ("Message", "Filter Added Successfully"))

    def _list(self, s: _AmiSession, aid: str, message: str, item: str, complete: str, rows: list[list[tuple[str, str]]]) -> None:
        out = ami_message(("Response", "Success"), ("ActionID", aid), ("EventList", "start"), ("Message", message))
        for row in rows:
            out += ami_message(("Event", item), ("ActionID", aid), *row)
        out += ami_message(("Event", complete), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", str(len(rows))))
        s.send(out)

    def _action_coreshowchannels(self, s: _AmiSession, a: dict, aid: str) -> None:
        rows = [[("Channel", ch.get("Channel", "")), ("Uniqueid", uid), ("Linkedid", ch.get("Linkedid", uid))]
                for uid, ch in self.channels.items()]
        self._list(s, aid, "Channels will follow", "CoreShowChannel", "CoreShowChannelsComplete", rows)

    def _action_devicestatelist(self, s: _AmiSession, a: dict, aid: str) -> None:
        rows = [[("Device", d), ("State", st)] for d, st in self.devices.items()]
        self._list(s, aid, "Device State Changes will follow", "DeviceStateChange", "DeviceStateListComplete", rows)

    def _action_originate(self, s: _AmiSession, a: dict, aid: str) -> None:
        outcome = self.originate_outcomes.popleft() if self.originate_outcomes else "success"
        is_async = str(a.get("Async", "false")).lower() == "true"
        channel = str(a.get("Channel", ""))
        where = (
            [("Application", str(a.get("Application", ""))), ("Data", str(a.get("Data", "")))]
            if "Application" in a
            else [("Context", str(a.get("Context", ""))), ("Exten", str(a.get("Exten", "")))]
        )
        if outcome == "error" or (not is_async and outcome == "failure"):
            self._error(s, aid, "Originate failed")
            return
        if not is_async:
            self._ok(s, aid, ("Message", "Originate successfully queued"))
            return
        self._ok(s, aid, ("Message", "Originate successfully queued"))
        if outcome == "success":
            self._uniqueid += 1
            uid = f"{self._uniqueid}.{len(self.actions)}"
            self.channels[uid] = {"Channel": f"{channel}-0000001a;1"}
            fields = [("Response", "Success"), ("Channel", f"{channel}-0000001a;1"), *where, ("Reason", "4"), ("Uniqueid", uid)]
        else:
            fields = [("Response", "Failure"), ("Channel", channel), *where, ("Reason", "0"), ("Uniqueid", "<unknown>")]
        s.send(
            ami_message(
                ("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", aid), *fields,
                ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
            )
        )

    def _channel_action(self, s: _AmiSession, a: dict, aid: str, ok_message: str) -> bool:
        channel = str(a.get("Channel", ""))
        if not any(ch.get("Channel") == channel for ch in self.channels.values()):
            self._error(s, aid, "No such channel")
            return False
        self._ok(s, aid, ("Message", ok_message))
        return True

    def _action_redirect(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._channel_action(s, aid=aid, a=a, ok_message="Redirect successful")

    def _action_hangup(self, s: _AmiSession, a: dict, aid: str) -> None:
        if self._channel_action(s, a, aid, "Channel Hungup"):
            channel = str(a.get("Channel", ""))
            for uid in [u for u, ch in self.channels.items() if ch.get("Channel") == channel]:
                del self.channels[uid]
                self.emit({"Event": "Hangup", "Privilege": "call,all", "Channel": channel, "Uniqueid": uid,
                           "Linkedid": uid, "Cause": "16", "Cause-txt": "Normal Clearing"})

    def _action_mixmonitor(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._channel_action(s, a, aid, "Started MixMonitor")

    def _action_stopmixmonitor(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._channel_action(s, a, aid, "Stopped MixMonitor")

    def _action_mixmonitormute(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._channel_action(s, a, aid, "Muted MixMonitor" if a.get("State") == "1" else "Unmuted MixMonitor")

    def _action_queueadd(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._ok(s, aid, ("Message", "Added interface to queue"))

    def _action_command(self, s: _AmiSession, a: dict, aid: str) -> None:
        self._ok(s, aid, ("Message", "Command output follows"), ("Output", "Asterisk 20.20.1 (stand-in)"))


def _parse_action(raw: bytes) -> dict[str, str | list[str]]:
    action: dict[str, str | list[str]] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key in action:
            previous = action[key]
            action[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            action[key] = value
    return action
