"""The routing index on its own: invariants that the service relies on."""

from __future__ import annotations

from acd.config import Strategy
from acd.router import CallSlot, Router


def router() -> Router:
    return Router({"general": ({"general": 1}, Strategy.LONGEST_IDLE),
                   "cards": ({"cards": 1}, Strategy.LONGEST_IDLE)})


def slot(r: Router, call_id: str, queue: str = "general", priority: int = 0, at: float = 0.0, seq: int = 0) -> CallSlot:
    return CallSlot(call_id, r.profile_for(queue), priority, at, seq)


def test_an_agent_logged_in_again_is_offered_once_only():
    # regression: a re-added agent's fresh version matched its stale heap entry, so it was indexed twice
    r = router()
    r.add_agent(1, {"general": 5})
    r.profile_for("general")
    assert r.agent_freed(1) is None
    r.remove_agent(1)
    r.add_agent(1, {"general": 5})
    assert r.agent_freed(1) is None
    r.check_invariant()
    assert r.call_arrived(slot(r, "a", seq=1)) == 1
    assert r.call_arrived(slot(r, "b", seq=2)) is None  # the one agent is taken: b must wait
    r.check_invariant()


def test_freed_agent_takes_the_best_caller_across_their_queues():
    r = router()
    r.add_agent(1, {"general": 5, "cards": 5})
    assert r.call_arrived(slot(r, "old", "general", priority=0, at=1.0, seq=1)) is None
    assert r.call_arrived(slot(r, "urgent", "cards", priority=5, at=2.0, seq=2)) is None
    assert r.call_arrived(slot(r, "new", "general", priority=0, at=3.0, seq=3)) is None
    assert r.position("new") == (2, 0)
    assert [r.agent_freed(1) for _ in range(3)] == ["urgent", "old", "new"]
    assert r.agent_freed(1) is None
    r.check_invariant()


def test_stale_entries_are_compacted():
    r = router()
    r.add_agent(1, {"general": 1, "cards": 1})
    r.profile_for("general")
    r.profile_for("cards")
    for n in range(500):
        assert r.agent_freed(1) is None
        # taken through "cards" every time: the entry in "general" goes stale
        assert r.call_arrived(slot(r, f"c{n}", "cards", seq=n)) == 1
    general = r._profiles[("general", frozenset())]
    assert len(general.agents) <= 2 * general.live_agents + 65
    r.check_invariant()
