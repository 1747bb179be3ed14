"""Erlang C against published figures, none of them computed with the code under test.

- The worked example of Call Centre Helper's "Erlang C Formula – Made Simple" (100 calls in 30
  minutes, 180 s average handle time, 80 % within 20 s), whose results are printed in the reference
  manual of the CRAN package ErlangC 0.1.0 (`erlang_c(100, 30 min, 180 s, 20 s, 14)`: traffic 10,
  wait probability 0.1741319, service level 0.88835, average speed of answer 7.8359 s, occupancy
  0.7142857; with 11 agents the wait probability 0.6821182; `calculate_agents(...)`: 14 agents) and
  in the README of pyworkforce 0.1.0 (`raw_positions: 14`, service level 0.88835, wait 0.17413).
- Erlang B tables (e.g. ITU-T's and every traffic engineering handbook): 10 circuits carry
  4.46 erlangs at 1 % blocking and 5.08 erlangs at 2 %.
- Closed forms from queueing textbooks (Kleinrock, Queueing Systems vol. 1, M/M/1 and M/M/2): one
  agent makes a caller wait with probability ρ = A; two agents with probability A² / (2 + A).
"""

from __future__ import annotations

import math

import pytest

from reports import erlang

RATE = 100 / 1800  # calls per second
HANDLE = 180.0


def test_the_published_worked_example():
    assert erlang.wait_probability(14, RATE * HANDLE) == pytest.approx(0.1741319, abs=1e-6)
    assert erlang.service_level(14, RATE, HANDLE, 20) == pytest.approx(0.88835, abs=1e-5)
    assert erlang.average_speed_of_answer(14, RATE, HANDLE) == pytest.approx(7.835937, abs=1e-5)
    assert erlang.wait_probability(11, RATE * HANDLE) == pytest.approx(0.6821182, abs=1e-6)
    assert erlang.agents_needed(RATE, HANDLE, 20, 0.8) == 14


def test_the_erlang_b_table():
    assert erlang.erlang_b(10, 4.46) == pytest.approx(0.01, abs=5e-4)
    assert erlang.erlang_b(10, 5.08) == pytest.approx(0.02, abs=5e-4)


@pytest.mark.parametrize("traffic", [0.1, 0.5, 0.9])
def test_one_and_two_agents_match_the_closed_forms(traffic):
    assert erlang.wait_probability(1, traffic) == pytest.approx(traffic)
    assert erlang.wait_probability(2, 2 * traffic) == pytest.approx((2 * traffic) ** 2 / (2 + 2 * traffic))


def test_edges():
    assert erlang.agents_needed(0.0, HANDLE, 20, 0.8) == 0
    assert erlang.wait_probability(5, 5.0) == 1.0  # as many agents as erlangs: the queue never empties
    assert erlang.service_level(5, 5 / HANDLE, HANDLE, 20) == 0.0
    assert erlang.average_speed_of_answer(5, 5 / HANDLE, HANDLE) == math.inf
    # a large centre: no overflow of factorials, and more than the traffic itself
    assert 1000 < erlang.agents_needed(1000 / HANDLE, HANDLE, 20, 0.8) < 1100
    with pytest.raises(ValueError):
        erlang.agents_needed(RATE, HANDLE, 20, 1.0)
    with pytest.raises(ValueError):
        erlang.agents_needed(RATE, 0.0, 20, 0.8)
