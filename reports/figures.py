"""The report's figures for one period, recomputed from the event logs (never from live state).

Sources: the ACD's routing event log (`routing_events`), the call record's facts (`call_events`,
`ivr_steps`) and what each call learnt (`calls.business_category`, `self_service_done`,
`wrapup_code`). The database does the summing (GROUP BY per UTC half hour); Python only folds the
groups into days, hours of day, queues and categories of the centre's time zone (zones whose offset
is a whole number of half hours, which is every zone in China and nearly all others).

Definitions (docs/reports.md says the same for the people who read the report):

- Queue calls (the ACD's side) count in the period their wait ended in:
  - offered (呼入): answered + abandoned + overflowed to voicemail + left the queue for a callback.
    A caller moved to another queue by overflow is counted once, where the wait ended.
  - answered (接通): an agent answered (callback and campaign legs are outbound and not counted).
  - abandoned (放弃): the caller hung up while waiting or ringing; short abandons (5秒内放弃)
    waited `SHORT_ABANDON_S` seconds or less.
  - answer rate (接通率) = answered / offered.
  - average speed of answer (平均应答速度) = the mean wait of answered calls.
  - service level (服务水平) = answered within the queue's `service_level_s` / offered;
    the variant excluding short abandons = answered within / (offered - short abandons).
  - average talk (平均通话时长): the ACD's `ended` events (a transfer ends one talk and starts another);
    average wrap-up (平均话后处理时长): from an agent's wrap-up to their next state, measured (not the
    configured time); a wrap-up still running at the end of the period is left out.
  - transfers (转接): talking calls queued again.
- Calls (来电) are the inbound calls opened in the period (`calls.started_at`, the instant of the
  call's `opened` fact), self-service and agent calls alike:
  self-service only (never queued), contained (自助完成: an operation done and never queued, the
  IVR's `self_service_done`), to an agent (queued at least once). Survey averages and the inquiry
  ranking are of these calls.
- Agents: offers, answers, missed offers, talk time (inbound and outbound), time in each state and
  away reason (an agent's state at the period's start comes from their last state before it);
  occupancy (占用率) = time ringing, talking and in wrap-up / time logged in and not away.
- Self-service: calls per IVR operation (the service node where the caller ran an operation, the
  caller's automatic identification aside), containment per operation (those calls that were
  contained), where callers left the menus (the last node of calls that were neither contained
  nor queued, with how they ended), verification failures (wrong PIN, unknown card) and lockouts.
- Inquiry ranking (热点问题): calls by the agent's wrap-up code, else the category chosen in the menus.
- Staffing (reports.erlang): per half hour and queue, the arrivals (callers joining the queue), the
  queue's average handle time (talk + wrap-up) in the period, the agents Erlang C says its service
  level target needed; against the average number of agents logged in during that half hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from acd.config import AcdConfig
from acd.models import Agent, RoutingEvent
from acd.states import STAFFED, AgentState, EventKind, OverflowKind
from acd.states import EndReason as AcdEndReason
from calls.facts import Direction, Fact
from calls.models import Call, CallEvent, IvrStep
from hotline.db import Database
from reports import erlang
from reports.periods import Period
from reports.sql import HALF_HOUR_S, epoch, half_hour

SHORT_ABANDON_S = 5.0
DEFAULT_TARGET = 0.8  # the share of calls a queue means to answer within its service_level_s
HANDLING = frozenset({AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})
VERIFICATION_FAILURES = frozenset({"wrong_pin", "not_found"})
LOCKOUTS = frozenset({"locked"})


@dataclass
class Figures:
    """The queue figures of one slice: the whole centre, a day, an hour of day, a queue, a category."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0  # to voicemail
    to_callback: int = 0  # left the queue for a callback
    answered_in_sl: int = 0
    wait_s: float = 0.0  # of answered calls
    talks: int = 0
    talk_s: float = 0.0
    wrap_ups: int = 0
    wrap_up_s: float = 0.0
    transfers: int = 0
    surveys: int = 0
    survey_points: int = 0

    @property
    def answer_rate(self) -> float:
        return self.answered / self.offered if self.offered else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def avg_answer_s(self) -> float:
        return self.wait_s / self.answered if self.answered else 0.0

    @property
    def service_level(self) -> float:
        return self.answered_in_sl / self.offered if self.offered else 0.0

    @property
    def service_level_excl_short(self) -> float:
        counted = self.offered - self.short_abandoned
        return self.answered_in_sl / counted if counted > 0 else 0.0

    @property
    def avg_talk_s(self) -> float:
        return self.talk_s / self.talks if self.talks else 0.0

    @property
    def avg_wrap_up_s(self) -> float:
        return self.wrap_up_s / self.wrap_ups if self.wrap_ups else 0.0

    @property
    def avg_handle_s(self) -> float:
        """Talk plus wrap-up per answered call, for staffing."""
        return self.avg_talk_s + self.avg_wrap_up_s

    @property
    def avg_survey(self) -> float:
        return self.survey_points / self.surveys if self.surveys else 0.0


@dataclass
class CallTotals:
    """Inbound calls opened in the period: self-service and agent calls in the same total."""

    total: int = 0
    self_service_only: int = 0  # never queued for an agent
    contained: int = 0  # served by the IVR alone
    to_agent: int = 0


@dataclass
class AgentFigures:
    agent_id: int
    name: str = ""
    offered: int = 0
    answered: int = 0
    missed: int = 0
    outbound: int = 0  # callback and campaign calls answered
    talk_s: float = 0.0
    state_s: dict[str, float] = field(default_factory=dict)
    away_s: dict[str, float] = field(default_factory=dict)  # away reason -> seconds

    @property
    def logged_in_s(self) -> float:
        return sum(s for state, s in self.state_s.items() if state != AgentState.LOGGED_OUT)

    @property
    def occupancy(self) -> float:
        staffed = sum(s for state, s in self.state_s.items() if state in STAFFED)
        handling = sum(s for state, s in self.state_s.items() if state in HANDLING)
        return handling / staffed if staffed else 0.0


@dataclass
class Operation:
    calls: int = 0
    contained: int = 0

    @property
    def containment(self) -> float:
        return self.contained / self.calls if self.calls else 0.0


@dataclass
class SelfService:
    operations: dict[str, Operation] = field(default_factory=dict)  # service node -> calls
    exits: dict[tuple[str, str], int] = field(default_factory=dict)  # (node, how it ended) -> calls
    verification: dict[tuple[str, str], int] = field(default_factory=dict)  # (operation, outcome) -> count

    @property
    def verification_failures(self) -> int:
        return sum(n for (_, outcome), n in self.verification.items() if outcome in VERIFICATION_FAILURES)

    @property
    def lockouts(self) -> int:
        return sum(n for (_, outcome), n in self.verification.items() if outcome in LOCKOUTS)


@dataclass
class Callbacks:
    requested: int = 0  # callers who left a queue for a callback
    scheduled: int = 0  # agents' promises
    reached: int = 0  # attempts that reached the customer (the callback is done)
    given_up: int = 0  # last attempt failed
    retried: int = 0  # failed attempts followed by another
    outcomes: dict[str, int] = field(default_factory=dict)  # attempt result -> count

    @property
    def made(self) -> int:
        return self.reached + self.given_up + self.retried


@dataclass
class StaffingSlot:
    start: datetime  # local time
    queue: str
    arrivals: int
    avg_handle_s: float
    needed: int  # Erlang C, for the queue's service level target
    logged_in: float  # the centre's agents logged in, averaged over the half hour


@dataclass
class Report:
    period: Period
    target_service_level: float
    total: Figures
    by_day: dict[date, Figures]
    by_hour: dict[int, Figures]  # local hour of day
    by_queue: dict[str, Figures]
    by_category: dict[str, Figures]
    calls: CallTotals
    calls_by_day: dict[date, CallTotals]
    agents: dict[int, AgentFigures]
    self_service: SelfService
    callbacks: Callbacks
    topics: list[tuple[str, int]]  # inquiry ranking, most asked first
    staffing: list[StaffingSlot]


class _Slicer:
    """Maps a UTC half hour to the report's slices (the centre's days and hours of day)."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.total = Figures()
        self.by_day: dict[date, Figures] = defaultdict(Figures)
        self.by_hour: dict[int, Figures] = defaultdict(Figures)
        self.by_queue: dict[str, Figures] = defaultdict(Figures)
        self.by_category: dict[str, Figures] = defaultdict(Figures)
        self._local: dict[int, datetime] = {}

    def local(self, bucket: int) -> datetime:
        moment = self._local.get(bucket)
        if moment is None:
            moment = self._local[bucket] = datetime.fromtimestamp(bucket * HALF_HOUR_S, UTC).astimezone(
                self.period.zone)
        return moment

    def slices(self, bucket: int, queue: str | None, category: str | None) -> tuple[Figures, ...]:
        moment = self.local(bucket)
        return (self.total, self.by_day[moment.date()], self.by_hour[moment.hour],
                self.by_queue[queue or "-"], self.by_category[category or "other"])


def _outbound(e: type[RoutingEvent]) -> ColumnElement[bool]:
    """Events of callback and campaign legs: their detail names a purpose (acd.records.CallEntry.purpose).
    A text match: parsing every event's JSON costs twice as much as the rest of the query."""
    return cast(e.detail, String).like('%"purpose":%')


def _in(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


async def compute(db: Database, config: AcdConfig, period: Period, *,
                  target_service_level: float = DEFAULT_TARGET) -> Report:
    """All the figures of `period` (see the module docstring for what each one means)."""
    slicer = _Slicer(period)
    arrivals: dict[tuple[int, str], int] = defaultdict(int)
    callbacks = Callbacks()
    async with _reading(db) as s:
        await _queue_outcomes(s, config, period, slicer, arrivals, callbacks)
        agents = await _agents(s, period)
        logins = await _agent_states(s, period, slicer, agents)
        for agent_id, name in (await s.execute(select(Agent.id, Agent.name).where(Agent.id.in_(list(agents))))).all():
            agents[agent_id].name = name
        calls, calls_by_day, topics = await _calls(s, period, slicer)
        self_service = await _self_service(s, period)
    staffing = _staffing(config, period, slicer, arrivals, logins, target_service_level)
    return Report(period=period, target_service_level=target_service_level, total=slicer.total,
                  by_day=dict(sorted(slicer.by_day.items())), by_hour=dict(sorted(slicer.by_hour.items())),
                  by_queue=dict(sorted(slicer.by_queue.items())), by_category=dict(sorted(slicer.by_category.items())),
                  calls=calls, calls_by_day=calls_by_day, agents=dict(sorted(agents.items())),
                  self_service=self_service, callbacks=callbacks, topics=topics, staffing=staffing)


@asynccontextmanager
async def _reading(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection that only reads. The app's SQLite sessions begin IMMEDIATE (they take the write
    lock so that concurrent writers queue); a report holding it for seconds would stall every call,
    so on SQLite it reads through an engine of its own, which takes no lock in WAL mode."""
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            yield conn
        return
    engine = create_async_engine(db.url)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


_CALLBACK_KINDS = (EventKind.CALLBACK_SCHEDULED, EventKind.CALLBACK_DONE, EventKind.CALLBACK_FAILED,
                   EventKind.CALLBACK_ATTEMPT)


async def _queue_outcomes(s: Any, config: AcdConfig, period: Period, slicer: _Slicer,
                          arrivals: dict[tuple[int, str], int], callbacks: Callbacks) -> None:
    e = RoutingEvent
    threshold = case({name: q.service_level_s for name, q in config.queues.items()}, value=e.queue,
                     else_=literal(20.0)) if config.queues else literal(20.0)
    bucket = half_hour(e.at)
    # expressions with bound values are grouped by their label: PostgreSQL would take the same
    # expression with other parameter numbers in GROUP BY for a different one
    overflow_kind = case((e.kind == EventKind.OVERFLOWED, e.detail["kind"].as_string())).label("overflow_kind")
    kinds = (EventKind.ENQUEUED, EventKind.ANSWERED, EventKind.ABANDONED, EventKind.OVERFLOWED,
             EventKind.CALLBACK_REQUESTED, EventKind.ENDED, EventKind.TRANSFERRED, *_CALLBACK_KINDS)
    query = (select(bucket, e.kind, e.queue, e.category, e.reason, overflow_kind, func.count(),
                    func.sum(e.wait_s), func.sum(e.talk_s),
                    func.sum(case((e.wait_s <= threshold, 1), else_=0)),
                    func.sum(case((e.wait_s <= SHORT_ABANDON_S, 1), else_=0)))
             .where(_in(e.at, period), e.kind.in_(kinds), ~_outbound(e))
             .group_by(bucket, e.kind, e.queue, e.category, e.reason, overflow_kind.name))
    for b, kind, queue, category, reason, okind, n, wait, talk, in_sl, short in (await s.execute(query)).all():
        n, b = int(n), int(b)
        if kind == EventKind.ENQUEUED:
            arrivals[b, queue or "-"] += n
            continue
        if kind in _CALLBACK_KINDS:
            _count_callbacks(callbacks, kind, reason, n)
            continue
        if kind == EventKind.CALLBACK_REQUESTED:
            callbacks.requested += n
        for f in slicer.slices(b, queue, category):
            if kind == EventKind.ANSWERED:
                f.offered += n
                f.answered += n
                f.wait_s += float(wait or 0.0)
                f.answered_in_sl += int(in_sl or 0)
            elif kind == EventKind.ABANDONED:
                f.offered += n
                f.abandoned += n
                f.short_abandoned += int(short or 0)
            elif kind == EventKind.OVERFLOWED and okind == OverflowKind.VOICEMAIL and reason != AcdEndReason.CLOSED:
                # to another queue or to a callback offer the caller still waits; to voicemail the wait
                # ends. A closed queue never offered the call to anyone.
                f.offered += n
                f.overflowed += n
            elif kind == EventKind.CALLBACK_REQUESTED:
                f.offered += n
                f.to_callback += n
            elif kind == EventKind.ENDED:
                f.talks += n
                f.talk_s += float(talk or 0.0)
            elif kind == EventKind.TRANSFERRED:
                f.transfers += n


def _count_callbacks(callbacks: Callbacks, kind: str, reason: str | None, n: int) -> None:
    if kind == EventKind.CALLBACK_SCHEDULED:
        callbacks.scheduled += n
        return
    if kind == EventKind.CALLBACK_DONE:
        callbacks.reached += n
        outcome = "reached"
    else:
        callbacks.given_up += n if kind == EventKind.CALLBACK_FAILED else 0
        callbacks.retried += n if kind == EventKind.CALLBACK_ATTEMPT else 0
        outcome = reason or "failed"
    callbacks.outcomes[outcome] = callbacks.outcomes.get(outcome, 0) + n


async def _agents(s: Any, period: Period) -> dict[int, AgentFigures]:
    """Offers, answers, misses and talk per agent."""
    e = RoutingEvent
    agents: dict[int, AgentFigures] = {}
    outbound = _outbound(e).label("outbound")
    kinds = (EventKind.OFFERED, EventKind.ANSWERED, EventKind.MISSED, EventKind.ENDED)
    query = (select(e.agent_id, e.kind, outbound, func.count(), func.sum(e.talk_s))
             .where(_in(e.at, period), e.kind.in_(kinds), e.agent_id.is_not(None))
             .group_by(e.agent_id, e.kind, outbound.name))
    for agent_id, kind, is_outbound, n, talk in (await s.execute(query)).all():
        a, n = agents.setdefault(int(agent_id), AgentFigures(int(agent_id))), int(n)
        if kind == EventKind.OFFERED:
            a.offered += n
        elif kind == EventKind.MISSED:
            a.missed += n
        elif kind == EventKind.ANSWERED:
            a.answered += n
            a.outbound += n if is_outbound else 0
        else:
            a.talk_s += float(talk or 0.0)
    return agents


async def _opening_states(s: Any, period: Period) -> dict[int, tuple[str, str | None]]:
    """Each agent's state as the period starts: their last state event before it."""
    e = RoutingEvent
    last = (select(func.max(e.id)).where(e.kind == EventKind.STATE, e.at < period.start, e.agent_id.is_not(None))
            .group_by(e.agent_id))
    rows = (await s.execute(select(e.agent_id, e.state, e.reason).where(e.id.in_(last)))).all()
    return {int(agent_id): (state, reason) for agent_id, state, reason in rows if state}


async def _agent_states(s: Any, period: Period, slicer: _Slicer,
                        agents: dict[int, AgentFigures]) -> list[tuple[float, float]]:
    """Time in each state, measured wrap-ups and logged-in spans, in one pass over agents' state changes.

    Each agent's state events and wrap-up events come in the order written (the wrap-up event follows
    its wrap_up state at once): a state lasts until the agent's next state, the last one until the
    period's end; a wrap-up is measured to the next state. (One ordered read folded here: SQLite's
    window functions cost several times more than the read.) Returns the logged-in spans as
    (start, end) epoch seconds.
    """
    e = RoutingEvent
    is_wrap = e.kind == EventKind.WRAP_UP
    query = (select(e.agent_id, e.kind, e.state, e.reason, case((is_wrap, e.queue)), case((is_wrap, e.category)),
                    epoch(e.at))
             .where(_in(e.at, period), e.kind.in_((EventKind.STATE, EventKind.WRAP_UP)), e.agent_id.is_not(None))
             .order_by(e.agent_id, e.id))
    start, end = period.start.timestamp(), period.end.timestamp()
    opening = await _opening_states(s, period)
    logged_out = AgentState.LOGGED_OUT.value
    logged_in: list[tuple[float, float]] = []
    wraps: dict[tuple[int, str | None, str | None], list[float]] = {}

    def fold(agent_id: int, rows: list[tuple[str, str | None, str | None, str | None, str | None, float]]) -> None:
        spent: dict[tuple[str, str | None], float] = defaultdict(float)
        state, reason = opening.get(agent_id, (None, None))
        since = start
        began: float | None = start if state is not None and state != logged_out else None
        wrap: tuple[float, str | None, str | None] | None = None
        for kind, new_state, new_reason, queue, category, moment in rows:
            if kind == EventKind.WRAP_UP:
                wrap = (moment, queue, category)
                continue
            if wrap is not None:
                measured = wraps.setdefault((int((wrap[0] + 0.001) // HALF_HOUR_S), wrap[1], wrap[2]), [0, 0.0])
                measured[0] += 1
                measured[1] += moment - wrap[0]
                wrap = None
            if state is not None:
                spent[state, reason] += moment - since
            if new_state == logged_out:
                if began is not None:
                    logged_in.append((began, moment))
                began = None
            elif began is None:
                began = moment
            state, reason, since = new_state, new_reason, moment
        if state is not None:
            spent[state, reason] += end - since
        if began is not None:
            logged_in.append((began, end))
        a = agents.setdefault(agent_id, AgentFigures(agent_id))
        for (name, why), seconds in spent.items():
            a.state_s[name] = a.state_s.get(name, 0.0) + seconds
            if name == AgentState.AWAY:
                a.away_s[why or "-"] = a.away_s.get(why or "-", 0.0) + seconds

    current: int | None = None
    rows: list[tuple[str, str | None, str | None, str | None, str | None, float]] = []
    seen: set[int] = set()
    for agent_id, kind, state, reason, queue, category, moment in (await s.execute(query)).all():
        if agent_id != current:
            if current is not None:
                fold(current, rows)
                seen.add(current)
            current, rows = agent_id, []
        rows.append((kind, state, reason, queue, category, float(moment)))
    if current is not None:
        fold(current, rows)
        seen.add(current)
    for agent_id in opening.keys() - seen:  # no change all period long
        fold(agent_id, [])
    for (b, queue, category), (n, seconds) in wraps.items():
        for f in slicer.slices(b, queue, category):
            f.wrap_ups += int(n)
            f.wrap_up_s += seconds
    return logged_in


async def _calls(s: Any, period: Period, slicer: _Slicer) -> tuple[CallTotals, dict[date, CallTotals],
                                                                     list[tuple[str, int]]]:
    survey = aliased(CallEvent)
    queued = Call.queue.is_not(None)  # set by the call's first `queued` fact, never cleared
    bucket = half_hour(Call.started_at)
    score = survey.data["score"].as_integer()
    survey_queue = survey.data["queue"].as_string().label("survey_queue")
    query = (select(bucket, Call.business_category, Call.wrapup_code, Call.self_service_done, queued, survey_queue,
                    func.count(), func.count(score), func.sum(score))
             .select_from(Call)
             .outerjoin(survey, and_(survey.call_id == Call.id, survey.fact == Fact.SURVEY_ANSWERED))
             .where(_in(Call.started_at, period), Call.direction == Direction.INBOUND)
             .group_by(bucket, Call.business_category, Call.wrapup_code, Call.self_service_done, queued,
                       survey_queue.name))
    totals = CallTotals()
    by_day: dict[date, CallTotals] = defaultdict(CallTotals)
    topics: dict[str, int] = defaultdict(int)
    for b, category, wrapup, contained, was_queued, queue, n, answers, points in (await s.execute(query)).all():
        n, answers = int(n), int(answers)
        for t in (totals, by_day[slicer.local(int(b)).date()]):
            t.total += n
            t.to_agent += n if was_queued else 0
            t.self_service_only += 0 if was_queued else n
            t.contained += n if contained and not was_queued else 0
        topic = wrapup or category
        if topic:
            topics[topic] += n
        if answers:
            for f in slicer.slices(int(b), queue, category):
                f.surveys += answers
                f.survey_points += int(points or 0)
    ranked = sorted(topics.items(), key=lambda item: (-item[1], item[0]))
    return totals, dict(sorted(by_day.items())), ranked


async def _self_service(s: Any, period: Period) -> SelfService:
    st = IvrStep
    queued = Call.queue.is_not(None)

    def steps(*columns: Any) -> Any:
        """The menu steps of the inbound calls opened in the period."""
        return (select(*columns).select_from(Call)
                .join(st, st.call_id == Call.id)
                .where(_in(Call.started_at, period), Call.direction == Direction.INBOUND))

    result = SelfService()
    operations = (steps(st.node, Call.self_service_done, func.count(func.distinct(st.call_id)))
                  .where(st.kind == "operation", st.detail != "identify")
                  .group_by(st.node, Call.self_service_done))
    for node, contained, n in (await s.execute(operations)).all():
        op = result.operations.setdefault(node, Operation())
        op.calls += int(n)
        op.contained += int(n) if contained else 0
    result.operations = dict(sorted(result.operations.items(), key=lambda item: (-item[1].calls, item[0])))
    checked = and_(st.kind == "operation", st.detail.in_(("verify", "change_pin")))
    others = (steps(st.kind, st.node, st.detail, st.outcome, Call.self_service_done, queued, func.count())
              .where(or_(checked, st.kind == "end"))
              .group_by(st.kind, st.node, st.detail, st.outcome, Call.self_service_done, queued))
    exits: dict[tuple[str, str], int] = defaultdict(int)
    for kind, node, detail, outcome, contained, was_queued, n in (await s.execute(others)).all():
        if kind == "operation":
            result.verification[detail, outcome] = result.verification.get((detail, outcome), 0) + int(n)
        elif not contained and not was_queued:
            exits[node, detail or "-"] += int(n)
    result.verification = dict(sorted(result.verification.items()))
    result.exits = dict(sorted(exits.items(), key=lambda item: (-item[1], item[0])))
    return result


def _staffing(config: AcdConfig, period: Period, slicer: _Slicer, arrivals: dict[tuple[int, str], int],
              logins: Iterable[tuple[float, float]], target: float) -> list[StaffingSlot]:
    logged: dict[int, float] = defaultdict(float)  # half hour -> agent-seconds logged in
    for began, ended in logins:
        slot = int(began // HALF_HOUR_S)
        while slot * HALF_HOUR_S < ended:
            overlap = min(ended, (slot + 1) * HALF_HOUR_S) - max(began, slot * HALF_HOUR_S)
            if overlap > 0:
                logged[slot] += overlap
            slot += 1
    slots = []
    for (bucket, queue), count in sorted(arrivals.items()):
        figures = slicer.by_queue.get(queue)
        handle = figures.avg_handle_s if figures is not None and figures.talks else config.default_handle_s
        threshold = config.queues[queue].service_level_s if queue in config.queues else 20.0
        needed = erlang.agents_needed(count / HALF_HOUR_S, handle, threshold, target)
        slots.append(StaffingSlot(start=slicer.local(bucket), queue=queue, arrivals=count, avg_handle_s=handle,
                                  needed=needed, logged_in=logged.get(bucket, 0.0) / HALF_HOUR_S))
    return slots
