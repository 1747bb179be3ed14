"""The agent desktop: own state, the incoming call's card, wrap-up, callbacks and campaign previews.

Pages render once; everything after that is the JSON API below plus /ws/live. An agent sees only
calls the ACD gave them (offered, answered, or recorded on the call row)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from acd import campaigns
from acd.models import Callback, CampaignAttempt, CampaignContact, RoutingEvent
from acd.service import Acd
from acd.views import AWAY_REASONS
from bank.models import Customer
from calls.exceptions import NoSuchCall
from calls.models import Call, IvrStep
from hotline.db import Database
from hotline.web.access import requires
from hotline.web.bodies import read_json
from hotline.web.i18n import Language, iso, translate
from hotline.web.keys import ACD, DB, RECORD
from hotline.web.live import HUB, agent_json, own_view
from hotline.web.middleware import current_user
from hotline.web.render import api_t, render, request_language

# Reasons an agent may pick by hand; missed_calls and preview are set by the ACD itself.
AGENT_AWAY_REASONS = tuple(r for r in AWAY_REASONS if r not in ("missed_calls", "preview"))
PREVIOUS_CALLS = 5
NOTES_MAX = 4000
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns: PostgreSQL refuses a larger value outright


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StateChange(_Body):
    state: Literal["available", "away", "logged_out", "ready"]
    reason: str | None = None


class WrapUp(_Body):
    wrapup_code: str = Field(max_length=32)  # a business category of config/acd/queues.yaml
    notes: str = Field("", max_length=NOTES_MAX)
    ready: bool = False  # also end wrap-up now


class ScheduleCallback(_Body):
    number: str = Field(min_length=3, max_length=40, pattern=r"^\+?[0-9][0-9 \-]*$")
    due: datetime
    note: str = Field("", max_length=NOTES_MAX)
    customer_id: int | None = Field(None, ge=1, le=MAX_ID)


class Outcome(_Body):
    outcome: str
    notes: str = Field("", max_length=NOTES_MAX)

    @field_validator("outcome")
    @classmethod
    def _known(cls, outcome: str) -> str:
        if outcome not in campaigns.OUTCOMES:
            raise ValueError(f"choose one of {', '.join(campaigns.OUTCOMES)}")
        return outcome


def check_away_reason(change: StateChange, lang: Language = Language.EN) -> None:
    if change.state == "away" and change.reason not in AGENT_AWAY_REASONS:
        raise unprocessable(translate(lang, "err.away_reason", choices=", ".join(AGENT_AWAY_REASONS)))


def unprocessable(message: str) -> web.HTTPUnprocessableEntity:
    return web.HTTPUnprocessableEntity(text=message)


M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    """A JSON body validated into `model`; a 422 naming the field otherwise."""
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise unprocessable(f"{where}: {first['msg']}") from None


def my_agent_id(request: web.Request) -> int:
    agent_id = current_user(request).agent_id
    if agent_id is None:
        raise web.HTTPForbidden(text=api_t(request, "err.not_agent"))
    return agent_id


def _now(request: web.Request) -> datetime:
    return request.app[ACD].clock.now()


# --- the call card ------------------------------------------------------------------------------------


async def may_see_call(request: web.Request, call_id: str, agent_id: int,
                       kinds: tuple[str, ...] = ("offered", "answered")) -> bool:
    """The ACD offered this call to the agent (kinds=("answered",): the agent took it), lately
    (the hub remembers) or as the database records."""
    if request.app[HUB].handled(agent_id, call_id, kinds):
        return True
    async with request.app[DB].session() as s:
        return bool(await s.scalar(select(
            exists().where(RoutingEvent.call_id == call_id, RoutingEvent.agent_id == agent_id,
                           RoutingEvent.kind.in_(kinds))
            | exists().where(Call.id == call_id, Call.agent_id == agent_id))))


def _step_json(step: IvrStep) -> dict[str, Any]:
    # the moment the caller asked for a person: pressed 0, or the menu handed them over
    to_agent = (step.kind == "key" and step.detail == "0") or step.kind == "transfer"
    return {"seq": step.seq, "at": iso(step.at), "node": step.node, "kind": step.kind,
            "detail": step.detail, "outcome": step.outcome, "to_agent": to_agent}


async def call_card(db: Database, call_id: str) -> dict[str, Any] | None:
    """Everything the agent needs so the customer explains their problem only once."""
    async with db.session() as s:
        call = await s.scalar(select(Call).options(selectinload(Call.ivr_path)).where(Call.id == call_id))
        if call is None:
            return None
        customer = await s.get(Customer, call.customer_id) if call.customer_id else None
        previous: list[Call] = []
        if call.customer_id or call.caller_number:  # an anonymous caller has no history we can trust
            same_caller = (Call.customer_id == call.customer_id if call.customer_id
                           else Call.caller_number == call.caller_number)
            previous = list(await s.scalars(select(Call).where(same_caller, Call.id != call.id)
                                            .order_by(Call.started_at.desc()).limit(PREVIOUS_CALLS)))
    return {
        "call_id": call.id, "channel": call.channel, "direction": call.direction,
        "number": call.caller_number if call.direction == "inbound" else call.dialled_number,
        "verified": call.verified, "language": call.language, "queue": call.queue,
        "business_category": call.business_category, "started_at": iso(call.started_at),
        "wrapup_code": call.wrapup_code, "notes": call.notes or "",
        "customer": None if customer is None else {
            "id": customer.id, "name": customer.name, "name_en": customer.name_en, "segment": customer.segment,
            "title": customer.title, "language": customer.language},
        "ivr_path": [_step_json(step) for step in call.ivr_path],
        "previous_calls": [{"call_id": p.id, "started_at": iso(p.started_at), "channel": p.channel,
                            "status": p.status, "business_category": p.business_category,
                            "wrapup_code": p.wrapup_code, "notes": p.notes or ""} for p in previous],
        # There is no ticket table yet; the card keeps the slot so the desktop shows "no open tickets".
        "open_tickets": [],
    }


# --- pages and API --------------------------------------------------------------------------------------


@requires("agent")
async def agent_page(request: web.Request) -> web.Response:
    return render("agent.html", request, {"categories": list(request.app[ACD].config.categories), "away_reasons": AGENT_AWAY_REASONS,
                                          "outcomes": campaigns.OUTCOMES})


@requires("agent")
async def desktop_state(request: web.Request) -> web.Response:
    agent_id = my_agent_id(request)
    mine = own_view(request.app[ACD].snapshot(), agent_id)
    card = await call_card(request.app[DB], mine.call_id) if mine and mine.call_id else None
    return web.json_response({"agent": agent_json(mine) if mine else None, "call": card,
                              "callbacks": await _callbacks_of(request.app[DB], agent_id)})


async def apply_state(acd: Acd, agent_id: int, change: StateChange, by: str, lang: Language = Language.EN) -> None:
    """An agent's own change or a supervisor's forced one (what the ACD refuses maps to a status in
    hotline.web.errors)."""
    check_away_reason(change, lang)
    if change.state == "ready":
        await acd.ready(agent_id)
    else:
        await acd.set_state(agent_id, change.state, change.reason, by=by)


@requires("agent")
async def change_state(request: web.Request) -> web.Response:
    agent_id = my_agent_id(request)
    change = await read_body(request, StateChange)
    acd = request.app[ACD]
    await apply_state(acd, agent_id, change, by=f"user:{current_user(request).username}",
                      lang=request_language(request, Language.EN))
    mine = own_view(acd.snapshot(), agent_id)
    return web.json_response({"agent": agent_json(mine) if mine else None})


@requires("agent")
async def show_call(request: web.Request) -> web.Response:
    agent_id, call_id = my_agent_id(request), request.match_info["call_id"]
    if not await may_see_call(request, call_id, agent_id):
        raise web.HTTPNotFound(text=f"no call {call_id} of yours")
    card = await call_card(request.app[DB], call_id)
    if card is None:
        raise web.HTTPNotFound(text=f"call {call_id} has no record yet")
    return web.json_response(card)


@requires("agent")
async def save_wrapup(request: web.Request) -> web.Response:
    agent_id, call_id = my_agent_id(request), request.match_info["call_id"]
    wrap = await read_body(request, WrapUp)
    categories = request.app[ACD].config.categories
    if wrap.wrapup_code not in categories:
        raise unprocessable(api_t(request, "err.wrapup_code", choices=", ".join(categories)))
    # an agent who was only offered the call may read its card but not write its wrap-up
    if not await may_see_call(request, call_id, agent_id, kinds=("answered",)):
        raise web.HTTPNotFound(text=f"no call {call_id} answered by you")
    try:
        await request.app[RECORD].wrapped_up(call_id, agent_id, wrap.wrapup_code, wrap.notes)
    except NoSuchCall:
        raise web.HTTPNotFound(text=f"call {call_id} has no record yet") from None
    if wrap.ready:
        await request.app[ACD].ready(agent_id)
    return web.json_response({"call_id": call_id, "wrapup_code": wrap.wrapup_code, "notes": wrap.notes})


# --- "I will call you back" ------------------------------------------------------------------------------


async def _callbacks_of(db: Database, agent_id: int) -> list[dict[str, Any]]:
    async with db.session() as s:
        rows = await s.scalars(select(Callback).where(Callback.agent_id == agent_id,
                                                      Callback.status.in_(("pending", "dialing")))
                               .order_by(Callback.due_at, Callback.id))
        return [callback_json(row) for row in rows]


def callback_json(row: Callback) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "status": row.status, "number": row.number, "note": row.note,
            "queue": row.queue, "customer_id": row.customer_id, "agent_id": row.agent_id,
            "due_at": iso(row.due_at), "attempts": row.attempts, "next_attempt_at": iso(row.next_attempt_at),
            "enqueued_at": iso(row.enqueued_at)}


@requires("agent")
async def list_callbacks(request: web.Request) -> web.Response:
    return web.json_response({"items": await _callbacks_of(request.app[DB], my_agent_id(request))})


@requires("agent")
async def schedule_callback(request: web.Request) -> web.Response:
    agent_id = my_agent_id(request)
    body = await read_body(request, ScheduleCallback)
    acd = request.app[ACD]
    due = body.due if body.due.tzinfo else body.due.replace(tzinfo=acd.config.zone)  # the centre's local time
    try:
        due = due.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-12:00 is in the year 10000 in UTC
        raise unprocessable(api_t(request, "err.due_range")) from None
    if due <= _now(request):
        raise unprocessable(api_t(request, "err.due_future"))
    if body.customer_id is not None:
        async with request.app[DB].session() as s:
            if await s.get(Customer, body.customer_id) is None:
                raise unprocessable(api_t(request, "err.no_customer", id=body.customer_id))
    callback_id = await acd.schedule_callback(agent_id, body.customer_id, re.sub(r"[ \-]", "", body.number),
                                              due, body.note)
    return web.json_response({"id": callback_id, "due_at": iso(due)}, status=201)


# --- preview campaign calls -------------------------------------------------------------------------------


def preview_json(preview: campaigns.Preview) -> dict[str, Any]:
    return {"contact_id": preview.contact_id, "campaign_id": preview.campaign_id, "campaign": preview.campaign,
            "department": preview.department, "reason": preview.reason, "script": preview.script,
            "customer_id": preview.customer_id, "customer_name": preview.customer_name, "number": preview.number,
            "attempt_no": preview.attempt_no,
            "previous": [{"attempt_no": n, "outcome": o, "notes": t} for n, o, t in preview.previous]}


@requires("agent")
async def next_preview(request: web.Request) -> web.Response:
    """Claims the next campaign customer for this agent (the same one again until dialled or skipped)."""
    acd = request.app[ACD]
    now = _now(request)
    preview = await campaigns.next_preview_call(request.app[DB], acd.config, my_agent_id(request), now)
    if preview is None:
        open_now = acd.config.campaigns.hours.is_open(now.astimezone(acd.config.zone))
        why = api_t(request, "err.no_preview" if open_now else "err.preview_hours")
        return web.json_response({"preview": None, "message": why})
    return web.json_response({"preview": preview_json(preview)})


async def _held_preview(request: web.Request, agent_id: int) -> int:
    """The contact in the URL, if this agent holds its preview (checked without claiming anything)."""
    contact_id = int(request.match_info["contact_id"])
    async with request.app[DB].session() as s:
        held = await s.scalar(select(exists().where(CampaignContact.id == contact_id,
                                                    CampaignContact.agent_id == agent_id,
                                                    CampaignContact.status == "previewing")))
    if not held:
        raise web.HTTPConflict(text=f"campaign customer {contact_id} is not in your preview")
    return contact_id


@requires("agent")
async def dial_preview(request: web.Request) -> web.Response:
    agent_id = my_agent_id(request)
    contact_id = await _held_preview(request, agent_id)
    call_id = await request.app[ACD].dial_campaign(agent_id, contact_id)
    return web.json_response({"call_id": call_id, "contact_id": contact_id})


@requires("agent")
async def skip_preview(request: web.Request) -> web.Response:
    agent_id = my_agent_id(request)
    contact_id = await _held_preview(request, agent_id)
    await campaigns.release_preview(request.app[DB], contact_id, agent_id)
    return web.json_response({"contact_id": contact_id, "released": True})


@requires("agent")
async def preview_outcome(request: web.Request) -> web.Response:
    agent_id = my_agent_id(request)
    contact_id = int(request.match_info["contact_id"])
    body = await read_body(request, Outcome)
    if not await _dialled_by(request.app[DB], contact_id, agent_id):
        raise web.HTTPNotFound(text=f"you have not dialled campaign customer {contact_id}")
    try:
        status = await campaigns.record_outcome(request.app[DB], contact_id, body.outcome, body.notes,
                                                now=_now(request))
    except campaigns.CampaignError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    return web.json_response({"contact_id": contact_id, "status": status})


async def _dialled_by(db: Database, contact_id: int, agent_id: int) -> bool:
    async with db.session() as s:
        return bool(await s.scalar(select(exists().where(CampaignAttempt.contact_id == contact_id,
                                                         CampaignAttempt.agent_id == agent_id))))


def setup(app: web.Application) -> None:
    app.router.add_get("/agent", agent_page)
    app.router.add_get("/api/desktop", desktop_state)
    app.router.add_post("/api/desktop/state", change_state)
    app.router.add_get(r"/api/desktop/calls/{call_id:[A-Za-z0-9_.:\-]{1,64}}", show_call)
    app.router.add_post(r"/api/desktop/calls/{call_id:[A-Za-z0-9_.:\-]{1,64}}/wrapup", save_wrapup)
    app.router.add_get("/api/desktop/callbacks", list_callbacks)
    app.router.add_post("/api/desktop/callbacks", schedule_callback)
    app.router.add_get("/api/desktop/preview", next_preview)
    app.router.add_post(r"/api/desktop/preview/{contact_id:\d{1,9}}/dial", dial_preview)
    app.router.add_post(r"/api/desktop/preview/{contact_id:\d{1,9}}/skip", skip_preview)
    app.router.add_post(r"/api/desktop/preview/{contact_id:\d{1,9}}/outcome", preview_outcome)
