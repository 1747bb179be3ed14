"""Report periods in the centre's time zone, half-open, stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from reports import periods
from reports.errors import BadPeriod

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_an_iso_week_runs_monday_to_monday_local_time():
    week = periods.week("2026-W48", SHANGHAI)
    assert (week.start, week.end) == (datetime(2026, 11, 22, 16, tzinfo=UTC), datetime(2026, 11, 29, 16, tzinfo=UTC))
    assert week.label == "2026-W48" and week.local_start.isoformat() == "2026-11-23T00:00:00+08:00"
    # ISO week 1 of 2027 starts in 2027 (4 January), week 53 of 2026 exists, 2027 has none
    assert periods.week("2027-W01", SHANGHAI).local_start.date().isoformat() == "2027-01-04"
    assert periods.week("2026W53", SHANGHAI).label == "2026-W53"
    with pytest.raises(BadPeriod, match="no ISO week 53"):
        periods.week("2027-W53", SHANGHAI)


def test_days_months_and_custom_periods():
    assert periods.day("2026-11-23", SHANGHAI).end == datetime(2026, 11, 23, 16, tzinfo=UTC)
    december = periods.month("2026-12", SHANGHAI)
    assert (december.start, december.end) == (datetime(2026, 11, 30, 16, tzinfo=UTC),
                                               datetime(2026, 12, 31, 16, tzinfo=UTC))
    shift = periods.parse("custom", "2026-11-23T08:00/2026-11-23T20:00", SHANGHAI)
    assert (shift.start.hour, shift.end.hour) == (0, 12)
    assert shift.label == "2026-11-23T08:00/2026-11-23T20:00"
    # a zone with summer time: the March day is 23 hours long
    berlin = periods.day("2026-03-29", ZoneInfo("Europe/Berlin"))
    assert (berlin.end - berlin.start).total_seconds() == 23 * 3600


@pytest.mark.parametrize("kind, text, message", [
    ("week", "2026-48", "ISO week"), ("week", "2026-W99", "no ISO week"), ("day", "23/11/2026", "YYYY-MM-DD"),
    ("month", "2026-13", "YYYY-MM"), ("custom", "2026-11-23T20:00/2026-11-23T08:00", "ends before"),
    ("custom", "yesterday", "START/END"), ("year", "2026", "unknown kind"),
])
def test_bad_periods_say_what_is_wrong(kind, text, message):
    with pytest.raises(BadPeriod, match=message):
        periods.parse(kind, text, SHANGHAI)
