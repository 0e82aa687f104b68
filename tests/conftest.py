"""Hypothesis profiles and shared fixtures.

Profiles (select with ``pytest --hypothesis-profile=NAME``):

``ci`` (default)   few examples, derandomized: what CI runs in a few minutes.
``dataset``        many examples; every accepted kernel of the property tests is appended to the corpus
                   directory given by ``--corpus-dir`` or ``$WARPSMITH_CORPUS_DIR`` (default ``corpus/data``).
``fuzz``           a long bug hunt (thousands of batches); failures shrink and are reported by pytest.
                   ``python -m harness.fuzz`` is the better tool for unattended hunting (reports + dedup).

With ``dataset`` or ``fuzz`` only the tests marked ``@pytest.mark.generated`` run (the property tests over
generated kernels); the rest of the suite is deselected, since it would run unchanged and only take time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("ci", max_examples=6, deadline=None, derandomize=True, suppress_health_check=_SLOW_OK,
                          database=None)
settings.register_profile("dataset", max_examples=400, deadline=None, suppress_health_check=_SLOW_OK,
                          database=None)
settings.register_profile("fuzz", max_examples=5000, deadline=None, suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


#: profiles that run only the property tests over generated kernels
GENERATED_ONLY = ("dataset", "fuzz")


def pytest_configure(config: pytest.Config) -> None:
    # the dataset profile appends to one corpus directory: parallel workers (pytest-xdist's -n) would each open a
    # writer on it
    profile = config.getoption("hypothesis_profile", None) or settings._current_profile
    if profile == "dataset" and (config.getoption("numprocesses", None) or 0) not in (0, "0"):
        raise pytest.UsageError("--hypothesis-profile=dataset writes one corpus: run it without -n (pytest-xdist)")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if settings._current_profile not in GENERATED_ONLY:
        return
    keep = [item for item in items if item.get_closest_marker("generated")]
    dropped = [item for item in items if not item.get_closest_marker("generated")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--corpus-dir", default=None,
                     help="append accepted kernels of the property tests to this corpus directory "
                          "(default with --hypothesis-profile=dataset: $WARPSMITH_CORPUS_DIR or corpus/data)")


def _corpus_dir(config: pytest.Config) -> Path | None:
    explicit = config.getoption("--corpus-dir") or os.environ.get("WARPSMITH_CORPUS_DIR")
    if explicit:
        return Path(explicit)
    if settings._current_profile == "dataset":
        return Path(__file__).resolve().parent.parent / "corpus" / "data"
    return None


@pytest.fixture(scope="session")
def corpus_sink(request: pytest.FixtureRequest):
    """A CorpusWriter when the run should keep accepted kernels (dataset profile), else None."""
    path = _corpus_dir(request.config)
    if path is None:
        yield None
        return
    from harness.store.corpus import CorpusWriter

    with CorpusWriter(path, meta={"source": "pytest", "profile": settings._current_profile}) as writer:
        yield writer
        print(f"\ncorpus: {writer.n_records} records, {writer.total_bytes / 1e6:.2f} MB in {path}")


@pytest.fixture(scope="session")
def session_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scratch space shared by the property tests, with its own Warp kernel cache."""
    from harness.warp_side import warp_adapter

    root = tmp_path_factory.mktemp("warpsmith")
    warp_adapter.init(cache_dir=str(root / "kernel-cache"))
    return root


@pytest.fixture(scope="session", autouse=True)
def _no_hypothesis_constant_pool():
    """Draw without Hypothesis's pool of constants collected from the project's modules, as the harness's own
    draws do (``harness.generate``): the pool grows with every module a test imports, so with it a derandomized
    search finds a different first example depending on which tests ran before (a shrink test took 19 s alone
    and 300 s after the collect and coverage tests)."""
    from harness.generate import _no_local_constants

    with _no_local_constants():
        yield
