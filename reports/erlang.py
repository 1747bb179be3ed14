"""Erlang C: how many agents a half hour needed for its service level target.

The model (M/M/N): calls arrive at random at rate λ, each takes the handle time h on average
(talk + wrap-up), and wait until one of N agents is free. With traffic A = λ·h erlangs:

- the probability a caller waits, C(N, A) = N·B / (N − A·(1 − B)), from Erlang B's recursion
  B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)) (stable for thousands of agents, no factorials);
- the service level, the share answered within t seconds: 1 − C(N, A)·exp(−(N − A)·t / h);
- the agents needed: the fewest N > A whose service level reaches the target.

It assumes nobody hangs up while waiting, so with abandons it errs on the side of more agents.
"""

from __future__ import annotations

import math

MAX_AGENTS = 10_000


def erlang_b(agents: int, traffic: float) -> float:
    """The probability a call finds all `agents` busy when blocked calls are lost."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    blocked = 1.0
    for n in range(1, agents + 1):
        blocked = traffic * blocked / (n + traffic * blocked)
    return blocked


def wait_probability(agents: int, traffic: float) -> float:
    """Erlang C: the probability a caller has to wait (1.0 when the agents cannot keep up)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocked = erlang_b(agents, traffic)
    return agents * blocked / (agents - traffic * (1 - blocked))


def service_level(agents: int, rate_per_s: float, handle_s: float, within_s: float) -> float:
    """The share of calls answered within `within_s` seconds."""
    traffic = rate_per_s * handle_s
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return 1.0 - wait_probability(agents, traffic) * math.exp(-(agents - traffic) * within_s / handle_s)


def average_speed_of_answer(agents: int, rate_per_s: float, handle_s: float) -> float:
    traffic = rate_per_s * handle_s
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return wait_probability(agents, traffic) * handle_s / (agents - traffic)


def agents_needed(rate_per_s: float, handle_s: float, within_s: float, target: float) -> int:
    """The fewest agents answering `target` (0..1) of calls within `within_s`; 0 when no calls come."""
    if not 0 < target < 1:
        raise ValueError(f"target service level must be between 0 and 1, got {target}")
    if handle_s <= 0 or within_s < 0 or rate_per_s < 0:
        raise ValueError("handle time must be positive, arrival rate and answer time not negative")
    traffic = rate_per_s * handle_s
    if traffic == 0:
        return 0
    agents = max(1, math.floor(traffic) + 1)
    while service_level(agents, rate_per_s, handle_s, within_s) < target:
        agents += 1
        if agents > MAX_AGENTS:
            raise ValueError(f"more than {MAX_AGENTS} agents needed: traffic {traffic:.0f} erlangs")
    return agents
