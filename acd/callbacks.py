"""Callbacks: promises to call a customer back, and the outbound legs that keep them.

Two kinds of promise. A queue callback: the caller left a number and hung up, and keeps their place;
when an agent is picked for it, the agent is rung and then the customer is dialled. A scheduled
callback: an agent's "I will call you back" at a set time; when due, that agent is rung (at once if
free, else when they next are). A customer not reached is tried again after a gap, up to the configured
number of attempts. Promises are in the database, so they survive a restart. Owner of both kinds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from acd.exceptions import CallNotWaiting, NumberRequired
from acd.floor import Floor
from acd.models import Callback, CallbackAttempt
from acd.offers import Offers
from acd.ports import OutboundCall
from acd.presence import Presence
from acd.queues import Queues
from acd.records import AgentEntry, CallEntry
from acd.states import (
    CUSTOMER_NOT_REACHED,
    AttemptResult,
    CallbackKind,
    CallbackStatus,
    CallKind,
    CallState,
    EventKind,
)
from hotline.db import aware

_MAY_ASK = frozenset({CallState.WAITING, CallState.OFFERED})


class Callbacks:
    def __init__(self, floor: Floor, presence: Presence, offers: Offers, queues: Queues) -> None:
        self._floor = floor
        self._presence = presence
        self._offers = offers
        self._queues = queues
        self._emit = floor.events.emit

    async def recover(self, s: AsyncSession) -> list[Callback]:
        """At start: the promises still open. An attempt that was dialling when the server went down has
        no result; it did not reach anyone."""
        rows = list(await s.scalars(
            select(Callback).where(Callback.status.in_((CallbackStatus.PENDING, CallbackStatus.DIALING)))))
        await s.execute(update(CallbackAttempt).where(CallbackAttempt.result.is_(None))
                        .values(result=AttemptResult.INTERRUPTED, ended_at=self._floor.clock.now()))
        await s.execute(update(Callback).where(Callback.status == CallbackStatus.DIALING)
                        .values(status=CallbackStatus.PENDING))
        return rows

    def restore(self, rows: Iterable[Callback]) -> None:
        for row in rows:
            if row.attempts >= self._floor.settings.acd.callback_attempts:
                self._update_row(row.id, status=CallbackStatus.FAILED)  # the last try was cut off
            else:
                self._restore(row)

    async def request(self, call_id: str, number: str) -> int:
        """The caller leaves a number and hangs up; they keep their place and are called back in turn."""
        call = self._floor.calls.get(call_id)
        if call is None or call.outbound or call.kind is not CallKind.INBOUND or call.state not in _MAY_ASK:
            raise CallNotWaiting(call_id)
        if not number.strip():
            raise NumberRequired()
        self._queues.leave(call)
        call.kind, call.number, call.state = CallKind.CALLBACK, number.strip(), CallState.PARKED

        async def insert(s: AsyncSession) -> int:
            row = Callback(kind=CallbackKind.QUEUE, queue=call.queue, category=call.category,
                           priority=call.priority, connector=call.connector, origin_call_id=call.call_id,
                           customer_id=call.customer_id, number=call.number, enqueued_at=call.enqueued_at,
                           status=CallbackStatus.PENDING)
            s.add(row)
            await s.flush()
            return row.id

        callback_id = call.callback_id = await self._floor.journal.run(insert)
        self._emit(EventKind.CALLBACK_REQUESTED, call=call, detail={"callback_id": callback_id})
        self._offers.place(call)
        return callback_id

    async def schedule(self, agent_id: int, customer_id: int | None, number: str, due: datetime,
                       note: str) -> int:
        """An agent's "I will call you back": at `due` (or when they are next free) they are rung, then the customer."""
        agent = self._presence.agent(agent_id)
        if not number.strip():
            raise NumberRequired()

        async def insert(s: AsyncSession) -> int:
            row = Callback(kind=CallbackKind.SCHEDULED, agent_id=agent.id, customer_id=customer_id,
                           number=number.strip(), note=note, enqueued_at=self._floor.clock.now(), due_at=due,
                           status=CallbackStatus.PENDING)
            s.add(row)
            await s.flush()
            return row.id

        callback_id = await self._floor.journal.run(insert)
        entry = self._scheduled_entry(callback_id, agent.id, number.strip(), customer_id, note)
        self._emit(EventKind.CALLBACK_SCHEDULED, call=entry, agent=agent,
                   detail={"callback_id": callback_id, "due": due.isoformat()})
        self._arm_due(entry, due)
        return callback_id

    # --- as owner of promises and their legs ----------------------------------------------------

    def take(self, entry: CallEntry, agent: AgentEntry) -> None:
        """The promise's turn has come: ring the agent, then (bridge) the customer."""
        connectors = self._floor.connectors
        # the promise's own transport if the agent has a phone there, else one where they have
        usable = [name for name in connectors if agent.phones.on(name)]
        connector = entry.connector if entry.connector in usable else next(iter(usable or connectors))
        leg = CallEntry(call_id=str(uuid.uuid4()), queue=entry.queue, category=entry.category, connector=connector,
                        kind=entry.kind, outbound=True, parent=entry, callback_id=entry.callback_id,
                        number=entry.number, customer_id=entry.customer_id, enqueued_at=self._floor.clock.now())
        entry.state = CallState.DIALING
        self._floor.calls[leg.call_id] = leg
        self._offers.reserve(leg, agent)
        self._emit(EventKind.OFFERED, call=leg, agent=agent, detail=leg.purpose())
        self._floor.spawn(connectors[connector].place_outbound(OutboundCall(
            call_id=leg.call_id, agent_id=agent.id, agent_endpoint=agent.endpoint_for(connector),
            customer_number=leg.number,
            purpose="callback", reference_id=entry.callback_id or 0, ring_timeout_s=self._floor.ring_timeout(leg))),
            on_error=lambda _exc: self._offers.outbound_failed(leg))
        self._update_row(entry.callback_id, status=CallbackStatus.DIALING)

    def unanswered(self, leg: CallEntry) -> None:
        """The agent did not take the leg: the customer was never dialled, no attempt is spent."""
        entry = leg.parent
        if entry is None:
            return
        self._update_row(entry.callback_id, status=CallbackStatus.PENDING)
        if entry.kind is CallKind.SCHEDULED:
            owner = self._presence.get(entry.owner_id or 0)
            if owner is not None:
                entry.state = CallState.DUE
                owner.due_callbacks.appendleft(entry)
        else:
            self._offers.place(entry)

    def answered(self, leg: CallEntry, agent: AgentEntry) -> None:
        """The agent picked up; the bridge now dials the customer: an attempt starts."""
        entry = leg.parent
        if not leg.outbound or entry is None:
            return
        entry.attempt_no += 1
        leg.attempt_no = attempt_no = entry.attempt_no
        callback_id, started = entry.callback_id, self._floor.clock.now()

        async def insert(s: AsyncSession) -> None:
            s.add(CallbackAttempt(callback_id=callback_id, attempt_no=attempt_no, call_id=leg.call_id,
                                  agent_id=agent.id, started_at=started))
            await s.execute(update(Callback).where(Callback.id == callback_id).values(attempts=attempt_no))

        self._floor.journal.run(insert)

    def finished(self, leg: CallEntry, reason: str) -> None:
        """The attempt is over: done, given up after the last attempt, or tried again after the gap."""
        entry = leg.parent
        if not leg.outbound or entry is None:
            return
        reached = reason not in CUSTOMER_NOT_REACHED
        acd = self._floor.settings.acd
        now = self._floor.clock.now()
        next_at: datetime | None = None
        if reached:
            status, kind = CallbackStatus.DONE, EventKind.CALLBACK_DONE
        elif leg.attempt_no >= acd.callback_attempts:
            status, kind = CallbackStatus.FAILED, EventKind.CALLBACK_FAILED
        else:
            status, kind = CallbackStatus.PENDING, EventKind.CALLBACK_ATTEMPT
            next_at = now + timedelta(seconds=acd.callback_retry_gap_s)
        callback_id, attempt_no = entry.callback_id, leg.attempt_no

        async def record(s: AsyncSession) -> None:
            await s.execute(update(CallbackAttempt)
                            .where(CallbackAttempt.callback_id == callback_id,
                                   CallbackAttempt.attempt_no == attempt_no)
                            .values(result=AttemptResult.REACHED if reached else reason, ended_at=now))
            await s.execute(update(Callback).where(Callback.id == callback_id)
                            .values(status=status, attempts=attempt_no, next_attempt_at=next_at))

        self._floor.journal.run(record)
        self._emit(kind, call=entry, agent=leg.agent, reason=reason,
                   detail={"callback_id": callback_id, "attempt": attempt_no})
        if next_at is None:
            self._floor.calls.pop(entry.call_id, None)
        else:
            entry.state = CallState.RETRY_WAIT
            self._floor.clock.call_later(acd.callback_retry_gap_s, lambda: self._retry_due(entry))

    # --- internals -----------------------------------------------------------------------------

    def _scheduled_entry(self, callback_id: int, agent_id: int, number: str, customer_id: int | None,
                         note: str) -> CallEntry:
        entry = CallEntry(call_id=f"callback-{callback_id}", queue="", category="other", connector="",
                          kind=CallKind.SCHEDULED, number=number, customer_id=customer_id, callback_id=callback_id,
                          enqueued_at=self._floor.clock.now(), owner_id=agent_id, state=CallState.DUE_WAIT,
                          note=note)
        self._floor.calls[entry.call_id] = entry
        return entry

    def _arm_due(self, entry: CallEntry, due: datetime) -> None:
        delay = (due - self._floor.clock.now()).total_seconds()
        self._floor.clock.call_later(delay, lambda: self._due(entry))

    def _due(self, entry: CallEntry) -> None:
        owner = self._presence.get(entry.owner_id or 0)
        if owner is None or self._floor.calls.get(entry.call_id) is not entry or not self._floor.started:
            return
        entry.state = CallState.DUE
        self._presence.due(owner, entry)

    def _restore(self, row: Callback) -> None:
        now = self._floor.clock.now()
        if row.kind == CallbackKind.SCHEDULED:
            entry = self._scheduled_entry(row.id, row.agent_id or 0, row.number, row.customer_id, row.note)
            entry.attempt_no = row.attempts
            self._arm_due(entry, max(aware(x) for x in (row.due_at, row.next_attempt_at, now) if x))
            return
        config = self._floor.config
        queue = row.queue if row.queue in config.queues else config.queue_for_category(row.category)
        entry = CallEntry(call_id=row.origin_call_id or f"callback-{row.id}", queue=queue, category=row.category,
                          connector=row.connector, kind=CallKind.CALLBACK, priority=row.priority, number=row.number,
                          customer_id=row.customer_id, enqueued_at=aware(row.enqueued_at) if row.enqueued_at else None,
                          seq=self._floor.next_seq(), callback_id=row.id, attempt_no=row.attempts, visited={queue})
        self._floor.calls[entry.call_id] = entry
        next_at = aware(row.next_attempt_at) if row.next_attempt_at else None
        if next_at is not None and next_at > now:
            entry.state = CallState.RETRY_WAIT
            self._floor.clock.call_later((next_at - now).total_seconds(), lambda: self._retry_due(entry))
        else:
            self._offers.place(entry)

    def _retry_due(self, entry: CallEntry) -> None:
        if (self._floor.calls.get(entry.call_id) is not entry or entry.state is not CallState.RETRY_WAIT
                or not self._floor.started):
            return
        if entry.kind is CallKind.SCHEDULED:
            self._due(entry)
        else:
            self._offers.place(entry)

    def _update_row(self, callback_id: int | None, **values: object) -> None:
        if callback_id is None:
            return

        async def write(s: AsyncSession) -> None:
            await s.execute(update(Callback).where(Callback.id == callback_id).values(**values))

        self._floor.journal.run(write)
