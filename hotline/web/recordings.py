"""Recordings in the app: the ingest worker living with it, the call record's hook that queues each
recording once it is ready, playback by HTTP byte range (every play and download audited), and the
pages: search, one recording's call, and the admins' list of quarantined ingests.

Who may listen: qa, supervisor and admin; an agent only to the recordings of their own calls, and
only when recordings.agents_hear_own_calls is on. Times are stored in UTC and shown in the centre's
zone (the ACD's, Asia/Shanghai by default); the JSON API gives them with their offset (+08:00)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from acd.models import Agent
from audit.models import AuditLog
from bank.models import Customer
from calls.models import Call, CallEvent, CallLeg, IvrStep, Recording
from hotline.db import aware
from hotline.settings import RecordingsSettings
from hotline.web.access import requires
from hotline.web.api import page_args
from hotline.web.bodies import read_form
from hotline.web.i18n import local_text
from hotline.web.keys import DB, RECORD, SETTINGS
from hotline.web.middleware import current_user
from hotline.web.render import centre_zone, render
from hotline.web.sessions import SessionUser
from qa.models import SurveyResponse
from recordings import ingest
from recordings.archive import Archive
from recordings.crypto import KeyRing
from recordings.errors import BadRange, NotArchived, RecordingsError, UnknownRecording
from recordings.ingest import IngestOutcome, IngestWorker
from recordings.models import ArchivedFile, IngestJob
from recordings.peaks import Peaks, compute_peaks
from recordings.sources import RecordingSource
from recordings.spool import AsteriskSpool
from recordings.states import JobStatus, SourceKind
from recordings.storage import store_from_settings

log = logging.getLogger(__name__)

LISTENERS = ("qa", "supervisor", "admin")
PER_PAGE = 20
PLAY_AUDIT_WINDOW_S = 60.0  # one "play" per user and recording in this window: a player asks for many ranges
PEAKS_CACHED = 256
CHANNELS_OF_SOURCE = {"twilio": SourceKind.TWILIO, "softphone": SourceKind.TWILIO, "asterisk": SourceKind.ASTERISK}


@dataclass
class RecordingsRuntime:
    archive: Archive
    worker: IngestWorker
    spool: AsteriskSpool
    sources: Mapping[SourceKind, RecordingSource]
    settings: RecordingsSettings
    # told of every finished ingest attempt (tests wait on it; the worker never waits for them)
    listeners: list[Callable[[IngestOutcome], None]] = field(default_factory=list)
    peaks: dict[int, Peaks] = field(default_factory=dict)
    last_play: dict[tuple[str, int], float] = field(default_factory=dict)


RECORDINGS = web.AppKey("recordings", RecordingsRuntime)


# --- wiring ---------------------------------------------------------------------------------------


def setup(app: web.Application, sources: Mapping[SourceKind, RecordingSource]) -> None:
    """The archive, its worker (a cleanup context: call this right after the database's, so the worker
    stops before the database closes), the call record's hook, and the routes."""
    settings, db = app[SETTINGS], app[DB]
    store, ring = store_from_settings(settings), KeyRing.from_settings(settings)
    rec = settings.recordings
    spool = sources.get(SourceKind.ASTERISK)
    runtime = RecordingsRuntime(
        archive=Archive(db, rec, store, ring),
        worker=IngestWorker(db, rec, store, ring, sources, workdir=rec.dir.parent / f"{rec.dir.name}-ingest"),
        spool=spool if isinstance(spool, AsteriskSpool) else AsteriskSpool(rec.spool_dir),
        sources=sources, settings=rec)

    async def tell(outcome: IngestOutcome) -> None:
        for listener in list(runtime.listeners):
            listener(outcome)

    runtime.worker.on_outcome = tell
    app[RECORDINGS] = runtime
    app[RECORD].on_recording_ready.append(lambda s, call, recording: queue_ready(runtime, s, call, recording))
    app.cleanup_ctx.append(_run_worker)
    app.router.add_get("/recordings", search_page)
    app.router.add_get("/api/recordings", search_api)
    app.router.add_get("/recordings/admin", admin_page)
    app.router.add_get(r"/recordings/{recording_id:\d{1,9}}", recording_page)
    app.router.add_get(r"/api/recordings/{recording_id:\d{1,9}}", recording_api)
    app.router.add_get(r"/recordings/{recording_id:\d{1,9}}/audio", audio, allow_head=False)
    app.router.add_get(r"/recordings/{recording_id:\d{1,9}}/peaks", peaks_api)
    app.router.add_post(r"/recordings/{recording_id:\d{1,9}}/requeue", requeue)


async def _run_worker(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RECORDINGS]
    # jobs a dead process left running are queued again before any new one; the worker then idles
    # until a recording is queued (or the poll), and starts at once only if something is due now
    await runtime.worker.recover()
    if await runtime.worker.pending():
        runtime.worker.wake()
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.worker.run(stop, idle_first=True), name="recordings-ingest")
    yield
    stop.set()
    await task
    for source in runtime.sources.values():
        close = getattr(source, "close", None)
        if close is not None:
            await close()


def source_ref(settings: RecordingsSettings, call: Call, recording: Recording) -> tuple[SourceKind, str] | None:
    """What the worker fetches: Twilio's RecordingUrl, or the MixMonitor file's name in our spool
    (Asterisk names it by its own path, `pbx_spool_dir`, which we may see mounted elsewhere)."""
    kind = CHANNELS_OF_SOURCE.get(call.channel)
    url = recording.source_url or ""
    if kind is None or not url:
        return None
    if kind is SourceKind.TWILIO:
        return kind, url
    path = PurePosixPath(url)
    if not path.is_absolute():
        return kind, path.as_posix()
    for root in (PurePosixPath(Path(settings.spool_dir).resolve().as_posix()), PurePosixPath(settings.pbx_spool_dir)):
        if path.is_relative_to(root) and path != root:
            return kind, path.relative_to(root).as_posix()
    return kind, path.as_posix()  # outside both: the spool refuses it, and the job says so in quarantine


async def queue_ready(runtime: RecordingsRuntime, session: AsyncSession, call: Call, recording: Recording) -> None:
    """The call record's hook, in its transaction: "ready" and "to be archived" commit together; the
    worker is woken once that commit is done (woken earlier, it would not see the job)."""
    found = source_ref(runtime.settings, call, recording)
    if found is None:
        log.warning("recordings: recording %d of call %s (%s) has no source to fetch; not archived",
                    recording.id, call.id, call.channel)
        return
    kind, ref = found
    await ingest.enqueue(session, recording.id, kind, ref)
    loop = asyncio.get_running_loop()
    event.listen(session.sync_session, "after_commit", lambda _s: loop.call_soon(runtime.worker.wake), once=True)


# --- who may hear what ----------------------------------------------------------------------------


def _may_search(request: web.Request, user: SessionUser) -> None:
    if user.role == "agent" and not (request.app[SETTINGS].recordings.agents_hear_own_calls and user.agent_id):
        raise web.HTTPForbidden(text="坐席不能查看录音 agents may not use recordings here")


def _agent_of() -> ColumnElement[Any]:
    return func.coalesce(CallLeg.agent_id, Call.agent_id)


async def _visible(request: web.Request, user: SessionUser, recording_id: int) -> None:
    """404 for a recording that does not exist or, for an agent, is not of their own call."""
    _may_search(request, user)
    query = (select(Recording.id).join(Call, Call.id == Recording.call_id)
             .outerjoin(CallLeg, CallLeg.id == Recording.leg_id).where(Recording.id == recording_id))
    if user.role == "agent":
        query = query.where(_agent_of() == user.agent_id)
    async with request.app[DB].session() as s:
        if await s.scalar(query) is None:
            raise web.HTTPNotFound(text=f"录音 {recording_id} 不存在 no recording {recording_id}")


def _recording_id(request: web.Request) -> int:
    return int(request.match_info["recording_id"])


# --- playing ----------------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, inclusive; None for the whole file (no Range, another unit, or
    several ranges, which a server may answer whole). RangeNotSatisfiable for a range that is
    malformed or outside the file."""
    if header is None or not header.strip().lower().startswith("bytes=") or "," in header:
        return None
    match = _RANGE.match(header.strip().lower())
    if match is None or not (match[1] or match[2]):
        raise RangeNotSatisfiable(header)
    if not match[1]:  # the last N bytes
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header)
    return start, min(end, size - 1)


@requires("agent", *LISTENERS)
async def audio(request: web.Request) -> web.StreamResponse:
    """The decrypted audio, whole or one byte range (206), so the browser's player can seek."""
    user, recording_id = current_user(request), _recording_id(request)
    await _visible(request, user, recording_id)
    runtime = request.app[RECORDINGS]
    try:
        info = await runtime.archive.audio_info(recording_id)
    except NotArchived:
        raise web.HTTPNotFound(text=f"录音 {recording_id} 尚未归档 recording {recording_id} is not archived") from None
    try:
        wanted = parse_range(request.headers.get("Range"), info.size)
    except RangeNotSatisfiable:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{info.size}"},
                                                 text=f"bytes 0-{info.size - 1} only") from None
    start, end = wanted or (0, info.size - 1)
    download = request.query.get("download") == "1"
    pieces = runtime.archive.iter_audio(recording_id, start, end)
    try:
        first = await anext(pieces)  # a file that cannot be read or decrypted fails here, before any header goes out
    except (BadRange, StopAsyncIteration):
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{info.size}"}) from None
    except NotArchived:
        raise web.HTTPNotFound(text=f"录音 {recording_id} 尚未归档 recording {recording_id} is not archived") from None
    except RecordingsError as exc:
        log.error("recordings: recording %d cannot be played: %s", recording_id, exc)
        raise web.HTTPServiceUnavailable(text=f"录音文件无法读取 the stored audio cannot be read: {exc}") from None
    await _audit_access(request, user, recording_id, start, end, download)
    headers = {"Content-Type": info.media_type, "Accept-Ranges": "bytes", "Content-Length": str(end - start + 1),
               "Cache-Control": "private, no-store"}
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    if download:
        extension = "mp3" if info.media_type == "audio/mpeg" else "ogg"
        headers["Content-Disposition"] = f'attachment; filename="recording-{recording_id}.{extension}"'
    response = web.StreamResponse(status=206 if wanted is not None else 200, headers=headers)
    await response.prepare(request)
    try:
        await response.write(first)
        async for piece in pieces:
            await response.write(piece)
    except RecordingsError as exc:  # headers are gone: all we can do is cut the response short
        log.error("recordings: recording %d failed while streaming: %s", recording_id, exc)
        return response
    await response.write_eof()
    return response


async def _audit_access(request: web.Request, user: SessionUser, recording_id: int, start: int, end: int,
                        download: bool) -> None:
    """Every download, and every play: a playback begins at byte 0; the ranges a player then asks for
    while it plays and seeks belong to that play and are not written one by one."""
    runtime = request.app[RECORDINGS]
    now = time.monotonic()
    if not download:
        last = runtime.last_play.get((user.username, recording_id))
        if start > 0 or (last is not None and now - last < PLAY_AUDIT_WINDOW_S):
            return
        runtime.last_play[(user.username, recording_id)] = now
        if len(runtime.last_play) > 10_000:
            runtime.last_play = {k: v for k, v in runtime.last_play.items() if now - v < PLAY_AUDIT_WINDOW_S}
    async with request.app[DB].session() as s:
        await runtime.archive.record_access(s, f"user:{user.username}", recording_id,
                                            "download" if download else "play",
                                            {"role": user.role, "range": f"{start}-{end}"})


@requires("agent", *LISTENERS)
async def peaks_api(request: web.Request) -> web.Response:
    """Each channel's loudness over the recording, computed on first view and kept in memory."""
    user, recording_id = current_user(request), _recording_id(request)
    await _visible(request, user, recording_id)
    runtime = request.app[RECORDINGS]
    found = runtime.peaks.get(recording_id)
    if found is None:
        try:
            info = await runtime.archive.audio_info(recording_id)
            found = await compute_peaks(await runtime.archive.read_audio(recording_id), channels=min(info.channels, 2))
        except NotArchived:
            raise web.HTTPNotFound(text=f"recording {recording_id} is not archived") from None
        except RecordingsError as exc:
            raise web.HTTPServiceUnavailable(text=f"the stored audio cannot be read: {exc}") from None
        if len(runtime.peaks) >= PEAKS_CACHED:
            runtime.peaks.pop(next(iter(runtime.peaks)))
        runtime.peaks[recording_id] = found
    labels = ["坐席 agent", "客户 customer"] if len(found.channels) == 2 else ["通话 call"]
    return web.json_response({"bucket_ms": found.bucket_ms, "channels": found.channels, "labels": labels})


# --- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    start: date | None = None
    end: date | None = None
    agent_id: int | None = None
    queue: str = ""
    category: str = ""
    customer: str = ""
    min_s: int | None = None
    max_s: int | None = None
    score: int | None = None

    def query_string(self) -> str:
        from urllib.parse import urlencode

        values = {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else "",
                  "agent": self.agent_id or "", "queue": self.queue, "category": self.category,
                  "customer": self.customer, "min_s": "" if self.min_s is None else self.min_s,
                  "max_s": "" if self.max_s is None else self.max_s, "score": self.score or ""}
        return urlencode({k: v for k, v in values.items() if v != ""})


def _int_arg(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw[:12]) <= high:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _date_arg(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a date as YYYY-MM-DD") from None


def _text_arg(query: Mapping[str, str], name: str, limit: int) -> str:
    raw = query.get(name, "").strip()
    if len(raw) > limit or "\x00" in raw:
        raise web.HTTPBadRequest(text=f"{name}: at most {limit} characters")
    return raw


def search_args(request: web.Request) -> Search:
    q = request.query
    search = Search(start=_date_arg(q, "from"), end=_date_arg(q, "to"), agent_id=_int_arg(q, "agent", 1, 2**31 - 1),
                    queue=_text_arg(q, "queue", 32), category=_text_arg(q, "category", 32),
                    customer=_text_arg(q, "customer", 40), min_s=_int_arg(q, "min_s", 0, 10**6),
                    max_s=_int_arg(q, "max_s", 0, 10**6), score=_int_arg(q, "score", 1, 5))
    if search.start and search.end and search.end < search.start:
        raise web.HTTPBadRequest(text="to must not be before from")
    return search


def midnight(day: date, zone: tzinfo) -> datetime:
    """The start of a day in the centre's zone, in UTC (as stored)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def mask_number(number: str | None) -> str:
    """+8613800138000 → +86138****8000: enough to tell callers apart, not enough to dial."""
    if not number:
        return ""
    if len(number) < 8:
        return "*" * max(0, len(number) - 2) + number[-2:]
    return number[:-8] + "****" + number[-4:]


_NUMBER_QUERY = re.compile(r"^\+?[\d*]+$")


def _customer_filter(text: str) -> ColumnElement[bool]:
    """A masked number (138****8000, or the last digits) matches the caller's number at its end;
    anything else is a customer's name, Chinese or English."""
    if _NUMBER_QUERY.match(text):
        parts = [part for part in re.split(r"\*+", text) if part]
        pattern = "%" + "%".join(parts)
        return Call.caller_number.like(pattern)
    return Customer.name.contains(text, autoescape=True) | Customer.name_en.ilike(
        "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", escape="\\")


def _search_query(search: Search, user: SessionUser, zone: tzinfo) -> Any:
    agent = _agent_of()
    duration = func.coalesce(ArchivedFile.duration_ms, Recording.duration_ms)
    query = (select(Recording, Call, ArchivedFile, IngestJob, Agent.name, Customer, SurveyResponse.score)
             .join(Call, Call.id == Recording.call_id)
             .outerjoin(CallLeg, CallLeg.id == Recording.leg_id)
             .outerjoin(ArchivedFile, ArchivedFile.recording_id == Recording.id)
             .outerjoin(IngestJob, IngestJob.recording_id == Recording.id)
             .outerjoin(Agent, Agent.id == agent)
             .outerjoin(Customer, Customer.id == Call.customer_id)
             .outerjoin(SurveyResponse, SurveyResponse.call_id == Call.id)
             .where(Recording.status == "ready"))
    if user.role == "agent":
        query = query.where(agent == user.agent_id)
    if search.start:
        query = query.where(Call.started_at >= midnight(search.start, zone))
    if search.end:
        query = query.where(Call.started_at < midnight(search.end + timedelta(days=1), zone))
    if search.agent_id:
        query = query.where(agent == search.agent_id)
    if search.queue:
        query = query.where(Call.queue == search.queue)
    if search.category:
        query = query.where(Call.business_category == search.category)
    if search.customer:
        query = query.where(_customer_filter(search.customer))
    if search.min_s is not None:
        query = query.where(duration >= search.min_s * 1000)
    if search.max_s is not None:
        query = query.where(duration <= search.max_s * 1000)
    if search.score:
        query = query.where(SurveyResponse.score == search.score)
    return query


def api_time(moment: datetime | None, zone: tzinfo) -> str | None:
    """For the API: the centre's time with its offset, 2026-12-02T09:30:00+08:00."""
    return aware(moment).astimezone(zone).isoformat() if moment else None


def archive_state(archived: ArchivedFile | None, job: IngestJob | None) -> str:
    if archived is not None and archived.purged_at is not None:
        return "purged"
    if archived is not None and archived.storage_key:
        return "archived"
    if job is None:
        return "not_queued"
    return "quarantined" if job.status == JobStatus.QUARANTINED else "archiving"


STATE_LABELS = {"archived": "已归档 archived", "archiving": "归档中 archiving", "quarantined": "归档失败 quarantined",
                "purged": "已清除 purged", "not_queued": "未归档 not queued"}


def _row_json(row: Any, zone: tzinfo) -> dict[str, Any]:
    recording, call, archived, job, agent_name, customer, score = row
    duration_ms = archived.duration_ms if archived is not None else recording.duration_ms
    return {"id": recording.id, "call_id": call.id, "channel": call.channel, "started_at": api_time(call.started_at, zone),
            "started_local": local_text(call.started_at, zone), "agent": agent_name, "queue": call.queue,
            "category": call.business_category, "customer": customer.name if customer else None,
            "customer_en": customer.name_en if customer else None, "number": mask_number(call.caller_number),
            "duration_s": round(duration_ms / 1000) if duration_ms is not None else None, "survey_score": score,
            "state": archive_state(archived, job)}


async def search_results(request: web.Request, search: Search, page: int, per_page: int) -> dict[str, Any]:
    user = current_user(request)
    zone = centre_zone(request)
    query = _search_query(search, user, zone)
    async with request.app[DB].session() as s:
        total = await s.scalar(query.with_only_columns(func.count(Recording.id)).order_by(None))
        rows = (await s.execute(query.order_by(Call.started_at.desc(), Recording.id.desc())
                                .offset((page - 1) * per_page).limit(per_page))).all()
    return {"items": [_row_json(row, zone) for row in rows], "page": page, "per_page": per_page, "total": total or 0}


async def _choices(request: web.Request) -> dict[str, Any]:
    async with request.app[DB].session() as s:
        agents = (await s.execute(select(Agent.id, Agent.name).order_by(Agent.name))).all()
        queues = [q for q in await s.scalars(select(Call.queue).distinct().where(Call.queue.is_not(None))) if q]
        categories = [c for c in await s.scalars(select(Call.business_category).distinct()
                                                   .where(Call.business_category.is_not(None))) if c]
    return {"agents": [{"id": a, "name": n} for a, n in agents], "queues": sorted(queues),
            "categories": sorted(categories)}


@requires("agent", *LISTENERS)
async def search_api(request: web.Request) -> web.Response:
    user = current_user(request)
    _may_search(request, user)
    page, per_page = page_args(request)
    return web.json_response(await search_results(request, search_args(request), page, per_page))


@requires("agent", *LISTENERS)
async def search_page(request: web.Request) -> web.Response:
    user = current_user(request)
    _may_search(request, user)
    page, _ = page_args(request)
    search = search_args(request)
    results = await search_results(request, search, page, PER_PAGE)
    pages = max(1, -(-results["total"] // PER_PAGE))
    return render("recordings.html", request, {
        "results": results, "search": search, "choices": await _choices(request), "pages": pages,
        "query": search.query_string(), "state_labels": STATE_LABELS})


# --- one recording ----------------------------------------------------------------------------------


def clock(ms: int) -> str:
    """Position in the recording: 1:05.3."""
    seconds = ms / 1000
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


async def recording_detail(request: web.Request, recording_id: int) -> dict[str, Any]:
    db, zone = request.app[DB], centre_zone(request)
    async with db.session() as s:
        row = (await s.execute(_search_query(Search(), current_user(request), zone)
                               .where(Recording.id == recording_id))).first()
        if row is None:
            raise web.HTTPNotFound(text=f"录音 {recording_id} 不存在 no recording {recording_id}")
        recording, call, archived, job = row[0], row[1], row[2], row[3]
        steps = list(await s.scalars(select(IvrStep).where(IvrStep.call_id == call.id).order_by(IvrStep.seq)))
        events = list(await s.scalars(select(CallEvent).where(CallEvent.call_id == call.id)
                                      .order_by(CallEvent.at, CallEvent.id)))
        accesses = list(await s.scalars(select(AuditLog).where(AuditLog.target == f"recording:{recording_id}")
                                        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(200)))
    summary = _row_json(row, zone)
    spans = archived.secure_spans if archived is not None else []
    return {
        **summary,
        "external_id": recording.external_id,
        "caller_number": summary["number"],
        "call": {"direction": call.direction, "status": call.status, "end_reason": call.end_reason,
                 "answered_at": api_time(call.answered_at, zone), "ended_at": api_time(call.ended_at, zone),
                 "duration_s": call.duration_s, "verified": call.verified, "language": call.language,
                 "wrapup_code": call.wrapup_code},
        "file": None if archived is None else {
            "format": archived.format, "codec": archived.codec, "channels": archived.channels,
            "bitrate_kbps": archived.bitrate_kbps, "size_bytes": archived.size_bytes, "sha256": archived.sha256,
            "key_id": archived.key_id, "archived_at": api_time(archived.archived_at, zone),
            "verified_at": api_time(archived.verified_at, zone), "retention_until": api_time(archived.retention_until, zone),
            "legal_hold": archived.legal_hold, "hold_reason": archived.hold_reason},
        "ingest": None if job is None else {"status": job.status, "attempts": job.attempts,
                                            "last_error": job.last_error},
        "secure_spans": [{"start_ms": a, "end_ms": b, "start": clock(a), "end": clock(b),
                          "why": "客户输入密码或卡号，此段已静音 the caller keyed a PIN or card number here; silenced"}
                         for a, b in spans],
        "ivr_path": [{"seq": st.seq, "at": api_time(st.at, zone), "at_local": local_text(st.at, zone), "node": st.node,
                      "kind": st.kind, "detail": st.detail, "outcome": st.outcome} for st in steps],
        "events": [{"fact": ev.fact, "key": ev.key, "at": api_time(ev.at, zone), "at_local": local_text(ev.at, zone),
                    "data": ev.data} for ev in events],
        "accesses": [{"at": api_time(a.at, zone), "at_local": local_text(a.at, zone), "actor": a.actor,
                      "action": a.action, "detail": a.detail} for a in accesses],
    }


@requires("agent", *LISTENERS)
async def recording_api(request: web.Request) -> web.Response:
    user, recording_id = current_user(request), _recording_id(request)
    await _visible(request, user, recording_id)
    return web.json_response(await recording_detail(request, recording_id))


@requires("agent", *LISTENERS)
async def recording_page(request: web.Request) -> web.Response:
    user, recording_id = current_user(request), _recording_id(request)
    await _visible(request, user, recording_id)
    return render("recording.html", request, {"r": await recording_detail(request, recording_id),
                                              "state_labels": STATE_LABELS})


# --- the admins' page -------------------------------------------------------------------------------


@requires("admin")
async def admin_page(request: web.Request) -> web.Response:
    runtime, zone = request.app[RECORDINGS], centre_zone(request)
    async with request.app[DB].session() as s:
        jobs = await ingest.quarantined(s)
        orphans = await ingest.spool_orphans(s, runtime.spool)
        calls = dict((await s.execute(select(Recording.id, Recording.call_id)
                                      .where(Recording.id.in_([j.recording_id for j in jobs])))).all())
    return render("recordings_admin.html", request, {
        "jobs": [{"recording_id": j.recording_id, "call_id": calls.get(j.recording_id, ""), "kind": j.source_kind,
                  "ref": j.source_ref, "attempts": j.attempts, "reason": j.last_error,
                  "at": local_text(j.finished_at, zone)} for j in jobs],
        "orphans": orphans, "notice": request.query.get("requeued", "")})


@requires("admin")
async def requeue(request: web.Request) -> web.Response:
    """Give a quarantined ingest a fresh set of attempts, now (audited)."""
    user, recording_id = current_user(request), _recording_id(request)
    await read_form(request)  # the CSRF token came in it; nothing else is read
    runtime = request.app[RECORDINGS]
    async with request.app[DB].session() as s:
        try:
            job = await ingest.requeue(s, recording_id)
        except UnknownRecording:
            raise web.HTTPNotFound(text=f"录音 {recording_id} 没有归档任务 recording {recording_id} has no ingest job") from None
        s.add(AuditLog(actor=f"user:{user.username}", action="recording.requeue", target=f"recording:{recording_id}",
                       detail={"status": job.status}))
    runtime.worker.wake()
    raise web.HTTPSeeOther(f"/recordings/admin?requeued={recording_id}")
