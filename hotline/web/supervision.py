"""The supervisor's view: every agent and queue live, forcing an agent's state (audited), the callback
list, and outbound campaigns (create, approve or reject, summaries)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy import func, or_, select

from acd import campaigns, endpoints
from acd.models import Agent, Callback, Campaign
from audit.models import AuditLog
from bank.models import Customer
from hotline.db import Database
from hotline.web.access import requires
from hotline.web.api import page_args, recent_calls
from hotline.web.bodies import read_form, read_json
from hotline.web.desktop import (
    AGENT_AWAY_REASONS,
    StateChange,
    apply_state,
    callback_json,
    read_body,
    unprocessable,
)
from hotline.web.i18n import Language, iso
from hotline.web.keys import ACD, DB
from hotline.web.live import agent_json, own_view, snapshot_json
from hotline.web.middleware import current_user
from hotline.web.render import render, request_language, t

SUPERVISORS = ("supervisor", "admin")
CALLBACK_STATUSES = ("pending", "dialing", "done", "failed", "cancelled")
MAX_CAMPAIGN_CUSTOMERS = 5000
FIELD_LIMITS = {"name": 100, "department": 64, "reason": 200}  # the campaigns table's column sizes


async def agent_phones(db: Database) -> list[dict[str, Any]]:
    """Every active agent's phone per transport, and the endpoints that cannot be dialled (never offered)."""
    async with db.session() as s:
        rows = list(await s.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.id)))
    listed: list[dict[str, Any]] = []
    for row in rows:
        phones = endpoints.resolve(row.endpoint, row.endpoints)
        entry: dict[str, Any] = {"agent_id": row.id, "name": row.name,
                                 "problems": [str(problem) for problem in phones.problems]}
        for transport in endpoints.TRANSPORTS:
            entry[str(transport)] = phones.on(transport) or ""
        listed.append(entry)
    return listed


@requires(*SUPERVISORS)
async def supervisor_page(request: web.Request) -> web.Response:
    return render("supervisor.html", request, {
        "calls": await recent_calls(request.app[DB], 1, 20),
        "snapshot": snapshot_json(request.app[ACD].snapshot()),
        "away_reasons": AGENT_AWAY_REASONS,
        "phones": await agent_phones(request.app[DB]),
    })


@requires(*SUPERVISORS)
async def snapshot(request: web.Request) -> web.Response:
    return web.json_response(snapshot_json(request.app[ACD].snapshot()))


@requires(*SUPERVISORS)
async def force_state(request: web.Request) -> web.Response:
    """Set an agent's state for them; always written to the audit log with who, from what, to what."""
    user = current_user(request)
    agent_id = int(request.match_info["agent_id"])
    change = await read_body(request, StateChange)
    acd = request.app[ACD]
    before = own_view(acd.snapshot(), agent_id)
    if before is None:
        raise web.HTTPNotFound(text=f"no agent {agent_id}")
    await apply_state(acd, agent_id, change, by=f"supervisor:{user.username}", lang=request_language(request, Language.EN))
    after = own_view(acd.snapshot(), agent_id) or before
    async with request.app[DB].session() as s:
        s.add(AuditLog(actor=f"user:{user.username}", action="agent_state_forced", target=f"agent:{agent_id}",
                       detail={"from": before.state, "from_reason": before.reason, "to": change.state,
                               "reason": change.reason, "now": after.state, "pending": after.pending}))
    return web.json_response({"agent": agent_json(after)})


# --- callbacks -------------------------------------------------------------------------------------------


async def callback_list(db: Database, status: str | None, page: int, per_page: int) -> dict[str, Any]:
    where = [Callback.status == status] if status else []
    async with db.session() as s:
        total = await s.scalar(select(func.count()).select_from(Callback).where(*where))
        rows = await s.execute(
            select(Callback, Agent.name, Customer.name).outerjoin(Agent, Agent.id == Callback.agent_id)
            .outerjoin(Customer, Customer.id == Callback.customer_id).where(*where)
            .order_by(Callback.id.desc()).offset((page - 1) * per_page).limit(per_page))
        items = [{**callback_json(cb), "agent_name": agent, "customer_name": customer} for cb, agent, customer in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def _status_arg(request: web.Request) -> str | None:
    status = request.query.get("status") or None
    if status is not None and status not in CALLBACK_STATUSES:
        raise web.HTTPBadRequest(text=f"status must be one of {', '.join(CALLBACK_STATUSES)}")
    return status


@requires(*SUPERVISORS)
async def callbacks_api(request: web.Request) -> web.Response:
    page, per_page = page_args(request)
    return web.json_response(await callback_list(request.app[DB], _status_arg(request), page, per_page))


@requires(*SUPERVISORS)
async def callbacks_page(request: web.Request) -> web.Response:
    page, per_page = page_args(request)
    status = _status_arg(request)
    return render("callbacks.html", request, {"callbacks": await callback_list(request.app[DB], status, page, per_page),
                                              "status": status or "", "statuses": CALLBACK_STATUSES})


# --- campaigns -------------------------------------------------------------------------------------------


def summary_json(summary: campaigns.CampaignSummary) -> dict[str, Any]:
    return {"campaign_id": summary.campaign_id, "name": summary.name, "department": summary.department,
            "status": summary.status, "contacts": summary.contacts, "by_status": summary.by_status,
            "by_outcome": summary.by_outcome, "attempts": summary.attempts, "reached": summary.reached,
            "other_channel": summary.other_channel}


async def campaign_list(db: Database) -> list[dict[str, Any]]:
    async with db.session() as s:
        rows = list(await s.scalars(select(Campaign).order_by(Campaign.id.desc())))
    listed = []
    for row in rows:
        listed.append({**summary_json(await campaigns.summary(db, row.id)), "reason": row.reason,
                       "script": row.script, "created_by": row.created_by, "created_at": iso(row.created_at),
                       "decided_by": row.decided_by, "decision_note": row.decision_note})
    return listed


async def _customer_ids(db: Database, text: str) -> list[int]:
    """One customer per line (or comma): the customer number in our records, or their mobile number."""
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    if not tokens:
        raise campaigns.CampaignError("a campaign needs at least one customer")
    if len(tokens) > MAX_CAMPAIGN_CUSTOMERS:
        raise campaigns.CampaignError(f"at most {MAX_CAMPAIGN_CUSTOMERS} customers per campaign")
    ids = [int(t) for t in tokens if t.isdecimal() and len(t) <= 9]  # isdigit() takes "²", int() does not
    numbers = [t for t in tokens if not (t.isdecimal() and len(t) <= 9)]
    bad = [t for t in numbers if not re.fullmatch(r"\+?\d{6,20}", t)]
    if bad:
        raise campaigns.CampaignError(f"not a customer number or phone number: {', '.join(bad[:5])}")
    if numbers:
        async with db.session() as s:
            rows = await s.execute(select(Customer.mobile, Customer.id).where(
                or_(Customer.mobile.in_(numbers), Customer.mobile.in_(["+" + n.lstrip("+") for n in numbers]))))
            found = {mobile: customer_id for mobile, customer_id in rows}
        for number in numbers:
            customer = found.get(number) or found.get("+" + number.lstrip("+"))
            if customer is None:
                raise campaigns.CampaignError(f"no customer has the phone number {number}")
            ids.append(customer)
    return ids


SUMMED = ("contacts", "attempts", "reached", "other_channel")


def department_totals(listed: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Each department's campaigns added up (the summary a department head asks for)."""
    totals: dict[str, dict[str, int]] = {}
    for campaign in listed:
        row = totals.setdefault(campaign["department"], {"campaigns": 0, **dict.fromkeys(SUMMED, 0)})
        row["campaigns"] += 1
        for key in SUMMED:
            row[key] += campaign[key]
    return dict(sorted(totals.items()))


async def _render_campaigns(request: web.Request, error: str = "", notice: str = "", form: Any = None,
                            status: int = 200) -> web.Response:
    listed = await campaign_list(request.app[DB])
    return render("campaigns.html", request, {"campaigns": listed, "departments": department_totals(listed),
                                              "error": error, "notice": notice, "form": form or {}}, status=status)


@requires(*SUPERVISORS)
async def campaigns_page(request: web.Request) -> web.Response:
    return await _render_campaigns(request)


@requires(*SUPERVISORS)
async def create_campaign(request: web.Request) -> web.Response:
    form = await read_form(request)
    fields = {k: str(form.get(k, "")) for k in ("name", "department", "reason", "script", "customers")}
    user = current_user(request)
    db = request.app[DB]
    try:
        for key, limit in FIELD_LIMITS.items():
            if len(fields[key].strip()) > limit:
                raise campaigns.CampaignError(f"the {key} is longer than {limit} characters")
        campaign_id = await campaigns.create(
            db, name=fields["name"], department=fields["department"], reason=fields["reason"],
            script=fields["script"], customer_ids=await _customer_ids(db, fields["customers"]),
            created_by=user.username, retry_gap_s=request.app[ACD].config.campaigns.retry_gap_s,
            now=request.app[ACD].clock.now())
    except campaigns.CampaignError as exc:
        return await _render_campaigns(request, error=t(request, "camp.not_created", error=exc), form=fields, status=422)
    async with db.session() as s:
        s.add(AuditLog(actor=f"user:{user.username}", action="campaign_created", target=f"campaign:{campaign_id}",
                       detail={"name": fields["name"][:100], "department": fields["department"][:64]}))
    return await _render_campaigns(request, notice=t(request, "camp.created", name=fields["name"].strip()))


async def _decide(request: web.Request, decision: str, note: str) -> str:
    """Approve or reject; returns the campaign's name. CampaignError when it is not pending."""
    user = current_user(request)
    campaign_id = int(request.match_info["campaign_id"])
    db = request.app[DB]
    if decision not in ("approve", "reject"):
        raise campaigns.CampaignError("decision must be approve or reject")
    decide = campaigns.approve if decision == "approve" else campaigns.reject
    await decide(db, campaign_id, user.username, note, now=request.app[ACD].clock.now())
    async with db.session() as s:
        s.add(AuditLog(actor=f"user:{user.username}", action=f"campaign_{decision}d", target=f"campaign:{campaign_id}",
                       detail={"note": note[:500]}))
        return await s.scalar(select(Campaign.name).where(Campaign.id == campaign_id)) or str(campaign_id)


@requires(*SUPERVISORS)
async def decide_campaign(request: web.Request) -> web.Response:
    form = await read_form(request)
    decision = str(form.get("decision", ""))
    try:
        name = await _decide(request, decision, str(form.get("note", "")))
    except campaigns.CampaignError as exc:
        return await _render_campaigns(request, error=t(request, "camp.not_decided", error=exc), status=409)
    return await _render_campaigns(request, notice=t(request, f"camp.{decision}d", name=name))


@requires(*SUPERVISORS)
async def campaigns_api(request: web.Request) -> web.Response:
    return web.json_response({"items": await campaign_list(request.app[DB])})


@requires(*SUPERVISORS)
async def campaign_summary_api(request: web.Request) -> web.Response:
    try:
        summary = await campaigns.summary(request.app[DB], int(request.match_info["campaign_id"]))
    except campaigns.CampaignError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return web.json_response(summary_json(summary))


@requires(*SUPERVISORS)
async def department_summary_api(request: web.Request) -> web.Response:
    department = request.match_info["department"]
    rows = await campaigns.department_summary(request.app[DB], department)
    return web.json_response({"department": department, "campaigns": [summary_json(r) for r in rows],
                              "totals": {key: sum(getattr(r, key) for r in rows) for key in SUMMED}})


@requires(*SUPERVISORS)
async def decide_campaign_api(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise unprocessable("the body must be a JSON object")
    decision, note = str(body.get("decision", "")), str(body.get("note", ""))
    try:
        await _decide(request, decision, note)
    except campaigns.CampaignError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    return web.json_response(summary_json(await campaigns.summary(request.app[DB],
                                                                  int(request.match_info["campaign_id"]))))


def setup(app: web.Application) -> None:
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/api/supervision/snapshot", snapshot)
    app.router.add_post(r"/api/supervision/agents/{agent_id:\d{1,9}}/state", force_state)
    app.router.add_get("/supervisor/callbacks", callbacks_page)
    app.router.add_get("/api/supervision/callbacks", callbacks_api)
    app.router.add_get("/supervisor/campaigns", campaigns_page)
    app.router.add_post("/supervisor/campaigns", create_campaign)
    app.router.add_post(r"/supervisor/campaigns/{campaign_id:\d{1,9}}/decision", decide_campaign)
    app.router.add_get("/api/campaigns", campaigns_api)
    app.router.add_get(r"/api/campaigns/{campaign_id:\d{1,9}}", campaign_summary_api)
    app.router.add_post(r"/api/campaigns/{campaign_id:\d{1,9}}/decision", decide_campaign_api)
    app.router.add_get(r"/api/campaigns/departments/{department}", department_summary_api)
