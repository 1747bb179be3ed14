"""The queue file: the shipped one loads; broken ones are refused with file, line and key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from acd.config import Strategy, load_acd_config, load_for
from hotline.settings import SettingsError

GOOD = """\
queues:
  general:
    skills: {general: 1}
    overflow: voicemail
  cards:
    skills: {cards: 2}
    overflow: queue:general
    strategy: best_skill
categories:
  balance: general
  card_loss: cards
  pin: cards
  transfer: general
  bill: general
  complaint: general
  other: general
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queues.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_queue_file_loads(settings):
    config = load_for(settings)
    assert set(config.queues) == {"general", "cards", "complaints", "vip"}
    assert set(config.categories) == {"balance", "card_loss", "pin", "transfer", "bill", "complaint", "other"}
    assert config.queue_for_category("card_loss") == "cards"
    general = config.queues["general"]
    assert (general.service_level_s, general.strategy, general.post_call_survey) == (20, Strategy.LONGEST_IDLE, True)
    # service hours are read in Shanghai time: Monday 07:59 closed, 08:00 open; cards always open
    assert not general.hours.is_open(datetime(2026, 11, 23, 7, 59))
    assert general.hours.is_open(datetime(2026, 11, 23, 8, 0))
    assert config.queues["cards"].hours.is_open(datetime(2026, 11, 22, 3, 0))
    assert datetime(2026, 11, 23, 0, 30, tzinfo=UTC).astimezone(config.zone).hour == 8


def test_defaults_apply(tmp_path: Path):
    config = load_acd_config(write(tmp_path, GOOD))
    general = config.queues["general"]
    assert (general.service_level_s, general.strategy, general.vip_boost) == (20, Strategy.LONGEST_IDLE, 10)
    assert config.queues["cards"].overflow.target == "general"


@pytest.mark.parametrize(("broken", "expected"), [
    (GOOD.replace("queue:general", "queue:nowhere"), ":7: queues.cards.overflow: unknown queue 'nowhere'"),
    (GOOD.replace("  pin: cards\n", "  pin: vault\n"), ":12: categories.pin: unknown queue 'vault'"),
    (GOOD.replace("  other: general\n", ""), ":9: categories: no queue for 'other'"),
    (GOOD.replace("strategy: best_skill", "strategy: random"), ":8: queues.cards.strategy: Input should be"),
    (GOOD.replace("{cards: 2}", "{cards: 12}"), ":6: queues.cards.skills: Value error, skill 'cards'"),
    (GOOD.replace("overflow: voicemail", "overflow: queue"), ":4: queues.general.overflow: Value error"),
    (GOOD.replace("overflow: voicemail", "overflow: voicemail\n    hours: {mon: '18:00-08:00'}"),
     ":5: queues.general.hours.mon.0: Value error, range ends"),
    (GOOD.replace("overflow: voicemail", "overflow: voicemail\n    colour: blue"), ":5: queues.general.colour: Extra"),
    (GOOD.replace("queue:general", "queue:cards"), "cannot overflow into itself"),
    ("timezone: Mars/Olympus\n" + GOOD, ":1: timezone: Value error, unknown timezone"),
])
def test_broken_queue_files_name_file_line_and_key(tmp_path: Path, broken: str, expected: str):
    path = write(tmp_path, broken)
    with pytest.raises(SettingsError) as caught:
        load_acd_config(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_a_new_business_category_is_a_line_in_the_queue_file(tmp_path: Path):
    config = load_acd_config(write(tmp_path, GOOD.replace("  other: general\n", "  other: general\n  loans: cards\n")))
    assert config.queue_for_category("loans") == "cards"
    assert config.queue_for_category("unheard_of") == "general"
