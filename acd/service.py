"""The ACD: agent states, routing decisions, timers, callbacks and campaign dials, behind one facade.

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

The parts, one role each: `queues` (callers and queues), `presence` (agents and their states),
`offers` (a call meets an agent), `callbacks`, `dialer` (campaign calls), `live` (events, snapshot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from acd.callbacks import Callbacks
from acd.clock import Clock, LoopClock
from acd.config import AcdConfig, QueueConfig, load_for
from acd.dialer import CampaignDialer
from acd.exceptions import AcdError
from acd.floor import Floor
from acd.live import snapshot
from acd.models import Agent
from acd.offers import RING_GRACE_S, Offers
from acd.ports import Connector, QueueStatus, WaitingCall
from acd.presence import Presence
from acd.queues import Queues
from acd.states import CUSTOMER_NOT_REACHED, OFFER_FAILURES, AgentState, CallKind
from acd.views import AcdEvent, AcdSnapshot
from hotline.db import Database
from hotline.settings import Settings

__all__ = ["CUSTOMER_NOT_REACHED", "OFFER_FAILURES", "RING_GRACE_S", "STOP_GRACE_S", "Acd", "AcdError"]

STOP_GRACE_S = 5.0

log = logging.getLogger(__name__)


class Acd:
    def __init__(self, config: AcdConfig, db: Database, settings: Settings, *, clock: Clock | None = None) -> None:
        self._floor = Floor(config, db, settings, clock or LoopClock())
        self._presence = Presence(self._floor)
        self._offers = Offers(self._floor, self._presence)
        self._queues = Queues(self._floor, self._presence, self._offers)
        self._callbacks = Callbacks(self._floor, self._presence, self._offers, self._queues)
        self._dialer = CampaignDialer(self._floor, self._presence, self._offers)
        self._presence.give_work = self._offers.offer
        self._offers.register(self._queues, CallKind.INBOUND)
        self._offers.register(self._callbacks, CallKind.CALLBACK, CallKind.SCHEDULED)
        self._offers.register(self._dialer, CallKind.CAMPAIGN)

    @property
    def config(self) -> AcdConfig:
        return self._floor.config

    @property
    def db(self) -> Database:
        return self._floor.db

    @db.setter
    def db(self, db: Database) -> None:
        self._floor.db = db

    @property
    def settings(self) -> Settings:
        return self._floor.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._floor.settings = settings

    @property
    def clock(self) -> Clock:
        return self._floor.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        """Timers already set keep the clock they were set on."""
        self._floor.clock = clock

    @classmethod
    async def load(cls, db: Database, settings: Settings, *, clock: Clock | None = None) -> Acd:
        """Read `settings.acd.queues` and return a started ACD (SettingsError on a bad queue file)."""
        acd = cls(load_for(settings), db, settings, clock=clock)
        await acd.start()
        return acd

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load agents (all logged out) and restore pending callbacks from the database."""
        if self._floor.started:
            return
        self._floor.journal.start()
        async with self.db.session() as s:
            self._presence.load(list(await s.scalars(select(Agent).where(Agent.active.is_(True)))))
            callbacks = await self._callbacks.recover(s)
        self._floor.started = True
        self._callbacks.restore(callbacks)
        for agent in self._presence:
            for problem in agent.phones.problems:  # found here, not by a caller whose call rings nowhere
                log.warning("acd: agent %d (%s): %s; it is never dialled", agent.id, agent.name, problem)

    async def stop(self) -> None:
        self._floor.started = False
        self._offers.stop()
        self._presence.stop()
        await self._floor.finish_requests(STOP_GRACE_S)
        await self._floor.journal.stop()

    async def settle(self) -> None:
        """Wait until every bridge request made so far (and any they led to) has run."""
        await self._floor.settle()

    async def drain(self) -> None:
        """`settle`, then wait until every fact so far is in the database."""
        await self.settle()
        await self._floor.journal.flush()

    def register_connector(self, name: str, connector: Connector) -> None:
        self._floor.connectors[name] = connector
        self._offers.place_parked()

    # --- questions from the IVR and the bridges ------------------------------------------------

    def queue_config(self, name: str) -> QueueConfig:
        return self._floor.queue(name)

    def queue_for_category(self, category: str) -> str:
        return self.config.queue_for_category(category)

    def is_open(self, queue: str, now: datetime) -> bool:
        return self._queues.is_open(queue, now)

    def agent_by_endpoint(self, endpoint: str) -> int | None:
        return self._presence.by_endpoint(endpoint)

    def queue_status(self, call_id: str) -> QueueStatus | None:
        return self._queues.status(call_id)

    # --- callers -------------------------------------------------------------------------------

    async def enqueue(self, call: WaitingCall) -> QueueStatus:
        """Queue a caller (again: idempotent). A caller already talking to an agent is transferred."""
        return await self._queues.enqueue(call)

    async def call_ended(self, call_id: str, reason: str) -> None:
        """A call is over: a waiting caller abandoned, a talking call goes to wrap-up. Unknown ids are ignored."""
        self._queues.call_ended(call_id, reason)

    async def request_callback(self, call_id: str, number: str) -> int:
        """The caller leaves a number and hangs up; they keep their place and are called back in turn."""
        return await self._callbacks.request(call_id, number)

    async def schedule_callback(self, agent_id: int, customer_id: int | None, number: str, due: datetime,
                                note: str) -> int:
        """An agent's "I will call you back": at `due` (or when they are next free) they are rung, then the customer."""
        return await self._callbacks.schedule(agent_id, customer_id, number, due, note)

    # --- agents --------------------------------------------------------------------------------

    async def login(self, agent_id: int) -> None:
        await self._presence.login(agent_id)

    async def logout(self, agent_id: int) -> None:
        await self.set_state(agent_id, AgentState.LOGGED_OUT)

    async def ready(self, agent_id: int) -> None:
        """The agent finished after-call work early."""
        self._presence.ready(agent_id)

    async def set_state(self, agent_id: int, state: str, reason: str | None = None, by: str | None = None) -> None:
        """Agent or supervisor (`by`) asks for available | away (with reason) | logged_out. While the
        agent is ringing or talking the request waits and is applied when that call is over."""
        await self._presence.request(agent_id, state, reason, by)

    async def set_reachable(self, agent_id: int, reachable: bool) -> None:
        self._presence.set_reachable(agent_id, reachable)

    # --- reports from the bridges --------------------------------------------------------------

    async def offer_answered(self, call_id: str, agent_id: int) -> None:
        self._offers.answered(call_id, agent_id)

    async def offer_failed(self, call_id: str, agent_id: int, reason: str) -> None:
        """no-answer | busy | unavailable | failed. A stale report (the offer already ended) is ignored."""
        self._offers.failed(call_id, agent_id, reason)

    # --- campaigns -----------------------------------------------------------------------------

    async def dial_campaign(self, agent_id: int, contact_id: int, connector: str | None = None) -> str:
        """The agent read the preview and presses dial: reserve them, record the attempt (the database
        refuses a 4th attempt or one inside the retry gap), then ask a bridge to call agent and customer."""
        return await self._dialer.dial(agent_id, contact_id, connector)

    # --- live view -----------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[AcdEvent], None]) -> Callable[[], None]:
        """Call `callback` for every event; returns a function that removes it."""
        return self._floor.events.add_listener(callback)

    def snapshot(self) -> AcdSnapshot:
        return snapshot(self.config, self.clock.now(), self._presence, self._floor.calls.values(),
                        self._presence.calls_today, self.is_open)
