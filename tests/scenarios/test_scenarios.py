"""One call scenario suite for every transport: each scenario is played through the Twilio and the
Asterisk stand-ins, and the call record it leaves must be the same on both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hotline.db import Database
from tests.scenarios.scenarios import SCENARIOS, Scenario, balances, differences, read_record
from tests.scenarios.transports import STACKS, Player


def cases() -> Iterator[Any]:
    for scenario in SCENARIOS:
        for transport in STACKS:
            yield pytest.param(transport, scenario, id=f"{transport}-{scenario.id}")


@pytest.mark.parametrize(("player", "scenario"), list(cases()), indirect=["player"])
async def test_the_call_record(player: Player, scenario: Scenario, demo_db: Database) -> None:
    before = await balances(demo_db)
    played = await player.play(scenario)
    held = await read_record(demo_db, played.channel, played.external_id, before)
    expected = scenario.expect.on(played.channel, played.caller_number)

    differ = differences(expected, held)
    assert differ == {}, f"{played.channel}: {scenario.id}: the record differs:\n  " + "\n  ".join(
        f"{name}: {line}" for name, line in differ.items())
    assert held == expected  # nothing differs field by field: the whole record is as expected
