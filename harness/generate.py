"""Seeded, reproducible batches of generated kernels outside a test run.

Hypothesis strategies are meant to be driven by ``@given``; to draw a batch for ``collect`` we run a
``@given`` function with ``@seed(seed)``, the generate phase only and no example database, and keep what it
is given. The same seed and policy give the same batch (Hypothesis is deterministic under ``@seed``).
Hypothesis starts each run with its simplest example; those repeats are removed later by the dedup.
"""

from __future__ import annotations

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings

from grammar.policy import DEFAULT_POLICY, Policy
from strategies import GeneratedKernel, kernels


def draw_kernels(seed: int, n: int, policy: Policy = DEFAULT_POLICY) -> list[GeneratedKernel]:
    """Up to ``n`` kernels drawn deterministically from ``seed``."""
    out: list[GeneratedKernel] = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
        derandomize=False,
    )
    @hypothesis.seed(seed)
    @given(kernels(policy))
    def _collect(kernel: GeneratedKernel) -> None:
        out.append(kernel)

    _collect()
    return out
