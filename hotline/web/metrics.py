"""GET /metrics: the Prometheus scrape. The latency histograms and error counts live in hotline/metrics.py;
the figures of the moment are read here, at scrape time, from the parts that hold them.

Protected by `security.metrics_token` (then only "Authorization: Bearer <token>"); without a token,
only a scraper on the same host (loopback) is answered.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import Counter

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import func, select

from acd.states import AgentState
from hotline.metrics import REGISTRY, count_errors
from hotline.telephony import asterisk, twilio
from hotline.web.access import public
from hotline.web.keys import ACD, DB, IVR, SETTINGS
from recordings.models import IngestJob
from recordings.states import JobStatus

CALLS_IN_PROGRESS = Gauge("hotline_calls_in_progress", "Calls a bridge is carrying now", ["transport"],
                          registry=REGISTRY)
IVR_SESSIONS = Gauge("hotline_ivr_sessions", "Callers in the voice menus now", registry=REGISTRY)
CALLERS_WAITING = Gauge("hotline_queue_callers_waiting", "Callers waiting for an agent", ["queue"],
                        registry=REGISTRY)
LONGEST_WAIT = Gauge("hotline_queue_longest_wait_seconds", "How long the first caller in line has waited",
                     ["queue"], registry=REGISTRY)
AGENTS = Gauge("hotline_agents", "Agents by state", ["state"], registry=REGISTRY)
AMI_CONNECTED = Gauge("hotline_ami_connected", "1 while logged in to the Asterisk Manager Interface",
                      registry=REGISTRY)
AMI_CONNECTIONS = Gauge("hotline_ami_connections", "AMI logins since start (more than 1: reconnections)",
                        registry=REGISTRY)
DB_POOL_IN_USE = Gauge("hotline_db_connections_in_use", "Database connections checked out of the pool",
                       registry=REGISTRY)
INGEST_BACKLOG = Gauge("hotline_recording_ingest_jobs", "Recording ingest jobs by status", ["status"],
                       registry=REGISTRY)


def _allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].security.metrics_token.get_secret_value()
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def _read_the_moment(app: web.Application) -> None:
    twilio_bridge, asterisk_bridge = app.get(twilio.BRIDGE), app.get(asterisk.BRIDGE)
    CALLS_IN_PROGRESS.labels("twilio").set(len(twilio_bridge.calls) if twilio_bridge is not None else 0)
    CALLS_IN_PROGRESS.labels("asterisk").set(asterisk_bridge.live_calls if asterisk_bridge is not None else 0)
    if IVR in app:
        IVR_SESSIONS.set(app[IVR].active_calls)
    if ACD in app:
        snapshot = app[ACD].snapshot()
        for queue in snapshot.queues:
            CALLERS_WAITING.labels(queue.name).set(queue.waiting)
            LONGEST_WAIT.labels(queue.name).set(queue.longest_wait_s)
        by_state = Counter(agent.state for agent in snapshot.agents)
        for state in AgentState:
            AGENTS.labels(state.value).set(by_state[state])
    ami = asterisk_bridge.ami if asterisk_bridge is not None else None
    AMI_CONNECTED.set(1 if ami is not None and ami.logged_in.is_set() else 0)
    AMI_CONNECTIONS.set(ami.connections if ami is not None else 0)
    checked_out = getattr(app[DB].engine.pool, "checkedout", None)
    DB_POOL_IN_USE.set(checked_out() if callable(checked_out) else 0)
    async with app[DB].session() as s:
        counts = dict((await s.execute(select(IngestJob.status, func.count()).group_by(IngestJob.status))).all())
    for status in JobStatus:
        INGEST_BACKLOG.labels(status.value).set(counts.get(status.value, 0))


@public("operations scrape: a bearer token (security.metrics_token) or, without one, loopback only")
async def metrics(request: web.Request) -> web.Response:
    if not _allowed(request):
        raise web.HTTPForbidden(text="metrics: a valid bearer token (or a scrape from this host) is required")
    await _read_the_moment(request.app)
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    count_errors()
    app.router.add_get("/metrics", metrics)
