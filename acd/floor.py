"""What every part of the ACD shares: configuration and time, the routing index, the live calls, the
bridges, the journal, the event stream and the bridge requests under way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime

from acd.clock import Clock
from acd.config import AcdConfig, QueueConfig
from acd.exceptions import NoBridge, UnknownQueue
from acd.journal import Journal
from acd.live import Events
from acd.ports import Connector
from acd.records import CallEntry
from acd.router import Router
from hotline.db import Database
from hotline.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_RING_TIMEOUT_S = 30.0  # calls outside any queue (scheduled callbacks, campaign calls)


class Floor:
    def __init__(self, config: AcdConfig, db: Database, settings: Settings, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.settings = settings
        self.clock = clock
        self.router = Router({name: (q.skills, q.strategy) for name, q in config.queues.items()})
        self.journal = Journal(db)
        self.events = Events(self.now, self.journal)
        self.connectors: dict[str, Connector] = {}
        self.calls: dict[str, CallEntry] = {}  # every call the ACD looks after, by id
        self.started = False  # timers that fire after stop() change nothing
        self.handle_s = config.default_handle_s  # moving average of talk + wrap-up, for wait estimates
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return self.clock.now()  # `clock` may be replaced after start (tests move time by hand)

    def queue(self, name: str) -> QueueConfig:
        try:
            return self.config.queues[name]
        except KeyError:
            raise UnknownQueue(name, self.config.queues) from None

    def connector(self, name: str) -> Connector:
        try:
            return self.connectors[name]
        except KeyError:
            raise NoBridge(name) from None

    def ring_timeout(self, call: CallEntry) -> float:
        queue = self.config.queues.get(call.queue)
        return queue.ring_timeout_s if queue else DEFAULT_RING_TIMEOUT_S

    def seconds_since(self, moment: datetime | None) -> float:
        return max(0.0, (self.clock.now() - moment).total_seconds()) if moment else 0.0

    def next_seq(self) -> int:
        """Arrival order, the last tie-break between callers."""
        self._seq += 1
        return self._seq

    # --- bridge requests -----------------------------------------------------------------------

    def spawn(self, request: Awaitable[None], on_error: Callable[[Exception], None] | None) -> None:
        """Hand a request to a bridge without waiting for it; `on_error` runs if it fails (while started)."""

        async def run() -> None:
            try:
                await request
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bridge failure must not lose the caller
                log.exception("bridge request failed")
                if on_error is not None and self.started:
                    on_error(exc)
            finally:
                if isinstance(request, Coroutine):
                    request.close()  # cancelled before it ran: no "never awaited" warning

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait until every bridge request made so far (and any they led to) has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def finish_requests(self, grace_s: float) -> None:
        """Let requests already handed out finish; one still hanging after `grace_s` is cancelled."""
        if not self._tasks:
            return
        _, hanging = await asyncio.wait(list(self._tasks), timeout=grace_s)
        for task in hanging:
            task.cancel()
        await asyncio.gather(*hanging, return_exceptions=True)
