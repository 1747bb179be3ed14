"""One FastAGI connection as a channel we send commands to: one command line out, one reply in.

Hang-ups surface as AgiHangup from whichever command notices them first:
- the unrequested `HANGUP` line (read before the reply it precedes, so replies never shift),
- `511` (command not permitted on a dead channel),
- `200 result=-1` from a command that waits for keys,
- the socket closing.
Commands Asterisk still answers on a dead channel (GET VARIABLE, SET VARIABLE) can be sent with
`dead_ok=True`, e.g. to read DIALSTATUS after the caller hung up during Dial.

A peer that stops answering must not hold its call forever: each reply is due within the time the
command itself may take (a GET DATA waits for keys; a Dial lasts the whole conversation and is not
bounded) plus `reply_timeout_s`, else AgiTimeout (a kind of AgiHangup: the channel counts as gone).
"""

from __future__ import annotations

import asyncio
import logging

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


class AgiChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: AgiRequest, *,
                 reply_timeout_s: float | None = None) -> None:
        self.request = request
        self._writer = writer
        self._replies = ReplyReader(reader)
        self._reply_timeout_s = reply_timeout_s  # None: wait for replies for ever
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
        if self.hangup_reason == "closed" or (self.hung_up and not dead_ok):
            raise AgiHangup(self.hangup_reason or "closed")
        try:
            self._writer.write(line.encode("utf-8") + b"\n")
            await self._writer.drain()
        except ConnectionError:
            self.hangup_reason = "closed"
            raise AgiHangup("closed") from None
        limit = None if takes_s is None or self._reply_timeout_s is None else takes_s + self._reply_timeout_s
        try:
            async with asyncio.timeout(limit):
                reply = await self._replies.read()
        except TimeoutError:
            self.hangup_reason = "closed"  # the reply may still come: nothing more can be sent
            log.warning("agi: %s: no reply to %s in %.1f s; closing", self.request.uniqueid, _words(line), limit)
            raise AgiTimeout() from None
        except AgiHangup:
            self.hangup_reason = "closed"
            raise
        except asyncio.CancelledError:
            # The reply is still owed: this connection can no longer be kept in step.
            self.hangup_reason = "closed"
            raise
        if self._replies.hangup_seen and self.hangup_reason is None:
            self.hangup_reason = "caller"
        if reply.code == 511:
            raise self._gone("caller")
        if reply.code >= 500:
            first = reply.message.splitlines()[0] if reply.message else ""
            log.warning("agi: %s refused: %s %s", _words(line), reply.code, first)
            raise AgiCommandError(reply)
        if self.hung_up and not dead_ok:
            raise AgiHangup(self.hangup_reason or "caller")
        return reply

    # --- typed commands ---------------------------------------------------------------------------

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def stream_file(self, name: str, escape_digits: str = ALL_KEYS) -> str:
        """Play a sound file; return the key that interrupted it ("" when none or the file is missing)."""
        reply = await self.command(f"STREAM FILE {name} {quote(escape_digits)}")
        if reply.value == -1:
            # Missing file or the caller hung up: the next command tells which (HANGUP/511).
            log.warning("agi: STREAM FILE %s failed (missing file?)", name)
            return ""
        return reply.digit

    async def get_data(self, name: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play `name` and collect keys; `#` ends the entry and is not returned. -> (keys, timed_out)."""
        # Asterisk waits up to the timeout for the first key and again after each key
        waits_s = timeout_ms / 1000 * max(1, max_digits)
        reply = await self.command(f"GET DATA {name} {timeout_ms} {max_digits}", takes_s=waits_s)
        if reply.value is not None and reply.value < 0:
            raise self._gone("caller")
        return reply.result, reply.timed_out

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """One key, or "" after the timeout."""
        reply = await self.command(f"WAIT FOR DIGIT {timeout_ms}",
                                   takes_s=timeout_ms / 1000 if timeout_ms >= 0 else UNBOUNDED)
        if reply.value is not None and reply.value < 0:
            raise self._gone("caller")
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
