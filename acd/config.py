"""Queues, skills, service hours and business categories from `config/acd/queues.yaml`.

Every problem is reported as `file:line: key: message`, like the main settings, so an operator can
fix a broken queue file without reading a traceback.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hotline.settings import Settings, SettingsError, line_of, load_model

# The business category every unknown or general request falls back to: queues.yaml must route it.
FALLBACK_CATEGORY = "other"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    BEST_SKILL = "best_skill"
    ROUND_ROBIN = "round_robin"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Overflow(_Model):
    """Where a caller goes after `max_wait_s` or when the queue is closed."""

    kind: Literal["queue", "voicemail", "callback"]
    target: str = ""  # the queue name for kind "queue"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        # "voicemail", "callback" or "queue:cards" reads better in YAML than a nested mapping
        if isinstance(value, str):
            kind, _, target = value.partition(":")
            return {"kind": kind, "target": target}
        return value

    @model_validator(mode="after")
    def _target_only_for_queue(self) -> Overflow:
        if self.kind == "queue" and not self.target:
            raise ValueError("overflow to a queue needs a target: write 'queue:<name>'")
        if self.kind != "queue" and self.target:
            raise ValueError(f"overflow kind {self.kind!r} takes no target")
        return self


class TimeRange(_Model):
    start: time
    end: time  # exclusive; "24:00" is stored as time.max

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}")
        return {"start": _parse_clock(start), "end": _parse_clock(end)}

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"range ends ({self.end:%H:%M}) before it starts ({self.start:%H:%M})")
        return self

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end or (self.end == time.max and moment >= self.start)


def _parse_clock(text: str) -> time:
    text = text.strip()
    if text == "24:00":
        return time.max
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time of day: {text!r} (expected HH:MM)") from None


class Hours(_Model):
    """Opening hours per weekday in the centre's timezone; a day left out is closed."""

    mon: list[TimeRange] = []
    tue: list[TimeRange] = []
    wed: list[TimeRange] = []
    thu: list[TimeRange] = []
    fri: list[TimeRange] = []
    sat: list[TimeRange] = []
    sun: list[TimeRange] = []

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        if value == "always":
            return {day: ["00:00-24:00"] for day in WEEKDAYS}
        if isinstance(value, dict):
            # a single range may be written without a list: `mon: 08:00-20:00`
            return {day: [ranges] if isinstance(ranges, str) else ranges for day, ranges in value.items()}
        return value

    def is_open(self, local: datetime) -> bool:
        ranges: list[TimeRange] = getattr(self, WEEKDAYS[local.weekday()])
        moment = local.time().replace(tzinfo=None)
        return any(r.contains(moment) for r in ranges)


ALWAYS = Hours.model_validate("always")


class QueueConfig(_Model):
    name: str = ""  # filled from the mapping key
    description: str = ""
    skills: dict[str, int] = Field(default_factory=dict)  # skill -> minimum level 1..10
    priority: int = 0  # added to every caller's priority: decides between queues sharing agents
    service_level_s: float = Field(default=20.0, gt=0)
    ring_timeout_s: float = Field(default=20.0, gt=0)
    wrap_up_s: float = Field(default=30.0, ge=0)
    max_wait_s: float = Field(default=600.0, gt=0)
    overflow: Overflow = Overflow(kind="voicemail")
    hours: Hours = ALWAYS
    post_call_survey: bool = False
    strategy: Strategy = Strategy.LONGEST_IDLE
    vip_boost: int = Field(default=10, ge=0)
    record: bool = True

    @field_validator("skills")
    @classmethod
    def _levels(cls, skills: dict[str, int]) -> dict[str, int]:
        for skill, level in skills.items():
            if not 1 <= level <= 10:
                raise ValueError(f"skill {skill!r}: minimum level must be 1..10, got {level}")
        return skills


class CampaignConfig(_Model):
    """Outbound campaigns: when preview calls may be made and how far apart attempts are."""

    hours: Hours = Hours.model_validate({d: ["09:00-20:00"] for d in WEEKDAYS[:6]})
    retry_gap_s: float = Field(default=3600.0, ge=0)


class AcdConfig(_Model):
    timezone: str = "Asia/Shanghai"
    default_handle_s: float = Field(default=180.0, gt=0)  # talk + wrap-up assumed before real calls are measured
    queues: dict[str, QueueConfig]
    categories: dict[str, str]
    campaigns: CampaignConfig = CampaignConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {name!r}") from None
        return name

    @model_validator(mode="before")
    @classmethod
    def _name_queues(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("queues"), dict):
            queues = {}
            for name, queue in data["queues"].items():
                queues[name] = {**queue, "name": name} if isinstance(queue, dict) else queue
            data = {**data, "queues": queues}
        return data

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def queue_for_category(self, category: str) -> str:
        return self.categories.get(category) or self.categories[FALLBACK_CATEGORY]


def _cross_check(config: AcdConfig, path: Path, lines: dict[tuple[Any, ...], int]) -> None:
    """References between entries: overflow targets and category queues must exist."""

    def where(*loc: Any) -> str:
        line = line_of(lines, loc)
        return f"{path}:{line}" if line else str(path)

    problems = []
    for name, queue in config.queues.items():
        if queue.overflow.kind == "queue":
            if queue.overflow.target not in config.queues:
                problems.append(f"{where('queues', name, 'overflow')}: queues.{name}.overflow: "
                                f"unknown queue {queue.overflow.target!r}")
            elif queue.overflow.target == name:
                problems.append(f"{where('queues', name, 'overflow')}: queues.{name}.overflow: "
                                "a queue cannot overflow into itself")
    for category, queue_name in config.categories.items():
        if queue_name not in config.queues:
            problems.append(f"{where('categories', category)}: categories.{category}: unknown queue {queue_name!r}")
    if FALLBACK_CATEGORY not in config.categories:
        problems.append(f"{where('categories')}: categories: no queue for {FALLBACK_CATEGORY!r}, the category of "
                        "every request that names none")
    if problems:
        raise SettingsError("\n".join(problems))


def load_acd_config(path: Path) -> AcdConfig:
    """Load and validate a queue file; raise SettingsError naming file, line and key on any problem."""
    config, lines = load_model(path, AcdConfig, "a mapping with 'queues' and 'categories'")
    _cross_check(config, path, lines)
    return config


def load_for(settings: Settings) -> AcdConfig:
    """The queue file named by `settings.acd.queues` (relative paths: the shipped config folder)."""
    return load_acd_config(settings.config_path(settings.acd.queues))
