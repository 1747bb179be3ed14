"""How long a recording is kept: per business category of its call (complaints longer), from the call's start."""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.db import aware
from hotline.settings import RecordingsSettings


def retention_days(settings: RecordingsSettings, category: str | None) -> int:
    return settings.retention_days.get(category or "", settings.default_retention_days)


def retention_until(settings: RecordingsSettings, category: str | None, started_at: datetime) -> datetime:
    return aware(started_at) + timedelta(days=retention_days(settings, category))
