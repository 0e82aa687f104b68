"""Cut the forward and backward functions of each kernel out of a generated Warp module, and normalise them.

Pure text processing: this module never imports Warp. It reads the C++ (``target="cpu"``) or CUDA
(``target="cuda"``) source that Warp generates for a whole module, where kernel ``k`` is emitted as

* CPU:  ``template <bool ...> static void k_<hash>_cpu_kernel_forward(...) { ... }`` and ``..._backward``;
* CUDA: ``extern "C" __global__ void k_<hash>_cuda_kernel_forward(...) { ... }`` and ``..._backward``.

``<hash>`` is 8 lowercase hex digits (absent when the module sets ``strip_hash``). The backward function
is missing when the module was built with ``enable_backward=False``.

:func:`normalise` makes the text of one kernel independent of the module it was generated in, so that
the same kernel always normalises to the same text (the corpus hashes that text to find duplicates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ExtractionError", "cut_spans", "extract_all", "extract_kernel_functions", "kernel_spans", "normalise", "without_kernels"]

TARGETS = ("cpu", "cuda")

# The end of a kernel entry point's name and the start of its parameter list; the name before it is
# ``<kernel>`` or ``<kernel>_<hash>``. Searching for the fixed tail first keeps the scan fast.
_ENTRY_TAIL = re.compile(r"_(?P<target>cpu|cuda)_kernel_(?P<kind>forward|backward)\s*\(")
_KERNEL_NAME = re.compile(r"(?P<name>[A-Za-z_]\w*?)(?:_[0-9a-f]{8})?")
_WORD_CHARACTER = re.compile(r"\w")
_TEMPLATE_LINE = re.compile(r"[ \t]*template\s*<[^\n]*>[ \t]*\n\Z")

# An identifier that carries Warp's content hash: ``<stem>_<8 hex>`` optionally followed by a
# per-target suffix (``_cpu_kernel_forward``, ``_cuda_kernel_backward``, ``_cpu_block_thunk_forward``...).
_HASHED_NAME = re.compile(r"(?P<stem>\w+?)_[0-9a-f]{8}(?P<suffix>(?:_(?:cpu|cuda)_[a-z_]+)?)")
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*_[0-9a-f]{8}\w*")
_WARP_TEMPORARY = re.compile(r"(?:var|adj)_[0-9a-f]{8}")  # var_12345678 is variable number 12345678
_LINE_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*line\b.*$")
_SOURCE_COMMENT = re.compile(r"^[ \t]*//.*<L \d+>[ \t]*$")  # "// <python source>   <L 12>"
_BLANK_RUNS = re.compile(r"\n{3,}")
# Comments and string/char literals are matched whole, so brackets inside them are never counted.
_TOKEN = re.compile(r"""//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|[{}()]""", re.S)


class ExtractionError(Exception):
    """A kernel's functions could not be found in (or cut cleanly out of) a generated module."""


# --------------------------------------------------------------------------- scanning C++ text


def _matching(text: str, start: int, opening: str, closing: str) -> int:
    """Index of the ``closing`` bracket matching ``text[start] == opening``, ignoring comments and strings."""
    depth = 0
    for token in _TOKEN.finditer(text, start):
        kind = token.group(0)
        if kind == opening:
            depth += 1
        elif kind == closing:
            depth -= 1
            if depth == 0:
                return token.start()
    raise ExtractionError(f"unbalanced {opening}{closing} starting at offset {start}")


def _name_before(source: str, end: int) -> tuple[int, str]:
    """Start index and text of the identifier that ends at ``source[end]``."""
    start = end
    while start > 0 and _WORD_CHARACTER.match(source, start - 1):
        start -= 1
    return start, source[start:end]


def _definition_span(source: str, name_start: int, paren: int) -> tuple[int, int] | None:
    """``(start, end)`` of the function whose name starts at ``name_start``, or ``None`` for a mere call."""
    close_paren = _matching(source, paren, "(", ")")
    body = close_paren + 1
    while body < len(source) and source[body].isspace():
        body += 1
    if body >= len(source) or source[body] != "{":
        return None
    start = source.rfind("\n", 0, name_start) + 1
    previous = source.rfind("\n", 0, max(start - 1, 0)) + 1
    if start and _TEMPLATE_LINE.match(source, previous, start):
        start = previous
    return start, _matching(source, body, "{", "}") + 1


# --------------------------------------------------------------------------- public functions


def kernel_spans(source: str, kernel_names: Iterable[str], target: str) -> dict[str, dict[str, tuple[int, int]]]:
    """``{name: {"forward": (start, end), "backward": (start, end)}}``: where each kernel's functions lie in
    ``source`` (see :func:`extract_all`; a missing backward function has no entry)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    wanted = set(kernel_names)
    found: dict[str, dict[str, tuple[int, int]]] = {name: {} for name in wanted}
    headers: dict[tuple[str, str], str] = {}
    position = 0
    for tail in _ENTRY_TAIL.finditer(source):
        if tail.start() < position or tail["target"] != target:
            continue
        name_start, identifier = _name_before(source, tail.start())
        kernel = _KERNEL_NAME.fullmatch(identifier)
        if kernel is None or kernel["name"] not in wanted:
            continue
        span = _definition_span(source, name_start, tail.end() - 1)
        if span is None:
            continue
        name, kind = kernel["name"], tail["kind"]
        if headers.setdefault((name, kind), identifier) != identifier:
            raise ExtractionError(f"kernel {name!r} has several {kind} variants: {headers[(name, kind)]}, {identifier}")
        found[name][kind] = span
        position = span[1]
    missing = sorted(name for name, functions in found.items() if "forward" not in functions)
    if missing:
        raise ExtractionError(f"no {target} forward function for kernel(s) {', '.join(missing)}")
    return found


def extract_all(source: str, kernel_names: Iterable[str], target: str) -> dict[str, dict[str, str]]:
    """The forward and backward function text of each kernel in ``kernel_names``, in one pass.

    ``kernel_names`` are the Python function names of the kernels. Returns
    ``{name: {"forward": str, "backward": str}}``; ``"backward"`` is ``""`` when the module has no
    backward pass. Each function runs from its declaration (including a ``template <...>`` line) to
    its closing brace. Raises :class:`ExtractionError` when a kernel's forward function is missing or
    when a kernel has several hashed variants (a generic kernel with several overloads).
    """
    return {name: {kind: source[spans[kind][0] : spans[kind][1]] if kind in spans else ""
                   for kind in ("forward", "backward")}
            for name, spans in kernel_spans(source, kernel_names, target).items()}


def without_kernels(source: str, kernel_names: Iterable[str], target: str) -> str:
    """``source`` with the forward and backward functions of the kernels ``kernel_names`` cut out: a module
    text that compiles the other kernels only (for CUDA, where a kernel is nothing but its two ``__global__``
    functions; the functions it called stay, unused)."""
    return cut_spans(source, [span for spans in kernel_spans(source, kernel_names, target).values()
                              for span in spans.values()])


def cut_spans(source: str, spans: Iterable[tuple[int, int]]) -> str:
    """``source`` without the ``(start, end)`` ranges ``spans`` (from :func:`kernel_spans`; they do not overlap)."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        pieces.append(source[position:start])
        position = end
    pieces.append(source[position:])
    return "".join(pieces)


def extract_kernel_functions(source: str, kernel_name: str, target: str) -> dict[str, str]:
    """``{"forward": str, "backward": str}`` for kernel ``kernel_name`` (see :func:`extract_all`)."""
    return extract_all(source, [kernel_name], target)[kernel_name]


def _strip_hash(match: re.Match) -> str:
    name = match.group(0)
    if _WARP_TEMPORARY.fullmatch(name):
        return name
    hashed = _HASHED_NAME.fullmatch(name)
    return name if hashed is None else hashed["stem"] + hashed["suffix"]


def _renumber_functions(text: str, functions: Iterable[str]) -> str:
    """``f_<n>`` -> ``f_<i>``, ``i`` counting the distinct ``n`` of ``f`` in order of first appearance."""
    keys = sorted(set(functions), key=len, reverse=True)  # the longest first: f0 before f
    if not keys:
        return text
    pattern = re.compile(r"(?:\b|(?<=\badj_))(?P<key>" + "|".join(map(re.escape, keys)) + r")_(?P<n>\d+)\b")
    seen: dict[str, dict[str, int]] = {}

    def renumber(match: re.Match) -> str:
        numbers = seen.setdefault(match["key"], {})
        return f"{match['key']}_{numbers.setdefault(match['n'], len(numbers))}"

    return pattern.sub(renumber, text)


def normalise(code: str, functions: Iterable[str] = ()) -> str:
    """Generated code with everything that depends on the surrounding module removed.

    * Warp's 8-hex-digit content hash is dropped from identifiers: ``k_foo_1a2b3c4d_cpu_kernel_forward``
      becomes ``k_foo_cpu_kernel_forward``, ``wp_args_k_foo_1a2b3c4d`` becomes ``wp_args_k_foo`` and a
      struct ``S_1a2b3c4d`` becomes ``S``. Warp's numbered temporaries (``var_12345678``) are kept. A
      user identifier that itself ends in ``_`` plus 8 hex digits would lose that ending too.
    * ``functions``: the names of the ``@wp.func`` functions the kernel calls. Warp names each instance of a
      user function ``<name>_<n>`` (``adj_<name>_<n>`` for its adjoint) with ``n`` from a process-wide
      counter per name, so the number tells how many such functions the process made before (a worker's
      100th ``layer_norm`` is ``layer_norm_137``); they are numbered from 0 in order of first appearance
      instead, distinct numbers staying distinct.
    * Whole-line source comments (``// <python source>   <L 12>``) and ``#line`` directives go.
    * Trailing whitespace is stripped, runs of blank lines become one, and the text ends in one newline.
    """
    lines = []
    for line in code.splitlines():
        if _LINE_DIRECTIVE.match(line) or _SOURCE_COMMENT.match(line):
            continue
        lines.append(line.rstrip())
    text = _IDENTIFIER.sub(_strip_hash, "\n".join(lines))
    text = _renumber_functions(text, functions)
    text = _BLANK_RUNS.sub("\n\n", text).strip("\n")
    return text + "\n" if text else ""
