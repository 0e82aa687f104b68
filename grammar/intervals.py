"""Interval rules: the range of an int row's result from the ranges of its arguments.

The generator tracks an interval ``[lo, hi]`` for every int32/int64 expression, so that no signed operation
can overflow (signed overflow is undefined behaviour in the C++ Warp emits). A row may produce int32/int64
values only if it has a rule here, named in its ``interval`` field (:attr:`grammar.rows.Op.interval`): a row
without one is not generated for those types, since its result could be anything.

A rule takes the arguments' intervals (objects with ``lo``, ``hi``, ``mag`` = ``max(|lo|, |hi|)`` and ``type``,
as ``strategies.core.Expr`` carries them) and returns ``(lo, hi)`` of the result. Each rule must contain every
value Warp can compute from arguments inside their intervals: a rule too narrow lets a signed overflow through,
which the reference reports as undefined behaviour (``tests/test_strategies.py``,
``test_reference_never_finds_undefined_behaviour``).
"""

from __future__ import annotations


def _bits(m: int) -> int:
    return max(m, 1).bit_length()


def add(a):
    return a[0].lo + a[1].lo, a[0].hi + a[1].hi


def sub(a):
    return a[0].lo - a[1].hi, a[0].hi - a[1].lo


def mul(a):
    c = [x * y for x in (a[0].lo, a[0].hi) for y in (a[1].lo, a[1].hi)]
    return min(c), max(c)


def div(a):
    """C's truncating division: never larger in magnitude than the dividend."""
    return -a[0].mag, a[0].mag


def floordiv(a):
    """``a // b`` floors (the reference's Python floor division) with a divisor of magnitude >= 1: at most
    ``max(|a|, 1)`` in magnitude (``-1 // 2`` is -1)."""
    return -max(a[0].mag, 1), max(a[0].mag, 1)


def mod(a):
    """C's ``%``: the dividend's sign, magnitude below the divisor's."""
    m = a[1].mag - 1
    return (0 if a[0].lo >= 0 else -m), (0 if a[0].hi <= 0 else m)


def neg(a):
    return -a[0].hi, -a[0].lo


def pos(a):
    return a[0].lo, a[0].hi


def abs_(a):
    return (0 if a[0].lo <= 0 <= a[0].hi else min(abs(a[0].lo), abs(a[0].hi))), a[0].mag


def min_(a):
    return min(a[0].lo, a[1].lo), min(a[0].hi, a[1].hi)


def max_(a):
    return max(a[0].lo, a[1].lo), max(a[0].hi, a[1].hi)


def clamp(a):
    """``min(max(lo, x), hi)``, exactly as Warp computes it."""
    m_lo, m_hi = max(a[1].lo, a[0].lo), max(a[1].hi, a[0].hi)
    return min(m_lo, a[2].lo), min(m_hi, a[2].hi)


def where(a):
    """Either branch: the condition is argument 0."""
    return min(a[1].lo, a[2].lo), max(a[1].hi, a[2].hi)


def truth(a):
    """A comparison: its operands' size is all that matters (their difference is never emitted)."""
    return 0, 1


def sign(a):
    return -1, 1


def nonzero(a):
    return 0, 1


def bit_and(a):
    if a[0].lo >= 0 or a[1].lo >= 0:
        return 0, min(x.hi for x in a if x.lo >= 0)
    k = _bits(max(a[0].mag, a[1].mag))
    return -(2**k), 2**k - 1


def bit_or(a):
    """``|`` and ``^``: the bits of the larger operand."""
    k = _bits(max(a[0].mag, a[1].mag))
    return (0 if a[0].lo >= 0 and a[1].lo >= 0 else -(2**k)), 2**k - 1


bit_xor = bit_or


def invert(a):
    return -a[0].hi - 1, -a[0].lo - 1


def rshift(a):
    """An arithmetic shift moves a value toward 0 or -1."""
    return min(a[0].lo, 0), max(a[0].hi, 0)


def lshift(a):
    """``x << n`` for the corners of x's interval and of n's (a count below 0 is never drawn: its guard masks it).
    On int32/int64 since generator 0.5.1 (the masks of its guards give its operands' intervals)."""
    counts = (max(a[1].lo, 0), max(a[1].hi, 0))
    ends = [v << n for v in (a[0].lo, a[0].hi) for n in counts]
    return min(ends), max(ends)


def bit_count(a):
    return 0, 64


def vector_index(a):
    """``argmin``/``argmax``: a component index of a vector (at most 4 components)."""
    return 0, 5


def length_of(a):
    """``len(v)``: a vector's components, a matrix's rows (a constant)."""
    return a[0].type.shape[0], a[0].type.shape[0]
