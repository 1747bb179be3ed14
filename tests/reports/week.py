"""A generated week of a contact centre: the rows the event logs would hold, and the truth behind them.

`generate()` plays a week call by call (agents' shifts, a meal break, callers who wait, give up, get a
callback or reach voicemail, self-service calls, transfers, surveys) and keeps, beside the rows, plain
lists of what happened. Tests count those lists to know the true figures; the report computes them
from the database rows. Also used by benchmarks/reports.py for a week of 100,000 calls.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from acd.models import Agent, RoutingEvent
from calls.models import Call, CallEvent, IvrStep
from hotline.db import Database

ZONE = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W48"
MONDAY = date(2026, 11, 23)
CATEGORIES = ("balance", "card_loss", "pin", "transfer", "bill", "complaint", "other")
QUEUE_OF = {"balance": "general", "card_loss": "cards", "pin": "cards", "transfer": "general", "bill": "general",
            "complaint": "complaints", "other": "general"}
SHIFT = (time(7, 50), time(20, 30))
MEAL = (time(12, 0), time(12, 45))  # agent 2 is away for a meal every day
RING_S = 3.0


def local(day: date, moment: time, seconds: float = 0.0) -> datetime:
    return datetime.combine(day, moment, tzinfo=ZONE).astimezone(UTC) + timedelta(seconds=seconds)


@dataclass
class Outcome:
    """The end of one wait in a queue."""

    at: datetime
    kind: str  # answered | abandoned | voicemail | callback
    queue: str
    category: str
    wait: float


@dataclass
class Talk:
    at: datetime  # when the talk ended
    queue: str
    category: str
    seconds: float
    transferred: bool


@dataclass
class WrapUp:
    at: datetime
    queue: str
    category: str
    seconds: float


@dataclass
class InboundCall:
    id: str
    opened: datetime
    category: str | None
    contained: bool
    queued: bool
    wrapup: str | None = None
    survey: int | None = None
    survey_queue: str | None = None
    steps: list[tuple[str, str, str, str]] = field(default_factory=list)  # node, kind, detail, outcome


@dataclass
class AgentTruth:
    states: list[tuple[datetime, str, str | None]] = field(default_factory=list)
    offered: int = 0
    missed: int = 0
    answered: int = 0
    outbound: int = 0
    talk: float = 0.0


@dataclass
class Week:
    outcomes: list[Outcome] = field(default_factory=list)
    talks: list[Talk] = field(default_factory=list)
    wraps: list[WrapUp] = field(default_factory=list)
    calls: list[InboundCall] = field(default_factory=list)
    agents: dict[int, AgentTruth] = field(default_factory=dict)
    enqueued: list[tuple[datetime, str]] = field(default_factory=list)
    callback_events: list[tuple[datetime, str, str | None]] = field(default_factory=list)
    routing: list[dict[str, Any]] = field(default_factory=list)
    call_rows: list[dict[str, Any]] = field(default_factory=list)
    call_events: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def event(self, at: datetime, kind: str, **values: Any) -> None:
        self.routing.append({"at": at, "kind": kind, "call_id": values.pop("call_id", None),
                             "queue": values.pop("queue", None), "category": values.pop("category", None),
                             "agent_id": values.pop("agent_id", None), "wait_s": values.pop("wait_s", None),
                             "talk_s": values.pop("talk_s", None), "state": values.pop("state", None),
                             "reason": values.pop("reason", None), "detail": values.pop("detail", {})})
        assert not values, values

    def state(self, agent: int, at: datetime, state: str, reason: str | None = None) -> None:
        self.agents[agent].states.append((at, state, reason))
        self.event(at, "state", agent_id=agent, state=state, reason=reason)


class _Floor:
    """When each agent is next free; agent 2's meal and everyone's shift end are respected."""

    def __init__(self, agents: int) -> None:
        self.free_at: dict[int, datetime] = {}
        self.ids = list(range(1, agents + 1))

    def start_day(self, day: date) -> None:
        for agent in self.ids:
            self.free_at[agent] = local(day, SHIFT[0])

    def earliest(self, day: date, not_before: datetime, handle: float) -> tuple[int, datetime] | None:
        best: tuple[int, datetime] | None = None
        meal = (local(day, MEAL[0]), local(day, MEAL[1]))
        shift_end = local(day, SHIFT[1])
        for agent in self.ids:
            offer = max(not_before, self.free_at[agent])
            done = offer + timedelta(seconds=handle)
            if agent == 2 and offer < meal[1] and done > meal[0]:
                offer = max(offer, meal[1])
                done = offer + timedelta(seconds=handle)
            if done > shift_end:
                continue
            if best is None or offer < best[1]:
                best = (agent, offer)
        return best


def _ms(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 3)


def generate(calls_per_day: int = 60, seed: int = 7, agents: int = 3) -> Week:
    rng = random.Random(seed)
    week = Week(agents={agent: AgentTruth() for agent in range(1, agents + 1)})
    floor = _Floor(agents)
    # agent 3 logged in before the week began and stayed available into Monday
    week.state(3, local(MONDAY - timedelta(days=1), time(23, 0)), "available")
    # self-service calls just outside the week (local time) and one just inside
    _self_service(week, rng, local(MONDAY - timedelta(days=1), time(23, 40)), contained=True)
    _self_service(week, rng, local(MONDAY + timedelta(days=7), time(0, 5)), contained=True)
    _self_service(week, rng, local(MONDAY, time(0, 10)), contained=True)
    # a caller who gave up in the cards queue (open around the clock) just before and just after midnight
    for at in (local(MONDAY - timedelta(days=1), time(23, 59)), local(MONDAY, time(0, 20))):
        _unanswered(week, rng, at, "card_loss", 12.0, "abandoned")
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        floor.start_day(day)
        for agent in floor.ids:
            week.state(agent, local(day, SHIFT[0]), "available")
        meal_events = [(local(day, MEAL[0]), "away", "meal"), (local(day, MEAL[1]), "available", None)]
        opened = sorted(local(day, time(8, 0), _ms(rng, 0, 12 * 3600 - 1)) for _ in range(calls_per_day))
        pending_states: list[tuple[datetime, int, str, str | None]] = [(at, 2, s, r) for at, s, r in meal_events]
        for at in opened:
            roll = rng.random()
            if roll < 0.2:
                _self_service(week, rng, at, contained=True)
            elif roll < 0.28:
                _self_service(week, rng, at, contained=False)
            elif roll < 0.33:
                _locked_out(week, rng, at)
            else:
                _queue_call(week, rng, floor, day, at, pending_states)
        for agent in floor.ids:
            pending_states.append((local(day, SHIFT[1]), agent, "logged_out", None))
        for at, agent, state, reason in sorted(pending_states, key=lambda item: (item[0], item[1])):
            week.state(agent, at, state, reason)
    week.routing.sort(key=lambda row: row["at"])  # the log is written in the order things happened
    for truth in week.agents.values():
        truth.states.sort(key=lambda item: item[0])
    return week


def _open(week: Week, at: datetime, category: str | None, contained: bool, queued: bool) -> InboundCall:
    call = InboundCall(str(uuid.UUID(int=len(week.calls) + 1)), at, category, contained, queued)
    week.calls.append(call)
    week.call_rows.append({"id": call.id, "channel": "twilio", "external_id": f"CA{len(week.calls):032x}",
                           "direction": "inbound", "caller_number": "+8613800000000", "dialled_number": "95588",
                           "status": "completed", "started_at": at, "answered_at": at, "ended_at": None,
                           "business_category": category, "queue": QUEUE_OF.get(category or "") if queued else None,
                           "self_service_done": contained, "verified": False, "language": "zh-CN",
                           "wrapup_code": None, "attributes": {}})
    week.call_events.append({"call_id": call.id, "at": at, "fact": "opened", "key": "",
                             "data": {"channel": "twilio", "direction": "inbound"}})
    _step(week, call, at, "start", "enter", "", "")
    _step(week, call, at, "start", "operation", "identify", "ok")
    return call


def _step(week: Week, call: InboundCall, at: datetime, node: str, kind: str, detail: str, outcome: str) -> None:
    call.steps.append((node, kind, detail, outcome))
    week.steps.append({"call_id": call.id, "seq": len(call.steps), "at": at, "node": node, "kind": kind,
                       "detail": detail, "outcome": outcome})


def _self_service(week: Week, rng: random.Random, at: datetime, *, contained: bool) -> None:
    service = rng.choice(("balance", "card_loss", "bill"))
    category = {"balance": "balance", "card_loss": "card_loss", "bill": "bill"}[service]
    call = _open(week, at, category, contained, queued=False)
    _step(week, call, at, "main", "enter", "", "")
    if not contained and rng.random() < 0.5:  # left at the main menu
        _step(week, call, at, "main", "end", "hangup", "")
        return
    _step(week, call, at, service, "enter", "", "")
    if rng.random() < 0.3:
        _step(week, call, at, service, "operation", "verify", "wrong_pin")
    if not contained and rng.random() < 0.5:
        _step(week, call, at, service, "operation", "verify", "not_found")
        _step(week, call, at, f"{service}.verify_number", "end", "hangup", "")
        return
    _step(week, call, at, service, "operation", "verify", "ok")
    _step(week, call, at, service, "operation", "accounts" if service != "card_loss" else "report_loss",
          "ok" if contained else "failed")
    _step(week, call, at, "done", "enter", "", "")
    _step(week, call, at, "done", "end", "hangup" if rng.random() < 0.7 else "completed", "")


def _locked_out(week: Week, rng: random.Random, at: datetime) -> None:
    call = _open(week, at, "pin", contained=False, queued=False)
    _step(week, call, at, "cards", "enter", "", "")
    _step(week, call, at, "pin_change", "enter", "", "")
    _step(week, call, at, "pin_change", "operation", "verify", "wrong_pin")
    _step(week, call, at, "pin_change", "operation", "verify", "locked")
    _step(week, call, at, "cards", "end", "hangup", "")


def _queued(week: Week, call: InboundCall, at: datetime, queue: str, category: str) -> None:
    week.enqueued.append((at, queue))
    week.event(at, "enqueued", call_id=call.id, queue=queue, category=category, detail={"priority": 0, "vip": False})
    week.call_events.append({"call_id": call.id, "at": at, "fact": "queued", "key": queue,
                             "data": {"queue": queue, "category": category}})


def _unanswered(week: Week, rng: random.Random, at: datetime, category: str, wait: float, kind: str) -> InboundCall:
    queue = QUEUE_OF[category]
    call = _open(week, at, category, contained=False, queued=True)
    _step(week, call, at, "main", "transfer", f"{queue}/{category}", "")
    _queued(week, call, at, queue, category)
    end = at + timedelta(seconds=wait)
    week.outcomes.append(Outcome(end, kind, queue, category, wait))
    if kind == "abandoned":
        week.event(end, "abandoned", call_id=call.id, queue=queue, category=category, wait_s=wait, reason="hangup")
    elif kind == "voicemail":
        week.event(end, "overflowed", call_id=call.id, queue=queue, category=category, wait_s=wait,
                   reason="max_wait", detail={"kind": "voicemail", "target": ""})
    else:  # the caller leaves their place for a callback
        week.event(end, "callback_requested", call_id=call.id, queue=queue, category=category,
                   detail={"callback_id": len(week.calls)})
        week.callback_events.append((end, "callback_requested", None))
    _step(week, call, end, "main", "end", "caller-hangup", "")
    return call


def _queue_call(week: Week, rng: random.Random, floor: _Floor, day: date, at: datetime,
                pending_states: list[tuple[datetime, int, str, str | None]]) -> None:
    category = rng.choice(CATEGORIES)
    queue = QUEUE_OF[category]
    patience = _ms(rng, 0, 5) if rng.random() < 0.3 else _ms(rng, 5, 120)
    talk, wrap = _ms(rng, 30, 400), _ms(rng, 3, 40)
    # most callers reach an agent at once; some wait behind others (longer than any queue's threshold)
    delay = _ms(rng, RING_S, 8) if rng.random() < 0.6 else _ms(rng, 10, 60)
    not_before = at + timedelta(seconds=delay)
    choice = floor.earliest(day, not_before - timedelta(seconds=RING_S), RING_S + talk + wrap)
    if choice is None or (choice[1] + timedelta(seconds=RING_S) - at).total_seconds() > patience:
        roll = rng.random()
        kind = "callback" if roll < 0.15 else "voicemail" if roll < 0.25 else "abandoned"
        call = _unanswered(week, rng, at, category, patience, kind)
        if kind == "callback":
            _callback_attempts(week, rng, floor, call, at + timedelta(seconds=patience), queue, category)
        return
    agent, offer = choice
    call = _open(week, at, category, contained=False, queued=True)
    if rng.random() < 0.3:  # a self-service operation first, then 0 for an agent: not contained
        _step(week, call, at, "balance", "operation", "verify", "ok")
        _step(week, call, at, "balance", "operation", "accounts", "ok")
    _step(week, call, at, "main", "transfer", f"{queue}/{category}", "")
    _queued(week, call, at, queue, category)
    answer = offer + timedelta(seconds=RING_S)
    wait = (answer - at).total_seconds()
    ended = answer + timedelta(seconds=talk)
    free = ended + timedelta(seconds=wrap)
    truth = week.agents[agent]
    if rng.random() < 0.1:  # someone else's phone rang first and nobody picked up
        other = rng.choice([a for a in floor.ids if a != agent] or [agent])
        week.agents[other].offered += 1
        week.agents[other].missed += 1
        week.event(offer - timedelta(seconds=1), "offered", call_id=call.id, queue=queue, category=category,
                   agent_id=other)
        week.event(offer - timedelta(seconds=0.5), "missed", call_id=call.id, queue=queue, category=category,
                   agent_id=other, reason="no-answer")
    truth.offered += 1
    truth.answered += 1
    truth.talk += talk
    week.event(offer, "offered", call_id=call.id, queue=queue, category=category, agent_id=agent)
    pending_states.append((offer, agent, "reserved", None))
    week.event(answer, "answered", call_id=call.id, queue=queue, category=category, agent_id=agent, wait_s=wait)
    pending_states.append((answer, agent, "on_call", None))
    week.outcomes.append(Outcome(answer, "answered", queue, category, wait))
    transferred = rng.random() < 0.05
    if transferred:
        week.event(ended, "transferred", call_id=call.id, queue=queue, category=category, agent_id=agent,
                   detail={"to": "complaints"})
    week.event(ended, "ended", call_id=call.id, queue=queue, category=category, agent_id=agent, talk_s=talk,
               reason="transferred" if transferred else "completed")
    week.talks.append(Talk(ended, queue, category, talk, transferred))
    pending_states.append((ended, agent, "wrap_up", None))
    # the wrap-up event follows the agent's wrap_up state; a moment later so the order is certain
    week.event(ended + timedelta(microseconds=1), "wrap_up", call_id=call.id, queue=queue, category=category,
               agent_id=agent, detail={"wrap_up_s": 30})
    week.wraps.append(WrapUp(ended, queue, category, wrap - 1e-6))
    pending_states.append((free, agent, "available", None))
    floor.free_at[agent] = free
    if rng.random() < 0.4:
        call.survey, call.survey_queue = rng.randint(1, 5), queue
        week.call_events.append({"call_id": call.id, "at": ended, "fact": "survey_answered", "key": "",
                                 "data": {"score": call.survey, "agent_id": agent, "queue": queue}})
    if rng.random() < 0.8:
        call.wrapup = rng.choice(CATEGORIES)
        week.call_rows[-1]["wrapup_code"] = call.wrapup
        week.call_events.append({"call_id": call.id, "at": free, "fact": "wrapped_up", "key": "w",
                                 "data": {"agent_id": agent, "code": call.wrapup}})
    _step(week, call, ended, "main", "end", "caller-hangup", "")


def _callback_attempts(week: Week, rng: random.Random, floor: _Floor, call: InboundCall, asked: datetime,
                       queue: str, category: str) -> None:
    """The promise is kept within the hour: maybe a failed attempt first; the leg is outbound."""
    agent = rng.choice(floor.ids)
    at = asked + timedelta(seconds=_ms(rng, 60, 1800))
    if rng.random() < 0.3:
        week.event(at, "callback_attempt", call_id=call.id, queue=queue, category=category, agent_id=agent,
                   reason="no-answer", detail={"callback_id": 1, "attempt": 1})
        week.callback_events.append((at, "callback_attempt", "no-answer"))
        at += timedelta(seconds=600)
    leg = str(uuid.uuid4())
    purpose = {"purpose": "callback", "callback_id": 1}
    talk = _ms(rng, 20, 200)
    week.agents[agent].offered += 1
    week.agents[agent].answered += 1
    week.agents[agent].outbound += 1
    week.agents[agent].talk += talk
    week.event(at, "offered", call_id=leg, queue=queue, category=category, agent_id=agent, detail=purpose)
    week.event(at, "answered", call_id=leg, queue=queue, category=category, agent_id=agent, wait_s=2.0,
               detail=purpose)
    end = at + timedelta(seconds=talk)
    week.event(end, "ended", call_id=leg, queue=queue, category=category, agent_id=agent, talk_s=talk,
               reason="completed", detail=purpose)
    if rng.random() < 0.8:
        week.event(end, "callback_done", call_id=call.id, queue=queue, category=category, agent_id=agent,
                   reason="completed", detail={"callback_id": 1, "attempt": 1})
        week.callback_events.append((end, "callback_done", "completed"))
    else:
        week.event(end, "callback_failed", call_id=call.id, queue=queue, category=category, agent_id=agent,
                   reason="busy", detail={"callback_id": 1, "attempt": 2})
        week.callback_events.append((end, "callback_failed", "busy"))


async def write(db: Database, week: Week, *, chunk: int = 20_000) -> None:
    """The rows straight into the tables (the call record's own writer is not what is tested here)."""
    async with db.engine.begin() as conn:
        await conn.execute(insert(Agent), [{"id": agent, "name": f"座席{agent}", "endpoint": f"client:agent{agent}",
                                            "endpoints": {}, "skills": {}, "active": True}
                                           for agent in week.agents])
        for model, rows in ((Call, week.call_rows), (CallEvent, week.call_events), (IvrStep, week.steps),
                            (RoutingEvent, week.routing)):
            for start in range(0, len(rows), chunk):
                await conn.execute(insert(model), rows[start:start + chunk])
