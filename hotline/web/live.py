"""/ws/live: the ACD's live changes pushed to desktops and the supervisor view.

One hub per app listens to the Acd. Agents get the events that concern them and their own state;
supervisors get every event and a fresh snapshot of every agent and queue. Snapshots are coalesced: however many
events arrive, each connection gets at most one snapshot per `SNAPSHOT_INTERVAL_S`, always well
within the one second the desktops promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from acd.views import AcdEvent, AcdSnapshot, AgentView, QueueView, WaitingView
from hotline.db import Database
from hotline.web.access import requires
from hotline.web.keys import ACD, DB, SETTINGS
from hotline.web.middleware import current_user
from hotline.web.sessions import COOKIE, load_session

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL_S = 0.2
SESSION_RECHECK_S = 30.0
CLOSE_LOGGED_OUT = 4401  # application close code: the page goes to the login form instead of reconnecting
SUPERVISING = frozenset({"supervisor", "admin"})
_HANDLED_PER_AGENT = 20
_OUTBOX_LIMIT = 500  # a browser that falls this far behind is disconnected; it reconnects and resyncs


# --- JSON shapes (shared with the desktop and supervision APIs) --------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def agent_json(view: AgentView) -> dict[str, Any]:
    return {"agent_id": view.agent_id, "name": view.name, "state": view.state, "reason": view.reason,
            "since": _iso(view.since), "reachable": view.reachable, "call_id": view.call_id, "queue": view.queue,
            "missed_in_row": view.missed_in_row, "calls_today": view.calls_today, "pending": view.pending}


def _waiting_json(view: WaitingView) -> dict[str, Any]:
    return {"call_id": view.call_id, "category": view.category, "kind": view.kind, "state": view.state,
            "priority": view.priority, "enqueued_at": _iso(view.enqueued_at), "waited_s": round(view.waited_s, 1),
            "agent_id": view.agent_id}


def queue_json(view: QueueView) -> dict[str, Any]:
    return {"name": view.name, "open": view.open, "waiting": view.waiting, "callbacks": view.callbacks,
            "longest_wait_s": round(view.longest_wait_s, 1), "available_agents": view.available_agents,
            "staffed_agents": view.staffed_agents, "calls": [_waiting_json(c) for c in view.calls]}


def snapshot_json(snapshot: AcdSnapshot) -> dict[str, Any]:
    return {"at": _iso(snapshot.at), "agents": [agent_json(a) for a in snapshot.agents],
            "queues": [queue_json(q) for q in snapshot.queues]}


def event_json(event: AcdEvent) -> dict[str, Any]:
    return {"kind": event.kind, "at": _iso(event.at), "agent_id": event.agent_id, "call_id": event.call_id,
            "queue": event.queue, "state": event.state, "reason": event.reason, "detail": event.detail}


def own_view(snapshot: AcdSnapshot, agent_id: int) -> AgentView | None:
    return next((a for a in snapshot.agents if a.agent_id == agent_id), None)


# --- the hub ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Viewer:
    agent_id: int | None  # None: a supervisor, who sees everything
    ws: web.WebSocketResponse | None = None
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(_OUTBOX_LIMIT))
    last_self: dict[str, Any] | None = None

    def push(self, message: dict[str, Any]) -> bool:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True


class LiveHub:
    """Fans the Acd's events out to websocket viewers."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._supervisors: set[_Viewer] = set()
        self._agents: dict[int, set[_Viewer]] = {}  # an agent may have the desktop open twice
        self._touched: set[int] = set()  # agents with events since the last publish
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Any = None
        # the calls each agent was offered lately: the routing log is written behind, so a wrap-up
        # sent a moment after the call may not find its facts in the database yet
        self._handled: dict[int, deque[tuple[str, str]]] = {}

    def handled(self, agent_id: int, call_id: str, kinds: tuple[str, ...] = ("offered", "answered")) -> bool:
        """The ACD lately offered this call to the agent (or, with kinds=("answered",), they took it)."""
        self.start()
        seen = self._handled.get(agent_id, ())
        return any((kind, call_id) in seen for kind in kinds)

    def start(self) -> None:
        if self._task is None:
            self._unlisten = self._app[ACD].add_listener(self._on_event)
            self._task = asyncio.get_running_loop().create_task(self._snapshots(), name="live-snapshots")

    async def stop(self) -> None:
        """On shutdown: close every websocket, or the server would wait for them to end by themselves."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        viewers = [*self._supervisors, *(v for group in self._agents.values() for v in group)]
        self._supervisors, self._agents = set(), {}
        for viewer in viewers:
            if viewer.ws is not None:
                await viewer.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def join(self, agent_id: int | None, ws: web.WebSocketResponse | None = None) -> _Viewer:
        self.start()
        viewer = _Viewer(agent_id, ws)
        viewer.push(self._first_message(viewer))
        if agent_id is None:
            self._supervisors.add(viewer)
        else:
            self._agents.setdefault(agent_id, set()).add(viewer)
        return viewer

    def leave(self, viewer: _Viewer) -> None:
        if viewer.agent_id is None:
            self._supervisors.discard(viewer)
            return
        group = self._agents.get(viewer.agent_id)
        if group is not None:
            group.discard(viewer)
            if not group:
                del self._agents[viewer.agent_id]

    def _first_message(self, viewer: _Viewer) -> dict[str, Any]:
        snapshot = self._app[ACD].snapshot()
        if viewer.agent_id is None:
            return {"type": "snapshot", "snapshot": snapshot_json(snapshot)}
        mine = own_view(snapshot, viewer.agent_id)
        viewer.last_self = agent_json(mine) if mine else None
        return {"type": "self", "agent": viewer.last_self}

    def _on_event(self, event: AcdEvent) -> None:
        # runs inside the Acd's decision step: only queue work here, never block or raise
        agent_id = event.agent_id
        if agent_id is not None and event.kind in ("offered", "answered") and event.call_id is not None:
            self._handled.setdefault(agent_id, deque(maxlen=_HANDLED_PER_AGENT)).append(
                (event.kind, event.call_id))
        readers = list(self._supervisors)
        if agent_id is not None and agent_id in self._agents:
            self._touched.add(agent_id)
            readers.extend(self._agents[agent_id])
        if readers:
            message = {"type": "event", "event": event_json(event)}
            for viewer in readers:
                if not viewer.push(message):
                    self._drop(viewer)
        self._dirty.set()

    def _drop(self, viewer: _Viewer) -> None:
        """A browser this far behind gets nothing more but "reconnect": it then starts from fresh state."""
        log.warning("live viewer fell behind; disconnecting it")
        self.leave(viewer)
        while not viewer.outbox.empty():
            viewer.outbox.get_nowait()
        viewer.outbox.put_nowait({"type": "closing"})

    async def _snapshots(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                self._publish()
            except Exception:  # noqa: BLE001 - the live view must outlive one bad snapshot
                log.exception("live snapshot failed")
            # coalesce bursts: everything that happens meanwhile goes out in the next snapshot
            await asyncio.sleep(SNAPSHOT_INTERVAL_S)

    def _publish(self) -> None:
        touched, self._touched = self._touched, set()
        if not self._supervisors and not touched:
            return
        snapshot = self._app[ACD].snapshot()
        if self._supervisors:
            full = {"type": "snapshot", "snapshot": snapshot_json(snapshot)}
            for viewer in list(self._supervisors):
                if not viewer.push(full):
                    self._drop(viewer)
        views = {view.agent_id: view for view in snapshot.agents} if touched else {}
        for agent_id in touched:
            view = views.get(agent_id)
            current = agent_json(view) if view else None
            for viewer in list(self._agents.get(agent_id, ())):
                if current != viewer.last_self:
                    viewer.last_self = current
                    if not viewer.push({"type": "self", "agent": current}):
                        self._drop(viewer)


HUB = web.AppKey("live_hub", LiveHub)


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin on websocket handshakes; a foreign page must not ride the session cookie.
    Ours is the Host we were asked for, or the public URL when a proxy rewrites Host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {request.host, urlsplit(request.app[SETTINGS].public.url).netloc} - {""}
    return urlsplit(origin).netloc in ours


@requires("agent", "supervisor", "admin")
async def live(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-origin websocket refused")
    if user.role == "agent" and user.agent_id is None:
        raise web.HTTPForbidden(text="this login is not linked to an agent")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[HUB]
    viewer = hub.join(None if user.role in SUPERVISING else user.agent_id, ws)
    loop = asyncio.get_running_loop()
    helpers = [loop.create_task(_send(ws, viewer)),
               loop.create_task(_watch_session(ws, request.app[DB], request.cookies.get(COOKIE, "")))]
    try:
        async for message in ws:  # the browser only listens; reading notices its close
            if message.type == WSMsgType.ERROR:
                break
    finally:
        hub.leave(viewer)
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
    return ws


async def _watch_session(ws: web.WebSocketResponse, db: Database, token: str) -> None:
    """A socket outlives the request that opened it: once its session ends (logout, expiry, user
    disabled) it is closed, with a code that sends the page to the login form."""
    while True:
        await asyncio.sleep(SESSION_RECHECK_S)
        if await load_session(db, token) is None:
            await ws.close(code=CLOSE_LOGGED_OUT, message=b"session ended")
            return


async def _send(ws: web.WebSocketResponse, viewer: _Viewer) -> None:
    while True:
        message = await viewer.outbox.get()
        if message["type"] == "closing":
            await ws.close(message=b"too slow; reconnect")
            return
        await ws.send_json(message)


def setup(app: web.Application) -> None:
    hub = LiveHub(app)
    app[HUB] = hub

    async def _stop(app: web.Application) -> None:
        await hub.stop()

    async def _start(app: web.Application) -> None:
        if ACD in app:
            hub.start()
        else:
            log.warning("no Acd in the app at startup: the live view starts with its first viewer")

    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
    app.router.add_get("/ws/live", live)
