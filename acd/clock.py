"""Time for the ACD: what time it is and "call me back in N seconds".

Ring timeouts, wrap-up, max wait and callback retry gaps all go through a `Clock`, so tests drive
them with `ManualClock.advance()` instead of sleeping. Timer callbacks are plain functions: routing
is synchronous in-memory work, and anything slow is spawned as a task by the ACD itself.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer: ...


class LoopClock:
    """Wall-clock time and the running event loop's timers."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay_s), callback)


class _ManualTimer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to; due callbacks run in time order inside `advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
        self._due: list[tuple[datetime, int, _ManualTimer, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer()
        heapq.heappush(self._due, (self._now + timedelta(seconds=max(0.0, delay_s)), next(self._seq), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        until = self._now + timedelta(seconds=seconds)
        while self._due and self._due[0][0] <= until:
            at, _, timer, callback = heapq.heappop(self._due)
            self._now = max(self._now, at)
            if not timer.cancelled:
                callback()
        self._now = until

    def pending(self) -> int:
        return sum(1 for _, _, timer, _ in self._due if not timer.cancelled)
