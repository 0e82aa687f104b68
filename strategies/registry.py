"""The producers the generator modules call across the grammar's recursion, in one registry.

An expression may call a user helper or read a struct field; a helper's body is statements; statements hold
expressions, guards and nested blocks. Each of these calls back up the module layering below. Such calls go
through :data:`P` (``P.statement(draw, sc)`` in a helper's body), looked up when called, the way hypothesmith resolves
its grammar's recursion with ``st.deferred``; every other call is a plain top-level import of a module further
down. So no module imports one that imports it back (``python benchmarks/import_graph.py``: no cycle, no
function-level import).

The layering, bottom up: ``_cst``, ``core``, ``registry``; ``scope``; ``sinks``, ``static``; ``expressions``;
``guards``; ``structs``, ``functions``; ``statements``; ``kernels``. A producer is registered by the module that
defines it (``@P.register``); importing the package imports every module, so every producer is registered before
anything is drawn. Registered: ``usable_ops`` (expressions), ``guarded`` (guards), ``call_expr`` (functions),
``struct_expr``, ``has_field_reads``, ``field_read`` (structs), ``statement``, ``declare_value`` (statements).
"""

from __future__ import annotations

from collections.abc import Callable


class Producers:
    """Named producers (draw functions and the table views they share), registered once each."""

    def register(self, fn: Callable) -> Callable:
        """Register ``fn`` under its ``__name__`` and return it unchanged (a decorator)."""
        name = fn.__name__
        if name in vars(self):
            raise ValueError(f"producer {name!r} registered twice")
        setattr(self, name, fn)
        return fn

    def __getattr__(self, name: str):
        raise AttributeError(f"no producer {name!r} is registered (import the strategies package, which registers "
                             "every producer)")


#: the registry: ``P.<name>`` is the producer of that name
P = Producers()
