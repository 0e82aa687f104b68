"""Vector, matrix and spatial math: operator-table rows of Warp's "Vector Math" builtin group, "Spatial Math" and the composite overloads of "Operators".

Conventions (see grammar/ops.py): ``ROWS`` are new rows; ``EXTEND`` maps an existing row's name to extra
signatures (each may carry ``semantics=`` when the row's own semantics does not fit the new types);
``DOMAINS`` names and documents new argument domains; ``GUARDS`` maps each new domain to a source template
``guard(t, e) -> str`` that turns any expression source ``e`` of type ``t`` into a fully parenthesised
expression whose value lies in the domain.
"""

from __future__ import annotations

ROWS: tuple = ()
EXTEND: dict = {}
DOMAINS: dict[str, str] = {}
GUARDS: dict = {}
