"""Input profiles (harness.oracle.inputs): corner values are really drawn, and stay inside what the generator allows."""

from __future__ import annotations

import numpy as np
import pytest

from grammar.types import BY_NAME
from harness.oracle.inputs import PROFILES, make_inputs, profile_for_attempt
from strategies.kernels import ParamSpec


def _specs():
    return (
        ParamSpec("a", "array", "float32", "input", -4.0, 4.0),
        ParamSpec("b", "array", "float32", "input", -4.0, 4.0),
        ParamSpec("v", "array", "vec3", "input", -2.0, 2.0),
        ParamSpec("i", "array", "int32", "input", -100, 100),
        ParamSpec("u", "array", "uint32", "input", 0, 100),
        ParamSpec("s", "scalar", "float32", "param", -2.0, 2.0),
        ParamSpec("n", "scalar", "int32", "param", 0, 8),
        ParamSpec("out", "array", "float32", "output", 0, 0),
    )


def test_grid_profile_is_the_default_and_unchanged():
    assert all(np.array_equal(x, y) for x, y in zip(make_inputs(_specs(), 16, 5).values(),
                                                     make_inputs(_specs(), 16, 5, "grid").values()))
    v = make_inputs(_specs(), 64, 5)
    assert np.all(np.abs(v["a"]) <= 4) and np.all(v["a"] * 64 == np.round(v["a"] * 64))
    assert not np.any((v["a"] == 0) & np.signbit(v["a"]))


@pytest.mark.parametrize("profile", ["corner", "wide"])
def test_corner_profiles_hold_ties_signed_zeros_halves_and_bounds(profile):
    v = make_inputs(_specs(), 256, 11, profile)
    a, b = v["a"], v["b"]
    assert np.any((a == 0) & np.signbit(a)) and np.any((a == 0) & ~np.signbit(a))
    assert np.any(np.isin(a, b[b != 0]))  # ties across arrays
    assert np.any(a == 4.0) or np.any(a == -4.0)
    assert np.any(np.isin(a, [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, -3.5]))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(v["v"]))
    i = v["i"]
    assert i.min() == -100 or i.max() == 100
    assert np.all((i >= -100) & (i <= 100)) and np.any(i < 0) and np.any(i == 0)
    assert 0 <= v["n"] <= 8  # int params are loop bounds: in range
    assert int(v["u"].max()) >= 2**31  # uint32 wraps: the whole type is fair
    if profile == "corner":
        assert np.all(np.abs(a) <= 4) and np.all(np.abs(v["v"]) <= 2)
    else:
        assert np.any(np.abs(a) > 4) and np.any((a != 0) & (np.abs(a) < np.finfo(np.float32).tiny))
        assert np.all(np.abs(a) <= 2.0**41)


def test_float16_wide_values_are_finite_and_exact():
    p = (ParamSpec("h", "array", "float16", "input", -4.0, 4.0),)
    h = make_inputs(p, 512, 3, "wide")["h"]
    assert h.dtype == np.float16 and np.all(np.isfinite(h)) and np.any(np.abs(h) > 4)


def test_profile_for_attempt_ends_on_grid():
    assert [profile_for_attempt(a, 1) for a in range(3)] == ["corner", "corner", "grid"]
    assert profile_for_attempt(0, 3) == "wide"
    assert {profile_for_attempt(0, s) for s in range(30)} <= set(PROFILES)
    with pytest.raises(ValueError):
        make_inputs(_specs(), 4, 0, "nope")
    assert BY_NAME["uint32"].wraps
