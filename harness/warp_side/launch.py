"""Launching a generated kernel on the CPU (or a GPU) and reading its outputs back, as the oracle wants them.

:func:`run_warp` turns a kernel's parameter specs and input values (numpy arrays, scalars, struct dicts, as
:mod:`harness.oracle.inputs` draws them) into Warp arrays and struct instances, launches, and returns the output
arrays by name as numpy arrays (:func:`output_arrays`: an array of structs as ``"<name>.<field>"``), the form the
reference comparison and a record's executable tests use. The pipeline, the cross-release companion and
``check_translation`` launch through it.
"""

from __future__ import annotations

import numpy as np

from . import warp_adapter as W


def run_warp(module, k, values: dict, device: str = "cpu") -> dict[str, np.ndarray]:
    """Launch ``k`` on ``values`` on ``device``; its outputs by name (a struct array output as
    ``"<name>.<field>"``)."""
    args, outs = [], {}
    for p in k.params:
        v = values[p.name]
        struct = getattr(p, "struct", None)
        if p.kind == "array":
            if struct is not None:
                arr = W.struct_array(module, p.dtype, v)
            else:
                arr = W.to_warp(v, p.dtype, shape=getattr(p, "shape", None) or None, device=device)
            args.append(arr)
            if p.is_output:
                outs[p.name] = arr
        else:
            args.append(W.struct_instance(module, p.dtype, v) if struct is not None else v)
    W.launch(getattr(module, k.name), k.dim, args, device)
    return output_arrays(outs)


def output_arrays(outs: dict) -> dict[str, np.ndarray]:
    """Launched output ``wp.array``s by name as numpy arrays (an array of structs as ``"<name>.<field>"``): the form
    of a record's outputs (:func:`run_warp` returns it too)."""
    result = {}
    for name, a in outs.items():
        data = W.to_numpy(a)
        if data.dtype.names:
            result |= {f"{name}.{f}": np.ascontiguousarray(data[f]) for f in data.dtype.names}
        else:
            result[name] = data
    return result
