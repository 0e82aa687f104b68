"""Which kernel a Warp build error names, and building a group of kernels without the ones that fail.

Warp's code generation stops at the first kernel it cannot parse, before Clang: the error names that kernel, and
building the rest again costs little. The companion release (:mod:`harness.warp_side.companion`) and the overload
probes (:mod:`harness.warp_side.overloads`) build this way. Pure text and control flow: nothing here imports Warp.
"""

from __future__ import annotations

import re


def named_kernel(error: str, names: list[str]) -> str | None:
    """The kernel an error message names (``Error while parsing function "k_..."``; a helper ``k_..._f0`` counts
    for its kernel), when exactly one does."""
    head = "\n".join(error.splitlines()[:3])
    hits = [n for n in names if re.search(rf"\b{re.escape(n)}(?:_\w+)?\b", head)]
    return hits[0] if len(hits) == 1 else None


def build_without_named(items: list, name_of, build) -> tuple[list[tuple[list, object]], dict[str, str]]:
    """Build ``items`` together with ``build(items) -> (result, None) | (None, error text)``; while the error names
    one of them (:func:`named_kernel`; Warp's code generation stops at the first kernel it cannot parse, before
    Clang, so a retry costs little) leave that one out and build the rest again; an error naming none builds each
    item alone. Returns ``([(items built together, result), ...], {name: error} of those left out)``."""
    failed: dict[str, str] = {}
    remaining = list(items)
    while remaining:
        result, error = build(remaining)
        if error is None:
            return [(remaining, result)], failed
        culprit = named_kernel(error, [name_of(x) for x in remaining])
        if culprit is None:  # not attributable (a Clang error, say): one build per item
            built = []
            for x in remaining:
                alone, error = build([x])
                if error is None:
                    built.append(([x], alone))
                else:
                    failed[name_of(x)] = error
            return built, failed
        failed[culprit] = error
        remaining = [x for x in remaining if name_of(x) != culprit]
    return [], failed
