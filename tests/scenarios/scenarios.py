"""The call scenarios: what the caller (and the agents' phones) do, and what the call record must hold
afterwards. Written once, played on every transport by tests/scenarios/transports.py.

The record is compared as a `RecordHolds`, read from the database once per scenario (see
`read_record`), so a failure shows what was expected next to what was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from acd.models import Agent, Callback, RoutingEvent
from bank.models import Account, Biller, Card, Customer, LossReport, Payment
from calls.models import Call, CallEvent, CallLeg, IvrStep, Recording
from calls.replay import fold
from hotline.db import Database, verify_secret
from hotline.demo import DEMO_CARDS
from qa.models import SurveyResponse

CARD = "6222020000000001"  # 李伟's debit card, on his savings account ...0001
PIN = DEMO_CARDS[CARD]
NEW_PIN = "135790"
CUSTOMER = "李伟"
SAVINGS, CURRENT = "0001", "0002"  # the last four digits of 李伟's two accounts
ZH = "1"  # the language menu: Mandarin
SECRETS = (CARD, PIN, NEW_PIN)


class Phone(StrEnum):
    """What an agent's phone does when it rings. An agent who answers talks, then hangs up first."""

    ANSWERS = "answers"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    UNREACHABLE = "unreachable"  # the phone cannot be rung at all (not registered, no route)


class HangUp(StrEnum):
    """When the caller hangs up."""

    WHEN_TOLD = "when-told"  # never: the hotline ends the call (goodbye, or after the agent)
    ON_HOLD = "on-hold"  # while waiting in the queue for an agent
    AT_SURVEY = "at-survey"  # when asked to rate the agent


# --- what the record holds --------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRow:
    channel: str
    caller_number: str
    verified: bool
    customer: str | None  # the customer's name
    status: str
    end_reason: str | None
    ended: bool  # ended_at is set
    queue: str | None
    business_category: str | None
    agent: str | None  # the login name of the agent who talked to the caller ("agent1")
    self_service_done: bool


@dataclass(frozen=True)
class Leg:
    kind: str  # caller | agent
    agent: str | None
    answered: bool
    ended: bool


CALLER = Leg("caller", None, True, True)  # every call: the caller's leg, answered, ended


@dataclass(frozen=True)
class Paid:
    kind: str  # transfer | bill
    amount_fen: int
    from_account: str  # last four digits
    to: str  # the account's last four digits, or the biller's code


@dataclass(frozen=True)
class RecordHolds:
    """Everything a call leaves in the database that the scenarios check, in comparable form."""

    call: CallRow
    path: tuple[tuple[str, str], ...]  # (kind, node) of every ivr_steps row, in order
    secrets_in_path: tuple[str, ...]  # PINs or card numbers found in clear in ivr_steps
    caller_legs: tuple[Leg, ...]
    agent_legs: tuple[Leg, ...]  # one per ring, in order
    routing: tuple[tuple[str, str | None], ...]  # (kind, agent) of the call's routing_events, in order
    surveys: tuple[tuple[str | None, str | None, int], ...]  # (agent, queue, score)
    callbacks: tuple[tuple[str, str, str | None, str | None], ...]  # (status, number, queue, customer) booked
    balance_changes: Mapping[str, int]  # account last4 -> change in fen, accounts that changed only
    card_status: str  # the card the caller used
    pin: str  # "old" | "new": which PIN the card's hash matches
    loss_reports: tuple[str, ...]  # card last4 of the loss reports this call made
    payments: tuple[Paid, ...]  # made by this call
    recordings: tuple[tuple[str | None, str], ...]  # (agent of the leg, status) of each recording
    replayed: Replayed  # what statistics get from the call's facts (call_events) alone


@dataclass(frozen=True)
class Replayed:
    """The call as `calls.replay` folds its facts: it must agree with the rows."""

    queue: str | None
    agent: str | None
    offers: int
    closed: bool
    end_reason: str | None
    survey_score: int | None
    recordings_ready: int


@dataclass(frozen=True)
class Expected:
    """RecordHolds less what only the transport knows (its channel name and how it writes the
    caller's number)."""

    verified: bool
    customer: str | None
    status: str
    end_reason: str
    queue: str | None
    business_category: str | None
    agent: str | None
    self_service_done: bool
    path: tuple[tuple[str, str], ...]
    agent_legs: tuple[Leg, ...]
    routing: tuple[tuple[str, str | None], ...] = ()
    surveys: tuple[tuple[str | None, str | None, int], ...] = ()
    callbacks: tuple[tuple[str, str | None], ...] = ()  # (status, queue): for the caller's number and customer
    balance_changes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    card_status: str = "active"
    pin: str = "old"
    loss_reports: tuple[str, ...] = ()
    payments: tuple[Paid, ...] = ()

    def on(self, channel: str, caller_number: str) -> RecordHolds:
        answered = [leg.agent for leg in self.agent_legs if leg.answered]
        return RecordHolds(
            call=CallRow(channel, caller_number, self.verified, self.customer, self.status, self.end_reason, True,
                         self.queue, self.business_category, self.agent, self.self_service_done),
            path=self.path, secrets_in_path=(), caller_legs=(CALLER,), agent_legs=self.agent_legs,
            routing=self.routing, surveys=self.surveys,
            callbacks=tuple((status, caller_number, queue, self.customer) for status, queue in self.callbacks),
            balance_changes=dict(self.balance_changes), card_status=self.card_status, pin=self.pin,
            loss_reports=self.loss_reports, payments=self.payments,
            recordings=tuple((agent, "ready") for agent in answered),
            replayed=Replayed(self.queue, self.agent, len(self.agent_legs), True, self.end_reason,
                              self.surveys[0][2] if self.surveys else None, len(answered)))


@dataclass(frozen=True)
class Scenario:
    id: str
    keys: tuple[str, ...]  # one entry per menu question, in order ("1", "6222...#")
    expect: Expected
    phones: Mapping[str, Phone] = field(default_factory=lambda: MappingProxyType({}))  # agents logged in
    on_hold: str | None = None  # a key pressed while waiting for an agent ("1": call me back)
    hang_up: HangUp = HangUp.WHEN_TOLD
    survey_key: str | None = None  # the rating given after the agent hung up
    language: str = "zh-CN"


# --- the record, read once ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Balances:
    by_account: Mapping[str, int]


async def balances(db: Database) -> Balances:
    async with db.session() as s:
        rows = (await s.execute(select(Account.last4, Account.balance_fen).join(Customer)
                                .where(Customer.name == CUSTOMER))).all()
    return Balances(MappingProxyType({last4: fen for last4, fen in rows}))


def _login(endpoint: str | None) -> str | None:
    """"client:agent1" / "PJSIP/agent1" -> "agent1": the agent as the scenarios name them."""
    if not endpoint:
        return None
    return endpoint.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


async def read_record(db: Database, channel: str, external_id: str, before: Balances) -> RecordHolds:
    async with db.session() as s:
        call = (await s.execute(select(Call).where(Call.channel == channel, Call.external_id == external_id))
                ).scalar_one()
        agents = {agent_id: _login(endpoint) for agent_id, endpoint in (await s.execute(
            select(Agent.id, Agent.endpoint))).all()}
        customers: dict[int | None, str] = {customer_id: name for customer_id, name in (await s.execute(
            select(Customer.id, Customer.name))).all()}
        steps = (await s.scalars(select(IvrStep).where(IvrStep.call_id == call.id).order_by(IvrStep.seq))).all()
        legs = (await s.scalars(select(CallLeg).where(CallLeg.call_id == call.id).order_by(CallLeg.id))).all()
        routing = (await s.scalars(select(RoutingEvent).where(RoutingEvent.call_id == call.id)
                                   .order_by(RoutingEvent.id))).all()
        surveys = (await s.scalars(select(SurveyResponse).where(SurveyResponse.call_id == call.id)
                                   .order_by(SurveyResponse.id))).all()
        callbacks = (await s.scalars(select(Callback).where(Callback.origin_call_id == call.id)
                                     .order_by(Callback.id))).all()
        card = (await s.execute(select(Card).join(Customer).where(Customer.name == CUSTOMER,
                                                                   Card.last4 == CARD[-4:]))).scalar_one()
        loss = (await s.execute(select(Card.last4).join(LossReport, LossReport.card_id == Card.id)
                                .where(LossReport.call_id == call.id).order_by(LossReport.id))).scalars().all()
        accounts = {account_id: last4 for account_id, last4 in (await s.execute(
            select(Account.id, Account.last4))).all()}
        billers = {biller_id: code for biller_id, code in (await s.execute(select(Biller.id, Biller.code))).all()}
        payments = (await s.scalars(select(Payment).where(Payment.call_id == call.id).order_by(Payment.id))).all()
        recordings = (await s.execute(select(CallLeg.agent_id, Recording.status)
                                      .join(CallLeg, Recording.leg_id == CallLeg.id, isouter=True)
                                      .where(Recording.call_id == call.id).order_by(Recording.id))).all()
        events = (await s.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))).all()
    folded = fold(events)[call.id]
    after = await balances(db)
    pin = "new" if await verify_secret(card.pin_hash, NEW_PIN) else \
        "old" if await verify_secret(card.pin_hash, PIN) else "neither"
    return RecordHolds(
        call=CallRow(call.channel, call.caller_number, call.verified, customers.get(call.customer_id),
                     call.status, call.end_reason, call.ended_at is not None, call.queue, call.business_category,
                     agents.get(call.agent_id) if call.agent_id is not None else None, call.self_service_done),
        path=tuple((step.kind, step.node) for step in steps),
        secrets_in_path=tuple(sorted({secret for step in steps for secret in SECRETS
                                      if secret in f"{step.node} {step.detail} {step.outcome}"})),
        caller_legs=tuple(_leg(leg, agents) for leg in legs if leg.kind != "agent"),
        agent_legs=tuple(_leg(leg, agents) for leg in legs if leg.kind == "agent"),
        routing=tuple((event.kind, agents.get(event.agent_id) if event.agent_id is not None else None)
                      for event in routing),
        surveys=tuple((agents.get(sv.agent_id) if sv.agent_id is not None else None, sv.queue, sv.score)
                      for sv in surveys),
        callbacks=tuple((cb.status, cb.number, cb.queue, customers.get(cb.customer_id)) for cb in callbacks),
        balance_changes={last4: fen - before.by_account[last4] for last4, fen in after.by_account.items()
                         if fen != before.by_account[last4]},
        card_status=card.status, pin=pin, loss_reports=tuple(loss),
        payments=tuple(Paid(p.kind, p.amount_fen, accounts[p.from_account_id],
                            accounts[p.to_account_id] if p.to_account_id is not None
                            else billers.get(p.biller_id, "") if p.biller_id is not None else "")
                       for p in payments),
        recordings=tuple((agents.get(agent_id) if agent_id is not None else None, status)
                         for agent_id, status in recordings),
        replayed=Replayed(folded.queue, agents.get(folded.agent_id) if folded.agent_id is not None else None,
                          folded.offers, folded.closed_at is not None, folded.end_reason, folded.survey_score,
                          folded.recordings_ready))


def _leg(leg: CallLeg, agents: Mapping[int, str | None]) -> Leg:
    return Leg(leg.kind, agents.get(leg.agent_id) if leg.agent_id is not None else None,
               leg.answered_at is not None, leg.ended_at is not None)


def differences(expected: RecordHolds, held: RecordHolds) -> dict[str, str]:
    """Field by field ("calls.queue", "agent_legs", ...): "expected X, stored Y" where they differ."""
    found = {}
    for name in RecordHolds.__dataclass_fields__:
        want, got = getattr(expected, name), getattr(held, name)
        if name == "call":
            found.update({f"calls.{col}": f"expected {getattr(want, col)!r}, stored {getattr(got, col)!r}"
                          for col in CallRow.__dataclass_fields__ if getattr(want, col) != getattr(got, col)})
        elif want != got:
            found[name] = f"\n    expected {want!r}\n    stored   {got!r}"
    return found


# --- the scenarios ------------------------------------------------------------------------------------

VERIFY = (f"{CARD}#", f"{PIN}#")
Path = tuple[tuple[str, str], ...]

# the path every call starts with: the greeting, the language menu, the main menu
_START: Path = (("enter", "start"), ("operation", "start"), ("enter", "language"), ("key", "language"),
                ("enter", "main"), ("key", "main"))
# the business is done: "2" at the "anything else?" menu, goodbye
_DONE: Path = (("enter", "done"), ("key", "done"), ("enter", "goodbye"), ("end", "done"))


def _verified(node: str) -> Path:
    return (("key", f"{node}.verify_number"), ("key", f"{node}.verify_pin"), ("operation", node))


def _keys(node: str, *steps: str) -> Path:
    return tuple(("key", f"{node}.{step}") for step in steps)


def _ivr_only(*, path: Path, category: str, **effects: Any) -> Expected:
    """A call the self-service alone served: verified, the business done, goodbye."""
    return Expected(verified=True, customer=CUSTOMER, status="completed", end_reason="completed", queue=None,
                    business_category=category, agent=None, self_service_done=True, path=path, agent_legs=(),
                    **effects)


def _to_agent(*, queue: str, category: str, agent: str | None, end_reason: str,
              path: Path = (*_START, ("transfer", "main"), ("end", "main")), agent_legs: tuple[Leg, ...] = (),
              **rest: Any) -> Expected:
    """A caller who asked for an agent without giving a card: not verified (the customer is known by
    the calling number), nothing done alone, the path ends where the caller left the menus."""
    return Expected(verified=False, customer=CUSTOMER, status="completed", end_reason=end_reason, queue=queue,
                    business_category=category, agent=agent, self_service_done=False, path=path,
                    agent_legs=agent_legs, **rest)


def _talked(agent: str) -> tuple[tuple[str, str | None], ...]:
    """Routing events of an agent answering, talking, hanging up and going into wrap-up."""
    return (("offered", agent), ("answered", agent), ("ended", agent), ("wrap_up", agent))


def _rang_out(agent: str) -> Leg:
    return Leg("agent", agent, False, True)


def _answered(agent: str) -> Leg:
    return Leg("agent", agent, True, True)


AGENT2_ANSWERS = MappingProxyType({"agent2": Phone.ANSWERS})

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("balance", (ZH, "1", *VERIFY, "2"), _ivr_only(
        category="balance",
        path=(*_START, ("enter", "balance"), *_verified("balance"), ("operation", "balance"), *_DONE))),
    Scenario("card_loss", (ZH, "2", "1", *VERIFY, f"{CARD[-4:]}#", "2"), _ivr_only(
        category="card_loss", card_status="lost", loss_reports=(CARD[-4:],),
        path=(*_START, ("enter", "cards"), ("key", "cards"), ("enter", "card_loss"), *_verified("card_loss"),
              *_keys("card_loss", "loss_last4"), ("operation", "card_loss"), *_DONE))),
    Scenario("pin_change", (ZH, "2", "2", *VERIFY, f"{PIN}#", f"{NEW_PIN}#", f"{NEW_PIN}#", "2"), _ivr_only(
        category="pin", pin="new",
        path=(*_START, ("enter", "cards"), ("key", "cards"), ("enter", "pin_change"), *_verified("pin_change"),
              *_keys("pin_change", "pin_old", "pin_new", "pin_again"), ("operation", "pin_change"), *_DONE))),
    Scenario("transfer", (ZH, "3", *VERIFY, "1", "100*5#", "1", "2"), _ivr_only(
        category="transfer", balance_changes=MappingProxyType({SAVINGS: -100_50, CURRENT: 100_50}),
        payments=(Paid("transfer", 100_50, SAVINGS, CURRENT),),
        path=(*_START, ("enter", "transfer"), *_verified("transfer"), ("operation", "transfer"),
              *_keys("transfer", "pay_from", "pay_amount", "pay_confirm"), ("operation", "transfer"), *_DONE))),
    Scenario("bill", (ZH, "4", *VERIFY, "1", "1", "88*8#", "1", "2"), _ivr_only(
        category="bill", balance_changes=MappingProxyType({SAVINGS: -88_80}),
        payments=(Paid("bill", 88_80, SAVINGS, "electricity"),),
        path=(*_START, ("enter", "bill"), *_verified("bill"), ("operation", "bill"), *_keys("bill", "bill_choose"),
              ("operation", "bill"), *_keys("bill", "pay_from", "pay_amount", "pay_confirm"), ("operation", "bill"),
              *_DONE))),
    # "5" at the main menu: a complaint, for the complaints queue, which asks for no rating; agent2
    # (the one agent with the skill) answers, talks and hangs up, and so the call ends
    Scenario("agent_answers", (ZH, "5"), phones=AGENT2_ANSWERS, expect=_to_agent(
        queue="complaints", category="complaint", agent="agent2", end_reason="completed",
        path=(*_START, ("enter", "complaint"), ("transfer", "main"), ("end", "main")),
        agent_legs=(_answered("agent2"),), routing=(("enqueued", None), *_talked("agent2")))),
    # "0": an agent for the main menu's business, in the general queue, which asks for a rating
    # afterwards; agent1's phone rings out, agent2 answers; the caller hangs up instead of rating
    Scenario("next_agent_answers", (ZH, "0"), hang_up=HangUp.AT_SURVEY,
             phones=MappingProxyType({"agent1": Phone.NO_ANSWER, "agent2": Phone.ANSWERS}), expect=_to_agent(
                 queue="general", category="other", agent="agent2", end_reason="completed",
                 agent_legs=(_rang_out("agent1"), _answered("agent2")),
                 routing=(("enqueued", None), ("offered", "agent1"), ("missed", "agent1"), *_talked("agent2")))),
    Scenario("busy_agent_then_next", (ZH, "0"), hang_up=HangUp.AT_SURVEY,
             phones=MappingProxyType({"agent1": Phone.BUSY, "agent2": Phone.ANSWERS}), expect=_to_agent(
                 queue="general", category="other", agent="agent2", end_reason="completed",
                 agent_legs=(_rang_out("agent1"), _answered("agent2")),
                 routing=(("enqueued", None), ("offered", "agent1"), ("missed", "agent1"), *_talked("agent2")))),
    # agent1's phone cannot be reached: not a miss (no "missed" event; agent1 is set away for
    # "phone_unreachable", tests/asterisk/test_agents_on_asterisk.py), agent2 takes the call
    Scenario("unreachable_agent_then_next", (ZH, "0"), hang_up=HangUp.AT_SURVEY,
             phones=MappingProxyType({"agent1": Phone.UNREACHABLE, "agent2": Phone.ANSWERS}), expect=_to_agent(
                 queue="general", category="other", agent="agent2", end_reason="completed",
                 agent_legs=(_rang_out("agent1"), _answered("agent2")),
                 routing=(("enqueued", None), ("offered", "agent1"), *_talked("agent2")))),
    # nobody is logged in: the caller waits, then hangs up
    Scenario("hang_up_in_queue", (ZH, "0"), hang_up=HangUp.ON_HOLD, expect=_to_agent(
        queue="general", category="other", agent=None, end_reason="caller-hangup",
        routing=(("enqueued", None), ("abandoned", None)))),
    # nobody is logged in: "1" on hold books a callback, which keeps the caller's place
    Scenario("callback_from_queue", (ZH, "0"), on_hold="1", expect=_to_agent(
        queue="general", category="other", agent=None, end_reason="callback",
        routing=(("enqueued", None), ("callback_requested", None)), callbacks=(("pending", "general"),))),
    Scenario("survey_after_agent", (ZH, "0"), survey_key="4", phones=MappingProxyType({"agent1": Phone.ANSWERS}),
             expect=_to_agent(
                 queue="general", category="other", agent="agent1", end_reason="completed",
                 agent_legs=(_answered("agent1"),), routing=(("enqueued", None), *_talked("agent1")),
                 surveys=(("agent1", "general", 4),))),
)
