"""JSON API. Every list is paginated the same way: ?page=1&per_page=50 (max 200)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from calls.models import Call
from hotline.web.access import requires
from hotline.web.i18n import iso
from hotline.web.keys import DB

MAX_PER_PAGE = 200
# The databases take OFFSET as a signed 64-bit integer: (page - 1) * per_page must fit in one.
MAX_PAGE = (2**63 - 1) // MAX_PER_PAGE


def page_args(request: web.Request) -> tuple[int, int]:
    """?page=&per_page= as whole numbers in range; a 400 naming the rule otherwise."""
    try:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "50"))
    except ValueError:  # also digit strings too long for int() to read
        raise web.HTTPBadRequest(text="page and per_page must be whole numbers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise web.HTTPBadRequest(text=f"page must be between 1 and {MAX_PAGE}, per_page between 1 and {MAX_PER_PAGE}")
    return page, per_page


def call_summary(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "channel": call.channel,
        "direction": call.direction,
        "caller_number": call.caller_number,
        "dialled_number": call.dialled_number,
        "customer_id": call.customer_id,
        "verified": call.verified,
        "language": call.language,
        "status": call.status,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration_s": call.duration_s,
        "end_reason": call.end_reason,
        "business_category": call.business_category,
        "queue": call.queue,
        "agent_id": call.agent_id,
        "self_service_done": call.self_service_done,
    }


async def recent_calls(db: Any, page: int, per_page: int) -> dict[str, Any]:
    async with db.session() as s:
        total = await s.scalar(select(func.count()).select_from(Call))
        rows = await s.scalars(
            select(Call).order_by(Call.started_at.desc(), Call.id).offset((page - 1) * per_page).limit(per_page)
        )
        items = [call_summary(c) for c in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@requires("supervisor", "admin")
async def list_calls(request: web.Request) -> web.Response:
    page, per_page = page_args(request)
    return web.json_response(await recent_calls(request.app[DB], page, per_page))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/calls", list_calls)
