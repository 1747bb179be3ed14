"""Campaign calls: an agent who read a preview dials the customer. Owner of campaign calls.

The agent is reserved before anything is written, so no routed call can reach them meanwhile; the
attempt is then recorded (the database refuses one it does not allow) before the bridge dials.
"""

from __future__ import annotations

import uuid

from acd import campaigns
from acd.campaigns import CampaignOutcome
from acd.exceptions import AgentCannotDial, ContactNotDialable, NoBridge, OutsideCampaignHours
from acd.floor import Floor
from acd.offers import Offers
from acd.ports import OutboundCall
from acd.presence import Presence
from acd.records import AgentEntry, CallEntry
from acd.states import CUSTOMER_NOT_REACHED, MAY_DIAL, CallKind, EventKind


class CampaignDialer:
    def __init__(self, floor: Floor, presence: Presence, offers: Offers) -> None:
        self._floor = floor
        self._presence = presence
        self._offers = offers

    async def dial(self, agent_id: int, contact_id: int, connector: str | None) -> str:
        floor = self._floor
        agent = self._presence.agent(agent_id)
        if agent.state not in MAY_DIAL or not agent.reachable:
            raise AgentCannotDial(agent_id, agent.state)
        if not floor.config.campaigns.hours.is_open(floor.clock.now().astimezone(floor.config.zone)):
            raise OutsideCampaignHours()
        usable = [n for n in floor.connectors if agent.phones.on(n)]  # transports the agent's phone is on
        name = connector or next(iter(usable or floor.connectors), None)
        if name is None or name not in floor.connectors:
            raise NoBridge()
        call = CallEntry(call_id=str(uuid.uuid4()), queue="", category="other", connector=name,
                         kind=CallKind.CAMPAIGN, outbound=True, contact_id=contact_id, enqueued_at=floor.clock.now())
        before = (agent.state, agent.reason)
        agent.stop_wrap_up()
        self._presence.withdraw(agent)
        floor.calls[call.call_id] = call
        self._offers.reserve(call, agent)
        now = floor.clock.now()
        try:
            number = await floor.journal.run(
                lambda s: campaigns.start_attempt(s, contact_id, agent.id, call.call_id, now))
        except Exception as exc:
            floor.calls.pop(call.call_id, None)
            self._presence.restore(self._offers.detach(call), *before)
            raise ContactNotDialable(contact_id, exc) from exc
        call.number = number
        floor.events.emit(EventKind.OFFERED, call=call, agent=agent, detail=call.purpose())
        floor.spawn(floor.connectors[name].place_outbound(OutboundCall(
            call_id=call.call_id, agent_id=agent.id, agent_endpoint=agent.endpoint_for(name), customer_number=number,
            purpose="campaign", reference_id=contact_id, ring_timeout_s=floor.ring_timeout(call))),
            on_error=lambda _exc: self._offers.outbound_failed(call))
        return call.call_id

    # --- as owner of campaign calls --------------------------------------------------------------

    def take(self, call: CallEntry, agent: AgentEntry) -> None:
        raise AssertionError(f"campaign call {call.call_id} was queued: campaign calls are dialled, never queued")

    def unanswered(self, call: CallEntry) -> None:
        self._record(call, CampaignOutcome.AGENT_UNREACHABLE)

    def answered(self, call: CallEntry, agent: AgentEntry) -> None:
        pass

    def finished(self, call: CallEntry, reason: str) -> None:
        if reason in CUSTOMER_NOT_REACHED:
            self._record(call, CampaignOutcome.BUSY if reason == "busy" else CampaignOutcome.NO_ANSWER)

    def _record(self, call: CallEntry, outcome: CampaignOutcome) -> None:
        contact_id, now = call.contact_id, self._floor.clock.now()
        if contact_id is None:
            return
        self._floor.journal.run(lambda s: campaigns.record_outcome_in(s, contact_id, outcome, "", now))
