"""Which overloads of the operator table a Warp release accepts: one probe kernel per signature, code generation only.

The table (:mod:`grammar.ops`) follows Warp 1.19. An older release may have a builtin but not all of its
overloads (1.10: ``wp.transform(t)``, several vector-only rows on matrices...); a kernel using one fails to build,
which a hunt on that release would report as a ``compile-error`` although nothing is wrong. :func:`missing` writes
one tiny kernel per (row, signature) -- its arguments are elements of array parameters of the signature's types,
its body the call as the generator spells it (:func:`strategies.expressions.render_op`) -- and runs Warp's code generation on
them (no C++ compiler: a missing overload is a Python-side error of the code generator). Modules of
:data:`CHUNK` probes: the kernel an error names is left out and the rest generated again, so each chunk costs a
few code generations. The result, as ``row:index`` keys (the signature's position in its row of the full table),
is cached per release and table (:func:`cached_missing`); :func:`grammar.ops.restrict_signatures` then leaves
those overloads out of what the generator draws. On the release the table follows the probe finds none (a test
checks it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tempfile
from pathlib import Path

import libcst as cst

from grammar import ops as OPS

from .build_errors import build_without_named

#: probes per generated module
CHUNK = 60
#: rows not probed: the component read ``v[k]`` (indexing, every release), atomics (not table rows of OPS)
_SKIPPED_SYNTAX = ("index",)


class ProbeError(RuntimeError):
    """Code generation does not work at all on the installed release (an adapter gap, not missing overloads)."""


def key(op, index: int) -> str:
    return f"{op.name}:{index}"


def probes() -> list[tuple[str, str, str]]:
    """``(key, kernel name, kernel source)`` per probed (row, signature) of the full table."""
    from strategies import _cst as B
    from strategies.expressions import render_op

    out = []
    for op in OPS.BY_NAME.values():
        if op.syntax in _SKIPPED_SYNTAX or op in OPS.ATOMICS:
            continue
        for i, s in enumerate(op.signatures):
            if not all(hasattr(t, "warp_name") for t in s.args):
                continue
            name = f"p_{re.sub(r'[^0-9a-zA-Z_]', '_', op.name)}_{i}"
            # a row returning a tuple lists the returned types after its inputs: they are not arguments
            n_args = len(s.args) - op.outputs if op.returns_tuple else len(s.args)
            # arguments read from arrays (``a0[0]``), as most generated arguments are: a release may accept a value
            # but not an array element (1.10's ``wp.matrix_from_rows(v, a0[0])``: "all arguments are expected to be
            # vectors"), and one that takes an element takes a value too
            params = ", ".join(f"a{j}: wp.array(dtype={t.warp_name})" for j, t in enumerate(s.args[:n_args]))
            call = B.render(render_op(op, [cst.parse_expression(f"a{j}[0]") for j in range(n_args)], s))
            if op.returns_tuple:
                body = f"{', '.join(f'r{j}' for j in range(op.outputs))} = {call}"
            else:
                body = call if (s.result is None or op.outputs or op.inplace) else f"r = {call}"
            # a library-function row (grammar.ops_nn) is probed with its definition: the release must build it
            definition = OPS.fragment_source(op, s) + "\n\n" if op.definition is not None else ""
            out.append((key(op, i), name, f"{definition}@wp.kernel\ndef {name}({params}):\n    {body}\n"))
    return out


def table_digest(items: list | None = None) -> str:
    """A digest of the probes (``items``, default :func:`probes`): a cached result is reused only for the same
    table."""
    return hashlib.sha256("\n".join(src for _, _, src in (items or probes())).encode()).hexdigest()[:16]


def missing(log=None, items: list | None = None) -> set[str]:
    """The ``row:index`` keys of the table's overloads (of ``items``, default :func:`probes`) the installed Warp
    cannot generate code for."""
    from . import warp_adapter as W

    W.init()
    found: set[str] = set()
    items = items or probes()
    with tempfile.TemporaryDirectory(prefix="warpsmith-overloads-") as scratch:
        # a probe can only fail for its overload if code generation works at all: checked on a trivial kernel
        path = Path(scratch) / "probe_sanity.py"
        path.write_text("import warp as wp\n\n\n@wp.kernel\ndef p_sanity(a0: wp.array(dtype=wp.float32)):\n"
                        "    r = a0[0] + a0[0]\n")
        module = W.import_kernel_module(path)
        try:
            W.generate_source(module, "cpu")
        except W.BuildError as error:
            raise ProbeError(f"code generation fails on warp-lang {W.warp_version()} for a trivial kernel, so no "
                             f"overload can be probed: {str(error).splitlines()[0]}") from None
        finally:
            W.release_module(module)
        tries = itertools.count()

        def generate(group) -> tuple[None, str | None]:
            path = Path(scratch) / f"probe_{next(tries)}.py"
            path.write_text("import warp as wp\n\n\n" + "\n\n".join(src for _, _, src in group))
            module = W.import_kernel_module(path)
            try:
                W.generate_source(module, "cpu")
                return None, None
            except W.BuildError as error:
                return None, str(error)
            finally:
                W.release_module(module)

        for start in range(0, len(items), CHUNK):
            _, failed = build_without_named(items[start:start + CHUNK], lambda p: p[1], generate)
            found |= {k for k, name, _ in items[start:start + CHUNK] if name in failed}
            if log:
                log(f"{min(start + CHUNK, len(items))}/{len(items)} overloads probed, {len(found)} missing")
    return found


def release_missing() -> set[str]:
    """What the generator must leave out on the installed Warp: :func:`cached_missing` on a release older than the
    table's (:data:`grammar.ops.TABLE_RELEASE`), nothing on that release or a newer one."""
    from ..releases import version_key
    from . import warp_adapter as W

    return cached_missing() if version_key(W.warp_version()) < version_key(OPS.TABLE_RELEASE) else set()


def cached_missing(cache_dir: Path | None = None, log=None) -> set[str]:
    """:func:`missing` for the installed Warp, cached in ``cache_dir`` (default: the releases' cache root,
    ``$WARPSMITH_VENVS``) under the Warp version and the table digest."""
    from ..releases import venv_root
    from . import warp_adapter as W

    cache_dir = Path(cache_dir) if cache_dir is not None else venv_root()
    items = probes()
    path = cache_dir / f"overloads-{W.warp_version()}-{table_digest(items)}.json"
    try:
        return set(json.loads(path.read_text())["missing"])
    except (OSError, ValueError, KeyError):
        pass
    found = missing(log, items)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"warp": W.warp_version(), "missing": sorted(found)}, indent=1) + "\n")
        tmp.replace(path)
    except OSError:
        pass
    return found
