"""The routing index: who waits for which agents, and which agent is next for which callers.

Callers and agents meet through *profiles*: a queue's required skills plus any extra skills a caller
asked for. An agent's eligibility for a profile never changes while they are logged in, so it is
computed once (at login, or when a profile first appears) instead of on every decision.

Per profile:
- waiting callers in a list sorted so the best caller is LAST (pop is O(1), insert/remove are one
  C-level memmove, position is a bisect);
- available agents in a heap ordered by the queue's strategy, with lazy deletion (an agent who leaves
  bumps their version; stale heap entries are dropped when they surface or on compaction).

Invariant kept after every call: no profile has both a waiting caller and an available agent. So
a new caller only looks at its own profile's heap, and a freed agent only looks at the heads of the
profiles they are eligible for: O(P log n) per decision, P being the (small) number of profiles.

Pure data structure: no asyncio, no I/O. The ACD service owns state transitions around it.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from acd.config import Strategy

ProfileKey = tuple[str, frozenset[str]]  # (queue, extra skills the caller asked for)
# (*strategy key, version, agent id): flat tuples compare faster than nested ones; the key's shape
# depends on the queue's strategy
HeapEntry = tuple[Any, ...]


@dataclass(slots=True, eq=False)
class CallSlot:
    """A caller as the router sees them. `rank` orders callers: higher is better."""

    call_id: str
    profile: ProfileKey
    priority: int
    enqueued_ts: float
    seq: int

    @property
    def rank(self) -> tuple[int, float, int]:
        return (self.priority, -self.enqueued_ts, -self.seq)


@dataclass(slots=True, eq=False)
class AgentSlot:
    agent_id: int
    skills: dict[str, int]
    idle_since: float = 0.0
    calls_today: int = 0
    last_offer_seq: int = 0
    version: int = 0
    available: bool = False
    staffed: bool = False
    profiles: list[Profile] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Profile:
    key: ProfileKey
    requirements: dict[str, int]
    strategy: Strategy
    calls: list[tuple[tuple[int, float, int], str]] = field(default_factory=list)  # (rank, call_id), best last
    agents: list[HeapEntry] = field(default_factory=list)  # heap of the free agents, lazily cleaned
    live_agents: int = 0
    staffed: int = 0

    def eligible(self, skills: dict[str, int]) -> bool:
        return all(skills.get(skill, 0) >= level for skill, level in self.requirements.items())

    def agent_key(self, agent: AgentSlot) -> HeapEntry:
        if self.strategy is Strategy.FEWEST_CALLS:
            return (agent.calls_today, agent.idle_since, agent.agent_id)
        if self.strategy is Strategy.BEST_SKILL:
            score = sum(agent.skills.get(skill, 0) for skill in self.requirements)
            return (-score, agent.idle_since, agent.agent_id)
        if self.strategy is Strategy.ROUND_ROBIN:
            return (agent.last_offer_seq, agent.agent_id)
        return (agent.idle_since, agent.agent_id)

    def head_rank(self) -> tuple[int, float, int] | None:
        return self.calls[-1][0] if self.calls else None


class Router:
    def __init__(self, queues: dict[str, tuple[dict[str, int], Strategy]]) -> None:
        self._queues = queues  # queue -> (required skills, strategy)
        self._profiles: dict[ProfileKey, Profile] = {}
        self._agents: dict[int, AgentSlot] = {}
        self._calls: dict[str, CallSlot] = {}
        self._offer_seq = 0
        self._version = 0

    # --- agents --------------------------------------------------------------------------------

    def add_agent(self, agent_id: int, skills: dict[str, int]) -> AgentSlot:
        """Index an agent (at login). Re-adding replaces the old entry, e.g. after a skill change."""
        self.remove_agent(agent_id)
        agent = AgentSlot(agent_id, dict(skills))
        agent.profiles = [p for p in self._profiles.values() if p.eligible(agent.skills)]
        self._agents[agent_id] = agent
        return agent

    def remove_agent(self, agent_id: int) -> None:
        if agent_id in self._agents:
            self.set_unavailable(agent_id)
            self.set_staffed(agent_id, False)
            del self._agents[agent_id]

    def agent(self, agent_id: int) -> AgentSlot:
        return self._agents[agent_id]

    def has_agent(self, agent_id: int) -> bool:
        return agent_id in self._agents

    def set_staffed(self, agent_id: int, staffed: bool) -> None:
        """Staffed agents (logged in, not away) count for the estimated wait."""
        agent = self._agents.get(agent_id)
        if agent is None or agent.staffed == staffed:
            return
        agent.staffed = staffed
        for profile in agent.profiles:
            profile.staffed += 1 if staffed else -1

    def set_unavailable(self, agent_id: int) -> None:
        agent = self._agents.get(agent_id)
        if agent is None or not agent.available:
            return
        agent.available = False
        agent.version = self._bump()  # every heap entry of this agent is now stale
        for profile in agent.profiles:
            profile.live_agents -= 1

    def agent_freed(self, agent_id: int) -> str | None:
        """The agent can take a call. Return the best caller for them (removed from the queue, the agent
        left unavailable for the caller to be offered), or None and the agent waits in the index."""
        agent = self._agents[agent_id]
        best: Profile | None = None
        for profile in agent.profiles:
            rank = profile.head_rank()
            if rank is not None and (best is None or rank > best.calls[-1][0]):
                best = profile
        if best is not None:
            _, call_id = best.calls.pop()
            del self._calls[call_id]
            self._mark_offered(agent)
            return call_id
        if not agent.available:
            agent.available = True
            agent.version = self._bump()
            for profile in agent.profiles:
                profile.live_agents += 1
                heapq.heappush(profile.agents, (*profile.agent_key(agent), agent.version, agent_id))
                self._compact(profile)
        return None

    def _bump(self) -> int:
        # One counter for all agents: a re-added agent must never match its old, stale heap entries.
        self._version += 1
        return self._version

    def _mark_offered(self, agent: AgentSlot) -> None:
        self._offer_seq += 1
        agent.last_offer_seq = self._offer_seq

    # --- callers -------------------------------------------------------------------------------

    def profile_for(self, queue: str, extra_skills: tuple[str, ...] = ()) -> ProfileKey:
        requirements, strategy = self._queues[queue]
        extras = frozenset(s for s in extra_skills if s not in requirements)
        key = (queue, extras)
        if key not in self._profiles:
            merged = {**requirements, **dict.fromkeys(extras, 1)}
            profile = Profile(key, merged, strategy)
            self._profiles[key] = profile
            # One scan when a new kind of caller first appears; never on the decision path again.
            for agent in self._agents.values():
                if profile.eligible(agent.skills):
                    agent.profiles.append(profile)
                    profile.staffed += agent.staffed
                    if agent.available:
                        profile.live_agents += 1
                        heapq.heappush(profile.agents, (*profile.agent_key(agent), agent.version, agent.agent_id))
        return key

    def call_arrived(self, slot: CallSlot) -> int | None:
        """Queue a caller. Return the agent to offer it to (the caller is then NOT queued and the agent
        is no longer available), or None when the caller waits."""
        if slot.call_id in self._calls:
            raise ValueError(f"call {slot.call_id} is already queued")
        profile = self._profiles[slot.profile]
        agent = self._pop_agent(profile)
        if agent is not None:
            return agent.agent_id
        insort(profile.calls, (slot.rank, slot.call_id))
        self._calls[slot.call_id] = slot
        return None

    def remove_call(self, call_id: str) -> CallSlot | None:
        slot = self._calls.pop(call_id, None)
        if slot is not None:
            calls = self._profiles[slot.profile].calls
            index = bisect_left(calls, (slot.rank, slot.call_id))
            del calls[index]
        return slot

    def is_queued(self, call_id: str) -> bool:
        return call_id in self._calls

    def position(self, call_id: str) -> tuple[int, int] | None:
        """1-based position among callers of the same profile, and the staffed agents serving it."""
        slot = self._calls.get(call_id)
        if slot is None:
            return None
        profile = self._profiles[slot.profile]
        ahead = len(profile.calls) - bisect_right(profile.calls, (slot.rank, slot.call_id))
        return ahead + 1, profile.staffed

    def _pop_agent(self, profile: Profile) -> AgentSlot | None:
        heap = profile.agents
        while heap:
            entry = heapq.heappop(heap)
            version: int = entry[-2]
            agent_id: int = entry[-1]
            agent = self._agents.get(agent_id)
            if agent is not None and agent.available and agent.version == version:
                self.set_unavailable(agent_id)
                self._mark_offered(agent)
                return agent
        return None

    def _compact(self, profile: Profile) -> None:
        # Stale entries of agents taken through another profile would otherwise pile up here.
        if len(profile.agents) > 2 * profile.live_agents + 64:
            profile.agents = [
                entry for entry in profile.agents
                if (a := self._agents.get(entry[-1])) is not None and a.available and a.version == entry[-2]
            ]
            heapq.heapify(profile.agents)

    # --- views ---------------------------------------------------------------------------------

    def calls(self) -> Iterator[CallSlot]:
        return iter(self._calls.values())

    def available_agents(self) -> Iterator[int]:
        return (a.agent_id for a in self._agents.values() if a.available)

    def check_invariant(self) -> None:
        """For tests: no profile holds both a waiting caller and an available agent."""
        for profile in self._profiles.values():
            live = [e for e in profile.agents
                    if (a := self._agents.get(e[-1])) is not None and a.available and a.version == e[-2]]
            assert len(live) == profile.live_agents, (profile.key, len(live), profile.live_agents)
            assert not (profile.calls and live), f"profile {profile.key} has callers and free agents"
