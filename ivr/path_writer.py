"""Group commit for the caller's path: every IVR turn waits until its steps are stored (the agent's
screen pop and the statistics read them), but turns of concurrent calls share one transaction.

With a transaction per turn the database round trips and the ORM set the ceiling of the whole
IVR; batching whatever arrived while the previous batch was committing keeps the latency of one
commit and divides its cost by the number of calls waiting.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update

from calls.models import Call, IvrStep
from hotline.db import Database


@dataclass
class _Write:
    steps: list[dict[str, Any]]
    call: dict[str, Any]  # "id" plus the columns to set
    new_call: bool  # insert the call row instead of updating it
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class PathWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, steps: list[dict[str, Any]], call: dict[str, Any], *, new_call: bool = False) -> None:
        """Store `steps` (IvrStep rows) and update (or insert) the call; returns once committed."""
        entry = _Write(steps, call, new_call)
        self._pending.append(entry)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # shield: a caller who hangs up cancels the turn, not the batch other calls are waiting on
        await asyncio.shield(entry.done)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._commit(batch)
            except Exception as exc:  # noqa: BLE001 - handed to the turns that wait on this batch
                if len(batch) == 1:
                    _settle(batch[0], exc)
                    continue
                # one bad write (a CallSid started twice at once) must not fail the turns of the other calls
                for entry in batch:
                    try:
                        await self._commit([entry])
                    except Exception as own:  # noqa: BLE001 - that turn's own failure
                        _settle(entry, own)
                    else:
                        _settle(entry, None)
            else:
                for entry in batch:
                    _settle(entry, None)

    async def _commit(self, batch: list[_Write]) -> None:
        steps = [row for entry in batch for row in entry.steps]
        new_calls = [entry.call for entry in batch if entry.new_call]
        by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
        for entry in batch:
            if not entry.new_call:
                by_columns.setdefault(frozenset(entry.call), []).append(entry.call)
        async with self.db.session() as s:
            if new_calls:
                await s.execute(insert(Call), new_calls)
            if steps:
                await s.execute(insert(IvrStep), steps)
            for calls in by_columns.values():
                await s.execute(update(Call), calls)  # bulk UPDATE by primary key (executemany)


def _settle(entry: _Write, error: BaseException | None) -> None:
    if entry.done.done():
        return
    if error is None:
        entry.done.set_result(None)
    else:
        entry.done.set_exception(error)
