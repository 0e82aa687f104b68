"""Reachability searches over a shared sample of kernels.

A reachability test asks whether the generator, under one policy, ever emits some construct. One Hypothesis
``find`` per construct drew a few hundred kernels each (a search for a rare row took 20-30 s, and a test file
has dozens of them). :func:`reach` first looks through a sample of :data:`POOL_SIZE` kernels of the policy,
drawn once per test process from a fixed seed (about 10 s for 300 kernels) and shared by every search of the
process; only a construct the sample lacks starts a ``find`` of its own, which draws fresh kernels as before.
The answer is the same kind of evidence either way: a kernel the policy's strategy generated that shows the
construct.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, Phase, find, settings

from grammar.policy import Policy
from harness.generate import draw_kernels, draw_values
from strategies import GeneratedKernel, kernels

#: kernels in the sample of each policy
POOL_SIZE = 300
#: the sample's seed (fixed: the sample, and so which searches end in it, is the same on every run)
POOL_SEED = 20261207
#: a search the sample does not satisfy (and the reachability tests' own searches): fresh draws, no shrinking
SEARCH = settings(max_examples=1000, database=None, phases=[Phase.generate], deadline=None,
                  suppress_health_check=list(HealthCheck))

_POOLS: dict[Policy, tuple[GeneratedKernel, ...]] = {}


def pool(policy: Policy) -> tuple[GeneratedKernel, ...]:
    """The shared sample of ``policy``'s kernels (drawn on first use)."""
    if policy not in _POOLS:
        _POOLS[policy] = tuple(draw_kernels(POOL_SEED, POOL_SIZE, policy))
    return _POOLS[policy]


def reach(policy: Policy, condition: Callable[[GeneratedKernel], bool],
          search: settings = SEARCH) -> GeneratedKernel:
    """A kernel of ``policy`` meeting ``condition``: the first of the shared sample that does, else one found
    by ``find`` with ``search`` (raises ``NoSuchExample`` when that search ends without one)."""
    for k in pool(policy):
        if condition(k):
            return k
    return find(kernels(policy), condition, settings=search)



def draws(strategy, n: int, seed: int = POOL_SEED) -> list:
    """``n`` values of ``strategy`` drawn by Hypothesis from ``seed`` (:func:`harness.generate.draw_values`). For a
    search for a rare form among the values of a small strategy: the test profile derandomizes ``find``, and one
    derandomized search draws correlated values (1000 ``if`` statements over a float parameter held 80
    ``wp.static`` tests and none with an ``else``, where 1000 drawn from a seed held 93 and 13)."""
    return draw_values(strategy, seed, n)
