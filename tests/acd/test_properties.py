"""Property-based: random interleavings of arrivals, answers, no-answers, hang-ups, callbacks, state
changes, logouts, reachability changes and the passing of time, fired at the real ACD.

After every step: no agent is reserved twice or holds two calls, every offer belongs to exactly one
agent, no caller is lost (each is waiting, ringing, talking, a callback, or explicitly let go), and no
caller waits while an eligible agent is free. At the end, with every agent available and answering,
every remaining caller is served.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete

from acd.clock import ManualClock
from acd.exceptions import AcdError
from acd.models import Agent, Callback, CallbackAttempt
from acd.service import Acd
from acd.states import OfferFailure
from tests.acd.conftest import RecordingBridge, caller
from tests.acd.invariants import check_invariants

QUEUES = ("general", "cards", "complaints", "vip")
CATEGORY = {"general": "balance", "cards": "card_loss", "complaints": "complaint", "vip": "other"}

operations = st.lists(st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(QUEUES), st.integers(0, 3)),
    st.tuples(st.just("answer"), st.integers(0, 5)),
    st.tuples(st.just("fail"), st.integers(0, 5), st.sampled_from(OfferFailure)),
    st.tuples(st.just("hangup"), st.integers(0, 30)),
    st.tuples(st.just("callback"), st.integers(0, 30)),
    st.tuples(st.just("agent"), st.sampled_from(("login", "logout", "away", "available", "ready")),
              st.integers(0, 2)),
    st.tuples(st.just("reachable"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("tick"), st.sampled_from((1, 5, 20, 26, 31, 61))),
), min_size=8, max_size=50)


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logged_in=st.sets(st.integers(0, 2)), ops=operations)
async def test_random_interleavings_keep_every_invariant(demo_db, settings, acd_config, logged_in, ops):
    async with demo_db.session() as s:
        await s.execute(delete(CallbackAttempt))
        await s.execute(delete(Callback))  # each example starts without promises from the last one
        if await s.get(Agent, 3) is None:
            s.add(Agent(id=3, name="Third", endpoint="client:agent3", skills={"general": 3, "cards": 2}))
    clock, bridge = ManualClock(), RecordingBridge()
    acd = Acd(acd_config, demo_db, settings, clock=clock)
    acd.register_connector("twilio", bridge)
    await acd.start()
    agents = sorted(a.agent_id for a in acd.snapshot().agents)[:3]
    for index in sorted(logged_in):
        await acd.login(agents[index])
    live: list[str] = []  # callers the ACD must still account for
    promised: dict[int, str] = {}  # callback id -> the caller who asked for it
    try:
        for n, op in enumerate(ops):
            await apply(acd, bridge, clock, agents, live, promised, n, op)
            await acd.settle()
            live[:] = [c for c in live if not let_go(bridge, c)]
            check(acd, live)
        await serve_everyone(acd, bridge, agents, live, promised)
        await acd.drain()
    finally:
        await acd.stop()


async def apply(acd: Acd, bridge: RecordingBridge, clock: ManualClock, agents: list[int], live: list[str],
                promised: dict[int, str], n: int, op: tuple) -> None:
    kind = op[0]
    ringing = [(a.call_id, a.agent_id) for a in acd.snapshot().agents if a.state == "reserved"]
    if kind == "arrive":
        call_id = f"c{n}"
        await acd.enqueue(caller(call_id, queue=op[1], category=CATEGORY[op[1]], priority=op[2]))
        live.append(call_id)
    elif kind == "answer" and ringing:
        call_id, agent_id = ringing[op[1] % len(ringing)]
        await acd.offer_answered(call_id, agent_id)
    elif kind == "fail" and ringing:
        call_id, agent_id = ringing[op[1] % len(ringing)]
        await acd.offer_failed(call_id, agent_id, op[2])
    elif kind == "hangup":
        talking = [a.call_id for a in acd.snapshot().agents if a.state == "on_call"]
        candidates = live + talking
        if candidates:
            call_id = candidates[op[1] % len(candidates)]
            await acd.call_ended(call_id, "hangup")
            if call_id in live and acd.queue_status(call_id) is None:
                live.remove(call_id)
            served(bridge, live, promised, call_id)
    elif kind == "callback":
        waiting = [w.call_id for q in acd.snapshot().queues for w in q.calls
                   if w.kind == "inbound" and w.state in ("waiting", "offered")]
        if waiting:
            call_id = waiting[op[1] % len(waiting)]
            promised[await acd.request_callback(call_id, "+8613800138000")] = call_id
    elif kind == "agent":
        agent_id = agents[op[2]]
        try:
            if op[1] == "login":
                await acd.login(agent_id)
            elif op[1] == "logout":
                await acd.logout(agent_id)
            elif op[1] == "away":
                await acd.set_state(agent_id, "away", "break", by="user:supervisor1")
            elif op[1] == "available":
                await acd.set_state(agent_id, "available")
            else:
                await acd.ready(agent_id)
        except AcdError:
            pass  # e.g. away while logged out: refused, and nothing may change
    elif kind == "reachable":
        await acd.set_reachable(agents[op[1]], op[2])
    elif kind == "tick":
        clock.advance(op[1])


def served(bridge: RecordingBridge, live: list[str], promised: dict[int, str], call_id: str) -> None:
    """A completed callback call (a new outbound call) serves the caller who asked for it."""
    for out in bridge.outbound:
        if out.call_id == call_id and promised.get(out.reference_id) in live:
            live.remove(promised[out.reference_id])


def let_go(bridge: RecordingBridge, call_id: str) -> bool:
    return any(o.call_id == call_id and o.kind == "voicemail" for o in bridge.overflows)


def check(acd: Acd, live: list[str]) -> None:
    check_invariants(acd)
    snap = acd.snapshot()
    reserved = [a.call_id for a in snap.agents if a.state in ("reserved", "on_call")]
    assert len(reserved) == len(set(reserved)), "one call held by two agents"
    for call_id in live:
        assert acd.queue_status(call_id) is not None, f"caller {call_id} was lost"
    for queue in snap.queues:
        if any(w.state == "waiting" and w.kind == "inbound" for w in queue.calls):
            assert queue.available_agents == 0, f"{queue.name}: a caller waits while an agent is free"


async def serve_everyone(acd: Acd, bridge: RecordingBridge, agents: list[int], live: list[str],
                         promised: dict[int, str]) -> None:
    for agent_id in agents:
        await acd.set_reachable(agent_id, True)
    for _ in range(200):
        for agent_id in agents:
            await acd.set_state(agent_id, "available")  # also logs in, ends wrap-up, clears "away"
        await acd.settle()
        snap = acd.snapshot()
        busy = [(a.call_id, a.agent_id, a.state) for a in snap.agents if a.state in ("reserved", "on_call")]
        if not busy:
            break
        for call_id, agent_id, state in busy:
            if state == "reserved":
                await acd.offer_answered(call_id, agent_id)
            await acd.call_ended(call_id, "completed")
            if call_id in live:
                live.remove(call_id)
            served(bridge, live, promised, call_id)
        await acd.settle()
        check(acd, live)
    leftover = [w for q in acd.snapshot().queues for w in q.calls]
    assert leftover == [], f"callers never served: {leftover}"
