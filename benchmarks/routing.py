"""Cost of one routing decision as the centre grows: 10, 1,000 and 10,000 agents, 10,000 callers waiting.

Two kinds of decision, both on the ACD's routing index (acd/router.py), measured alternately:
- busy centre: every agent is busy and 10,000 callers wait in two queues the agents serve; an agent
  becomes free and takes the best caller, then a new caller arrives and waits;
- quiet centre: the agents are free, 10,000 callers wait in a queue none of them serves (the backlog
  of another team); a caller arrives and takes the best agent, who then becomes free again.

The 10-agent figure is the baseline, measured in the same process; the growth to 10,000 agents must
stay under 2x. Run from the repository root:  python benchmarks/routing.py [--quick]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.config import Strategy  # noqa: E402
from acd.router import CallSlot, Router  # noqa: E402

CALLERS = 10_000
SIZES = (10, 1_000, 10_000)
QUEUES = {
    "general": ({"general": 1}, Strategy.LONGEST_IDLE),
    "cards": ({"cards": 1}, Strategy.BEST_SKILL),
    "mortgages": ({"mortgages": 1}, Strategy.FEWEST_CALLS),  # nobody here serves it: a standing backlog
}


@contextmanager
def paused_gc() -> Iterator[None]:
    """As timeit does: a collection of the whole heap landing in one run would measure the collector,
    whose cost grows with everything alive in the process, not the routing decision."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Centre:
    def __init__(self, agents: int, rng: random.Random) -> None:
        self.router = Router(QUEUES)
        self.rng = rng
        self.seq = 0
        self.clock = 0.0
        self.agents = list(range(1, agents + 1))
        for agent in self.agents:
            self.router.add_agent(agent, {"general": rng.randint(1, 10), "cards": rng.randint(1, 10)})
        for queue in QUEUES:
            self.router.profile_for(queue)

    def caller(self, queue: str) -> CallSlot:
        self.seq += 1
        self.clock += 0.01
        return CallSlot(f"c{self.seq}", (queue, frozenset()), self.rng.randint(0, 3), self.clock, self.seq)


def busy_centre(agents: int, decisions: int, rng: random.Random) -> float:
    """Microseconds per decision with every agent busy and 10,000 callers waiting for them."""
    centre = Centre(agents, rng)
    router = centre.router
    for n in range(CALLERS):
        router.call_arrived(centre.caller("general" if n % 2 else "cards"))
    order = [rng.choice(centre.agents) for _ in range(decisions)]
    arrivals = [centre.caller("general" if n % 2 else "cards") for n in range(decisions)]
    with paused_gc():
        start = time.perf_counter_ns()
        for agent, arrival in zip(order, arrivals, strict=True):
            router.agent_freed(agent)  # takes the best caller: the agent stays busy
            router.call_arrived(arrival)  # nobody is free: the caller waits
        elapsed = time.perf_counter_ns() - start
    router.check_invariant()
    return elapsed / (2 * decisions) / 1000


def quiet_centre(agents: int, decisions: int, rng: random.Random) -> float:
    """Microseconds per decision with the agents free and 10,000 callers waiting elsewhere."""
    centre = Centre(agents, rng)
    router = centre.router
    for _ in range(CALLERS):
        router.call_arrived(centre.caller("mortgages"))
    for agent in centre.agents:
        router.agent(agent).idle_since = rng.random()
        router.agent_freed(agent)
    arrivals = [centre.caller("general" if n % 2 else "cards") for n in range(decisions)]
    with paused_gc():
        start = time.perf_counter_ns()
        for n, arrival in enumerate(arrivals):
            agent = router.call_arrived(arrival)  # takes the best free agent
            slot = router.agent(agent)
            slot.idle_since = 1.0 + n  # freed again after the call: now the most recently idle
            router.agent_freed(agent)
        elapsed = time.perf_counter_ns() - start
    router.check_invariant()
    return elapsed / (2 * decisions) / 1000


def measure(agents: int, decisions: int, repeats: int) -> dict[str, float]:
    rng = random.Random(agents)
    busy = min(busy_centre(agents, decisions, rng) for _ in range(repeats))
    quiet = min(quiet_centre(agents, decisions, rng) for _ in range(repeats))
    return {"busy": busy, "quiet": quiet, "mean": (busy + quiet) / 2}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer decisions (well under a minute)")
    args = parser.parse_args()
    decisions, repeats = (5_000, 5) if args.quick else (40_000, 7)
    results = {}
    for agents in SIZES:
        results[agents] = measure(agents, decisions, repeats)
        print(f"{agents:>6} agents, {CALLERS} callers waiting: busy {results[agents]['busy']:.2f} us, "
              f"quiet {results[agents]['quiet']:.2f} us per decision", file=sys.stderr)
    growth = results[SIZES[-1]]["mean"] / results[SIZES[0]]["mean"]
    print(json.dumps({
        "us_per_decision": {str(n): round(r["mean"], 3) for n, r in results.items()},
        "by_situation": {str(n): {"busy": round(r["busy"], 3), "quiet": round(r["quiet"], 3)}
                         for n, r in results.items()},
        "callers_waiting": CALLERS,
        "decisions": decisions,
        "growth_10_to_10000": round(growth, 3),
        "within_2x": growth <= 2.0,
    }))
    return 0 if growth <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
