"""Each refusal of the ACD is its own exception, an `AcdError`, with the kind a caller answers it by."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from acd.clock import ManualClock
from acd.exceptions import (
    AcdError,
    AgentCannotDial,
    AgentLoggedOut,
    AwayReasonRequired,
    CallNotWaiting,
    ContactNotDialable,
    ErrorKind,
    InactiveAgent,
    NoBridge,
    NotOfferedToAgent,
    NumberRequired,
    OutsideCampaignHours,
    StateNotSettable,
    UnknownAgent,
    UnknownQueue,
)
from acd.service import Acd
from tests.acd.conftest import agent_ids, caller


async def test_agent_requests_are_refused_with_their_own_errors(acd: Acd):
    a1, _ = await agent_ids(acd)
    with pytest.raises(AgentLoggedOut, match="log in first") as caught:
        await acd.set_state(a1, "away", "break")
    assert caught.value.kind is ErrorKind.CONFLICT and caught.value.agent_id == a1
    await acd.login(a1)
    with pytest.raises(AwayReasonRequired, match="reason") as away:
        await acd.set_state(a1, "away", "nap")
    with pytest.raises(StateNotSettable, match=r"'on_call' cannot be set by hand \(available, away or logged_out\)") \
            as by_hand:
        await acd.set_state(a1, "on_call")
    assert away.value.kind is by_hand.value.kind is ErrorKind.INVALID
    with pytest.raises(InactiveAgent, match="no active agent 999") as inactive:
        await acd.login(999)
    with pytest.raises(UnknownAgent, match="unknown agent 999") as unknown:
        await acd.set_reachable(999, False)
    assert inactive.value.kind is unknown.value.kind is ErrorKind.NOT_FOUND


async def test_caller_requests_are_refused_with_their_own_errors(acd: Acd):
    with pytest.raises(UnknownQueue, match="unknown queue 'nope'") as queue:
        await acd.enqueue(caller("c1", queue="nope"))
    assert queue.value.kind is ErrorKind.NOT_FOUND and queue.value.queue == "nope"
    with pytest.raises(NoBridge, match="no bridge registered as 'pigeon'") as bridge:
        await acd.enqueue(dataclasses.replace(caller("c1"), connector="pigeon"))
    assert bridge.value.kind is ErrorKind.UNAVAILABLE
    with pytest.raises(CallNotWaiting, match="not waiting") as waiting:
        await acd.request_callback("nobody", "+8613800138000")
    assert waiting.value.kind is ErrorKind.CONFLICT
    await acd.enqueue(caller("c1"))
    with pytest.raises(NumberRequired) as number:
        await acd.request_callback("c1", "  ")
    assert number.value.kind is ErrorKind.INVALID
    a1, a2 = await agent_ids(acd)
    await acd.login(a1)  # c1 rings at agent 1
    with pytest.raises(NotOfferedToAgent, match="not being offered") as not_yours:
        await acd.offer_answered("c1", a2)
    assert not_yours.value.kind is ErrorKind.CONFLICT and (not_yours.value.call_id, not_yours.value.agent_id) == (
        "c1", a2)


async def test_campaign_dials_are_refused_with_their_own_errors(acd: Acd, clock: ManualClock):
    a1, _ = await agent_ids(acd)
    await acd.login(a1)
    await acd.enqueue(caller("c1"))
    with pytest.raises(AgentCannotDial, match=r"cannot dial now \(reserved\)"):
        await acd.dial_campaign(a1, 1)
    await acd.call_ended("c1", "hangup")
    with pytest.raises(ContactNotDialable, match="campaign contact 1 cannot be dialled") as contact:
        await acd.dial_campaign(a1, 1)  # nobody previewed it
    assert contact.value.kind is ErrorKind.CONFLICT
    assert acd.snapshot().agents[0].state == "available"  # a refused dial leaves the agent as they were
    with pytest.raises(NoBridge, match="no bridge registered to place outbound calls"):
        await acd.dial_campaign(a1, 1, connector="pigeon")
    clock.advance(timedelta(hours=12).total_seconds())  # 22:00 in Shanghai
    with pytest.raises(OutsideCampaignHours):
        await acd.dial_campaign(a1, 1)


def test_every_refusal_is_an_acd_error_with_a_kind():
    from acd import exceptions

    refusals = [c for c in vars(exceptions).values()
                if isinstance(c, type) and issubclass(c, Exception) and c is not AcdError]
    assert {UnknownQueue, UnknownAgent, InactiveAgent, NoBridge, ContactNotDialable} <= set(refusals)
    for refusal in refusals:
        assert issubclass(refusal, AcdError), refusal
        assert isinstance(refusal.kind, ErrorKind), refusal
