"""Offers: a call meets an agent. Placing a call in its queue (or at a free agent at once), reserving the
agent, the ring timer, the answer, the miss, and the end of the talk.

What follows depends on what the call is, and is left to the call's owner (`CallOwner`): the queues for
inbound callers, the callbacks for promises to call back and their legs, the campaign dialer for
campaign calls.
"""

from __future__ import annotations

from typing import Protocol

from acd.endpoints import transport_skill
from acd.exceptions import NotOfferedToAgent
from acd.floor import Floor
from acd.presence import Presence
from acd.records import AgentEntry, CallEntry
from acd.router import CallSlot
from acd.states import OFFER_FAILURES, AgentState, CallKind, CallState, EventKind, OfferFailure

# The bridge may report a no-answer a little after the ring timeout; only then does the ACD give up.
RING_GRACE_S = 5.0


class CallOwner(Protocol):
    def take(self, call: CallEntry, agent: AgentEntry) -> None:
        """The agent was picked for the call (and is out of routing): reserve them and ring."""

    def unanswered(self, call: CallEntry) -> None:
        """The offer ended without an answer (the agent is let go next): the call's next step."""

    def answered(self, call: CallEntry, agent: AgentEntry) -> None: ...

    def finished(self, call: CallEntry, reason: str) -> None:
        """The talk is over (`reason` as the bridge reported it); the agent goes to wrap-up next."""


class Offers:
    def __init__(self, floor: Floor, presence: Presence) -> None:
        self._floor = floor
        self._router = floor.router
        self._presence = presence
        self._emit = floor.events.emit
        self._owners: dict[CallKind, CallOwner] = {}
        self._parked: list[CallEntry] = []  # queued callbacks waiting for a bridge to dial them

    def register(self, owner: CallOwner, *kinds: CallKind) -> None:
        for kind in kinds:
            self._owners[kind] = owner

    def place(self, call: CallEntry) -> None:
        """Put a waiting caller (or a queued callback) into its queue; offer it at once if an agent is free."""
        if call.kind is CallKind.CALLBACK and not self._floor.connectors:
            call.state = CallState.PARKED
            self._parked.append(call)
            return
        call.state, call.agent = CallState.WAITING, None
        transport = transport_skill(call.connector)  # only agents with a phone on the call's transport
        skills = call.skills if transport is None else (*call.skills, transport)
        slot = CallSlot(call.call_id, self._router.profile_for(call.queue, skills), call.priority,
                        call.enqueued_at.timestamp() if call.enqueued_at else 0.0, call.seq)
        agent_id = self._router.call_arrived(slot)
        if agent_id is not None:
            self.offer(call, self._presence.agent(agent_id))

    def place_parked(self) -> None:
        parked, self._parked = self._parked, []
        for call in parked:
            self.place(call)

    def offer(self, call: CallEntry, agent: AgentEntry) -> None:
        self._owners[call.kind].take(call, agent)

    def reserve(self, call: CallEntry, agent: AgentEntry) -> None:
        call.state, call.agent = CallState.OFFERED, agent
        self._presence.reserve(agent, call)
        ring = self._floor.ring_timeout(call) + RING_GRACE_S
        call.ring_timer = self._floor.clock.call_later(ring, lambda: self._ring_expired(call, agent))

    def answered(self, call_id: str, agent_id: int) -> None:
        call = self._floor.calls.get(call_id)
        agent = self._presence.agent(agent_id)
        if call is None or call.state is not CallState.OFFERED or call.agent is not agent:
            if call is None or not self._late_answer_possible(call, agent):
                raise NotOfferedToAgent(call_id, agent_id)
            # answered just after we gave up on the ring: nobody else has it, so let it stand
            self._router.remove_call(call.call_id)
            self._presence.withdraw(agent)
            self.reserve(call, agent)
        call.stop_ring()
        call.stop_wait()
        call.state, call.answered_at = CallState.TALKING, self._floor.clock.now()
        self._presence.answered(agent)
        wait_s = None if call.outbound else self._floor.seconds_since(call.enqueued_at)
        self._emit(EventKind.ANSWERED, call=call, agent=agent, wait_s=wait_s, detail=call.purpose())
        self._owners[call.kind].answered(call, agent)

    def failed(self, call_id: str, agent_id: int, reason: str) -> None:
        """A stale report (the offer already ended) is ignored."""
        call = self._floor.calls.get(call_id)
        agent = self._presence.get(agent_id)
        if call is None or agent is None or call.state is not CallState.OFFERED or call.agent is not agent:
            return
        if reason == OfferFailure.UNAVAILABLE:
            # the PBX could not reach the phone at all (CHANUNAVAIL, CONGESTION): not the agent's miss,
            # and ringing it again at once would fail the same way
            self.lost(call, OfferFailure.UNAVAILABLE, missed=False, unreachable=True)
            return
        self.lost(call, reason if reason in OFFER_FAILURES else OfferFailure.FAILED, missed=True)

    def outbound_failed(self, leg: CallEntry) -> None:
        """The bridge could not place an outbound call: not the agent's fault."""
        if leg.state is CallState.OFFERED:
            self.lost(leg, OfferFailure.FAILED, missed=False)

    def lost(self, call: CallEntry, reason: str, *, missed: bool, unreachable: bool = False) -> None:
        """The agent did not take the call: the call goes back to its place (or is let go), the agent on.
        `unreachable`: the phone could not be rung; the agent is set away for a ring timeout (the call
        is placed first, while the agent still holds it, so it goes to someone else)."""
        agent = self.detach(call)
        if missed:
            self._presence.count_miss(agent)
            self._emit(EventKind.MISSED, call=call, agent=agent, reason=reason, detail=call.purpose())
        if call.outbound:
            self._floor.calls.pop(call.call_id, None)
        retry_s = self._floor.ring_timeout(call)
        self._owners[call.kind].unanswered(call)
        if unreachable:
            self._presence.phone_unreachable(agent, retry_s)
        else:
            self._presence.offer_over(agent, missed=missed)

    def release(self, call: CallEntry) -> None:
        """Withdraw a ringing offer without blaming the agent (the caller left or chose a callback)."""
        agent = self.detach(call)
        call.state = CallState.WAITING
        self._presence.become_free(agent, by=None)

    def finish_talk(self, call: CallEntry, reason: str) -> None:
        self._floor.calls.pop(call.call_id, None)
        agent = self.detach(call)
        talk_s = self._floor.seconds_since(call.answered_at)
        self._owners[call.kind].finished(call, reason)
        queues = self._floor.config.queues
        queue = queues.get(call.queue)
        wrap_s = queue.wrap_up_s if queue else min(q.wrap_up_s for q in queues.values())
        self._floor.handle_s = 0.9 * self._floor.handle_s + 0.1 * (talk_s + wrap_s)
        self._presence.wrap_up(agent, call, wrap_s)

    def stop(self) -> None:
        for call in self._floor.calls.values():
            call.stop_ring()
            call.stop_wait()

    def detach(self, call: CallEntry) -> AgentEntry:
        """Part a call from the agent it rang at or talked with (its ring timer stops); the agent is returned."""
        agent = call.agent
        assert agent is not None, f"call {call.call_id} has no agent"
        call.stop_ring()
        agent.call, call.agent = None, None
        return agent

    def _ring_expired(self, call: CallEntry, agent: AgentEntry) -> None:
        if call.state is CallState.OFFERED and call.agent is agent and self._floor.started:
            self.lost(call, OfferFailure.NO_ANSWER, missed=True)

    def _late_answer_possible(self, call: CallEntry, agent: AgentEntry) -> bool:
        return (not call.outbound and call.state is CallState.WAITING and agent.state is AgentState.AVAILABLE
                and agent.call is None and self._router.is_queued(call.call_id))
