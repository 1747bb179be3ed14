"""Group commit for the writes of IVR turns: every turn waits until its rows are stored (the agent's
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

from calls.models import Call, CallEvent, CallLeg, IvrStep
from hotline.db import Database

Rows = list[dict[str, Any]]


@dataclass
class Write:
    """Rows to insert (a new call, its caller leg and events, path steps) and columns of the call to set."""

    calls: Rows = field(default_factory=list)
    legs: Rows = field(default_factory=list)
    steps: Rows = field(default_factory=list)
    events: Rows = field(default_factory=list)
    update: dict[str, Any] | None = None  # "id" plus the columns to set
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class BatchWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[Write] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, entry: Write) -> None:
        """Store the entry with whatever else is waiting; returns once committed."""
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

    async def _commit(self, batch: list[Write]) -> None:
        by_columns: dict[frozenset[str], Rows] = {}
        for entry in batch:
            if entry.update is not None:
                by_columns.setdefault(frozenset(entry.update), []).append(entry.update)
        async with self.db.session() as s:
            for model, rows in ((Call, [r for e in batch for r in e.calls]), (CallLeg, [r for e in batch for r in e.legs]),
                                (IvrStep, [r for e in batch for r in e.steps]),
                                (CallEvent, [r for e in batch for r in e.events])):
                if rows:
                    await s.execute(insert(model), rows)
            for updates in by_columns.values():
                await s.execute(update(Call), updates)  # bulk UPDATE by primary key (executemany)


def _settle(entry: Write, error: BaseException | None) -> None:
    if entry.done.done():
        return
    if error is None:
        entry.done.set_result(None)
    else:
        entry.done.set_exception(error)
