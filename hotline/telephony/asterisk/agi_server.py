"""The FastAGI listener: accepts Asterisk's connections, reads the header block, hands the call on.

Written on asyncio streams (panoramisk.fast_agi freezes on a connect-and-close, shifts replies
after a hang-up and swallows cancellation). A connection that closes before finishing its header
block, or sends no header in `header_timeout_s`, is dropped without disturbing any other call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from hotline.telephony.asterisk.agi_channel import HANGUP_GRACE_S, AgiChannel, MissingSounds
from hotline.telephony.asterisk.agi_protocol import AgiProtocolError, AgiRequest, read_header_block

log = logging.getLogger(__name__)

CallHandler = Callable[[AgiChannel], Awaitable[None]]


class AgiListenError(OSError):
    """The FastAGI port cannot be bound (in use, not ours): `hotline serve` names agi.port for it."""


class AgiServer:
    def __init__(
        self,
        handler: CallHandler,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        scripts: tuple[str, ...] = ("ivr",),
        header_timeout_s: float = 10.0,
        reply_timeout_s: float | None = None,
        hangup_grace_s: float = HANGUP_GRACE_S,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._scripts = scripts
        self._header_timeout_s = header_timeout_s
        self._reply_timeout_s = reply_timeout_s  # per command, handed to each AgiChannel
        self._hangup_grace_s = hangup_grace_s
        self.missing_sounds = MissingSounds()  # shared by every call: each missing file is reported once
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AGI server not started")
        port: int = self._server.sockets[0].getsockname()[1]  # (host, port) or IPv6's (host, port, flow, scope)
        return port

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def active_calls(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._on_connect, self._host, self._port)
        except OSError as exc:
            raise AgiListenError(exc.errno, exc.strerror) from exc
        log.info("agi: listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop accepting, end every call in progress (their sessions close their records), wait for them."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The call runs in its own task so that stop() can cancel it without cancelling asyncio's
        # connection task (on 3.11 a cancelled connection task logs a spurious error).
        call = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(call)
        try:
            await call
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we ourselves are being cancelled: let it through
        except Exception:
            log.exception("agi: connection failed")
        finally:
            self._tasks.discard(call)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(self._header_timeout_s):
                request = await read_header_block(reader)
        except TimeoutError:
            log.warning("agi: %s sent no header block in %.0f s; closing", peer, self._header_timeout_s)
            return
        except AgiProtocolError as exc:
            log.warning("agi: %s: %s; closing", peer, exc)
            return
        if request is None:
            log.debug("agi: %s closed before its header block ended (health check?)", peer)
            return
        if not self._accepts(request):
            log.warning("agi: unknown script %r from %s; closing", request.script, peer)
            return
        if request.undecodable:
            log.warning("agi: %s: invalid UTF-8 in %s (replaced)", request.uniqueid, ", ".join(request.undecodable))
        await self._handler(AgiChannel(reader, writer, request, reply_timeout_s=self._reply_timeout_s,
                                       hangup_grace_s=self._hangup_grace_s, missing_sounds=self.missing_sounds))

    def _accepts(self, request: AgiRequest) -> bool:
        return request.script in self._scripts
