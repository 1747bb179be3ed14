"""Agents and presence: who is logged in, what each agent is doing, and when they can take the next call.

This is the one place an agent's state changes: every change goes through `_enter`. The router's index
of agents (who is free for which callers, who counts as staffed) is derived from that state and kept
by this class alone; the only other change to it is the router's own, when it hands a free agent a
caller who just arrived (`Offers.place`), and the agent is reserved in the same step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from acd.endpoints import resolve, transport_skill
from acd.exceptions import AgentLoggedOut, AwayReasonRequired, InactiveAgent, StateNotSettable, UnknownAgent
from acd.floor import Floor
from acd.models import Agent
from acd.records import AgentEntry, CallEntry, Requested
from acd.states import SETTABLE, STAFFED, AgentState, AwayReason, EventKind

_AWAY_REASONS = frozenset(AwayReason)
_HOLDING_A_CALL = frozenset({AgentState.RESERVED, AgentState.ON_CALL})

# Who to hand a call to when an agent becomes free for it (the ACD wires this to its offers).
GiveWork = Callable[[CallEntry, AgentEntry], None]


def _unwired(call: CallEntry, agent: AgentEntry) -> None:
    raise RuntimeError("Presence.give_work is not wired to the offers")


class Presence:
    def __init__(self, floor: Floor) -> None:
        self._floor = floor
        self._router = floor.router
        self._emit = floor.events.emit
        self._agents: dict[int, AgentEntry] = {}
        self._endpoints: dict[str, int] = {}
        self.give_work: GiveWork = _unwired

    # --- who is who ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[AgentEntry]:
        return iter(self._agents.values())

    def get(self, agent_id: int) -> AgentEntry | None:
        return self._agents.get(agent_id)

    def agent(self, agent_id: int) -> AgentEntry:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def by_endpoint(self, endpoint: str) -> int | None:
        return self._endpoints.get(endpoint.lower())

    def load(self, rows: Iterable[Agent]) -> None:
        for row in rows:
            self._remember(row)

    def _remember(self, row: Agent) -> AgentEntry:
        """Know the agent as the database has them; a logged-in agent keeps name, skills and phones until
        they log out (the router indexed them with those skills and transports)."""
        agent = self._agents.get(row.id)
        if agent is None:
            agent = self._agents[row.id] = AgentEntry(row.id, row.name, row.endpoint, dict(row.skills or {}),
                                                      resolve(row.endpoint, row.endpoints))
        elif agent.state is AgentState.LOGGED_OUT:
            agent.name, agent.skills = row.name, dict(row.skills or {})
            for endpoint in self._phones_of(agent):
                self._endpoints.pop(endpoint.lower(), None)
            agent.endpoint, agent.phones = row.endpoint, resolve(row.endpoint, row.endpoints)
        for endpoint in self._phones_of(agent):
            self._endpoints[endpoint.lower()] = agent.id
        return agent

    @staticmethod
    def _phones_of(agent: AgentEntry) -> set[str]:
        return {e for e in (agent.endpoint, *agent.phones.usable.values()) if e}

    @staticmethod
    def routing_skills(agent: AgentEntry) -> dict[str, int]:
        """The agent's skills plus one pseudo-skill per transport they have a usable phone on, so the
        router offers a call only to agents its transport can ring."""
        transports = (transport_skill(t) for t in agent.phones.usable)
        return {**agent.skills, **{skill: 1 for skill in transports if skill is not None}}

    # --- what agents and supervisors ask for ---------------------------------------------------

    async def login(self, agent_id: int) -> None:
        async with self._floor.db.session() as s:
            row = await s.get(Agent, agent_id)
        if row is None or not row.active:
            raise InactiveAgent(agent_id)
        agent = self._remember(row)
        if agent.state is not AgentState.LOGGED_OUT:
            return
        self._router.add_agent(agent.id, self.routing_skills(agent))
        agent.missed_in_row = 0
        self.become_free(agent, by=None)

    async def request(self, agent_id: int, state: str, reason: str | None, by: str | None) -> None:
        """available | away (with reason) | logged_out. While the agent is ringing or talking the request
        waits and is applied when that call is over."""
        agent = self.agent(agent_id)
        if state == AgentState.AVAILABLE and agent.state is AgentState.LOGGED_OUT:
            await self.login(agent_id)
            return
        if state not in SETTABLE:
            raise StateNotSettable(state, SETTABLE)
        wanted = AgentState(state)
        away_reason: AwayReason | None = None
        if wanted is AgentState.AWAY:
            if reason not in _AWAY_REASONS:
                raise AwayReasonRequired(AwayReason)
            away_reason = AwayReason(reason)
        if agent.state in _HOLDING_A_CALL:
            agent.pending = None if wanted is AgentState.AVAILABLE else Requested(wanted, away_reason, by)
            self._emit(EventKind.STATE_REQUESTED, agent=agent, state=wanted, reason=away_reason, persist=False,
                       detail={"by": by})
            return
        if agent.state is AgentState.LOGGED_OUT:
            if wanted is AgentState.AWAY:
                raise AgentLoggedOut(agent_id)
            return
        agent.stop_wrap_up()
        agent.stop_retry()
        if wanted is AgentState.AVAILABLE:
            if agent.state is not AgentState.AVAILABLE:
                agent.missed_in_row = 0
                self.become_free(agent, by=by)
            return
        self._leave(agent, Requested(wanted, away_reason, by))

    def ready(self, agent_id: int) -> None:
        """The agent finished after-call work early."""
        agent = self.agent(agent_id)
        if agent.state is AgentState.WRAP_UP:
            agent.stop_wrap_up()
            self.become_free(agent, by=None)

    def set_reachable(self, agent_id: int, reachable: bool) -> None:
        agent = self.agent(agent_id)
        if agent.reachable == reachable:
            return
        agent.reachable = reachable
        self._emit(EventKind.REACHABLE, agent=agent, state=agent.state, persist=False,
                   detail={"reachable": reachable})
        if not reachable:
            self._router.set_unavailable(agent.id)
        elif agent.state is AgentState.AVAILABLE:
            self.dispatch(agent)

    # --- what calls do to agents ---------------------------------------------------------------

    def withdraw(self, agent: AgentEntry) -> None:
        """Take a free agent out of routing: a call is about to be handed to them directly."""
        self._router.set_unavailable(agent.id)

    def reserve(self, agent: AgentEntry, call: CallEntry) -> None:
        assert agent.call is None, f"agent {agent.id} reserved twice"
        agent.call = call
        self._enter(agent, AgentState.RESERVED, None, None)

    def answered(self, agent: AgentEntry) -> None:
        agent.missed_in_row = 0
        self._count_call(agent)
        self._enter(agent, AgentState.ON_CALL, None, None)

    def count_miss(self, agent: AgentEntry) -> None:
        agent.missed_in_row += 1

    def offer_over(self, agent: AgentEntry, *, missed: bool) -> None:
        """The offer the agent held ended unanswered; too many missed in a row send them away."""
        limit = self._floor.settings.acd.max_missed_offers
        if missed and agent.missed_in_row >= limit and agent.pending is None:
            agent.pending = Requested(AgentState.AWAY, AwayReason.MISSED_CALLS, "acd")
        self.become_free(agent, by=None)

    def phone_unreachable(self, agent: AgentEntry, retry_s: float) -> None:
        """The PBX could not reach the agent's phone (not a missed call): away for "phone_unreachable",
        so no caller rings it again in a burst, and back to available after `retry_s` (the ring timeout)
        for one more try. A state asked for meanwhile wins."""
        if agent.pending is not None:
            self.become_free(agent, by=None)
            return
        self._leave(agent, Requested(AgentState.AWAY, AwayReason.PHONE_UNREACHABLE, "acd"))
        agent.stop_retry()
        agent.retry_timer = self._floor.clock.call_later(retry_s, lambda: self._retry_phone(agent))

    def wrap_up(self, agent: AgentEntry, call: CallEntry, wrap_s: float) -> None:
        self._enter(agent, AgentState.WRAP_UP, None, None)
        self._emit(EventKind.WRAP_UP, call=call, agent=agent, detail={"wrap_up_s": wrap_s})
        if wrap_s <= 0:
            self.become_free(agent, by=None)
        else:
            agent.wrap_timer = self._floor.clock.call_later(wrap_s, lambda: self._wrap_up_over(agent))

    def restore(self, agent: AgentEntry, state: AgentState, reason: AwayReason | None) -> None:
        """A dial that reserved the agent failed before ringing: back to where they were (wrap-up ends)."""
        if state is AgentState.AVAILABLE:
            self.become_free(agent, by=None)
            return
        self._enter(agent, AgentState.AWAY if state is AgentState.AWAY else AgentState.WRAP_UP, reason, None)
        if state is AgentState.WRAP_UP:
            self.become_free(agent, by=None)

    def due(self, agent: AgentEntry, entry: CallEntry) -> None:
        """One of the agent's scheduled callbacks is due: now if they are free, else when they are."""
        agent.due_callbacks.append(entry)
        if agent.state is AgentState.AVAILABLE and agent.reachable and self._floor.connectors:
            self.withdraw(agent)
            self.give_work(agent.due_callbacks.popleft(), agent)

    def become_free(self, agent: AgentEntry, by: str | None) -> None:
        """The agent would be available now; a state asked for meanwhile (away, logout) wins."""
        if agent.pending is not None:
            requested, agent.pending = agent.pending, None
            self._leave(agent, requested)
            return
        self._enter(agent, AgentState.AVAILABLE, None, by)
        self.dispatch(agent)

    def dispatch(self, agent: AgentEntry) -> None:
        """An available, reachable agent: their own due callbacks first, then the best waiting caller."""
        if agent.state is not AgentState.AVAILABLE or not agent.reachable:
            return
        if agent.due_callbacks and self._floor.connectors:
            self.withdraw(agent)
            self.give_work(agent.due_callbacks.popleft(), agent)
            return
        slot = self._router.agent(agent.id)
        slot.idle_since = (agent.since or self._floor.clock.now()).timestamp()
        slot.calls_today = self.calls_today(agent)
        call_id = self._router.agent_freed(agent.id)
        if call_id is not None:
            self.give_work(self._floor.calls[call_id], agent)

    def calls_today(self, agent: AgentEntry) -> int:
        return agent.calls_today if agent.calls_day == self._today() else 0

    def stop(self) -> None:
        for agent in self._agents.values():
            agent.stop_wrap_up()
            agent.stop_retry()

    # --- internals -----------------------------------------------------------------------------

    def _wrap_up_over(self, agent: AgentEntry) -> None:
        agent.wrap_timer = None
        if agent.state is AgentState.WRAP_UP and self._floor.started:
            self.become_free(agent, by=None)

    def _retry_phone(self, agent: AgentEntry) -> None:
        agent.retry_timer = None
        if (agent.state is AgentState.AWAY and agent.reason is AwayReason.PHONE_UNREACHABLE
                and self._floor.started):
            self.become_free(agent, by=None)

    def _leave(self, agent: AgentEntry, requested: Requested) -> None:
        """Away or logged out: out of routing (and out of the index altogether when logged out)."""
        self._router.set_unavailable(agent.id)
        if requested.state is AgentState.LOGGED_OUT:
            self._router.remove_agent(agent.id)
        self._enter(agent, requested.state, requested.reason, requested.by)

    def _enter(self, agent: AgentEntry, state: AgentState, reason: AwayReason | None, by: str | None) -> None:
        agent.state, agent.reason, agent.since = state, reason, self._floor.clock.now()
        self._router.set_staffed(agent.id, state in STAFFED)
        self._emit(EventKind.STATE, agent=agent, state=state, reason=reason, detail={"by": by} if by else {})

    def _count_call(self, agent: AgentEntry) -> None:
        day = self._today()
        if agent.calls_day != day:
            agent.calls_day, agent.calls_today = day, 0
        agent.calls_today += 1

    def _today(self) -> str:
        return self._floor.clock.now().astimezone(self._floor.config.zone).date().isoformat()
