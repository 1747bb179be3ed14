"""The ACD: agent states, routing decisions, timers, callbacks and campaign dials.

Everything that decides is synchronous in-memory work on one event loop, so no two decisions ever
interleave: an agent is reserved in the same step that picks them, and can never be picked twice.
(`enqueue` reads the customer record before its decision step; a hang-up reported during that
read is remembered and applied when the step runs.)
What a decision asks of the telephony (ring an agent, move a caller, dial out) is handed to the
call's bridge (`Connector`) as a task; the bridge reports back through `offer_answered`,
`offer_failed` and `call_ended`. Facts are appended to the routing event log in order (journal).

Lifecycle: `acd = Acd(config, db, settings)` (or `await Acd.load(db, settings)`), bridges call
`register_connector`, then `await acd.start()` (loads agents, restores callbacks) ... `await acd.stop()`.

Outbound calls (callbacks, campaign calls): `offer_answered(call_id, agent)` means the agent picked
up and the bridge now dials the customer; `call_ended(call_id, reason)` with a reason in
`CUSTOMER_NOT_REACHED` records a failed attempt, any other reason a reached customer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from acd import campaigns
from acd.clock import Clock, LoopClock, Timer
from acd.config import AcdConfig, QueueConfig, load_for
from acd.journal import Journal
from acd.models import Callback, CallbackAttempt, RoutingEvent
from acd.ports import Connector, Offer, OutboundCall, Overflow, QueueStatus, WaitingCall
from acd.router import CallSlot, Router
from acd.views import AWAY_REASONS, AcdEvent, AcdSnapshot, AgentView, QueueView, WaitingView
from hotline.db import Database, aware
from hotline.db.models import Agent, Customer
from hotline.settings import Settings

log = logging.getLogger(__name__)

# The bridge may report a no-answer a little after the ring timeout; only then does the ACD give up.
RING_GRACE_S = 5.0
CUSTOMER_NOT_REACHED = frozenset(
    {"no-answer", "busy", "failed", "canceled", "cancelled", "unavailable", "congestion", "rejected"}
)
STOP_GRACE_S = 5.0
_ENDED_EARLY_KEPT = 1000  # hang-ups of not-yet-queued calls remembered (bounded)
OFFER_FAILURES = ("no-answer", "busy", "unavailable", "failed")
_STAFFED = frozenset({"available", "reserved", "on_call", "wrap_up"})


class AcdError(Exception):
    """A request the ACD cannot carry out (unknown queue/agent, wrong state); the message says why."""


@dataclass(eq=False)
class _Agent:
    id: int
    name: str
    endpoint: str
    skills: dict[str, int]
    state: str = "logged_out"
    reason: str | None = None
    since: datetime | None = None
    reachable: bool = True
    call: _Call | None = None
    missed_in_row: int = 0
    calls_today: int = 0
    calls_day: str = ""
    pending: tuple[str, str | None, str | None] | None = None  # (state, reason, by)
    wrap_timer: Timer | None = None
    due_callbacks: deque[_Call] = field(default_factory=deque)


@dataclass(eq=False)
class _Call:
    call_id: str
    queue: str
    category: str
    connector: str
    kind: str  # inbound | callback (queue) | scheduled (agent's promise) | campaign
    priority: int = 0
    skills: tuple[str, ...] = ()
    customer_id: int | None = None
    number: str = ""
    enqueued_at: datetime | None = None
    seq: int = 0
    state: str = "waiting"  # waiting | offered | talking | dialing | retry_wait | parked
    agent: _Agent | None = None
    answered_at: datetime | None = None
    ring_timer: Timer | None = None
    wait_timer: Timer | None = None
    max_wait_due: bool = False
    overflowed: bool = False
    visited: set[str] = field(default_factory=set)
    # outbound legs: the queued promise they serve and what they refer to
    outbound: bool = False
    parent: _Call | None = None
    callback_id: int | None = None
    contact_id: int | None = None
    attempt_no: int = 0
    owner_id: int | None = None  # scheduled callbacks: the agent who promised
    note: str = ""


class Acd:
    def __init__(self, config: AcdConfig, db: Database, settings: Settings, *, clock: Clock | None = None) -> None:
        self.config = config
        self.db = db
        self.settings = settings
        self.clock: Clock = clock or LoopClock()
        self._router = Router({name: (q.skills, q.strategy) for name, q in config.queues.items()})
        self._connectors: dict[str, Connector] = {}
        self._agents: dict[int, _Agent] = {}
        self._endpoints: dict[str, int] = {}
        self._calls: dict[str, _Call] = {}
        self._parked: list[_Call] = []  # restored callbacks waiting for a bridge to dial them
        self._journal = Journal(db)
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[AcdEvent], None]] = []
        self._seq = 0
        # calls reported over before the ACD knew them: a caller who hangs up while their
        # transfer is still being queued (enqueue awaits the customer record first)
        self._ended_early: OrderedDict[str, str] = OrderedDict()
        self._handle_s = config.default_handle_s  # moving average of talk + wrap-up, for wait estimates
        self._started = False

    @classmethod
    async def load(cls, db: Database, settings: Settings, *, clock: Clock | None = None) -> Acd:
        """Read `settings.acd.queues` and return a started ACD (SettingsError on a bad queue file)."""
        acd = cls(load_for(settings), db, settings, clock=clock)
        await acd.start()
        return acd

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load agents (all logged out) and restore pending callbacks from the database."""
        if self._started:
            return
        self._journal.start()
        async with self.db.session() as s:
            for row in await s.scalars(select(Agent).where(Agent.active.is_(True))):
                self._remember_agent(row)
            callbacks = list(await s.scalars(select(Callback).where(Callback.status.in_(("pending", "dialing")))))
            # an attempt that was dialling when we went down has no result; it did not reach anyone
            await s.execute(update(CallbackAttempt).where(CallbackAttempt.result.is_(None))
                            .values(result="interrupted", ended_at=self.clock.now()))
            await s.execute(update(Callback).where(Callback.status == "dialing").values(status="pending"))
        self._started = True
        for row in callbacks:
            if row.attempts >= self.settings.acd.callback_attempts:
                self._journal_update_callback(row.id, status="failed")  # the last try was cut off
            else:
                self._restore_callback(row)

    async def stop(self) -> None:
        self._started = False
        for call in self._calls.values():
            for timer in (call.ring_timer, call.wait_timer):
                if timer is not None:
                    timer.cancel()
        for agent in self._agents.values():
            if agent.wrap_timer is not None:
                agent.wrap_timer.cancel()
        if self._tasks:
            # let bridge requests already handed out finish; one that hangs is cancelled
            _, hanging = await asyncio.wait(list(self._tasks), timeout=STOP_GRACE_S)
            for task in hanging:
                task.cancel()
            await asyncio.gather(*hanging, return_exceptions=True)
        await self._journal.stop()

    async def settle(self) -> None:
        """Wait until every bridge request made so far (and any they led to) has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def drain(self) -> None:
        """`settle`, then wait until every fact so far is in the database."""
        await self.settle()
        await self._journal.flush()

    def register_connector(self, name: str, connector: Connector) -> None:
        self._connectors[name] = connector
        parked, self._parked = self._parked, []
        for call in parked:
            self._place(call)

    # --- questions from the IVR and the bridges ------------------------------------------------

    def queue_config(self, name: str) -> QueueConfig:
        try:
            return self.config.queues[name]
        except KeyError:
            raise AcdError(f"unknown queue {name!r} (known: {', '.join(self.config.queues)})") from None

    def queue_for_category(self, category: str) -> str:
        return self.config.queue_for_category(category)

    def is_open(self, queue: str, now: datetime) -> bool:
        local = now.astimezone(self.config.zone) if now.tzinfo else now
        return self.queue_config(queue).hours.is_open(local)

    def agent_by_endpoint(self, endpoint: str) -> int | None:
        return self._endpoints.get(endpoint.lower())

    def queue_status(self, call_id: str) -> QueueStatus | None:
        call = self._calls.get(call_id)
        if call is None or call.outbound:
            return None
        if call.state in ("offered", "talking"):
            return QueueStatus(position=1, estimated_wait_s=0)
        where = self._router.position(call_id)
        if where is None:
            return QueueStatus(position=1, estimated_wait_s=0)
        position, staffed = where
        estimate = math.ceil(position * self._handle_s / max(1, staffed))
        return QueueStatus(position=position, estimated_wait_s=estimate)

    # --- callers -------------------------------------------------------------------------------

    async def enqueue(self, call: WaitingCall) -> QueueStatus:
        """Queue a caller (again: idempotent). A caller already talking to an agent is transferred."""
        queue = self.queue_config(call.queue)
        if call.connector not in self._connectors:
            raise AcdError(f"no bridge registered as {call.connector!r}")
        vip = await self._is_vip(call.customer_id)
        existing = self._calls.get(call.call_id)
        if existing is not None and existing.state != "talking":
            return self.queue_status(call.call_id) or QueueStatus(1, 0)
        if existing is not None:
            self._emit("transferred", call=existing, agent=existing.agent, detail={"to": call.queue})
            self._emit("ended", call=existing, agent=existing.agent, reason="transferred",
                       talk_s=self._seconds_since(existing.answered_at))
            self._finish_talk(existing, "transferred")
        now = self.clock.now()
        entry = _Call(
            call_id=call.call_id, queue=call.queue, category=call.category, connector=call.connector,
            kind="inbound", priority=call.priority + queue.priority + (queue.vip_boost if vip else 0),
            skills=tuple(call.skills), customer_id=call.customer_id, number=call.caller_number,
            enqueued_at=now, seq=self._next_seq(), visited={call.queue},
        )
        self._calls[entry.call_id] = entry
        self._emit("enqueued", call=entry, detail={"priority": entry.priority, "vip": vip})
        gone = self._ended_early.pop(call.call_id, None)
        if gone is not None:
            self._cancel(entry, "wait_timer")
            self._calls.pop(entry.call_id, None)
            self._emit("abandoned", call=entry, reason=gone, wait_s=0)
            return QueueStatus(0, 0)
        if not self.is_open(call.queue, now):
            self._overflow(entry, "closed")
        else:
            self._arm_max_wait(entry)
            self._place(entry)
        return self.queue_status(entry.call_id) or QueueStatus(0, 0)

    async def call_ended(self, call_id: str, reason: str) -> None:
        """A call is over: a waiting caller abandoned, a talking call goes to wrap-up. Unknown ids are ignored."""
        call = self._calls.get(call_id)
        if call is None:
            self._ended_early[call_id] = reason
            while len(self._ended_early) > _ENDED_EARLY_KEPT:
                self._ended_early.popitem(last=False)
            return
        if call.kind == "callback" and not call.outbound:
            return  # the caller hung up after asking for a callback: their place is kept
        if call.state == "talking":
            self._emit("ended", call=call, agent=call.agent, reason=reason,
                       talk_s=self._seconds_since(call.answered_at), detail=self._purpose(call))
            self._finish_talk(call, reason)
        elif call.state == "offered" and call.outbound:
            self._offer_lost(call, reason, missed=True)
        elif call.state in ("waiting", "offered"):
            self._abandon(call, reason)

    async def request_callback(self, call_id: str, number: str) -> int:
        """The caller leaves a number and hangs up; they keep their place and are called back in turn."""
        call = self._calls.get(call_id)
        if call is None or call.outbound or call.kind != "inbound" or call.state not in ("waiting", "offered"):
            raise AcdError(f"call {call_id} is not waiting in a queue")
        if not number.strip():
            raise AcdError("a callback needs a number")
        if call.state == "offered":
            self._release_offer(call)
        else:
            self._router.remove_call(call_id)
        call.kind, call.number, call.state = "callback", number.strip(), "parked"
        self._cancel(call, "wait_timer")

        async def insert(s: AsyncSession) -> int:
            row = Callback(kind="queue", queue=call.queue, category=call.category, priority=call.priority,
                           connector=call.connector, origin_call_id=call.call_id, customer_id=call.customer_id,
                           number=call.number, enqueued_at=call.enqueued_at, status="pending")
            s.add(row)
            await s.flush()
            return row.id

        call.callback_id = await self._journal.run(insert)
        self._emit("callback_requested", call=call, detail={"callback_id": call.callback_id})
        self._place(call)
        return call.callback_id

    async def schedule_callback(self, agent_id: int, customer_id: int | None, number: str, due: datetime,
                                note: str) -> int:
        """An agent's "I will call you back": at `due` (or when they are next free) they are rung, then the customer."""
        agent = self._agent(agent_id)
        if not number.strip():
            raise AcdError("a callback needs a number")

        async def insert(s: AsyncSession) -> int:
            row = Callback(kind="scheduled", agent_id=agent.id, customer_id=customer_id, number=number.strip(),
                           note=note, enqueued_at=self.clock.now(), due_at=due, status="pending")
            s.add(row)
            await s.flush()
            return row.id

        callback_id = await self._journal.run(insert)
        entry = self._scheduled_entry(callback_id, agent.id, number.strip(), customer_id, note)
        self._emit("callback_scheduled", call=entry, agent=agent, detail={"callback_id": callback_id,
                                                                           "due": due.isoformat()})
        self._arm_due(entry, due)
        return callback_id

    # --- agents --------------------------------------------------------------------------------

    async def login(self, agent_id: int) -> None:
        async with self.db.session() as s:
            row = await s.get(Agent, agent_id)
        if row is None or not row.active:
            raise AcdError(f"no active agent {agent_id}")
        agent = self._remember_agent(row)
        if agent.state != "logged_out":
            return
        self._router.add_agent(agent.id, agent.skills)
        agent.missed_in_row = 0
        self._become_free(agent, by=None)

    async def logout(self, agent_id: int) -> None:
        await self.set_state(agent_id, "logged_out")

    async def ready(self, agent_id: int) -> None:
        """The agent finished after-call work early."""
        agent = self._agent(agent_id)
        if agent.state == "wrap_up":
            self._cancel_wrap(agent)
            self._become_free(agent, by=None)

    async def set_state(self, agent_id: int, state: str, reason: str | None = None, by: str | None = None) -> None:
        """Agent or supervisor (`by`) asks for available | away (with reason) | logged_out. While the
        agent is ringing or talking the request waits and is applied when that call is over."""
        agent = self._agent(agent_id)
        if state == "available" and agent.state == "logged_out":
            await self.login(agent_id)
            return
        if state not in ("available", "away", "logged_out"):
            raise AcdError(f"state {state!r} cannot be set by hand (available, away or logged_out)")
        if state == "away" and reason not in AWAY_REASONS:
            raise AcdError(f"away needs a reason: one of {', '.join(AWAY_REASONS)}")
        if state != "away":
            reason = None
        if agent.state in ("reserved", "on_call"):
            agent.pending = None if state == "available" else (state, reason, by)
            self._emit("state_requested", agent=agent, state=state, reason=reason, persist=False,
                       detail={"by": by})
            return
        if agent.state == "logged_out":
            if state == "away":
                raise AcdError(f"agent {agent_id} is logged out: log in first")
            return
        self._cancel_wrap(agent)
        if state == "available":
            if agent.state != "available":
                agent.missed_in_row = 0
                self._become_free(agent, by=by)
            return
        self._router.set_unavailable(agent.id)
        if state == "logged_out":
            self._router.remove_agent(agent.id)
        self._set_state(agent, state, reason, by)

    async def set_reachable(self, agent_id: int, reachable: bool) -> None:
        agent = self._agent(agent_id)
        if agent.reachable == reachable:
            return
        agent.reachable = reachable
        self._emit("reachable", agent=agent, state=agent.state, persist=False, detail={"reachable": reachable})
        if not reachable:
            self._router.set_unavailable(agent.id)
        elif agent.state == "available":
            self._dispatch_agent(agent)

    # --- reports from the bridges --------------------------------------------------------------

    async def offer_answered(self, call_id: str, agent_id: int) -> None:
        call = self._calls.get(call_id)
        agent = self._agent(agent_id)
        if call is None or call.state != "offered" or call.agent is not agent:
            if call is not None and self._late_answer_possible(call, agent):
                # answered just after we gave up on the ring: nobody else has it, so let it stand
                self._router.remove_call(call.call_id)
                self._router.set_unavailable(agent.id)
                self._reserve(call, agent)
            else:
                raise AcdError(f"call {call_id} is not being offered to agent {agent_id}")
        self._cancel(call, "ring_timer")
        self._cancel(call, "wait_timer")
        now = self.clock.now()
        call.state, call.answered_at = "talking", now
        agent.missed_in_row = 0
        self._count_call(agent)
        self._set_state(agent, "on_call", None, None)
        wait_s = None if call.outbound else self._seconds_since(call.enqueued_at)
        self._emit("answered", call=call, agent=agent, wait_s=wait_s, detail=self._purpose(call))
        if call.kind in ("callback", "scheduled") and call.outbound:
            self._start_callback_attempt(call, agent)

    async def offer_failed(self, call_id: str, agent_id: int, reason: str) -> None:
        """no-answer | busy | unavailable | failed. A stale report (the offer already ended) is ignored."""
        call = self._calls.get(call_id)
        agent = self._agents.get(agent_id)
        if call is None or agent is None or call.state != "offered" or call.agent is not agent:
            return
        self._offer_lost(call, reason if reason in OFFER_FAILURES else "failed", missed=True)

    # --- campaigns -----------------------------------------------------------------------------

    async def dial_campaign(self, agent_id: int, contact_id: int, connector: str | None = None) -> str:
        """The agent read the preview and presses dial: reserve them, record the attempt (the database
        refuses a 4th attempt or one inside the retry gap), then ask a bridge to call agent and customer."""
        agent = self._agent(agent_id)
        if agent.state not in ("available", "away", "wrap_up") or not agent.reachable:
            raise AcdError(f"agent {agent_id} cannot dial now ({agent.state})")
        if not self.config.campaigns.hours.is_open(self.clock.now().astimezone(self.config.zone)):
            raise AcdError("campaign calls are made in campaign hours only")
        name = connector or next(iter(self._connectors), None)
        if name is None or name not in self._connectors:
            raise AcdError("no bridge registered to place outbound calls")
        call = _Call(call_id=str(uuid.uuid4()), queue="", category="other", connector=name, kind="campaign",
                     outbound=True, contact_id=contact_id, enqueued_at=self.clock.now())
        before = (agent.state, agent.reason)
        self._cancel_wrap(agent)
        self._router.set_unavailable(agent.id)
        self._calls[call.call_id] = call
        self._reserve(call, agent)
        now = self.clock.now()
        try:
            number = await self._journal.run(
                lambda s: campaigns.start_attempt(s, contact_id, agent.id, call.call_id, now))
        except Exception as exc:
            self._cancel(call, "ring_timer")
            self._calls.pop(call.call_id, None)
            agent.call = None
            if before[0] == "available":
                self._become_free(agent, by=None)
            else:
                self._set_state(agent, "away" if before[0] == "away" else "wrap_up", before[1], None)
                if before[0] == "wrap_up":
                    self._become_free(agent, by=None)
            raise AcdError(f"campaign contact {contact_id} cannot be dialled: {exc}") from exc
        call.number = number
        self._emit("offered", call=call, agent=agent, detail=self._purpose(call))
        self._spawn(self._connectors[name].place_outbound(OutboundCall(
            call_id=call.call_id, agent_id=agent.id, agent_endpoint=agent.endpoint, customer_number=number,
            purpose="campaign", reference_id=contact_id, ring_timeout_s=self._ring_timeout(call))),
            on_error=lambda _exc: self._outbound_failed(call))
        return call.call_id

    # --- live view -----------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[AcdEvent], None]) -> Callable[[], None]:
        """Call `callback` for every event; returns a function that removes it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def snapshot(self) -> AcdSnapshot:
        now = self.clock.now()
        agents = tuple(
            AgentView(agent_id=a.id, name=a.name, endpoint=a.endpoint, state=a.state, reason=a.reason,
                      since=a.since or now, reachable=a.reachable, call_id=a.call.call_id if a.call else None,
                      queue=a.call.queue if a.call else None, missed_in_row=a.missed_in_row,
                      calls_today=self._today_count(a), pending=a.pending[0] if a.pending else None)
            for a in sorted(self._agents.values(), key=lambda a: a.id)
        )
        waiting: dict[str, list[WaitingView]] = {name: [] for name in self.config.queues}
        for c in self._calls.values():
            if c.outbound or c.kind == "scheduled" or c.state == "talking":
                continue
            waiting.setdefault(c.queue, []).append(WaitingView(
                call_id=c.call_id, queue=c.queue, category=c.category, kind=c.kind, state=c.state,
                priority=c.priority, enqueued_at=c.enqueued_at or now, waited_s=self._seconds_since(c.enqueued_at),
                agent_id=c.agent.id if c.agent else None))
        queues = []
        for name in self.config.queues:
            calls = sorted(waiting[name], key=lambda w: (-w.priority, w.enqueued_at))
            eligible = [a for a in self._agents.values() if a.state in _STAFFED and self._serves(a, name)]
            queues.append(QueueView(
                name=name, open=self.is_open(name, now),
                waiting=sum(1 for w in calls if w.kind == "inbound"),
                callbacks=sum(1 for w in calls if w.kind == "callback"),
                longest_wait_s=max((w.waited_s for w in calls if w.kind == "inbound"), default=0.0),
                available_agents=sum(1 for a in eligible if a.state == "available" and a.reachable),
                staffed_agents=len(eligible), calls=tuple(calls)))
        return AcdSnapshot(at=now, agents=agents, queues=tuple(queues))

    def check_invariants(self) -> None:
        """For tests: the in-memory state is consistent (raises AssertionError otherwise)."""
        self._router.check_invariant()
        holders: dict[str, int] = {}
        for agent in self._agents.values():
            if agent.state in ("reserved", "on_call"):
                assert agent.call is not None, f"agent {agent.id} is {agent.state} without a call"
                assert agent.call.agent is agent
                assert agent.call.call_id not in holders, f"call {agent.call.call_id} held by two agents"
                holders[agent.call.call_id] = agent.id
                assert (agent.state == "reserved") == (agent.call.state == "offered")
            else:
                assert agent.call is None, f"agent {agent.id} is {agent.state} but holds a call"
        for call in self._calls.values():
            if call.state in ("offered", "talking"):
                assert call.agent is not None and call.agent.call is call
                assert not self._router.is_queued(call.call_id)
            elif call.state == "waiting":
                assert self._router.is_queued(call.call_id), f"waiting call {call.call_id} is not queued"

    # --- internals: routing --------------------------------------------------------------------

    def _place(self, call: _Call) -> None:
        """Put a waiting caller (or a queued callback) into its queue; offer it at once if an agent is free."""
        if call.kind == "callback" and not self._connectors:
            call.state = "parked"
            self._parked.append(call)
            return
        call.state, call.agent = "waiting", None
        slot = CallSlot(call.call_id, self._router.profile_for(call.queue, call.skills), call.priority,
                        call.enqueued_at.timestamp() if call.enqueued_at else 0.0, call.seq)
        agent_id = self._router.call_arrived(slot)
        if agent_id is not None:
            self._offer(call, self._agents[agent_id])

    def _dispatch_agent(self, agent: _Agent) -> None:
        """An available, reachable agent: their own due callbacks first, then the best waiting caller."""
        if agent.state != "available" or not agent.reachable:
            return
        if agent.due_callbacks and self._connectors:
            self._router.set_unavailable(agent.id)
            self._offer(agent.due_callbacks.popleft(), agent)
            return
        slot = self._router.agent(agent.id)
        slot.idle_since = (agent.since or self.clock.now()).timestamp()
        slot.calls_today = self._today_count(agent)
        call_id = self._router.agent_freed(agent.id)
        if call_id is not None:
            self._offer(self._calls[call_id], agent)

    def _offer(self, call: _Call, agent: _Agent) -> None:
        if call.kind in ("callback", "scheduled"):
            self._dial_callback(call, agent)
            return
        self._reserve(call, agent)
        self._emit("offered", call=call, agent=agent)
        offer = Offer(call_id=call.call_id, agent_id=agent.id, endpoint=agent.endpoint,
                      ring_timeout_s=self._ring_timeout(call), queue=call.queue,
                      record=self.config.queues[call.queue].record)
        self._spawn(self._connectors[call.connector].offer(offer),
                    on_error=lambda exc: self._offer_error(call.call_id, agent.id, exc))

    def _reserve(self, call: _Call, agent: _Agent) -> None:
        assert agent.call is None, f"agent {agent.id} reserved twice"
        call.state, call.agent = "offered", agent
        agent.call = call
        self._set_state(agent, "reserved", None, None)
        ring = self._ring_timeout(call) + RING_GRACE_S
        call.ring_timer = self.clock.call_later(ring, lambda: self._ring_expired(call, agent))

    def _dial_callback(self, entry: _Call, agent: _Agent) -> None:
        """The callback's turn has come: ring the agent, then (bridge) the customer."""
        connector = entry.connector if entry.connector in self._connectors else next(iter(self._connectors))
        leg = _Call(call_id=str(uuid.uuid4()), queue=entry.queue, category=entry.category, connector=connector,
                    kind=entry.kind, outbound=True, parent=entry, callback_id=entry.callback_id,
                    number=entry.number, customer_id=entry.customer_id, enqueued_at=self.clock.now())
        entry.state = "dialing"
        self._calls[leg.call_id] = leg
        self._reserve(leg, agent)
        self._emit("offered", call=leg, agent=agent, detail=self._purpose(leg))
        self._spawn(self._connectors[connector].place_outbound(OutboundCall(
            call_id=leg.call_id, agent_id=agent.id, agent_endpoint=agent.endpoint, customer_number=leg.number,
            purpose="callback", reference_id=entry.callback_id or 0, ring_timeout_s=self._ring_timeout(leg))),
            on_error=lambda _exc: self._outbound_failed(leg))
        self._journal_update_callback(entry.callback_id, status="dialing")

    def _ring_expired(self, call: _Call, agent: _Agent) -> None:
        if call.state == "offered" and call.agent is agent and self._started:
            self._offer_lost(call, "no-answer", missed=True)

    def _offer_error(self, call_id: str, agent_id: int, exc: Exception) -> None:
        call = self._calls.get(call_id)
        if call is None or call.state != "offered" or call.agent is not self._agents.get(agent_id):
            return
        if isinstance(exc, LookupError):
            # the bridge no longer carries this call (the caller hung up): nobody's fault, the
            # agent is free at once
            self._abandon(call, "gone")
        else:
            # counted as a miss: a bridge that keeps failing sends agents away instead of spinning
            self._offer_lost(call, "failed", missed=True)

    def _outbound_failed(self, leg: _Call) -> None:
        if leg.state == "offered":
            self._offer_lost(leg, "failed", missed=False)

    def _offer_lost(self, call: _Call, reason: str, *, missed: bool) -> None:
        """The agent did not take the call: the caller goes back to their place, the agent on."""
        agent = call.agent
        assert agent is not None
        self._cancel(call, "ring_timer")
        agent.call, call.agent = None, None
        if missed:
            agent.missed_in_row += 1
            self._emit("missed", call=call, agent=agent, reason=reason, detail=self._purpose(call))
        self._return_call(call, reason)
        if missed and agent.missed_in_row >= self.settings.acd.max_missed_offers and agent.pending is None:
            agent.pending = ("away", "missed_calls", "acd")
        self._become_free(agent, by=None)

    def _release_offer(self, call: _Call) -> None:
        """Withdraw a ringing offer without blaming the agent (the caller left or chose a callback)."""
        agent = call.agent
        assert agent is not None
        self._cancel(call, "ring_timer")
        agent.call, call.agent = None, None
        call.state = "waiting"
        self._become_free(agent, by=None)

    def _return_call(self, call: _Call, reason: str) -> None:
        if call.outbound:
            self._calls.pop(call.call_id, None)
            if call.kind == "campaign":
                self._journal_campaign_result(call, "agent_unreachable")
            elif call.parent is not None:
                self._requeue_promise(call.parent)
            return
        call.state = "waiting"
        if call.max_wait_due:
            self._overflow(call, "max_wait")
        else:
            self._place(call)

    def _requeue_promise(self, entry: _Call) -> None:
        self._journal_update_callback(entry.callback_id, status="pending")
        if entry.kind == "scheduled":
            owner = self._agents.get(entry.owner_id or 0)
            if owner is not None:
                entry.state = "due"
                owner.due_callbacks.appendleft(entry)
        else:
            self._place(entry)

    def _abandon(self, call: _Call, reason: str) -> None:
        if call.state == "offered":
            self._release_offer(call)
        else:
            self._router.remove_call(call.call_id)
        self._cancel(call, "wait_timer")
        self._calls.pop(call.call_id, None)
        self._emit("abandoned", call=call, reason=reason, wait_s=self._seconds_since(call.enqueued_at))

    def _finish_talk(self, call: _Call, reason: str) -> None:
        agent = call.agent
        assert agent is not None
        self._calls.pop(call.call_id, None)
        agent.call, call.agent = None, None
        talk_s = self._seconds_since(call.answered_at)
        if call.kind in ("callback", "scheduled") and call.outbound and call.parent is not None:
            self._finish_callback_attempt(call, reached=reason not in CUSTOMER_NOT_REACHED, result=reason)
        elif call.kind == "campaign" and reason in CUSTOMER_NOT_REACHED:
            self._journal_campaign_result(call, "busy" if reason == "busy" else "no_answer")
        queue = self.config.queues.get(call.queue)
        wrap_s = queue.wrap_up_s if queue else min(q.wrap_up_s for q in self.config.queues.values())
        self._handle_s = 0.9 * self._handle_s + 0.1 * (talk_s + wrap_s)
        self._set_state(agent, "wrap_up", None, None)
        self._emit("wrap_up", call=call, agent=agent, detail={"wrap_up_s": wrap_s})
        if wrap_s <= 0:
            self._become_free(agent, by=None)
        else:
            agent.wrap_timer = self.clock.call_later(wrap_s, lambda: self._wrap_expired(agent))

    def _wrap_expired(self, agent: _Agent) -> None:
        agent.wrap_timer = None
        if agent.state == "wrap_up" and self._started:
            self._become_free(agent, by=None)

    def _become_free(self, agent: _Agent, by: str | None) -> None:
        """The agent would be available now; a state asked for meanwhile (away, logout) wins."""
        if agent.pending is not None:
            state, reason, requested_by = agent.pending
            agent.pending = None
            self._router.set_unavailable(agent.id)
            if state == "logged_out":
                self._router.remove_agent(agent.id)
            self._set_state(agent, state, reason, requested_by)
            return
        self._set_state(agent, "available", None, by)
        self._dispatch_agent(agent)

    def _set_state(self, agent: _Agent, state: str, reason: str | None, by: str | None) -> None:
        agent.state, agent.reason, agent.since = state, reason, self.clock.now()
        self._router.set_staffed(agent.id, state in _STAFFED)
        self._emit("state", agent=agent, state=state, reason=reason, detail={"by": by} if by else {})

    # --- internals: overflow and max wait ------------------------------------------------------

    def _arm_max_wait(self, call: _Call) -> None:
        self._cancel(call, "wait_timer")
        delay = self.config.queues[call.queue].max_wait_s
        call.wait_timer = self.clock.call_later(delay, lambda: self._max_wait_expired(call))

    def _max_wait_expired(self, call: _Call) -> None:
        call.wait_timer = None
        if self._calls.get(call.call_id) is not call or not self._started:
            return
        if call.state == "waiting":
            self._router.remove_call(call.call_id)
            self._overflow(call, "max_wait")
        elif call.state == "offered":
            call.max_wait_due = True  # decided when the ringing agent answers or not

    def _overflow(self, call: _Call, why: str) -> None:
        target = self.config.queues[call.queue].overflow
        kind, to = target.kind, target.target
        if kind == "queue" and to in call.visited:
            kind, to = "voicemail", ""  # overflow chain came back to a queue already tried
        if kind == "callback" and call.overflowed:
            kind = "voicemail"  # offered a callback once already and still waiting
        self._emit("overflowed", call=call, reason=why, wait_s=self._seconds_since(call.enqueued_at),
                   detail={"kind": kind, "target": to})
        call.max_wait_due = False
        self._spawn(self._connectors[call.connector].overflow(Overflow(call.call_id, kind, to)), on_error=None)
        if kind == "queue":
            old, new = self.config.queues[call.queue], self.config.queues[to]
            call.priority += new.priority - old.priority
            call.queue = to
            call.visited.add(to)
            self._arm_max_wait(call)
            self._place(call)
        elif kind == "callback":
            call.overflowed = True
            self._arm_max_wait(call)
            self._place(call)
        else:
            self._cancel(call, "wait_timer")
            self._calls.pop(call.call_id, None)

    # --- internals: callbacks ------------------------------------------------------------------

    def _scheduled_entry(self, callback_id: int, agent_id: int, number: str, customer_id: int | None,
                         note: str) -> _Call:
        entry = _Call(call_id=f"callback-{callback_id}", queue="", category="other", connector="",
                      kind="scheduled", number=number, customer_id=customer_id, callback_id=callback_id,
                      enqueued_at=self.clock.now(), owner_id=agent_id, state="due_wait", note=note)
        self._calls[entry.call_id] = entry
        return entry

    def _arm_due(self, entry: _Call, due: datetime) -> None:
        delay = (due - self.clock.now()).total_seconds()
        self.clock.call_later(delay, lambda: self._callback_due(entry))

    def _callback_due(self, entry: _Call) -> None:
        owner = self._agents.get(entry.owner_id or 0)
        if owner is None or self._calls.get(entry.call_id) is not entry or not self._started:
            return
        entry.state = "due"
        owner.due_callbacks.append(entry)
        if owner.state == "available" and owner.reachable and self._connectors:
            self._router.set_unavailable(owner.id)
            self._offer(owner.due_callbacks.popleft(), owner)

    def _restore_callback(self, row: Callback) -> None:
        now = self.clock.now()
        if row.kind == "scheduled":
            entry = self._scheduled_entry(row.id, row.agent_id or 0, row.number, row.customer_id, row.note)
            entry.attempt_no = row.attempts
            self._arm_due(entry, max(aware(x) for x in (row.due_at, row.next_attempt_at, now) if x))
            return
        queue = row.queue if row.queue in self.config.queues else self.config.queue_for_category(row.category)
        entry = _Call(call_id=row.origin_call_id or f"callback-{row.id}", queue=queue, category=row.category,
                      connector=row.connector, kind="callback", priority=row.priority, number=row.number,
                      customer_id=row.customer_id, enqueued_at=aware(row.enqueued_at) if row.enqueued_at else None, seq=self._next_seq(),
                      callback_id=row.id, attempt_no=row.attempts, visited={queue})
        self._calls[entry.call_id] = entry
        next_at = aware(row.next_attempt_at) if row.next_attempt_at else None
        if next_at is not None and next_at > now:
            entry.state = "retry_wait"
            self.clock.call_later((next_at - now).total_seconds(), lambda: self._retry_due(entry))
        else:
            self._place(entry)

    def _start_callback_attempt(self, leg: _Call, agent: _Agent) -> None:
        entry = leg.parent
        assert entry is not None
        entry.attempt_no += 1
        leg.attempt_no = entry.attempt_no
        started = self.clock.now()

        async def insert(s: AsyncSession) -> None:
            s.add(CallbackAttempt(callback_id=entry.callback_id, attempt_no=leg.attempt_no, call_id=leg.call_id,
                                  agent_id=agent.id, started_at=started))
            await s.execute(update(Callback).where(Callback.id == entry.callback_id)
                            .values(attempts=leg.attempt_no))

        self._journal.run(insert)

    def _finish_callback_attempt(self, leg: _Call, *, reached: bool, result: str) -> None:
        entry = leg.parent
        assert entry is not None
        limit = self.settings.acd.callback_attempts
        now = self.clock.now()
        if reached:
            status, kind, next_at = "done", "callback_done", None
        elif leg.attempt_no >= limit:
            status, kind, next_at = "failed", "callback_failed", None
        else:
            status, kind = "pending", "callback_attempt"
            next_at = now + timedelta(seconds=self.settings.acd.callback_retry_gap_s)
        callback_id, attempt_no = entry.callback_id, leg.attempt_no

        async def record(s: AsyncSession) -> None:
            await s.execute(update(CallbackAttempt)
                            .where(CallbackAttempt.callback_id == callback_id,
                                   CallbackAttempt.attempt_no == attempt_no)
                            .values(result="reached" if reached else result, ended_at=now))
            await s.execute(update(Callback).where(Callback.id == callback_id)
                            .values(status=status, attempts=attempt_no, next_attempt_at=next_at))

        self._journal.run(record)
        self._emit(kind, call=entry, agent=leg.agent, reason=result,
                   detail={"callback_id": callback_id, "attempt": attempt_no})
        if next_at is None:
            self._calls.pop(entry.call_id, None)
        else:
            entry.state = "retry_wait"
            self.clock.call_later(self.settings.acd.callback_retry_gap_s, lambda: self._retry_due(entry))

    def _retry_due(self, entry: _Call) -> None:
        if self._calls.get(entry.call_id) is not entry or entry.state != "retry_wait" or not self._started:
            return
        if entry.kind == "scheduled":
            self._callback_due(entry)
        else:
            self._place(entry)

    def _journal_update_callback(self, callback_id: int | None, **values: object) -> None:
        if callback_id is None:
            return

        async def write(s: AsyncSession) -> None:
            await s.execute(update(Callback).where(Callback.id == callback_id).values(**values))

        self._journal.run(write)

    def _journal_campaign_result(self, call: _Call, outcome: str) -> None:
        contact_id, now = call.contact_id, self.clock.now()
        if contact_id is None:
            return
        self._journal.run(lambda s: campaigns.record_outcome_in(s, contact_id, outcome, "", now))

    # --- internals: small helpers --------------------------------------------------------------

    def _remember_agent(self, row: Agent) -> _Agent:
        agent = self._agents.get(row.id)
        if agent is None:
            agent = self._agents[row.id] = _Agent(row.id, row.name, row.endpoint, dict(row.skills or {}))
        elif agent.state == "logged_out":
            agent.name, agent.skills = row.name, dict(row.skills or {})
        if agent.endpoint.lower() in self._endpoints and agent.state == "logged_out":
            del self._endpoints[agent.endpoint.lower()]
            agent.endpoint = row.endpoint
        if agent.endpoint:
            self._endpoints[agent.endpoint.lower()] = agent.id
        return agent

    def _agent(self, agent_id: int) -> _Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise AcdError(f"unknown agent {agent_id}") from None

    def _serves(self, agent: _Agent, queue: str) -> bool:
        needs = self.config.queues[queue].skills
        return all(agent.skills.get(skill, 0) >= level for skill, level in needs.items())

    def _count_call(self, agent: _Agent) -> None:
        day = self.clock.now().astimezone(self.config.zone).date().isoformat()
        if agent.calls_day != day:
            agent.calls_day, agent.calls_today = day, 0
        agent.calls_today += 1

    def _today_count(self, agent: _Agent) -> int:
        day = self.clock.now().astimezone(self.config.zone).date().isoformat()
        return agent.calls_today if agent.calls_day == day else 0

    async def _is_vip(self, customer_id: int | None) -> bool:
        if customer_id is None:
            return False
        async with self.db.session() as s:
            return await s.scalar(select(Customer.segment).where(Customer.id == customer_id)) == "vip"

    def _ring_timeout(self, call: _Call) -> float:
        queue = self.config.queues.get(call.queue)
        return queue.ring_timeout_s if queue else 30.0

    def _late_answer_possible(self, call: _Call, agent: _Agent) -> bool:
        return (not call.outbound and call.state == "waiting" and agent.state == "available"
                and agent.call is None and self._router.is_queued(call.call_id))

    def _seconds_since(self, moment: datetime | None) -> float:
        return max(0.0, (self.clock.now() - moment).total_seconds()) if moment else 0.0

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    @staticmethod
    def _purpose(call: _Call) -> dict[str, object]:
        if not call.outbound:
            return {}
        return {"purpose": "campaign" if call.kind == "campaign" else "callback",
                "callback_id": call.callback_id, "contact_id": call.contact_id}

    @staticmethod
    def _cancel(call: _Call, name: str) -> None:
        timer = getattr(call, name)
        if timer is not None:
            timer.cancel()
            setattr(call, name, None)

    @staticmethod
    def _cancel_wrap(agent: _Agent) -> None:
        if agent.wrap_timer is not None:
            agent.wrap_timer.cancel()
            agent.wrap_timer = None

    def _spawn(self, request: Awaitable[None], on_error: Callable[[Exception], None] | None) -> None:
        async def run() -> None:
            try:
                await request
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bridge failure must not lose the caller
                log.exception("bridge request failed")
                if on_error is not None and self._started:
                    on_error(exc)
            finally:
                if isinstance(request, Coroutine):
                    request.close()  # cancelled before it ran: no "never awaited" warning

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, kind: str, *, call: _Call | None = None, agent: _Agent | None = None, state: str | None = None,
              reason: str | None = None, wait_s: float | None = None, talk_s: float | None = None,
              detail: dict[str, object] | None = None, persist: bool = True) -> None:
        at = self.clock.now()
        queue = call.queue if call is not None and call.queue else None
        event = AcdEvent(kind=kind, at=at, agent_id=agent.id if agent else None,
                         call_id=call.call_id if call else None, queue=queue, state=state, reason=reason,
                         detail=dict(detail or {}))
        if persist:
            self._journal.append(RoutingEvent(
                at=at, kind=kind, call_id=event.call_id, queue=queue, category=call.category if call else None,
                agent_id=event.agent_id, wait_s=wait_s, talk_s=talk_s, state=state, reason=reason,
                detail=_jsonable(event.detail)))
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a broken listener must not stop routing
                log.exception("acd listener failed")


def _jsonable(detail: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in detail.items() if v is not None}

