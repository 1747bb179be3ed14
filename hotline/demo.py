"""Fixed demo data: docs and tests rely on these exact customers, cards, PINs and logins.

Demo only: the PINs and passwords below are published in the README.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text

from acd.models import Agent, Queue
from bank.models import Account, Biller, BillerRegistration, Card, Customer, LossReport
from hotline.db import Database, digest_number
from hotline.db.hashing import hash_secret_sync
from hotline.schema import metadata
from hotline.settings import Settings
from hotline.staff import User

# argon2 takes ~0.1 s a hash on purpose; the demo's fixed secrets are hashed once per process.
_demo_hash = cache(hash_secret_sync)

QUEUES = {
    "general": "General enquiries",
    "cards": "Cards: loss, PIN, activation",
    "complaints": "Complaints",
    "vip": "VIP customers",
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    display_name: str
    skills: dict[str, int] | None = None  # agents only
    endpoint: str = ""
    endpoints: dict[str, str] | None = None  # agents only: one phone per transport (acd/endpoints.py)


DEMO_LOGINS = (
    DemoLogin("agent1", "agent1-demo", "agent", "Wang Fang 王芳",
              {"balance": 8, "cards": 7, "general": 5}, "client:agent1",
              {"twilio": "client:agent1", "asterisk": "PJSIP/agent1"}),
    DemoLogin("agent2", "agent2-demo", "agent", "Zhang Min 张敏",
              {"complaints": 8, "general": 6, "balance": 4}, "client:agent2",
              {"twilio": "client:agent2", "asterisk": "PJSIP/agent2"}),
    DemoLogin("supervisor1", "supervisor1-demo", "supervisor", "Chen Jing 陈静"),
    DemoLogin("qa1", "qa1-demo", "qa", "Liu Yang 刘洋"),
    DemoLogin("admin", "admin-demo", "admin", "Administrator"),
)

# card number -> PIN, published for the demo
DEMO_CARDS = {"6222020000000001": "147258", "6222020000000002": "258369", "6222020000000003": "369147"}
DEMO_ACCOUNTS = {"savings_li": "6217000010000001", "current_li": "6217000010000002",
                 "savings_zhao": "6217000010000003", "savings_smith": "6217000010000004"}


DEMO_MOBILES = ("+8613800138000", "+8613900139000", "+8613700137000")


class NotDemoData(Exception):
    """`hotline demo --reset` found users or customers that the demo did not create."""


async def foreign_rows(db: Database) -> list[str]:
    """Users, agents and customers the demo did not create (what a reset would destroy)."""
    demo_users = {login.username for login in DEMO_LOGINS}
    demo_agents = {login.display_name for login in DEMO_LOGINS if login.role == "agent"}
    async with db.session() as s:
        users = [f"user {name}" for name in await s.scalars(select(User.username).order_by(User.username))
                 if name not in demo_users]
        agents = [f"agent {name}" for name in await s.scalars(select(Agent.name).order_by(Agent.name))
                  if name not in demo_agents]
        customers = await s.scalar(select(func.count()).select_from(Customer)
                                   .where(Customer.mobile.is_(None) | Customer.mobile.not_in(DEMO_MOBILES)))
    return users + agents + ([f"{customers} customer(s)"] if customers else [])


async def reset_demo(db: Database, settings: Settings, *, force: bool = False) -> None:
    """Empty every table and load the demo data again (calls, payments and evaluations made while
    trying the demo go too). Refuses, unless `force`, when the database holds users, agents or
    customers of its own: a production database is never wiped by a mistyped command."""
    if not force:
        foreign = await foreign_rows(db)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise NotDemoData(f"the database holds data the demo did not create ({shown}); "
                              "nothing was deleted. Add --yes to delete it all.")
    async with db.session() as s:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await s.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):  # children before parents
                await s.execute(delete(table))
    await load_demo(db, settings)


async def load_demo(db: Database, settings: Settings) -> bool:
    """Create the demo data unless it is already there. Returns True when it was created."""
    key = settings.security.secret_key.get_secret_value()
    async with db.session() as s:
        if await s.scalar(select(User).where(User.username == "admin")):
            return False
        for name, description in QUEUES.items():
            s.add(Queue(name=name, description=description))

        li = Customer(name="李伟", name_en="Li Wei", surname="李", surname_en="Li", title="先生", title_en="Mr",
                      mobile="+8613800138000", birth_date=date(1985, 6, 18), segment="standard")
        zhao = Customer(name="赵丽", name_en="Zhao Li", surname="赵", surname_en="Zhao", title="女士",
                        title_en="Ms", mobile="+8613900139000", birth_date=date(1990, 3, 9))
        smith = Customer(name="John Smith", name_en="John Smith", surname="Smith", surname_en="Smith",
                         title="先生", title_en="Mr", mobile="+8613700137000", birth_date=date(1978, 11, 2),
                         segment="vip", language="en-US")
        s.add_all([li, zhao, smith])
        await s.flush()

        def account(owner: Customer, number_key: str, kind: str, fen: int) -> Account:
            number = DEMO_ACCOUNTS[number_key]
            return Account(customer_id=owner.id, number_digest=digest_number(key, number), last4=number[-4:],
                           kind=kind, balance_fen=fen)

        li_savings = account(li, "savings_li", "savings", 1_234_567)
        li_current = account(li, "current_li", "current", 100_500)
        zhao_savings = account(zhao, "savings_zhao", "savings", 5_000_000)
        smith_savings = account(smith, "savings_smith", "savings", 88_888_800)
        s.add_all([li_savings, li_current, zhao_savings, smith_savings])
        await s.flush()

        def card(owner: Customer, pan: str, linked: Account, status: str = "active") -> Card:
            return Card(customer_id=owner.id, account_id=linked.id, pan_digest=digest_number(key, pan),
                        last4=pan[-4:], pin_hash=_demo_hash(DEMO_CARDS[pan]), status=status)

        lost = card(zhao, "6222020000000002", zhao_savings, status="lost")
        s.add_all([card(li, "6222020000000001", li_savings), lost, card(smith, "6222020000000003", smith_savings)])
        await s.flush()
        s.add(LossReport(card_id=lost.id, reference="GS20261101001"))

        electricity = Biller(code="electricity", name="国家电网电费", name_en="State Grid electricity",
                             category="utility")
        mobile = Biller(code="mobile", name="中国移动话费", name_en="China Mobile phone bill", category="phone")
        s.add_all([electricity, mobile])
        await s.flush()
        for owner in (li, smith):
            s.add(BillerRegistration(customer_id=owner.id, biller_id=electricity.id, reference="3100123456"))
            s.add(BillerRegistration(customer_id=owner.id, biller_id=mobile.id, reference=owner.mobile or ""))

        for login in DEMO_LOGINS:
            agent = None
            if login.role == "agent":
                agent = Agent(name=login.display_name, endpoint=login.endpoint, endpoints=dict(login.endpoints or {}),
                              skills=login.skills or {})
                s.add(agent)
                await s.flush()
            s.add(User(username=login.username, password_hash=_demo_hash(login.password), role=login.role,
                       display_name=login.display_name, agent_id=agent.id if agent else None))
    return True


# --- recorded agent calls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConversation:
    """A recorded agent call of the demo: its audio (hotline/demo_data/recordings/, rendered once by
    scripts/render_demo_recordings.py; agent left, customer right) and what happened around it."""

    file: str
    external_id: str  # the call's id at the PBX
    agent: str  # username
    caller: str
    queue: str
    category: str
    hours_ago: int
    menu: tuple[tuple[str, str, str, str], ...]  # IVR steps: node, kind, detail, outcome
    survey: int
    wrapup_notes: str
    turns: tuple[tuple[str, str], ...]  # (agent | customer, what they say), for the renderer


DEMO_RECORDINGS_DIR = Path(__file__).parent / "demo_data" / "recordings"
DEMO_CONVERSATIONS = (
    DemoConversation(
        "demo-card-loss.ogg", "1795000000.101", "agent1", "+8613900139000", "cards", "card_loss", 26,
        (("language", "key", "1", "zh-CN"), ("main", "key", "2", "cards"), ("cards", "key", "0", "agent"),
         ("cards", "transfer", "", "cards")),
        5, "客户信用卡遗失，已挂失并补寄新卡 Card lost: blocked, a new card posted",
        (("agent", "您好，这里是示例银行客服中心，我是王芳，请问有什么可以帮您？"),
         ("customer", "你好，我的信用卡好像丢了，想挂失。"),
         ("agent", "好的，请别着急。请问是尾号零零零二的那张卡吗？"),
         ("customer", "对，就是那张。"),
         ("agent", "已经为您办理挂失，新卡会在七个工作日内寄到您登记的地址。"),
         ("customer", "好的，谢谢你。"),
         ("agent", "不客气，感谢您的来电，再见。"))),
    DemoConversation(
        "demo-branch-hours.ogg", "1795000000.102", "agent2", "+8613800138000", "general", "other", 3,
        (("language", "key", "1", "zh-CN"), ("main", "key", "0", "agent"), ("main", "transfer", "", "general")),
        4, "询问网点周末营业时间 Asked about branch opening hours at the weekend",
        (("agent", "您好，我是张敏，很高兴为您服务。"),
         ("customer", "你好，我想问一下，人民广场的网点周六开门吗？"),
         ("agent", "人民广场支行周六上午九点到下午五点营业，周日休息。"),
         ("customer", "明白了，谢谢。"),
         ("agent", "不客气，祝您生活愉快，再见。"))),
)


async def load_demo_recordings(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """File the demo's recorded agent calls through the call record and archive their audio through
    the real ingest (spool → compress → encrypt → store → verify). Returns how many were archived;
    0 when they are already there."""
    from calls.record import CallRecord
    from qa.survey import store_survey
    from recordings import ingest
    from recordings.crypto import KeyRing
    from recordings.ingest import IngestWorker
    from recordings.spool import AsteriskSpool
    from recordings.states import JobStatus, SourceKind
    from recordings.storage import store_from_settings

    spool = AsteriskSpool(settings.recordings.spool_dir)
    moment = [now or datetime.now(UTC)]
    record = CallRecord(db, clock=lambda: moment[0])

    async def archive_when_ready(s: Any, call: Any, recording: Any) -> None:
        await ingest.enqueue(s, recording.id, SourceKind.ASTERISK, recording.source_url)

    record.on_recording_ready.append(archive_when_ready)
    queued = 0
    for talk in DEMO_CONVERSATIONS:
        if await record.find("asterisk", talk.external_id) is not None:
            continue
        spooled = f"hotline/{talk.file}"
        (spool.root / "hotline").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO_RECORDINGS_DIR / talk.file, spool.root / spooled)
        started = (now or datetime.now(UTC)) - timedelta(hours=talk.hours_ago)
        moment[0] = started
        async with db.session() as s:
            agent_id = await s.scalar(select(User.agent_id).where(User.username == talk.agent))
            customer_id = await s.scalar(select(Customer.id).where(Customer.mobile == talk.caller))
        assert agent_id is not None
        call_id = await record.open_inbound("asterisk", talk.external_id, caller=talk.caller, dialled="95588",
                                            language="zh-CN")
        steps = [{"call_id": call_id, "seq": n + 1, "at": started + timedelta(seconds=4 * n + 3), "node": node,
                  "kind": kind, "detail": detail, "outcome": outcome}
                 for n, (node, kind, detail, outcome) in enumerate(talk.menu)]
        await record.ivr_turn(call_id, steps, {"customer_id": customer_id, "business_category": talk.category,
                                               "queue": talk.queue})
        moment[0] = started + timedelta(seconds=20)
        await record.queued(call_id, talk.queue, talk.category)
        moment[0] += timedelta(seconds=25)
        leg = await record.offered(call_id, agent_id, f"PJSIP/{talk.agent}")
        moment[0] += timedelta(seconds=6)
        await record.answered(call_id, agent_id, leg, f"{talk.external_id}.agent")
        await record.recording_started(call_id, talk.file, leg_id=leg, source=spooled, format="ogg", channels=2)
        duration_ms = await _duration_ms(DEMO_RECORDINGS_DIR / talk.file)
        moment[0] += timedelta(milliseconds=duration_ms)
        await record.recording_ready(call_id, talk.file, duration_ms=duration_ms)
        await record.leg_closed(call_id, leg, "completed")
        await store_survey(record, db, call_id, agent_id, talk.queue, talk.survey)
        await record.closed(call_id, "completed", by="asterisk")
        moment[0] += timedelta(seconds=40)
        await record.wrapped_up(call_id, agent_id, talk.category, talk.wrapup_notes)
        queued += 1
    if not queued:
        return 0
    rec = settings.recordings
    worker = IngestWorker(db, rec, store_from_settings(settings), KeyRing.from_settings(settings),
                          {SourceKind.ASTERISK: spool}, workdir=rec.dir.parent / f"{rec.dir.name}-ingest")
    archived = 0
    while (outcome := await worker.run_once()) is not None:
        archived += outcome.status == JobStatus.DONE
    return archived


async def _duration_ms(path: Path) -> int:
    from recordings.transcode import decode_check

    return (await decode_check(await asyncio.to_thread(path.read_bytes))).duration_ms
