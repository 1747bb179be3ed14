"""The post-call survey's steps and its store, without any telephony."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from acd.models import Agent
from calls.models import Call
from calls.record import CallRecord
from qa import survey
from qa.models import SurveyResponse
from qa.survey import SurveyStep, SurveyTurn


@pytest.mark.parametrize(("post_call_survey", "agent_answered", "asked"), [
    (True, True, True),
    (True, False, False),
    (False, True, False),
    (False, False, False),
])
def test_only_a_caller_who_talked_to_an_agent_on_a_surveying_queue_is_asked(post_call_survey, agent_answered, asked):
    assert survey.should_ask(post_call_survey, agent_answered) is asked


def test_the_first_question_has_no_lead():
    assert survey.first_question() == SurveyTurn(SurveyStep.ASK, ())


@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5"])
def test_a_score_from_1_to_5_is_thanked_and_kept(key):
    assert survey.answer(key, asked=1) == SurveyTurn(SurveyStep.THANK, ("survey_thanks",), int(key))


def test_a_score_on_the_last_try_still_counts():
    assert survey.answer("5", asked=survey.SURVEY_TRIES) == SurveyTurn(SurveyStep.THANK, ("survey_thanks",), 5)


@pytest.mark.parametrize("keys", ["0", "6", "9", "*", "#", "12"])
def test_a_wrong_key_is_asked_again_with_the_invalid_choice_lead(keys):
    assert survey.answer(keys, asked=1) == SurveyTurn(SurveyStep.ASK, ("invalid_choice",))


def test_silence_is_asked_again_without_a_lead():
    assert survey.answer("", asked=1) == SurveyTurn(SurveyStep.ASK, ())


@pytest.mark.parametrize("keys", ["", "7"])
def test_after_two_questions_without_a_score_the_caller_hears_goodbye(keys):
    assert survey.SURVEY_TRIES == 2
    assert survey.answer(keys, asked=2) == SurveyTurn(SurveyStep.GOODBYE, ("goodbye",))


def test_a_whole_conversation_never_asks_more_than_twice():
    step, asked = survey.first_question(), 0
    while step.step is SurveyStep.ASK:
        asked += 1
        step = survey.answer("8", asked)
    assert (asked, step.step, step.score) == (2, SurveyStep.GOODBYE, None)


async def _call_and_agent(db) -> tuple[str, int]:
    async with db.session() as s:
        agent = Agent(name="Wang Fang", endpoint="PJSIP/agent1")
        s.add_all([agent, Call(id="call-1", channel="asterisk", external_id="1.1")])
        await s.flush()
        return "call-1", agent.id


async def test_a_rating_is_stored_once_per_call(db):
    call_id, agent_id = await _call_and_agent(db)
    assert await survey.store_survey(CallRecord(db), db, call_id, agent_id, "general", 4) is True
    assert await survey.store_survey(CallRecord(db), db, call_id, agent_id, "general", 2) is False
    async with db.session() as s:
        rows = (await s.scalars(select(SurveyResponse))).all()
    assert [(r.call_id, r.agent_id, r.queue, r.score) for r in rows] == [(call_id, agent_id, "general", 4)]


@pytest.mark.parametrize("score", [0, 6])
async def test_a_score_outside_1_to_5_is_refused(db, score):
    call_id, agent_id = await _call_and_agent(db)
    with pytest.raises(ValueError, match="not 1-5"):
        await survey.store_survey(CallRecord(db), db, call_id, agent_id, "general", score)
