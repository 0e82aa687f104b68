"""Seeded, reproducible batches of generated kernels outside a test run.

Hypothesis strategies are meant to be driven by ``@given``; to draw a batch for ``collect`` we run a
``@given`` function with ``@seed(seed)``, the generate phase only and no example database, and keep what it
is given. The same seed and policy give the same batch (Hypothesis is deterministic under ``@seed``).
Hypothesis starts each run with its simplest example; those repeats are removed later by the dedup.

One catch: Hypothesis occasionally substitutes a literal constant harvested from every *local* module
imported so far (its "local constants" pool), so a draw would depend on which of our modules a process
happened to import before it (a test file, a lazily imported report writer, a resumed run that skipped
an import). :func:`_no_local_constants` pins that pool to empty while we draw; Hypothesis's built-in
constants (0, -1, nan, boundaries...) still apply. It is the one place that touches Hypothesis internals
and falls back to doing nothing if they move.

Importing this module leaves out of the generator's table the rows whose builtin the installed Warp release
does not have (:func:`grammar.ops.restrict`; none on 1.19, the release the table follows), on an older release
the overloads it lacks within the builtins it has (:mod:`harness.warp_side.overloads`,
:func:`grammar.ops.restrict_signatures`), and those named in ``$WARPSMITH_UNAVAILABLE_ROWS``
(``harness.fuzz --against``: what the other release lacks).
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings

from grammar import ops as OPS
from grammar.policy import DEFAULT_POLICY, POLICIES, Policy
from strategies import GeneratedKernel, kernels

from .warp_side import overloads
from .warp_side import warp_adapter as W
from .warp_side.against import UNAVAILABLE_ENV

# before anything is drawn: the rows whose builtin the installed Warp lacks (older releases) and, on a release older
# than the table's, the overloads it lacks (probed once per release, cached: harness.warp_side.overloads); plus those named
# in the environment (harness.fuzz --against: what the other release lacks; ``row`` or ``row:index``)
_NAMED = [r for r in os.environ.get(UNAVAILABLE_ENV, "").split(",") if r]
OPS.restrict(W.missing_rows(OPS.OPS) | {r for r in _NAMED if ":" not in r})
OPS.restrict_signatures({r for r in _NAMED if ":" in r} | overloads.release_missing())


def batch_policy(name: str, focus_pool: tuple[str, ...] = ()) -> Policy:
    """The policy a batch is drawn with: the ``--policy`` called ``name``, with ``focus_pool`` as its
    ``directed_focus_pool`` when one is given (``harness.fuzz``'s per-batch coverage feedback)."""
    policy = POLICIES[name]
    return dataclasses.replace(policy, directed_focus_pool=tuple(focus_pool)) if focus_pool else policy


def draw_kernels(seed: int, n: int, policy: Policy = DEFAULT_POLICY) -> list[GeneratedKernel]:
    """Up to ``n`` kernels drawn deterministically from ``seed``."""
    return draw_values(kernels(policy), seed, n)


def draw_values(strategy, seed: int, n: int) -> list:
    """Up to ``n`` values of any ``strategy`` drawn deterministically from ``seed`` (as :func:`draw_kernels`)."""
    out: list = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
        derandomize=False,
    )
    @hypothesis.seed(seed)
    @given(strategy)
    def _collect(value) -> None:
        out.append(value)

    with _no_local_constants():
        _collect()
    return out


@contextmanager
def _no_local_constants():
    try:
        from hypothesis.internal.conjecture import providers
        saved, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE, providers.Constants()
    except (ImportError, AttributeError):  # a Hypothesis without the pool (or with it moved): nothing to pin
        yield
        return
    providers._get_local_constants = lambda: empty
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = saved
        cache.cache.clear()
