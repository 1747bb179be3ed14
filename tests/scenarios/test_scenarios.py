"""One call scenario suite for every transport: each scenario is played through the Twilio and the
Asterisk stand-ins, and the call record it leaves must be the same on both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hotline.db import Database
from tests.scenarios.scenarios import SCENARIOS, Scenario, balances, differences, read_record
from tests.scenarios.transports import STACKS, Player


class KnownGap(AssertionError):
    """The record misses only what a known gap of the record owner explains."""


@dataclass(frozen=True)
class Gap:
    reason: str
    fields: frozenset[str]  # the fields of RecordHolds ("calls.agent", "caller_legs") it explains


AGENT_ID = Gap("Asterisk: calls.agent_id stays NULL after an agent answers", frozenset({"calls.agent"}))
NO_CALLER_LEG = Gap("Asterisk: calls that stay in the IVR get no caller leg (a caller leg is only written when "
                    "a recording starts, so neither do calls that leave the IVR for a queue but reach no agent)",
                    frozenset({"caller_legs"}))

# (transport, scenario) -> the gaps that explain why its record differs today. The test then fails with
# KnownGap, which the strict xfail expects; any other difference fails it for real, and a record
# with no difference left passes, which strict turns into a failure: the entry must go.
KNOWN_GAPS: dict[tuple[str, str], tuple[Gap, ...]] = {
    **{("asterisk", name): (NO_CALLER_LEG,)
       for name in ("balance", "card_loss", "pin_change", "transfer", "bill", "hang_up_in_queue",
                    "callback_from_queue")},
    **{("asterisk", name): (AGENT_ID,)
       for name in ("agent_answers", "next_agent_answers", "busy_agent_then_next", "survey_after_agent")},
}


def cases() -> Iterator[Any]:
    for scenario in SCENARIOS:
        for transport in STACKS:
            gaps = KNOWN_GAPS.get((transport, scenario.id), ())
            marks = [pytest.mark.xfail(strict=True, raises=KnownGap, reason="; ".join(g.reason for g in gaps))] \
                if gaps else []
            yield pytest.param(transport, scenario, id=f"{transport}-{scenario.id}", marks=marks)


@pytest.mark.parametrize(("player", "scenario"), list(cases()), indirect=["player"])
async def test_the_call_record(player: Player, scenario: Scenario, demo_db: Database) -> None:
    before = await balances(demo_db)
    played = await player.play(scenario)
    held = await read_record(demo_db, played.channel, played.external_id, before)
    expected = scenario.expect.on(played.channel, played.caller_number)

    differ = differences(expected, held)
    explained = {name for gap in KNOWN_GAPS.get((played.channel, scenario.id), ()) for name in gap.fields}
    report = f"{played.channel}: {scenario.id}: the record differs:\n  " + "\n  ".join(
        f"{name}{' (a known gap)' if name in explained else ''}: {line}" for name, line in differ.items())
    assert set(differ) <= explained, report
    if differ:
        raise KnownGap(report)
    assert held == expected  # nothing differs field by field: the whole record is as expected
