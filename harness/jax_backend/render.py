"""The JAX backend: a generated Warp kernel as a JAX program over whole arrays.

What is generated. :func:`render` reads the kernel through the reference's typed transpilation
(:func:`harness.oracle.reference.typed_ir`: every operator, builtin and constructor already resolved to one
``(row, signature)`` of the table, every local typed) and writes a standalone JAX program (imports: ``jax`` only)::

    def kernel(a0, out0, acc0, s0):          # the Warp kernel's parameters, same order
        def thread(_tid):                    # one thread, vectorised with jax.vmap over the launch
            ...                              # the body, statements masked (see below)
            return (w_out0, m_out0, d_acc0)  # this thread's writes
        w_out0, m_out0, d_acc0 = jax.vmap(thread)(jnp.arange(16, dtype=jnp.int32))
        return {"out0": _w_merge(out0, w_out0, m_out0), "acc0": acc0 + d_acc0.sum(0)}

* **Control flow becomes data flow.** Every statement runs under a *mask*, the conjunction of the tests of the
  enclosing branches and of "no break / continue / return happened yet" flags; an assignment under a mask is
  ``x = jnp.where(m, new, x)``. Both sides of a branch are computed (a masked-off side may compute garbage, NaN or
  an out-of-range index; JAX neither traps nor reads out of bounds, and the value is discarded). Loops with
  literal bounds unroll (a Python ``for`` in the program); other ``for`` loops and ``while`` loops become
  ``lax.while_loop`` over the variables they assign, whose condition includes the mask (a masked-off lane never
  iterates). ``@wp.func`` helpers become Python functions (JAX traces them inline).
* **Memory.** Input arrays are read as they are. Each thread carries its own copy of every output array plus a
  written-mask; after ``vmap`` the written element of each slot is picked (the grammar never lets two threads
  write one slot, so at most one did) and the others keep their input value. Atomics accumulate into a
  per-thread delta array reduced over the threads afterwards (``add``/``sub`` as a sum, ``min``, ``max``, and
  the bitwise ones), exact for integers; float sums differ from Warp's in-order accumulation by rounding only.
* **Never mistranslated.** What cannot be expressed faithfully raises :class:`Inexpressible` with a short reason
  key, counted per category by ``benchmarks/jax_share.py``: the value of an atomic (the old value depends on
  thread order), ``atomic_exch``/``atomic_cas`` and mixed atomic kinds on one array, reads of an atomically
  updated array, structs, a row or overload without a JAX spelling (:mod:`grammar.semantics_jax`), a loop-local
  read after its loop.

Guaranteed: the program's outputs are the kernel's output arrays (own-slot, sink and atomic arrays) by name, in
the dtypes and shapes Warp uses; the program is pure (jit-able, lowerable, differentiable where JAX can
differentiate it: unrolled loops and branches yes, ``lax.while_loop`` only forward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import libcst as cst

from grammar import semantics_jax as J
from grammar.types import BOOL, FLOAT32, INT32, Array, Composite, Struct, composite

from ..oracle.reference import CALLS, struct_types, typed_ir

ATOMIC_KIND = {"atomic_add": "add", "atomic_sub": "add", "atomic_min": "min", "atomic_max": "max",
               "atomic_and": "and", "atomic_or": "or", "atomic_xor": "xor"}


class Inexpressible(Exception):
    """The kernel has a construct the JAX backend does not express faithfully; ``reason`` is a short key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class JaxProgram:
    source: str  # the whole program (imports, helpers, ``kernel``)
    params: tuple[str, ...]  # ``kernel``'s parameters (the Warp kernel's, same order)
    outputs: tuple[str, ...]  # names of the arrays ``kernel`` returns (a dict)


def _code(node) -> str:
    return cst.Module(body=()).code_for_node(node)


def _call_name(node) -> str:
    return _code(node.func) if isinstance(node, cst.Call) else ""


def _int_literal(node) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    if isinstance(node, cst.Call) and _call_name(node) == "R.result" and len(node.args) == 2:
        return _int_literal(node.args[1].value)
    return None


def _assigned_names(stmts) -> set[str]:
    """Every local name a block assigns (at any depth)."""
    names: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, node):
            t = node.target
            for e in (t.elements if isinstance(t, cst.Tuple) else [t]):
                target = e.value if isinstance(e, cst.Element) else e
                if isinstance(target, cst.Name):
                    names.add(target.value)

        def visit_For(self, node):
            if isinstance(node.target, cst.Name):
                names.add(node.target.value)

    for s in stmts:
        s.visit(V())
    return names


def _contains(stmts, kind) -> bool:
    """Whether a loop body holds a ``kind`` statement (break/continue) of its own: nested loops' are theirs."""
    for s in stmts:
        if isinstance(s, cst.SimpleStatementLine):
            if any(isinstance(x, kind) for x in s.body):
                return True
        elif isinstance(s, cst.If):
            branch = s
            while branch is not None:
                body = branch.body.body
                if _contains(body, kind):
                    return True
                branch = branch.orelse
                if isinstance(branch, cst.Else):
                    return _contains(branch.body.body, kind)
    return False


class _Loop:
    def __init__(self, brk: str | None, cnt: str | None):
        self.brk, self.cnt = brk, cnt


class _Function:
    """Emits one function of the transpiled kernel (a helper or the kernel's thread body)."""

    def __init__(self, r: "_Renderer", name: str, env: dict, is_kernel: bool, result):
        self.r = r
        self.name = name
        self.env = dict(env)
        self.is_kernel = is_kernel
        self.result = result  # helper return type (or tuple of types); None for the kernel
        self.lines: list[str] = []
        self.depth = 1
        self.defined: set[str] = set()
        self.block_mask: str | None = None
        self.loops: list[_Loop] = []
        self.ret: str | None = None  # the "returned already" flag, when a return is not the last statement
        self.rv: list[str] = []  # result variables of a helper with early returns

    # ---- output ------------------------------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def fresh(self, stem: str) -> str:
        return self.r.fresh(stem)

    # ---- masks -------------------------------------------------------------------------------------------------

    def mask(self) -> str | None:
        parts = [self.block_mask] if self.block_mask else []
        if self.loops:
            loop = self.loops[-1]
            parts += [f"~{f}" for f in (loop.brk, loop.cnt) if f]
        if self.ret:
            parts.append(f"~{self.ret}")
        return " & ".join(parts) if parts else None

    def assign(self, name: str, code: str, t=None) -> None:
        m = self.mask()
        if m is None or name not in self.defined:
            self.emit(f"{name} = {code}")
        elif isinstance(t if t is not None else self.env.get(name), Struct):
            self.emit(f"{name} = _w_select({m}, {code}, {name})")
        else:
            self.emit(f"{name} = jnp.where({m}, {code}, {name})")
        self.defined.add(name)

    # ---- expressions -------------------------------------------------------------------------------------------

    def expr(self, node) -> tuple[str, object]:
        if isinstance(node, cst.Integer):
            return f"jnp.int32({int(node.value)})", INT32
        if isinstance(node, cst.Float):
            return f"jnp.float32({node.value})", FLOAT32
        if isinstance(node, cst.Name):
            if node.value in ("True", "False"):
                return f"jnp.bool_({node.value})", BOOL
            if node.value not in self.defined:
                raise Inexpressible("loop-local-escapes", node.value)
            return node.value, self.env.get(node.value, INT32)
        if isinstance(node, cst.UnaryOperation):
            v = _int_literal(node)
            if v is not None:
                return f"jnp.int32({v})", INT32
            if isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Float):
                return f"jnp.float32(-{node.expression.value})", FLOAT32
            raise Inexpressible("unexpected-ir", _code(node))
        if isinstance(node, cst.Tuple):
            parts = [self.expr(e.value)[0] for e in node.elements]
            return "(" + ", ".join(parts) + ",)", tuple(INT32 for _ in parts)
        if not isinstance(node, cst.Call):
            raise Inexpressible("unexpected-ir", _code(node))
        func = _code(node.func)
        args = [a.value for a in node.args]
        if isinstance(node.func, cst.Subscript) and _code(node.func.value) == "R.f":
            i = int(node.func.slice[0].slice.value.value)
            op, sig = CALLS[i]
            codes = [self.expr(a)[0] for a in args]
            spelled = J.spell(op, sig, codes)
            if spelled is None:
                raise Inexpressible("no-jax-spelling", f"{'.'.join(J.spelling_key(op, sig))} ({op.name} {sig.args})")
            if op.outputs:
                return spelled, tuple(sig.args[-op.outputs:])
            return spelled, sig.result
        if func == "R.lit":
            v = args[0]
            text = _code(v)
            return f"jnp.float32({text})", FLOAT32
        if func == "R.result":
            kind = args[0].value.strip("\"'")
            if kind == "wp.func":
                call = args[1]
                name = _code(call.func)
                codes = [self.expr(a.value)[0] for a in call.args]
                return f"{name}({', '.join(codes)})", self.r.funcs[name][1]
            if kind in ("wp.static", "struct"):
                return self.expr(args[1])
            raise Inexpressible("unexpected-ir", kind)
        if func == "R.aload" and isinstance(args[0], cst.Call):
            # a struct's array field (``sp0.m1[i]``): a view of an input, read only (the grammar never writes one
            # and never makes a struct with an array field a local), passed whole with its struct
            base, at = self.expr(args[0])
            if not isinstance(at, Array) or isinstance(at.dtype, Struct):
                raise Inexpressible("unexpected-ir", _code(node))
            return f"{base}[{self.index(args[1])}]", at.dtype
        if func == "R.aload":
            arr, idx = args[0].value, args[1]
            if arr in self.r.atomic_kind:
                raise Inexpressible("reads-atomic-array", arr)
            t = self.r.arrays[arr]
            icode = self.index(idx)
            base = f"w_{arr}" if arr in self.r.written else arr
            if isinstance(t.dtype, Struct):
                return f"_w_at({base}, ({icode},))", t.dtype
            return f"{base}[{icode}]", t.dtype
        if func == "R.cget":
            v, vt = self.expr(args[0])
            idx = [self.component_index(a) for a in args[1:]]
            if not isinstance(vt, Composite):
                raise Inexpressible("unexpected-ir", _code(node))
            if len(vt.shape) == 2 and len(idx) == 1:
                row = composite("vector", vt.scalar, vt.shape[1]) if vt.kind == "matrix" else composite("spatial_vector", vt.scalar)
                return f"{v}[{idx[0]}]", row
            return f"{v}[{', '.join(idx)}]", vt.scalar
        if func == "R.cset":  # the updated copy of a composite (a component write)
            base, bt = self.expr(args[0])
            x, _ = self.expr(args[1])
            idx = ", ".join(self.component_index(a) for a in args[2:])
            return f"{base}.at[{idx}].set({x})", bt
        if func == "R.atomic":
            raise Inexpressible("atomic-result", "the old value an atomic returns depends on the thread order")
        if func == "R.snew":
            st = self.r.structs[args[0].value.strip("\"'")]
            return self.r.zero(st), st
        if func == "R.fget":
            v, vt = self.expr(args[0])
            fname = args[1].value.strip("\"'")
            return f'{v}["{fname}"]', vt.field(fname)
        if func == "R.fset":
            v, vt = self.expr(args[0])
            fname = args[1].value.strip("\"'")
            x, _ = self.expr(args[2])
            return f'{{**{v}, "{fname}": {x}}}', vt
        raise Inexpressible("unexpected-ir", func)

    def index(self, node) -> str:
        if isinstance(node, cst.Tuple):
            return ", ".join(self.expr(e.value)[0] for e in node.elements)
        return self.expr(node)[0]

    def component_index(self, node) -> str:
        v = _int_literal(node)
        return str(v) if v is not None else self.expr(node)[0]

    def truth(self, node) -> str:
        code, t = self.expr(node)
        return code if t == BOOL else f"({code} != 0)"

    # ---- statements --------------------------------------------------------------------------------------------

    def block(self, stmts) -> None:
        for s in stmts:
            self.statement(s)

    def statement(self, s) -> None:
        if isinstance(s, cst.SimpleStatementLine):
            for small in s.body:
                self.small(small)
        elif isinstance(s, cst.If):
            self.if_(s)
        elif isinstance(s, cst.For):
            self.for_(s)
        elif isinstance(s, cst.While):
            self.while_(s)
        else:
            raise Inexpressible("unexpected-ir", type(s).__name__)

    def small(self, s) -> None:
        if isinstance(s, cst.Pass):
            return
        if isinstance(s, cst.Assign):
            (target,) = s.targets
            t = target.target
            if _code(s.value) == "_tid":
                self.emit(f"{_code(t)} = _tid")
                for e in (t.elements if isinstance(t, cst.Tuple) else [t]):
                    name = e.value.value if isinstance(e, cst.Element) else e.value
                    self.defined.add(name)
                    self.env[name] = INT32
                return
            if isinstance(t, cst.Name):
                value, vt = self.expr(s.value)
                self.assign(t.value, value, vt)
                return
            if isinstance(t, cst.Tuple):
                code, types = self.expr(s.value)
                tmp = self.fresh("t")
                self.emit(f"{tmp} = {code}")
                for k, e in enumerate(t.elements):
                    self.assign(e.value.value, f"{tmp}[{k}]", types[k] if isinstance(types, tuple) else None)
                return
            raise Inexpressible("unexpected-ir", _code(s))
        if isinstance(s, cst.Expr):
            v = s.value
            func = _call_name(v)
            if func == "R.astore":
                self.store(*[a.value for a in v.args])
            elif func == "R.atomic":
                self.atomic(*[a.value for a in v.args])
            elif func in ("R.result",) or (isinstance(v, cst.Call) and isinstance(v.func, cst.Subscript)):
                self.expr(v)  # a call whose value is discarded: pure here, nothing to emit (still spelled)
            else:
                raise Inexpressible("unexpected-ir", _code(s))
            return
        if isinstance(s, cst.Break):
            loop = self.loops[-1]
            self.emit(f"{loop.brk} = {loop.brk} | {self.mask() or 'True'}")
            return
        if isinstance(s, cst.Continue):
            loop = self.loops[-1]
            self.emit(f"{loop.cnt} = {loop.cnt} | {self.mask() or 'True'}")
            return
        if isinstance(s, cst.Return):
            self.return_(s)
            return
        raise Inexpressible("unexpected-ir", type(s).__name__)

    def store(self, arr_node, idx_node, value_node) -> None:
        arr = arr_node.value
        if arr not in self.r.written:
            raise Inexpressible("store-to-input", arr)
        idx = self.index(idx_node)
        value, _ = self.expr(value_node)
        m = self.mask()
        w, mm = f"w_{arr}", f"m_{arr}"
        if isinstance(self.r.arrays[arr].dtype, Struct):
            self.emit(f"{w} = _w_set({w}, ({idx},), {value}, {m or 'True'})")
            self.emit(f"{mm} = {mm}.at[{idx}].set({mm}[{idx}] | ({m or 'True'}))")
            return
        if m is None:
            self.emit(f"{w} = {w}.at[{idx}].set({value})")
            self.emit(f"{mm} = {mm}.at[{idx}].set(True)")
        else:
            self.emit(f"{w} = {w}.at[{idx}].set(jnp.where({m}, {value}, {w}[{idx}]))")
            self.emit(f"{mm} = {mm}.at[{idx}].set({mm}[{idx}] | ({m}))")

    def atomic(self, name_node, arr_node, idx_node, *operands) -> None:
        name = name_node.value.strip("\"'")
        arr = arr_node.value
        kind = self.r.atomic_kind[arr]
        idx = self.index(idx_node)
        (value,) = [self.expr(o)[0] for o in operands]
        if name == "atomic_sub":
            value = f"(-{value})"
        d = f"d_{arr}"
        m = self.mask()
        ident = self.r.identity(arr)
        v = value if m is None else f"jnp.where({m}, {value}, {ident})"
        if kind == "add":
            self.emit(f"{d} = {d}.at[{idx}].add({v})")
        elif kind in ("min", "max"):
            self.emit(f"{d} = {d}.at[{idx}].{kind}({v})")
        else:
            op = {"and": "&", "or": "|", "xor": "^"}[kind]
            self.emit(f"{d} = {d}.at[{idx}].set({d}[{idx}] {op} {v})")

    def return_(self, s: cst.Return) -> None:
        if self.ret is None:  # the function's last top-level statement: a plain return
            if s.value is None:
                return
            self.emit(f"return {self.expr(s.value)[0]}")
            return
        m = self.mask() or "True"
        if s.value is not None:
            code, _ = self.expr(s.value)
            if len(self.rv) == 1:
                self.emit(f"{self.rv[0]} = _w_select({m}, {code}, {self.rv[0]})")
            else:
                tmp = self.fresh("t")
                self.emit(f"{tmp} = {code}")
                for k, rv in enumerate(self.rv):
                    self.emit(f"{rv} = _w_select({m}, {tmp}[{k}], {rv})")
        self.emit(f"{self.ret} = {self.ret} | {m}")

    def if_(self, s: cst.If) -> None:
        test = self.fresh("c")
        self.emit(f"{test} = {self.truth(s.test)}")
        outer = self.mask()
        saved = self.block_mask
        m_then = self.fresh("m")
        self.emit(f"{m_then} = {test}" if outer is None else f"{m_then} = {outer} & {test}")
        self.block_mask = m_then
        self.block(s.body.body)
        self.block_mask = saved
        if s.orelse is not None:
            m_else = self.fresh("m")
            self.emit(f"{m_else} = ~{test}" if outer is None else f"{m_else} = ({outer}) & ~{test}")
            self.block_mask = m_else
            if isinstance(s.orelse, cst.If):
                self.if_(s.orelse)
            else:
                self.block(s.orelse.body.body)
            self.block_mask = saved

    def _range(self, it) -> tuple[list, bool]:
        if _call_name(it) != "range":
            raise Inexpressible("unexpected-ir", _code(it))
        args = [a.value for a in it.args]
        literal = all(_int_literal(a) is not None for a in args)
        return args, literal

    def loop_flags(self, body) -> tuple[str | None, str | None]:
        """The break and continue flag names of a loop whose body breaks / continues (None otherwise); the break
        flag starts false here, the continue flag at the top of each iteration."""
        brk = self.fresh("brk") if _contains(body, cst.Break) else None
        cnt = self.fresh("cnt") if _contains(body, cst.Continue) else None
        if brk:
            self.emit(f"{brk} = jnp.bool_(False)")
        return brk, cnt

    def for_(self, s: cst.For) -> None:
        var = s.target.value
        args, literal = self._range(s.iter)
        body = s.body.body
        brk, cnt = self.loop_flags(body)
        self.env[var] = INT32
        if literal:
            bounds = ", ".join(str(_int_literal(a)) for a in args)
            entry = self.block_mask
            outer = self.mask()  # the enclosing loops' flags cannot change while this loop runs: fixed here
            if outer is not None and outer != entry:
                self.block_mask = self.fresh("m")
                self.emit(f"{self.block_mask} = {outer}")
            it = self.fresh("i")
            self.emit(f"for {it} in range({bounds}):")
            self.depth += 1
            self.emit(f"{var} = jnp.int32({it})")
            self.defined.add(var)
            if cnt:
                self.emit(f"{cnt} = jnp.bool_(False)")
            self.loops.append(_Loop(brk, cnt))
            loop_mask = self.block_mask
            self.block(body)
            self.block_mask = loop_mask
            self.loops.pop()
            self.depth -= 1
            self.block_mask = entry
            return
        codes = [self.expr(a)[0] for a in args]
        if len(codes) == 1:
            start, stop, step = "jnp.int32(0)", codes[0], 1
        else:
            start, stop = codes[0], codes[1]
            step = _int_literal(args[2]) if len(args) == 3 else 1
            if step is None or step == 0:
                raise Inexpressible("dynamic-range-step")
        j = self.fresh("j")
        self.emit(f"{j} = {start}")
        test = f"({j} < {stop})" if step > 0 else f"({j} > {stop})"
        self.lax_loop(body, brk, cnt, counter=(j, var, step), test=test)

    def while_(self, s: cst.While) -> None:
        body = s.body.body
        brk, cnt = self.loop_flags(body)
        self.lax_loop(body, brk, cnt, counter=None, test=None, while_test=s.test)

    def lax_loop(self, body, brk, cnt, counter, test, while_test=None) -> None:
        """A loop whose trip count is data: ``lax.while_loop`` over what the body assigns (+ the flags and the
        kernel's per-thread memory), the mask part of the condition."""
        assigned = _assigned_names(body)
        carried = sorted(n for n in assigned if n in self.defined)
        if counter:
            carried = [counter[0]] + [n for n in carried if n != counter[1]]
        carried += [f for f in (brk, self.ret) if f]
        if self.is_kernel:
            carried += self.r.state_names()
        entry = self.fresh("m")
        outer = self.mask()
        self.emit(f"{entry} = {outer or 'jnp.bool_(True)'}")
        n = self.fresh("loop")
        pack = "(" + ", ".join(carried) + ",)"
        # condition: the entry mask, no break/return yet, and the loop's own test
        self.emit(f"def {n}_cond(_carry):")
        self.depth += 1
        self.emit(f"{pack} = _carry")
        parts = [entry] + [f"~{f}" for f in (brk, self.ret) if f]
        if counter:
            parts.append(test)
        else:
            parts.append(self.truth(while_test))
        self.emit("return " + " & ".join(parts))
        self.depth -= 1
        self.emit(f"def {n}_body(_carry):")
        self.depth += 1
        self.emit(f"{pack} = _carry")
        saved_defined, saved_mask = set(self.defined), self.block_mask
        if counter:
            self.emit(f"{counter[1]} = {counter[0]}")
            self.defined.add(counter[1])
        if cnt:
            self.emit(f"{cnt} = jnp.bool_(False)")
        self.block_mask = entry
        self.loops.append(_Loop(brk, cnt))
        self.block(body)
        self.loops.pop()
        if counter:
            self.emit(f"{counter[0]} = {counter[0]} + {counter[2]}")
        self.emit(f"return {pack}")
        self.depth -= 1
        self.block_mask = saved_mask
        self.defined = saved_defined
        self.emit(f"{pack} = lax.while_loop({n}_cond, {n}_body, {pack})")


class _Renderer:
    def __init__(self, kernel):
        self.kernel = kernel
        self.counter = 0
        code, envs, funcs = typed_ir(kernel.kernel_source)
        self.ir = cst.parse_module(code)
        self.envs, self.funcs = envs, funcs
        self.arrays: dict[str, Array] = {}
        self.written: list[str] = []
        self.atomic_kind: dict[str, str] = {}
        self.structs: dict[str, Struct] = {}

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"_{stem}{self.counter}"

    def zero(self, t) -> str:
        """The code of a zero value of ``t`` (Warp zero-initialises structs)."""
        if isinstance(t, Struct):
            if t.has_array:
                raise Inexpressible("struct-array-field", t.name)
            return "{" + ", ".join(f'"{f}": {self.zero(ft)}' for f, ft in t.fields) + "}"
        shape = t.shape if isinstance(t, Composite) else ()
        return f"jnp.zeros({shape}, {J.dtype(t)})"

    def state_names(self) -> list[str]:
        return [n for a in self.written for n in (f"w_{a}", f"m_{a}")] + [f"d_{a}" for a in self.atomic_kind]

    def identity(self, arr: str) -> str:
        t = self.arrays[arr].dtype
        d = J.dtype(t)
        kind = self.atomic_kind[arr]
        s = J.scalar_of(t)
        if kind in ("add", "or", "xor"):
            return f"{d}(0)"
        if kind == "and":
            return f"{d}(-1)" if s.is_signed else f"{d}({s.max})"
        big = "jnp.inf" if s.is_float else str(s.max if kind == "min" else s.min)
        return f"{d}({big})" if kind == "min" else f"{d}({'-jnp.inf' if s.is_float else big})"

    def render(self) -> JaxProgram:
        k = self.kernel
        defs = [s for s in self.ir.body if isinstance(s, cst.FunctionDef)]
        kernel_def = defs[-1]
        kenv = self.envs[_kernel_name(self.envs)]
        params = [p.name.value for p in kernel_def.params.params][1:]  # without _tid
        roles = {p.name: p.role for p in k.params}
        self.structs = struct_types(k.kernel_source)
        for name in params:
            t = kenv[name]
            if isinstance(t, Array):
                self.arrays[name] = t
                if roles.get(name) == "output":
                    self.written.append(name)
        self._atomics(kernel_def, roles)
        out: list[str] = []
        for d in defs[:-1]:
            out += self._helper(d)
        out += self._kernel(kernel_def, params, kenv)
        body = "\n".join(out)
        helpers = sorted(J.helpers_called(body))
        prelude = ["import jax", "import jax.numpy as jnp", "import jax.scipy.special", "from jax import lax", "",
                   'jax.config.update("jax_enable_x64", True)', "", ""]
        helper_src = [J.helper_source(h) for h in helpers]
        source = "\n".join(prelude) + "\n\n".join(helper_src + [body]) + "\n"
        outputs = tuple(self.written) + tuple(self.atomic_kind)  # (struct arrays: one output per field)
        return JaxProgram(source, tuple(params), outputs)

    def _atomics(self, kernel_def, roles) -> None:
        kinds: dict[str, set] = {}

        class V(cst.CSTVisitor):
            def visit_Call(self, node):
                if _call_name(node) == "R.atomic":
                    name = node.args[0].value.value.strip("\"'")
                    arr = _code(node.args[1].value)
                    if name not in ATOMIC_KIND:
                        raise Inexpressible("order-dependent-atomic", name)
                    kinds.setdefault(arr, set()).add(ATOMIC_KIND[name])

        kernel_def.visit(V())
        for arr, ks in kinds.items():
            if len(ks) != 1:
                raise Inexpressible("mixed-atomics", f"{arr}: {sorted(ks)}")
            if arr in self.written:
                raise Inexpressible("atomic-on-output", arr)
            self.atomic_kind[arr] = ks.pop()

    def _helper(self, d: cst.FunctionDef) -> list[str]:
        name = d.name.value
        params = [p.name.value for p in d.params.params]
        f = _Function(self, name, self.envs[name], False, self.funcs[name][1])
        f.defined |= set(params)
        body = d.body.body
        returns = _count_returns(body)
        last_is_return = bool(body) and isinstance(body[-1], cst.SimpleStatementLine) and isinstance(body[-1].body[-1], cst.Return)
        if returns > 1 or not last_is_return:
            f.ret = self.fresh("ret")
            f.emit(f"{f.ret} = jnp.bool_(False)")
            types = f.result if isinstance(f.result, tuple) else (f.result,)
            for t in types:
                rv = self.fresh("rv")
                f.rv.append(rv)
                f.emit(f"{rv} = {self.zero(t)}")
        f.block(body)
        if f.ret is not None:
            f.emit("return " + (f.rv[0] if len(f.rv) == 1 else "(" + ", ".join(f.rv) + ")"))
        return [f"def {name}({', '.join(params)}):"] + f.lines + [""]

    def _kernel(self, d: cst.FunctionDef, params: list[str], env: dict) -> list[str]:
        k = self.kernel
        f = _Function(self, "thread", env, True, None)
        f.depth = 2
        f.defined |= set(params) | {"_tid"}
        body = d.body.body
        if _count_returns(body):
            f.ret = self.fresh("ret")
            f.emit(f"{f.ret} = jnp.bool_(False)")
        for a in self.written:
            ndim = self.arrays[a].ndim
            f.emit(f"w_{a} = {a}")
            f.emit(f"m_{a} = jnp.zeros(_w_shape({a})[:{ndim}], jnp.bool_)")
            f.defined |= {f"w_{a}", f"m_{a}"}
        for a in self.atomic_kind:
            f.emit(f"d_{a} = jnp.full({a}.shape, {self.identity(a)}, {a}.dtype)")
            f.defined.add(f"d_{a}")
        f.block(body)
        state = self.state_names()
        f.emit("return (" + ", ".join(state) + ",)")
        dim = k.dim
        lines = [f"def kernel({', '.join(params)}):"]
        if isinstance(dim, int):
            lines.append("    def thread(_tid):")
            launch = f"jnp.arange({dim}, dtype=jnp.int32)"
        else:
            lines.append("    def thread(_flat):")
            lines.append(f"        _tid = jnp.unravel_index(_flat, {tuple(dim)})  # row-major, as Warp's launch")
            launch = f"jnp.arange({math.prod(dim)}, dtype=jnp.int32)"
        lines += f.lines
        lines.append(f"    ({', '.join(state)},) = jax.vmap(thread)({launch})")
        results = []
        for a in self.written:
            t = self.arrays[a].dtype
            if isinstance(t, Struct):  # one output per value field, "<array>.<field>" (as the reference's)
                results += [f'"{a}.{fn}": _w_merge({a}["{fn}"], w_{a}["{fn}"], m_{a})' for fn, _ in t.fields]
            else:
                results.append(f'"{a}": _w_merge({a}, w_{a}, m_{a})')
        for a, kind in self.atomic_kind.items():
            d = f"d_{a}"
            reduce = {"add": f"{a} + {d}.sum(0).astype({a}.dtype)", "min": f"jnp.minimum({a}, {d}.min(0))",
                      "max": f"jnp.maximum({a}, {d}.max(0))",
                      "and": f"{a} & jnp.bitwise_and.reduce({d}, axis=0)",
                      "or": f"{a} | jnp.bitwise_or.reduce({d}, axis=0)",
                      "xor": f"{a} ^ jnp.bitwise_xor.reduce({d}, axis=0)"}[kind]
            results.append(f'"{a}": {reduce}')
        lines.append("    return {" + ", ".join(results) + "}")
        return lines


def _count_returns(stmts) -> int:
    n = [0]

    class V(cst.CSTVisitor):
        def visit_Return(self, node):
            n[0] += 1

    for s in stmts:
        s.visit(V())
    return n[0]


def _kernel_name(envs: dict) -> str:
    return list(envs)[-1]  # helpers first, the kernel last


def render(kernel) -> JaxProgram:
    """The JAX program of a generated kernel (see the module docstring); raises :class:`Inexpressible`."""
    try:
        return _Renderer(kernel).render()
    except Inexpressible:
        raise
    except RecursionError:
        raise Inexpressible("too-deep") from None

