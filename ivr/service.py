"""The IVR as the bridges see it: calls in, bridge actions out, the caller's path stored.

Runs the engine, carries out its `RunOperation`s against the BankingBackend (feeding the outcome
back until the engine waits for the caller again), and reports the call and its path to the call
record (calls.record) after every turn. Sessions live in memory, one per call; events for one call
are handled one at a time.

A turn is applied only when its writes commit: when they fail, the session is put back as it was
before the event and TurnFailed is raised, so the bridge can answer the same event again (a
Twilio retry, the caller keying it once more) and get what the turn would have given. Operations
the failed turn already carried out are not run twice: their results are kept and replayed when
the same event asks for the same operation again.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acd.config import FALLBACK_CATEGORY, AcdConfig, load_for
from calls.record import CallRecord
from hotline.db import Database, utcnow
from hotline.settings import Settings
from ivr.actions import Action, BridgeAction, Gather, Hangup, RunOperation, Transfer
from ivr.banking.ports import BankingBackend
from ivr.banking.sql import SqlBankingBackend
from ivr.engine import BRIDGE_PROMPTS, ENGINE_PROMPTS, Engine
from ivr.events import CallStarted, Digits, Event, HungUp, OperationResult, Timeout
from ivr.menus import Routing, load_menus
from ivr.prompts import PromptBook, load_prompts
from ivr.session import Session

log = logging.getLogger(__name__)

IVR = "ivr"  # who closes a call in the record when it ends in the menus

_FINAL = (Gather, Transfer, Hangup)


def routing_of(config: AcdConfig) -> Routing:
    """Categories and queues from the ACD's queue file, the one place they are configured."""
    return Routing(categories=dict(config.categories), queues=frozenset(config.queues),
                   fallback=FALLBACK_CATEGORY)


class UnknownCall(LookupError):
    """No IVR session for this call id: never started here, or already over."""


class TurnFailed(Exception):
    """The turn's writes did not commit: nothing of it was applied, the session is as it was."""


@dataclass(frozen=True)
class _DoneOperation:
    """An operation a failed turn carried out: its effect is committed, its result is kept."""

    name: str
    params: dict[str, Any]
    result: OperationResult


@dataclass(frozen=True)
class Turn:
    call_id: str
    actions: list[BridgeAction]


class IvrService:
    def __init__(self, settings: Settings, db: Database, *, backend: BankingBackend | None = None,
                 is_open: Callable[[str, datetime], bool] | None = None,
                 clock: Callable[[], datetime] = utcnow, routing: Routing | None = None,
                 record: CallRecord | None = None) -> None:
        prompts_path = settings.config_path(settings.ivr.prompts)
        self.prompts: PromptBook = load_prompts(prompts_path)
        routing = routing or routing_of(load_for(settings))
        self.menus = load_menus(settings.config_path(settings.ivr.menus), self.prompts, routing,
                                ENGINE_PROMPTS | BRIDGE_PROMPTS)
        self.settings = settings
        self.db = db
        self.backend: BankingBackend = backend or SqlBankingBackend(db, settings, clock=clock)
        self.engine = Engine(self.menus, self.prompts, settings.ivr, routing, is_open=is_open, clock=clock)
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._stored: dict[str, int] = {}  # path steps already written, per call
        self._done: dict[str, list[_DoneOperation]] = {}  # operations of the last failed turn, per call
        self.record = record or CallRecord(db, clock=clock)

    # --- the API the bridges call -----------------------------------------------------------------

    async def start_call(self, channel: str, external_id: str, event: CallStarted) -> Turn:
        """Open the call and run its first turn. CallAlreadyOpened: `external_id` is taken (nothing
        done); TurnFailed: the first turn could not be stored (the call is closed as "service_error")."""
        call_id = await self.record.open_inbound(
            channel, external_id, caller=event.caller_number, dialled=event.dialled_number,
            language=event.language or self.settings.ivr.default_language)
        session = self.engine.new_session(call_id)
        log.info("call started", extra={"call_id": call_id, "channel": channel})
        self._sessions[call_id] = session
        self._locks[call_id] = asyncio.Lock()
        self._stored[call_id] = 0
        try:
            async with self._locks[call_id]:
                actions = await self._turn(session, event)
        except TurnFailed:
            # the bridge never learns this call id, so nobody would ever hang it up
            self._forget(call_id)
            await self._close_unserved(call_id, "service_error")
            raise
        except BaseException:
            self._forget(call_id)
            raise
        return Turn(call_id, actions)

    async def handle(self, call_id: str, event: Digits | Timeout) -> list[BridgeAction]:
        session = self._session(call_id)
        async with self._locks[call_id]:
            if call_id not in self._sessions:  # hung up while we waited for the lock
                raise UnknownCall(call_id)
            return await self._turn(session, event)

    async def hangup(self, call_id: str, reason: str) -> None:
        """The caller is gone. Nothing half-done remains: every operation is one transaction and
        a flow stores nothing before its last step. Safe to call twice or after a transfer."""
        lock = self._locks.get(call_id)
        if lock is None:
            if not await self.record.exists(call_id):
                raise UnknownCall(call_id)
            return
        async with lock:
            session = self._sessions.pop(call_id, None)
            if session is None:
                return
            log.info("call ended", extra={"call_id": call_id, "reason": reason})
            try:
                self.engine.step(session, HungUp(reason))
                await self._store(session, final=True)
            finally:
                self._forget(call_id)

    @property
    def active_calls(self) -> int:
        """Callers in the menus now (sessions the IVR holds)."""
        return len(self._sessions)

    def language(self, call_id: str) -> str:
        return self._session(call_id).language

    def session(self, call_id: str) -> Session:
        """The live session (for the agent's screen pop and tests)."""
        return self._session(call_id)

    def question(self, call_id: str) -> Gather | None:
        """The question the caller is being asked (to ask it again after a failed turn)."""
        return self._session(call_id).repeat

    # --- internals ---------------------------------------------------------------------------------

    def _forget(self, call_id: str) -> None:
        self._sessions.pop(call_id, None)
        self._locks.pop(call_id, None)
        self._stored.pop(call_id, None)
        self._done.pop(call_id, None)

    def _session(self, call_id: str) -> Session:
        try:
            return self._sessions[call_id]
        except KeyError:
            raise UnknownCall(call_id) from None

    async def _close_unserved(self, call_id: str, reason: str) -> None:
        """Close a call whose first turn failed; if the database still refuses, the start-up sweep will."""
        try:
            await self.record.closed(call_id, reason, by=IVR)
        except Exception:  # noqa: BLE001 - the turn's failure is what the bridge reports
            log.exception("call %s: could not close the call after its first turn failed", call_id)

    async def _turn(self, session: Session, event: Event) -> list[BridgeAction]:
        before = copy.deepcopy(session)
        replay = self._done.pop(session.call_id, [])
        done: list[_DoneOperation] = []
        try:
            out = await self._run_turn(session, event, replay, done)
            # after a Transfer or Hangup the session stays until the bridge reports the hang-up, so
            # `language()` still answers for queue announcements and the survey
            await self._store(session, final=False)
        except Exception as exc:
            _restore(session, before)
            if done:
                self._done[session.call_id] = done
            log.exception("IVR turn for call %s not applied", session.call_id)
            raise TurnFailed(session.call_id) from exc
        return out

    async def _run_turn(self, session: Session, event: Event, replay: list[_DoneOperation],
                        done: list[_DoneOperation]) -> list[BridgeAction]:
        out: list[BridgeAction] = []
        pending: list[Action] = self.engine.step(session, event)
        while pending:
            action = pending.pop(0)
            if isinstance(action, RunOperation):
                result = await self._operate_once(session, action, replay)
                done.append(_DoneOperation(action.operation, action.params, copy.deepcopy(result)))
                pending = self.engine.step(session, result) + pending
                continue
            out.append(action)
        if not out or not isinstance(out[-1], _FINAL):
            raise RuntimeError(f"IVR turn for call {session.call_id} did not end in Gather/Transfer/Hangup")
        return out

    async def _operate_once(self, session: Session, action: RunOperation,
                            replay: list[_DoneOperation]) -> OperationResult:
        """The result a failed attempt of this turn already got for the same operation, else a new run."""
        if replay and replay[0].name == action.operation and replay[0].params == action.params:
            return replay.pop(0).result
        replay.clear()  # the turn went another way: nothing further of the old attempt applies
        return await self._operate(session, action)

    async def _operate(self, session: Session, action: RunOperation) -> OperationResult:
        name, params = action.operation, action.params
        try:
            data = await self._call_backend(session, name, params)
        except Exception:  # noqa: BLE001 - any backend failure becomes the caller's "sorry" prompt
            # params hold PINs and card numbers: log the operation name only
            log.exception("IVR operation %s failed for call %s", name, session.call_id)
            return OperationResult(name, "error")
        outcome = data.pop("outcome", "ok")
        return OperationResult(name, outcome, data)

    async def _call_backend(self, session: Session, name: str, params: dict[str, Any]) -> dict[str, Any]:
        b, call_id = self.backend, session.call_id
        if name == "identify":
            return {"customer": await b.identify(params["caller_number"])}
        if name == "verify":
            return _fields(await b.verify(params["number"], params["pin"], call_id=call_id))
        if name == "accounts":
            return {"accounts": await b.accounts(params["customer_id"])}
        if name == "billers":
            return {"billers": await b.billers(params["customer_id"])}
        if name == "report_loss":
            return _fields(await b.report_loss(params["customer_id"], params["last4"], call_id=call_id))
        if name == "change_pin":
            return _fields(await b.change_pin(params["card_id"], params["old_pin"], params["new_pin"],
                                              call_id=call_id))
        if name == "transfer":
            return _fields(await b.transfer(params["customer_id"], params["from_account_id"],
                                            params["to_account_id"], params["amount_fen"],
                                            params["idempotency_key"], call_id=call_id))
        if name == "pay_bill":
            return _fields(await b.pay_bill(params["customer_id"], params["biller_id"], params["from_account_id"],
                                            params["amount_fen"], params["idempotency_key"], call_id=call_id))
        raise ValueError(f"unknown IVR operation {name!r}")

    async def _store(self, session: Session, *, final: bool) -> None:
        """Write the new path steps and what the IVR learnt about the call; close a call that ends here."""
        call_id = session.call_id
        first = self._stored[call_id]
        steps = session.path
        learnt: dict[str, Any] = {
            "customer_id": session.customer.id if session.customer else None,
            "verified": session.identity_verified,
            "language": session.language,
            "business_category": session.category if session.transferred else session.business,
            "self_service_done": session.contained,
        }
        if session.transferred:
            learnt["queue"] = session.queue
        now = self._clock()
        rows = [{"call_id": call_id, "seq": first + offset + 1, "at": now, "node": step.node[:64],
                 "kind": step.kind, "detail": step.detail[:200], "outcome": step.outcome[:64]}
                for offset, step in enumerate(steps)]
        if final and not session.transferred:
            # a self-service call ends in the IVR; a transferred one ends with its agent or in the queue
            await self.record.ivr_ended(call_id, rows, learnt, session.end_reason, by=IVR)
        else:
            await self.record.ivr_turn(call_id, rows, learnt)
        self._stored[call_id] = first + len(steps)
        steps.clear()


def _restore(session: Session, snapshot: Session) -> None:
    """Put the session back as it was, in place: the bridges and the screen pop hold this object."""
    for f in dataclasses.fields(Session):
        setattr(session, f.name, getattr(snapshot, f.name))


def _fields(result: Any) -> dict[str, Any]:
    """A backend result dataclass as OperationResult data (outcome included, popped by the caller)."""
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}

