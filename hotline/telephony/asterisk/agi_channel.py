"""One FastAGI connection as a channel we send commands to: one command line out, one reply in.

Hang-ups surface as AgiHangup from whichever command notices them first:
- the unrequested `HANGUP` line (read before the reply it precedes, so replies never shift),
- `511` (command not permitted on a dead channel),
- `200 result=-1` from a command that waits for keys,
- the socket closing.
Commands Asterisk still answers on a dead channel (GET VARIABLE, SET VARIABLE) can be sent with
`dead_ok=True`, e.g. to read DIALSTATUS after the caller hung up during Dial.
"""

from __future__ import annotations

import asyncio
import logging

from hotline.telephony.asterisk.agi_protocol import (
    AgiCommandError,
    AgiHangup,
    AgiRequest,
    Reply,
    ReplyReader,
    quote,
)

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"


class AgiChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: AgiRequest) -> None:
        self.request = request
        self._writer = writer
        self._replies = ReplyReader(reader)
        self.hangup_reason: str | None = None  # set once the channel is known to be gone
        self.commands_sent = 0

    @property
    def hung_up(self) -> bool:
        return self.hangup_reason is not None

    def _gone(self, reason: str) -> AgiHangup:
        if self.hangup_reason is None:
            self.hangup_reason = reason
        return AgiHangup(self.hangup_reason)

    async def command(self, line: str, *, dead_ok: bool = False) -> Reply:
        """Send one command and return its reply. Raise AgiHangup / AgiCommandError as described above."""
        if self.hangup_reason == "closed" or (self.hung_up and not dead_ok):
            raise AgiHangup(self.hangup_reason or "closed")
        try:
            self._writer.write(line.encode("utf-8") + b"\n")
            await self._writer.drain()
        except ConnectionError:
            self.hangup_reason = "closed"
            raise AgiHangup("closed") from None
        self.commands_sent += 1
        try:
            reply = await self._replies.read()
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
            # Only the command words are logged: arguments may carry caller data.
            words = " ".join(line.split(" ", 2)[:2])
            first = reply.message.splitlines()[0] if reply.message else ""
            log.warning("agi: %s refused: %s %s", words, reply.code, first)
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
        reply = await self.command(f"GET DATA {name} {timeout_ms} {max_digits}")
        if reply.value is not None and reply.value < 0:
            raise self._gone("caller")
        return reply.result, reply.timed_out

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """One key, or "" after the timeout."""
        reply = await self.command(f"WAIT FOR DIGIT {timeout_ms}")
        if reply.value is not None and reply.value < 0:
            raise self._gone("caller")
        return reply.digit

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def get_variable(self, name: str, *, dead_ok: bool = True) -> str | None:
        reply = await self.command(f"GET VARIABLE {name}", dead_ok=dead_ok)
        return reply.data if reply.value == 1 else None

    async def exec(self, application: str, args: str = "") -> Reply:
        line = f"EXEC {application}" + (f" {quote(args)}" if args else "")
        return await self.command(line)

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
