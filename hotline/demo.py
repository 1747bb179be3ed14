"""Fixed demo data: docs and tests rely on these exact customers, cards, PINs and logins.

Demo only: the PINs and passwords below are published in the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

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
