"""A database error in the middle of a gather: the caller hears an apology and the same question,
the IVR session stays where it was, Twilio's retry of that request gets what the turn would have
given; when the writes keep failing the call is told goodbye and closed, never left in-progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from calls.models import Call, IvrStep
from hotline.twilio_walker import HANGUP, GatherInfo, TwilioCaller, Webhook
from tests.ivr.test_turn_failures import FailingCommits
from tests.twilio.harness import Env

ZH = "1"



def text(env: Env, prompt_id: str) -> str:
    return env.ivr.prompts.render(prompt_id, "zh-CN").text


def fail_commits(env: Env, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    writer = env.ivr.record._batch
    monkeypatch.setattr(writer, "_commit", FailingCommits(writer, times))


async def call_row(env: Env, sid: str) -> Call:
    async with env.db.session() as s:
        return (await s.scalars(select(Call).where(Call.external_id == sid))).one()


class Script:
    """Keys per gather; `at` runs a check (with the caller) before a gather's keys are given."""

    def __init__(self, keys: list[str], at: dict[int, Callable[[TwilioCaller], Any]]) -> None:
        self.keys, self.at, self.count = list(keys), at, 0
        self.caller: TwilioCaller | None = None

    async def __call__(self, gather: GatherInfo) -> str | None:
        assert self.caller is not None
        self.count += 1
        if self.count in self.at:
            await self.at[self.count](self.caller)
        return self.keys.pop(0) if self.keys else HANGUP


async def test_twilio_retry_of_a_failed_gather_gets_the_prompt_of_the_turn(real: Env, monkeypatch) -> None:
    seen: dict[str, Any] = {}

    async def before_main_menu_key(caller: TwilioCaller) -> None:
        call_id = real.bridge.calls.by_sid(caller.sid).call_id
        seen["call_id"], seen["step"] = call_id, real.ivr.session(call_id).step
        fail_commits(real, monkeypatch, times=1)

    async def after_the_failure(caller: TwilioCaller) -> None:
        failed: Webhook = caller.webhooks[-1]
        seen["failed"] = failed.body
        seen["step_after_failure"] = real.ivr.session(seen["call_id"]).step
        seen["retry"] = await caller.fetch(failed.url, failed.params)  # Twilio sends the same request again
        seen["again"] = await caller.fetch(failed.url, failed.params)  # and once more: now it is cached

    keys = Script([ZH, "1", HANGUP], at={2: before_main_menu_key, 3: after_the_failure})
    caller = real.twilio.caller(keys)
    keys.caller = caller
    await caller.run()

    assert text(real, "service_error") in seen["failed"] and text(real, "main_menu") in seen["failed"]
    assert text(real, "enter_card") not in seen["failed"]
    assert seen["step_after_failure"] == seen["step"]  # the session did not move on
    assert text(real, "enter_card") in seen["retry"] and text(real, "service_error") not in seen["retry"]
    assert seen["again"] == seen["retry"]
    async with real.db.session() as s:
        keyed = (await s.scalars(select(IvrStep.detail).where(IvrStep.call_id == seen["call_id"],
                                                              IvrStep.kind == "key", IvrStep.node == "main"))).all()
    assert keyed == ["1"]  # the key is in the path once


async def test_a_call_whose_writes_keep_failing_is_closed_with_the_reason(real: Env, monkeypatch) -> None:
    async def break_the_database(caller: TwilioCaller) -> None:
        fail_commits(real, monkeypatch, times=1000)

    keys = Script([ZH, "1", "1"], at={2: break_the_database})
    caller = real.twilio.caller(keys)
    caller.status_path = None  # no status callback: closing the call must not wait for Twilio's
    keys.caller = caller
    await caller.run()

    said = caller.said()
    assert said.count(text(real, "service_error")) == 2
    assert said[-1] == text(real, "goodbye")
    call = await call_row(real, caller.sid)
    assert (call.status, call.end_reason) == ("completed", "hangup:service_error")
    assert call.ended_at is not None
    assert real.bridge.calls.by_sid(caller.sid).failed_turns == 2
