"""One FastAGI connection as a channel we send commands to: one command line out, one reply in.

Hang-ups surface as AgiHangup from whichever command notices them first:
- the unrequested `HANGUP` line (read before the reply it precedes, so replies never shift),
- `511` (command not permitted on a dead channel),
- `200 result=-1` from a command that waits for keys,
- `200 result=-1` from STREAM FILE followed by the HANGUP line (Asterisk sends it a few ms later; we
  wait `hangup_grace_s` for it rather than send one more command to a dead channel),
- the socket closing: after a -1 or a HANGUP line that is the caller (AGIEXITONHANGUP); without
  either it is the PBX gone (`pbx_lost`: killed, restarted, the network cut), not the caller.
STREAM FILE's -1 with no HANGUP after it is a sound file the PBX does not have ("File ... does not
exist in any format" in Asterisk's log): a configuration error, reported once per file name
(`MissingSounds`) as soon as the next reply shows the channel was still up; the call goes on.
Commands Asterisk still answers on a dead channel (GET VARIABLE, SET VARIABLE) can be sent with
`dead_ok=True`, e.g. to read DIALSTATUS after the caller hung up during Dial.

A peer that stops answering must not hold its call forever: each reply is due within the time the
command itself may take (a GET DATA waits for keys; a Dial lasts the whole conversation and is not
bounded) plus `reply_timeout_s`, else AgiTimeout (a kind of AgiHangup: the channel counts as gone).
"""

from __future__ import annotations

import asyncio
import logging

from hotline.metrics import AGI_COMMAND_SECONDS
from hotline.telephony.asterisk.agi_protocol import (
    AgiCommandError,
    AgiHangup,
    AgiRequest,
    AgiTimeout,
    Reply,
    ReplyReader,
    quote,
)

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"
UNBOUNDED = None  # `takes_s` of a command that may run as long as the call (Dial, VoiceMail)


CALLER = "caller"
PBX_LOST = "pbx_lost"
_NO_CONNECTION = frozenset({"closed", PBX_LOST})
HANGUP_GRACE_S = 0.5  # Asterisk sends HANGUP within a few ms of the -1; a missing file waits this long once


class MissingSounds:
    """Sound files the PBX answered with -1 while the channel stayed up: reported once per file name,
    for every call of the listener (a PBX without the prompts would otherwise flood the log)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def report(self, name: str) -> None:
        if name in self.names:
            return
        self.names.add(name)
        log.error("agi: the PBX has no sound file %s (Asterisk: \"does not exist in any format\"): a "
                  "configuration error; see `hotline prompts check`", name)


class AgiChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: AgiRequest, *,
                 reply_timeout_s: float | None = None, hangup_grace_s: float = HANGUP_GRACE_S,
                 missing_sounds: MissingSounds | None = None) -> None:
        self.request = request
        self._writer = writer
        self._replies = ReplyReader(reader)
        self._reply_timeout_s = reply_timeout_s  # None: wait for replies for ever
        self._hangup_grace_s = hangup_grace_s
        self.missing_sounds = missing_sounds if missing_sounds is not None else MissingSounds()
        self._unconfirmed_file: str | None = None  # -1 from STREAM FILE: missing, if the channel proves alive
        self._last_failed = False  # the last reply was `200 result=-1`
        self.hangup_reason: str | None = None  # set once the channel is known to be gone

    @property
    def hung_up(self) -> bool:
        return self.hangup_reason is not None

    def _gone(self, reason: str) -> AgiHangup:
        if self.hangup_reason is None:
            self.hangup_reason = reason
        return AgiHangup(self.hangup_reason)

    async def command(self, line: str, *, dead_ok: bool = False, takes_s: float | None = 0.0) -> Reply:
        """Send one command and return its reply. Raise AgiHangup / AgiCommandError as described above.
        `takes_s`: how long the command itself may run before it replies (UNBOUNDED: no limit)."""
        if self.hangup_reason in _NO_CONNECTION or (self.hung_up and not dead_ok):
            raise AgiHangup(self.hangup_reason or "closed")
        try:
            self._writer.write(line.encode("utf-8") + b"\n")
            await self._writer.drain()
        except ConnectionError:
            raise self._lost() from None
        limit = None if takes_s is None or self._reply_timeout_s is None else takes_s + self._reply_timeout_s
        try:
            async with asyncio.timeout(limit):
                with AGI_COMMAND_SECONDS.time():
                    reply = await self._replies.read()
        except TimeoutError:
            self.hangup_reason = "closed"  # the reply may still come: nothing more can be sent
            log.warning("agi: %s: no reply to %s in %.1f s; closing", self.request.uniqueid, _words(line), limit)
            raise AgiTimeout() from None
        except AgiHangup:
            raise self._lost() from None
        except asyncio.CancelledError:
            # The reply is still owed: this connection can no longer be kept in step.
            self.hangup_reason = "closed"
            raise
        if self._replies.hangup_seen and self.hangup_reason is None:
            self.hangup_reason = CALLER
        self._confirm_file(alive=reply.code != 511 and not self.hung_up)
        self._last_failed = reply.value == -1
        if reply.code == 511:
            raise self._gone(CALLER)
        if reply.code >= 500:
            first = reply.message.splitlines()[0] if reply.message else ""
            log.warning("agi: %s refused: %s %s", _words(line), reply.code, first)
            raise AgiCommandError(reply)
        if self.hung_up and not dead_ok:
            raise AgiHangup(self.hangup_reason or CALLER)
        return reply

    def _lost(self) -> AgiHangup:
        """The socket closed. After a -1 or a HANGUP line that is how a caller's hang-up ends the
        session (AGIEXITONHANGUP); without either, the PBX itself is gone."""
        self._unconfirmed_file = None
        if self.hangup_reason is None:  # the session logs a PBX_LOST, with the call's id
            self.hangup_reason = CALLER if self._replies.hangup_seen or self._last_failed else PBX_LOST
        elif self.hangup_reason != PBX_LOST:
            self.hangup_reason = "closed"
        return AgiHangup(self.hangup_reason)

    def _confirm_file(self, *, alive: bool) -> None:
        name, self._unconfirmed_file = self._unconfirmed_file, None
        if name is not None and alive:
            self.missing_sounds.report(name)

    async def _hangup_follows(self) -> bool:
        """After a -1: does the HANGUP line (or the socket's end) follow within the grace time?"""
        try:
            async with asyncio.timeout(self._hangup_grace_s):
                return await self._replies.hangup_follows()
        except TimeoutError:
            return False

    # --- typed commands ---------------------------------------------------------------------------

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def stream_file(self, name: str, escape_digits: str = ALL_KEYS) -> str:
        """Play a sound file; return the key that interrupted it ("" when none or the file is missing)."""
        reply = await self.command(f"STREAM FILE {name} {quote(escape_digits)}")
        if reply.value == -1:
            # The caller hung up, or the file is missing: Asterisk tells which by sending HANGUP or not.
            if await self._hangup_follows() or (reply.endpos or 0) > 0:  # a file that played part-way exists
                if self._replies.closed and self.hangup_reason is None:
                    self.hangup_reason = "closed"  # nothing more can be sent
                raise self._gone(CALLER)
            self._unconfirmed_file = name
            return ""
        return reply.digit

    async def get_data(self, name: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play `name` and collect keys; `#` ends the entry and is not returned. -> (keys, timed_out)."""
        # Asterisk waits up to the timeout for the first key and again after each key
        waits_s = timeout_ms / 1000 * max(1, max_digits)
        reply = await self.command(f"GET DATA {name} {timeout_ms} {max_digits}", takes_s=waits_s)
        if reply.value is not None and reply.value < 0:
            raise self._gone(CALLER)
        return reply.result, reply.timed_out

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """One key, or "" after the timeout."""
        reply = await self.command(f"WAIT FOR DIGIT {timeout_ms}",
                                   takes_s=timeout_ms / 1000 if timeout_ms >= 0 else UNBOUNDED)
        if reply.value is not None and reply.value < 0:
            raise self._gone(CALLER)
        return reply.digit

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def get_variable(self, name: str, *, dead_ok: bool = True) -> str | None:
        reply = await self.command(f"GET VARIABLE {name}", dead_ok=dead_ok)
        return reply.data if reply.value == 1 else None

    async def exec(self, application: str, args: str = "", *, takes_s: float | None = UNBOUNDED) -> Reply:
        """Run a dialplan application. Most (Dial, VoiceMail) last as long as they need: unbounded
        unless the caller says how long this one takes (MixMonitor returns at once)."""
        line = f"EXEC {application}" + (f" {quote(args)}" if args else "")
        return await self.command(line, takes_s=takes_s)

    async def set_music(self, on: bool, music_class: str = "default") -> None:
        await self.command(f"SET MUSIC on {music_class}" if on else "SET MUSIC off")

    async def hangup(self) -> None:
        """Hang the channel up from our side (ignored when it is already gone)."""
        if self.hung_up:
            return
        try:
            await self.command("HANGUP")
        except AgiHangup:
            pass
        self.hangup_reason = self.hangup_reason or "server"


def _words(line: str) -> str:
    """The command words only: arguments may carry caller data."""
    return " ".join(line.split(" ", 2)[:2])
