"""draw_kernels is a function of (seed, n, policy) alone: not of which modules the process imported before."""

from __future__ import annotations

import importlib.util
import sys

from harness.generate import draw_kernels


def _import_module_with_constants(tmp_path) -> None:
    # Hypothesis harvests literal constants from every local module it sees loaded and mixes them into its
    # draws; a module written and imported at run time (as a Warp kernel module is) grows that pool
    path = tmp_path / "lots_of_constants.py"
    path.write_text("VALUES = [" + ", ".join(str(3 * k + 1) for k in range(400)) + "]\n"
                    "FLOATS = [" + ", ".join(f"{k}.25" for k in range(200)) + "]\n")
    spec = importlib.util.spec_from_file_location("lots_of_constants", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lots_of_constants"] = module
    spec.loader.exec_module(module)


def test_draws_do_not_depend_on_imported_modules(tmp_path):
    before = [k.kernel_source for k in draw_kernels(7, 60)]
    _import_module_with_constants(tmp_path)
    try:
        after = [k.kernel_source for k in draw_kernels(7, 60)]
    finally:
        del sys.modules["lots_of_constants"]
    assert before == after
