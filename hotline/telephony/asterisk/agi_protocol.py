"""FastAGI wire protocol: the header block Asterisk sends first, and the replies to our commands.

Pure parsing plus a small stream reader; nothing here knows about calls or the IVR. What real
Asterisk 20 sends (see tests/data/asterisk/README.md):

    200 result=0 endpos=12000        STREAM FILE played to the end
    200 result=55 endpos=17600       ... interrupted by key "7" (ASCII 55)
    200 result=-1 endpos=0           ... file missing (or the caller hung up)
    200 result=1234                  GET DATA: keys, without the finishing '#'
    200 result=100*5                 ... `*` is a key like any other (amounts: 100.5)
    200 result= (timeout)            GET DATA: nothing entered before the timeout
    200 result=12 (timeout)          GET DATA: some keys, then the timeout
    200 result=1 (value)             GET VARIABLE: set; `200 result=0` when unset
    510 Invalid or unknown command
    511 Command Not Permitted on a dead channel or intercept routine
    520-Invalid command syntax.  Proper usage follows:   (multi-line, up to "520 End of proper usage.")
    HANGUP                           unrequested: the caller hung up (arrives between replies)
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

MAX_HEADERS = 200
DTMF_KEYS = "0123456789*#ABCD"

_REPLY = re.compile(
    # GET DATA returns the keys themselves: "*" (a decimal point in amounts) and A-D included
    rb"^(?P<code>\d{3}) result=(?P<result>-?[0-9*#A-D]*)"
    rb"(?: \((?P<data>.*?)\))?"
    rb"(?: endpos=(?P<endpos>-?\d+))?\s*$"
)


class AgiProtocolError(Exception):
    """The peer sent something that is not FastAGI (no header block, oversized lines...)."""


class AgiHangup(Exception):
    """The channel is gone: HANGUP line, 511 on a dead channel, or the socket closed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AgiTimeout(AgiHangup):
    """Asterisk did not answer a command in time: the peer is stuck or not Asterisk. The connection
    can no longer be kept in step, so the channel counts as gone."""

    def __init__(self) -> None:
        super().__init__("agi_timeout")


class AgiCommandError(Exception):
    """Asterisk refused a command (510 unknown command, 520 usage error)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.code} {reply.message}")
        self.reply = reply


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The `agi_*` header block, plus the script path split from its query string."""

    headers: dict[str, str]
    script: str  # "ivr" for agi://host:4573/ivr?x=1
    params: dict[str, str] = field(default_factory=dict)  # {"x": "1"}
    undecodable: tuple[str, ...] = ()  # header names whose value was not valid UTF-8

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def caller_number(self) -> str:
        return _known(self.get("agi_callerid"))

    @property
    def caller_name(self) -> str:
        return _known(self.get("agi_calleridname"))

    @property
    def dialled_number(self) -> str:
        return _known(self.get("agi_dnid")) or _known(self.get("agi_extension"))

    @property
    def language(self) -> str:
        return self.get("agi_language")


def _known(value: str) -> str:
    """Asterisk writes the literal word "unknown" for a missing caller ID or DNID."""
    return "" if value in ("unknown", "") else value


def parse_header_block(lines: list[bytes]) -> AgiRequest:
    """Parse `agi_name: value` lines (without their newline). Undecodable bytes are replaced,
    never fatal: a truncated UTF-8 caller name must not cost the call."""
    headers: dict[str, str] = {}
    undecodable: list[str] = []
    for raw in lines:
        name, sep, value = raw.partition(b":")
        if not sep:
            log.warning("agi: ignoring header line without colon (%d bytes)", len(raw))
            continue
        key = name.strip().decode("ascii", "replace")
        try:
            text = value.strip().decode("utf-8")
        except UnicodeDecodeError:
            text = value.strip().decode("utf-8", "replace")
            undecodable.append(key)
        headers[key] = text
    script, params = split_script(headers.get("agi_network_script", ""), headers.get("agi_request", ""))
    return AgiRequest(headers=headers, script=script, params=params, undecodable=tuple(undecodable))


def split_script(network_script: str, request: str) -> tuple[str, dict[str, str]]:
    """`ivr?x=1` → ("ivr", {"x": "1"}); leading/trailing slashes do not matter."""
    raw = network_script or urlsplit(request).path
    path, _, query = raw.partition("?")
    if not query and "?" in request:
        query = request.partition("?")[2]
    return path.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


async def read_header_block(reader: asyncio.StreamReader) -> AgiRequest | None:
    """Read headers up to the blank line. None when the peer closed before completing the block
    (a health check or port scan): the caller just closes the connection."""
    lines: list[bytes] = []
    while True:
        line = await _readline(reader)
        if line is None:
            return None
        if line == b"":
            if lines:
                return parse_header_block(lines)
            continue  # stray blank line before any header
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise AgiProtocolError("header block too long")


async def _readline(reader: asyncio.StreamReader) -> bytes | None:
    """One line without its terminator; None at EOF (a partial last line counts as EOF)."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise AgiProtocolError("line too long") from exc
    except ConnectionError:
        return None
    return raw.rstrip(b"\r\n")


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply line (or a multi-line 520 block) from Asterisk."""

    code: int
    result: str = ""  # the raw text after "result=", "" when empty
    data: str | None = None  # the "(...)" part: "timeout", "dtmf", a variable's value
    endpos: int | None = None
    message: str = ""  # text of 5xx replies; the usage text of a 520

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int | None:
        """`result` as a number: -1 failure/hang-up, 0, a key's ASCII code...; None when empty."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @property
    def digit(self) -> str:
        """The key that interrupted STREAM FILE / WAIT FOR DIGIT; "" when none."""
        value = self.value
        if value is None or not 0 < value < 128:
            return ""
        key = chr(value)
        return key if key in DTMF_KEYS else ""


def parse_reply_line(line: bytes) -> Reply | None:
    """A single-line reply, or None when the line is not one (garbage, HANGUP, 520- start)."""
    match = _REPLY.match(line)
    if match:
        data = match.group("data")
        endpos = match.group("endpos")
        return Reply(
            code=int(match.group("code")),
            result=match.group("result").decode("ascii"),
            data=data.decode("utf-8", "replace") if data is not None else None,
            endpos=int(endpos) if endpos is not None else None,
        )
    if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" ":
        return Reply(code=int(line[:3]), message=line[4:].decode("utf-8", "replace"))
    return None


@dataclass(slots=True)
class ReplyReader:
    """Reads the reply to the command just sent, skipping what is not a reply.

    `hangup_seen` turns true when the unrequested HANGUP line passes by; the reply that follows it
    is still read, so replies never shift by one.
    """

    reader: asyncio.StreamReader
    hangup_seen: bool = False
    closed: bool = False  # the peer closed the socket
    _early: list[bytes] = field(default_factory=list)  # lines read while waiting for a HANGUP line

    async def read(self) -> Reply:
        """Raise AgiHangup("closed") when the socket closes before a reply arrives."""
        while True:
            line = self._early.pop(0) if self._early else await _readline(self.reader)
            if line is None:
                self.closed = True
                raise AgiHangup("closed")
            if line == b"HANGUP":
                self.hangup_seen = True
                continue
            if line.startswith(b"520-"):
                return await self._usage(line)
            reply = parse_reply_line(line)
            if reply is not None:
                return reply
            if line:
                log.warning("agi: ignoring garbage line (%d bytes): %r", len(line), line[:60])

    async def hangup_follows(self) -> bool:
        """With no command pending: wait for the unrequested HANGUP line (or the socket closing), which
        Asterisk sends a few ms after a command ended with -1 because the caller hung up. Cancel-safe
        (a partly received line stays buffered); anything else that arrives is kept for `read`."""
        while not (self.hangup_seen or self.closed):
            line = await _readline(self.reader)
            if line is None:
                self.closed = True
            elif line == b"HANGUP":
                self.hangup_seen = True
            elif line:
                self._early.append(line)
                return False
        return True

    async def _usage(self, first: bytes) -> Reply:
        body = [first[4:].decode("utf-8", "replace")]
        while True:
            line = await _readline(self.reader)
            if line is None:
                raise AgiHangup("closed")
            if line.startswith(b"520 "):
                return Reply(code=520, message="\n".join(body))
            body.append(line.decode("utf-8", "replace"))


def quote(arg: str) -> str:
    """Quote one command argument the way Asterisk's AGI parser reads it."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
