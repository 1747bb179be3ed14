"""Scripted IVR and ACD with the exact APIs of ivr.service.IvrService and acd.service.Acd, for
protocol-level tests of the bridge (what the bridge sends and when), independent of menu content
and routing policy. Full-stack tests use the real services (test_full_stack.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace

from acd.ports import Connector, Offer, QueueStatus, WaitingCall
from calls.record import CallRecord
from hotline.db import Database
from hotline.settings import Settings
from ivr.actions import Gather, Hangup, Play, Transfer
from ivr.events import CallStarted, Digits, Timeout
from ivr.prompts import load_prompts


@dataclass(frozen=True)
class Turn:
    call_id: str
    actions: list


class ScriptedIvr:
    """Menu: 1 balance then goodbye, 9 PIN entry (secure), 0 agent; silence asks again."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.db = db
        self.record = CallRecord(db)
        self.prompts = load_prompts(settings.config_path(settings.ivr.prompts))
        self.events: list[tuple[str, object]] = []
        self.hangups: list[tuple[str, str]] = []

    def _menu(self, lead=()) -> Gather:
        return Gather(prompts=(*lead, self.prompts.render("main_menu", "zh-CN")), max_digits=1, finish_on_key="")

    async def start_call(self, channel: str, external_id: str, event: CallStarted) -> Turn:
        call_id = await self.record.open_inbound(channel, external_id, caller=event.caller_number,
                                                 dialled=event.dialled_number, language="zh-CN")
        self.events.append((call_id, event))
        return Turn(call_id, [Play((self.prompts.render("welcome", "zh-CN"),)), self._menu()])

    async def handle(self, call_id: str, event: Digits | Timeout) -> list:
        self.events.append((call_id, event))
        if isinstance(event, Timeout):
            return [self._menu()]
        if event.digits == "1":
            return [Play((self.prompts.render("goodbye", "zh-CN"),)), Hangup("completed")]
        if event.digits == "9":
            return [Gather(prompts=(self.prompts.render("enter_pin", "zh-CN"),), max_digits=7, secure=True)]
        if event.digits == "0":
            return [Transfer(queue="general", category="other", prompts=(self.prompts.render("transfer_hold", "zh-CN"),))]
        if len(event.digits) == 6:
            return [Hangup("completed", (self.prompts.render("goodbye", "zh-CN"),))]
        return [self._menu((self.prompts.render("invalid_choice", "zh-CN"),))]

    async def hangup(self, call_id: str, reason: str) -> None:
        self.hangups.append((call_id, reason))

    def language(self, call_id: str) -> str:
        return "zh-CN"


@dataclass
class ScriptedAcd:
    """FIFO routing over `agents` (id → endpoint): offers to the first available agent not yet tried."""

    agents: dict[int, str]
    survey: bool = True
    ring_timeout_s: float = 20
    connectors: dict[str, Connector] = field(default_factory=dict)
    waiting: list[WaitingCall] = field(default_factory=list)
    busy: set[int] = field(default_factory=set)
    tried: dict[str, set[int]] = field(default_factory=dict)
    log: list[tuple] = field(default_factory=list)
    tasks: set = field(default_factory=set)
    offers: dict[str, WaitingCall] = field(default_factory=dict)

    def register_connector(self, name: str, connector: Connector) -> None:
        self.connectors[name] = connector

    async def enqueue(self, call: WaitingCall) -> QueueStatus:
        self.log.append(("enqueue", call.call_id, call.queue))
        self.waiting.append(call)
        status = self.queue_status(call.call_id)
        await self._route()
        return status

    def queue_status(self, call_id: str) -> QueueStatus | None:
        for index, call in enumerate(self.waiting):
            if call.call_id == call_id:
                return QueueStatus(position=index + 1, estimated_wait_s=90 * (index + 1))
        return None

    def queue_config(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(post_call_survey=self.survey, ring_timeout_s=self.ring_timeout_s)

    async def _route(self) -> None:
        for call in list(self.waiting):
            tried = self.tried.setdefault(call.call_id, set())
            free = [a for a in self.agents if a not in self.busy and a not in tried]
            if not free:
                continue
            agent = free[0]
            self.busy.add(agent)
            tried.add(agent)
            self.waiting.remove(call)
            self.log.append(("offer", call.call_id, agent))
            self.offers[call.call_id] = call
            self._spawn(call, agent, self.connectors[call.connector].offer(
                Offer(call.call_id, agent, self.agents[agent], self.ring_timeout_s, call.queue)))

    def _spawn(self, call: WaitingCall, agent: int, request) -> None:
        """Like the real ACD: a bridge request runs as a task; its failure puts the caller back."""

        async def run() -> None:
            try:
                await request
            except Exception as exc:  # noqa: BLE001
                self.log.append(("offer_error", call.call_id, agent, type(exc).__name__))
                self.busy.discard(agent)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def offer_answered(self, call_id: str, agent_id: int) -> None:
        self.log.append(("answered", call_id, agent_id))

    async def offer_failed(self, call_id: str, agent_id: int, reason: str) -> None:
        self.log.append(("failed", call_id, agent_id, reason))
        self.busy.discard(agent_id)
        call = self.offers.pop(call_id, None)
        if call is not None:  # an inbound caller goes back to the head of the queue
            self.waiting.insert(0, call)
            await self._route()

    async def call_ended(self, call_id: str, reason: str) -> None:
        self.log.append(("ended", call_id, reason))
        self.waiting = [c for c in self.waiting if c.call_id != call_id]

    async def request_callback(self, call_id: str, number: str) -> int:
        self.log.append(("callback", call_id, number))
        self.waiting = [c for c in self.waiting if c.call_id != call_id]
        return 1
