"""A scripted turn source standing in for IvrService in protocol-level tests (the real IvrService
drives the menu-tree tests), and an ACD double that records what the bridge tells it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from acd.ports import Offer, QueueStatus, WaitingCall
from calls.models import Call
from hotline.db import Database
from ivr.actions import BridgeAction, Gather, Hangup, Play, Prompt, SetAttribute, Transfer
from ivr.events import CallStarted, Digits, Timeout


def prompt(name: str) -> Prompt:
    return Prompt(id=name, language="en-US", text=name, audio=(f"hotline/en-US/{name}",))


MENU = Gather(prompts=(prompt("main_menu"),), max_digits=1, timeout_s=5.0, finish_on_key="")
PIN = Gather(prompts=(prompt("enter_pin"),), max_digits=7, timeout_s=5.0, finish_on_key="#", secure=True)
CARD = Gather(prompts=(prompt("enter_card"), prompt("then_hash")), max_digits=20, timeout_s=5.0)


@dataclass(frozen=True)
class Turn:
    call_id: str
    actions: list[BridgeAction]


class Prompts:
    def render(self, prompt_id: str, language: str, **params: object) -> Prompt:
        return prompt(prompt_id)


@dataclass
class ScriptedIvr:
    """Menu: 1 → card number then PIN (secure), 2 → goodbye, 9 → agent, # → 'back' (menu again)."""

    started: list[CallStarted] = field(default_factory=list)
    events: list[tuple[str, Digits | Timeout]] = field(default_factory=list)
    hangups: list[tuple[str, str]] = field(default_factory=list)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    prompts: Prompts = field(default_factory=Prompts)
    _state: dict[str, str] = field(default_factory=dict)
    db: Database | None = None  # when given, the call gets its row (as the real IVR opens it) for the bridge's facts

    async def start_call(self, channel: str, external_id: str, event: CallStarted) -> Turn:
        self.started.append(event)
        call_id = f"call-{external_id}"
        if self.db is not None:
            async with self.db.session() as s:
                s.add(Call(id=call_id, channel=channel, external_id=external_id, caller_number=event.caller_number))
        self._state[call_id] = "menu"
        return Turn(call_id, [SetAttribute("language", "en-US"), Play((prompt("welcome"),)), MENU])

    async def handle(self, call_id: str, event: Digits | Timeout) -> list[BridgeAction]:
        self.events.append((call_id, event))
        state = self._state[call_id]
        keys = event.digits if isinstance(event, Digits) else ""
        if state == "menu":
            if keys == "1":
                self._state[call_id] = "card"
                return [CARD]
            if keys == "2":
                return [Hangup("completed", (prompt("goodbye"),))]
            if keys == "9":
                return [Transfer("general", "other", prompts=(prompt("transfer_hold"),))]
            return [Play((prompt("invalid_choice"),)), MENU]
        if state == "card":
            self._state[call_id] = "pin"
            return [PIN]
        return [Play((prompt("balance"),)), Hangup("completed", (prompt("goodbye"),))]

    async def hangup(self, call_id: str, reason: str) -> None:
        self.hangups.append((call_id, reason))
        self.hung_up.set()

    def language(self, call_id: str) -> str:
        return "en-US"


@dataclass
class RecordingAcd:
    """Records every call the bridge makes; `connector` is what the bridge registered."""

    calls: list[tuple] = field(default_factory=list)
    connector: object = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    status: QueueStatus = QueueStatus(position=2, estimated_wait_s=120)
    endpoints: dict[str, int] = field(default_factory=dict)

    def _record(self, *entry: object) -> None:
        self.calls.append(entry)
        self.changed.set()

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    async def wait_for(self, name: str) -> tuple:
        while True:
            for entry in self.calls:
                if entry[0] == name:
                    return entry
            self.changed.clear()
            await self.changed.wait()

    def register_connector(self, name: str, connector: object) -> None:
        self.connector = connector

    async def enqueue(self, call: WaitingCall) -> QueueStatus:
        self._record("enqueue", call)
        return self.status

    def queue_status(self, call_id: str) -> QueueStatus | None:
        return self.status

    async def offer_answered(self, call_id: str, agent_id: int) -> None:
        self._record("offer_answered", call_id, agent_id)

    async def offer_failed(self, call_id: str, agent_id: int, reason: str) -> None:
        self._record("offer_failed", call_id, agent_id, reason)

    async def call_ended(self, call_id: str, reason: str) -> None:
        self._record("call_ended", call_id, reason)

    async def request_callback(self, call_id: str, number: str) -> int:
        self._record("request_callback", call_id, number)
        return 1

    def agent_by_endpoint(self, endpoint: str) -> int | None:
        return self.endpoints.get(endpoint)

    async def set_reachable(self, agent_id: int, reachable: bool) -> None:
        self._record("set_reachable", agent_id, reachable)


def offer(call_id: str, agent_id: int = 7, endpoint: str = "PJSIP/agent1") -> Offer:
    return Offer(call_id=call_id, agent_id=agent_id, endpoint=endpoint, ring_timeout_s=20, queue="general")
