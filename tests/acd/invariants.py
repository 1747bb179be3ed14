"""The ACD's in-memory state is consistent: checked by tests after every step they take.

It reads the ACD's parts directly; that is the point: what the public API cannot show (which agent
holds which call, what the router's index says) must agree with itself.
"""

from __future__ import annotations

from acd.service import Acd
from acd.states import STAFFED, AgentState, CallState

_HOLDING = (AgentState.RESERVED, AgentState.ON_CALL)


def check_invariants(acd: Acd) -> None:
    """Raise AssertionError unless agents, calls and the routing index agree."""
    floor, presence = acd._floor, acd._presence
    router = floor.router
    router.check_invariant()
    holders: dict[str, int] = {}
    free = set(router.available_agents())
    for agent in presence:
        if agent.state in _HOLDING:
            assert agent.call is not None, f"agent {agent.id} is {agent.state} without a call"
            assert agent.call.agent is agent
            assert agent.call.call_id not in holders, f"call {agent.call.call_id} held by two agents"
            holders[agent.call.call_id] = agent.id
            assert (agent.state is AgentState.RESERVED) == (agent.call.state is CallState.OFFERED)
        else:
            assert agent.call is None, f"agent {agent.id} is {agent.state} but holds a call"
        # the router's index follows the agent's state: it never offers an agent who is not free
        if agent.id in free:
            assert agent.state is AgentState.AVAILABLE and agent.reachable, \
                f"agent {agent.id} is {agent.state} (reachable: {agent.reachable}) but free for routing"
        if agent.state is AgentState.LOGGED_OUT:
            assert not router.has_agent(agent.id), f"logged-out agent {agent.id} is in the routing index"
        else:
            assert router.agent(agent.id).staffed == (agent.state in STAFFED), f"agent {agent.id}: staffed"
    for call in floor.calls.values():
        if call.state in (CallState.OFFERED, CallState.TALKING):
            assert call.agent is not None and call.agent.call is call
            assert not router.is_queued(call.call_id)
        elif call.state is CallState.WAITING:
            assert router.is_queued(call.call_id), f"waiting call {call.call_id} is not queued"
