"""The post-call survey, whatever carries the call: after an agent's leg ends, the caller is asked
for a 1-5 rating with one key. Bridges play the steps; this module only decides them and stores
the answer.

    should_ask(post_call_survey, agent_answered) → first_question()
    answer(keys, asked) → ASK again ("invalid choice" lead when a wrong key was pressed, at most
                          SURVEY_TRIES questions in all) | THANK (and store the score) | GOODBYE
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import IntegrityError

from calls.record import CallRecord
from hotline.db import Database
from qa.models import SurveyResponse

log = logging.getLogger(__name__)

SURVEY_TRIES = 2  # questions asked at most, the first included
SCORES = ("1", "2", "3", "4", "5")
# prompt ids from config/ivr/prompts.yaml
QUESTION = "survey_question"
THANKS = "survey_thanks"
INVALID_CHOICE = "invalid_choice"
GOODBYE = "goodbye"


class SurveyStep(StrEnum):
    ASK = "ask"  # say `prompts`, then ask QUESTION and wait for one key
    THANK = "thank"  # store `score`, say `prompts`, hang up
    GOODBYE = "goodbye"  # say `prompts`, hang up, store nothing


@dataclass(frozen=True, slots=True)
class SurveyTurn:
    step: SurveyStep
    prompts: tuple[str, ...]  # prompt ids said first: the lead of a question, or the farewell
    score: int | None = None


def should_ask(post_call_survey: bool, agent_answered: bool) -> bool:
    """A caller rates an agent they talked to, on a queue that asks for ratings."""
    return post_call_survey and agent_answered


def first_question() -> SurveyTurn:
    return SurveyTurn(SurveyStep.ASK, ())


def answer(keys: str, asked: int) -> SurveyTurn:
    """The step after the caller's key (`""` for silence), `asked` questions having been put so far."""
    if keys in SCORES:
        return SurveyTurn(SurveyStep.THANK, (THANKS,), int(keys))
    if asked < SURVEY_TRIES:
        return SurveyTurn(SurveyStep.ASK, (INVALID_CHOICE,) if keys else ())
    return SurveyTurn(SurveyStep.GOODBYE, (GOODBYE,))


async def store_survey(record: CallRecord, db: Database, call_id: str, agent_id: int | None, queue: str | None,
                       score: int) -> bool:
    """Report the rating to the call record and keep it for QA, once per call; False when already stored."""
    if not await record.survey_answered(call_id, agent_id, queue, score):
        log.info("call %s: survey already stored", call_id)
        return False
    try:
        async with db.session() as s:
            s.add(SurveyResponse(call_id=call_id, agent_id=agent_id, queue=queue, score=score))
    except IntegrityError:
        log.info("call %s: survey already stored", call_id)
        return False
    return True
