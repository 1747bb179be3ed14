"""Report periods: a day, an ISO week, a month or a custom [start, end), in the centre's time zone.

Each period is half-open and stored as UTC instants, so two adjacent periods never share a call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from reports.errors import BadPeriod


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    label: str  # "2026-W48", "2026-11", "2026-11-23", "2026-11-23T08:00/2026-11-23T20:00"
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    zone: ZoneInfo

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day(text: str, zone: ZoneInfo) -> Period:
    try:
        first = date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(text, "expected a day as YYYY-MM-DD") from None
    return Period(PeriodKind.DAY, first.isoformat(), _midnight(first, zone), _midnight(first + timedelta(days=1), zone),
                  zone)


_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


def week(text: str, zone: ZoneInfo) -> Period:
    """An ISO week, "2026-W48": Monday 00:00 to the next Monday 00:00, local time."""
    match = _WEEK.match(text.strip())
    if not match:
        raise BadPeriod(text, "expected an ISO week as YYYY-Www, e.g. 2026-W48")
    year, number = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise BadPeriod(text, f"{year} has no ISO week {number}") from None
    return Period(PeriodKind.WEEK, f"{year}-W{number:02d}", _midnight(monday, zone),
                  _midnight(monday + timedelta(days=7), zone), zone)


def month(text: str, zone: ZoneInfo) -> Period:
    match = re.match(r"^(\d{4})-(\d{2})$", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise BadPeriod(text, "expected a month as YYYY-MM")
    first = date(int(match[1]), int(match[2]), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(PeriodKind.MONTH, f"{first:%Y-%m}", _midnight(first, zone), _midnight(following, zone), zone)


def custom(start: datetime, end: datetime, zone: ZoneInfo) -> Period:
    """[start, end); naive datetimes are local time in `zone`."""
    start, end = (moment if moment.tzinfo else moment.replace(tzinfo=zone) for moment in (start, end))
    if end <= start:
        raise BadPeriod(f"{start.isoformat()}/{end.isoformat()}", "the period ends before it starts")
    local = [moment.astimezone(zone) for moment in (start, end)]
    label = "/".join(f"{moment:%Y-%m-%dT%H:%M}" for moment in local)
    return Period(PeriodKind.CUSTOM, label, start.astimezone(UTC), end.astimezone(UTC), zone)


def parse(kind: str, text: str, zone: ZoneInfo) -> Period:
    """`kind` day | week | month | custom ("START/END", ISO 8601, local time unless an offset is given)."""
    if kind == PeriodKind.DAY:
        return day(text, zone)
    if kind == PeriodKind.WEEK:
        return week(text, zone)
    if kind == PeriodKind.MONTH:
        return month(text, zone)
    if kind == PeriodKind.CUSTOM:
        first, sep, last = text.partition("/")
        try:
            return custom(datetime.fromisoformat(first), datetime.fromisoformat(last), zone)
        except ValueError:
            raise BadPeriod(text, "expected START/END in ISO 8601, e.g. 2026-11-23T08:00/2026-11-23T20:00") from None
    raise BadPeriod(text, f"unknown kind of period {kind!r} (day, week, month, custom)")
