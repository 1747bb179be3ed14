"""Ordered write-behind to the database for the ACD.

Routing decisions are made in memory and must not wait for disk; the facts they produce are written
here, in the order they happened, by one worker task. Writes whose result the caller needs (a new
callback's id) are awaited; event rows are appended and batched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hotline.db import Base, Database

log = logging.getLogger(__name__)

Operation = Callable[[AsyncSession], Awaitable[Any]]
T = TypeVar("T")


class Journal:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._items: asyncio.Queue[Base | tuple[Operation, asyncio.Future[Any]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="acd-journal")

    async def stop(self) -> None:
        await self.flush()
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    def append(self, row: Base) -> None:
        self.start()
        self._items.put_nowait(row)

    def run(self, operation: Callable[[AsyncSession], Awaitable[T]]) -> asyncio.Future[T]:
        """Queue `operation(session)` after everything already queued; the future gets its result."""
        self.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._items.put_nowait((operation, future))
        return future

    async def flush(self) -> None:
        """Return once everything queued so far is in the database."""
        if self._worker is None:
            await self._drain()
            return

        async def nothing(_: AsyncSession) -> None:
            return None

        await self.run(nothing)

    async def _run(self) -> None:
        while True:
            first = await self._items.get()
            await self._drain(first)

    async def _drain(self, first: Base | tuple[Operation, asyncio.Future[Any]] | None = None) -> None:
        rows: list[Base] = []
        while first is not None or not self._items.empty():
            item, first = (first if first is not None else self._items.get_nowait()), None
            if isinstance(item, Base):
                rows.append(item)
                continue
            await self._write_rows(rows)
            rows = []
            operation, future = item
            try:
                async with self._db.session() as session:
                    result = await operation(session)
            except Exception as exc:  # noqa: BLE001 - handed to whoever awaits the operation
                if not future.done():
                    future.set_exception(exc)
                if not future.cancelled():
                    future.exception()  # mark retrieved: fire-and-forget callers are logged below
                log.error("acd write failed: %s", exc)
            else:
                if not future.done():
                    future.set_result(result)
        await self._write_rows(rows)

    async def _write_rows(self, rows: list[Base]) -> None:
        if not rows:
            return
        try:
            async with self._db.session() as session:
                session.add_all(rows)
        except Exception:  # noqa: BLE001 - one bad batch must not stop the journal
            log.exception("acd event log write failed (%d rows)", len(rows))
