"""Callers and queues: a caller joins a queue, is told their place, rings an agent, hangs up, waits too
long and overflows (to another queue, a callback offer or voicemail). Owner of inbound calls."""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select

from acd.config import QueueConfig
from acd.exceptions import NoBridge
from acd.floor import Floor
from acd.offers import Offers
from acd.ports import Offer, Overflow, QueueStatus, WaitingCall
from acd.presence import Presence
from acd.records import AgentEntry, CallEntry
from acd.states import CallKind, CallState, EndReason, EventKind, OfferFailure, OverflowKind
from bank.models import Customer

_ENDED_EARLY_KEPT = 1000  # hang-ups of not-yet-queued calls remembered (bounded)
_WAITING_OR_RINGING = frozenset({CallState.WAITING, CallState.OFFERED})
_WITH_AGENT = frozenset({CallState.OFFERED, CallState.TALKING})


class Queues:
    def __init__(self, floor: Floor, presence: Presence, offers: Offers) -> None:
        self._floor = floor
        self._config = floor.config
        self._router = floor.router
        self._presence = presence
        self._offers = offers
        self._emit = floor.events.emit
        # calls reported over before the ACD knew them: a caller who hangs up while their
        # transfer is still being queued (enqueue awaits the customer record first)
        self._ended_early: OrderedDict[str, str] = OrderedDict()

    def is_open(self, queue: str, now: datetime) -> bool:
        local = now.astimezone(self._config.zone) if now.tzinfo else now
        return self._floor.queue(queue).hours.is_open(local)

    def status(self, call_id: str) -> QueueStatus | None:
        call = self._floor.calls.get(call_id)
        if call is None or call.outbound:
            return None
        if call.state in _WITH_AGENT:
            return QueueStatus(position=1, estimated_wait_s=0)
        where = self._router.position(call_id)
        if where is None:
            return QueueStatus(position=1, estimated_wait_s=0)
        position, staffed = where
        estimate = math.ceil(position * self._floor.handle_s / max(1, staffed))
        return QueueStatus(position=position, estimated_wait_s=estimate)

    async def enqueue(self, call: WaitingCall) -> QueueStatus:
        """Queue a caller (again: idempotent). A caller already talking to an agent is transferred."""
        queue = self._floor.queue(call.queue)
        if call.connector not in self._floor.connectors:
            raise NoBridge(call.connector)
        vip = await self._is_vip(call.customer_id)
        existing = self._floor.calls.get(call.call_id)
        if existing is not None and existing.state is not CallState.TALKING:
            return self.status(call.call_id) or QueueStatus(1, 0)
        if existing is not None:
            self._transfer(existing, call.queue)
        now = self._floor.clock.now()
        entry = self._admit(call, queue, vip, now)
        gone = self._ended_early.pop(call.call_id, None)
        if gone is not None:
            entry.stop_wait()
            self._floor.calls.pop(entry.call_id, None)
            self._emit(EventKind.ABANDONED, call=entry, reason=gone, wait_s=0)
            return QueueStatus(0, 0)
        if not self.is_open(call.queue, now):
            self._overflow(entry, EndReason.CLOSED)
        else:
            self._arm_max_wait(entry)
            self._offers.place(entry)
        return self.status(entry.call_id) or QueueStatus(0, 0)

    def call_ended(self, call_id: str, reason: str) -> None:
        """A call is over: a waiting caller abandoned, a talking call goes to wrap-up. Unknown ids are
        remembered for a moment (the caller may hang up while their enqueue is under way)."""
        call = self._floor.calls.get(call_id)
        if call is None:
            self._ended_early[call_id] = reason
            while len(self._ended_early) > _ENDED_EARLY_KEPT:
                self._ended_early.popitem(last=False)
            return
        if call.kind is CallKind.CALLBACK and not call.outbound:
            return  # the caller hung up after asking for a callback: their place is kept
        if call.state is CallState.TALKING:
            self._emit(EventKind.ENDED, call=call, agent=call.agent, reason=reason,
                       talk_s=self._floor.seconds_since(call.answered_at), detail=call.purpose())
            self._offers.finish_talk(call, reason)
        elif call.state is CallState.OFFERED and call.outbound:
            self._offers.lost(call, reason, missed=True)
        elif call.state in _WAITING_OR_RINGING:
            self._abandon(call, reason)

    def leave(self, call: CallEntry) -> None:
        """The caller leaves the queue for a callback: their offer (if ringing) is withdrawn."""
        if call.state is CallState.OFFERED:
            self._offers.release(call)
        else:
            self._router.remove_call(call.call_id)
        call.stop_wait()

    # --- as owner of inbound calls --------------------------------------------------------------

    def take(self, call: CallEntry, agent: AgentEntry) -> None:
        self._offers.reserve(call, agent)
        self._emit(EventKind.OFFERED, call=call, agent=agent)
        offer = Offer(call_id=call.call_id, agent_id=agent.id, endpoint=agent.endpoint_for(call.connector),
                      ring_timeout_s=self._floor.ring_timeout(call), queue=call.queue,
                      record=self._config.queues[call.queue].record)
        self._floor.spawn(self._floor.connectors[call.connector].offer(offer),
                          on_error=lambda exc: self._offer_error(call.call_id, agent.id, exc))

    def unanswered(self, call: CallEntry) -> None:
        call.state = CallState.WAITING
        if call.max_wait_due:
            self._overflow(call, EndReason.MAX_WAIT)
        else:
            self._offers.place(call)

    def answered(self, call: CallEntry, agent: AgentEntry) -> None:
        pass

    def finished(self, call: CallEntry, reason: str) -> None:
        pass

    # --- internals -----------------------------------------------------------------------------

    def _transfer(self, call: CallEntry, to: str) -> None:
        self._emit(EventKind.TRANSFERRED, call=call, agent=call.agent, detail={"to": to})
        self._emit(EventKind.ENDED, call=call, agent=call.agent, reason=EndReason.TRANSFERRED,
                   talk_s=self._floor.seconds_since(call.answered_at))
        self._offers.finish_talk(call, EndReason.TRANSFERRED)

    def _admit(self, call: WaitingCall, queue: QueueConfig, vip: bool, now: datetime) -> CallEntry:
        entry = CallEntry(
            call_id=call.call_id, queue=call.queue, category=call.category, connector=call.connector,
            kind=CallKind.INBOUND, priority=call.priority + queue.priority + (queue.vip_boost if vip else 0),
            skills=tuple(call.skills), customer_id=call.customer_id, number=call.caller_number,
            enqueued_at=now, seq=self._floor.next_seq(), visited={call.queue},
        )
        self._floor.calls[entry.call_id] = entry
        self._emit(EventKind.ENQUEUED, call=entry, detail={"priority": entry.priority, "vip": vip})
        return entry

    def _offer_error(self, call_id: str, agent_id: int, exc: Exception) -> None:
        call = self._floor.calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED or call.agent is not self._presence.get(agent_id):
            return
        if isinstance(exc, LookupError):
            # the bridge no longer carries this call (the caller hung up): nobody's fault, the
            # agent is free at once
            self._abandon(call, EndReason.GONE)
        else:
            # counted as a miss: a bridge that keeps failing sends agents away instead of spinning
            self._offers.lost(call, OfferFailure.FAILED, missed=True)

    def _abandon(self, call: CallEntry, reason: str) -> None:
        self.leave(call)
        self._floor.calls.pop(call.call_id, None)
        self._emit(EventKind.ABANDONED, call=call, reason=reason, wait_s=self._floor.seconds_since(call.enqueued_at))

    def _arm_max_wait(self, call: CallEntry) -> None:
        call.stop_wait()
        delay = self._config.queues[call.queue].max_wait_s
        call.wait_timer = self._floor.clock.call_later(delay, lambda: self._max_wait_expired(call))

    def _max_wait_expired(self, call: CallEntry) -> None:
        call.wait_timer = None
        if self._floor.calls.get(call.call_id) is not call or not self._floor.started:
            return
        if call.state is CallState.WAITING:
            self._router.remove_call(call.call_id)
            self._overflow(call, EndReason.MAX_WAIT)
        elif call.state is CallState.OFFERED:
            call.max_wait_due = True  # decided when the ringing agent answers or not

    def _overflow(self, call: CallEntry, why: EndReason) -> None:
        target = self._config.queues[call.queue].overflow
        kind, to = OverflowKind(target.kind), target.target
        if kind is OverflowKind.QUEUE and to in call.visited:
            kind, to = OverflowKind.VOICEMAIL, ""  # overflow chain came back to a queue already tried
        if kind is OverflowKind.CALLBACK and call.overflowed:
            kind = OverflowKind.VOICEMAIL  # offered a callback once already and still waiting
        self._emit(EventKind.OVERFLOWED, call=call, reason=why, wait_s=self._floor.seconds_since(call.enqueued_at),
                   detail={"kind": kind, "target": to})
        call.max_wait_due = False
        self._floor.spawn(self._floor.connectors[call.connector].overflow(Overflow(call.call_id, kind, to)),
                          on_error=None)
        if kind is OverflowKind.QUEUE:
            old, new = self._config.queues[call.queue], self._config.queues[to]
            call.priority += new.priority - old.priority
            call.queue = to
            call.visited.add(to)
        elif kind is OverflowKind.CALLBACK:
            call.overflowed = True
        else:
            call.stop_wait()
            self._floor.calls.pop(call.call_id, None)
            return
        self._arm_max_wait(call)
        self._offers.place(call)

    async def _is_vip(self, customer_id: int | None) -> bool:
        if customer_id is None:
            return False
        async with self._floor.db.session() as s:
            return await s.scalar(select(Customer.segment).where(Customer.id == customer_id)) == "vip"
