"""Exact additive structure of a log density over discrete units, read from its jaxpr.

A log density :math:`f(x)` of ``N`` discrete units is written by the user as a program; this
module finds, without ever assuming it, a decomposition

.. math::  f(x) = c + \\sum_{\\ell} \\sum_{e} t_{\\ell e}(x_{S_{\\ell e}})

into *terms*: the elements :math:`e` of *leaf* arrays :math:`t_\\ell` (the arrays summed by the
log density's final sums, e.g. the per-pixel log-likelihood of an elementwise likelihood,
the bond energies of an Ising prior), each depending only on the units :math:`S_{\\ell e}`.

* The *leaves* come from the tail of the jaxpr: the output is expanded through ``add``,
  ``sub``, ``neg``, multiplication and division by scalars that do not depend on :math:`x`,
  float conversions, reshapes and ``reduce_sum``; whatever else produced a value is a leaf.
* The *dependency sets* :math:`S_{\\ell e}` come from a forward pass over the jaxpr that
  carries, per array element, the set of units it depends on (a sparse boolean matrix
  ``(elements, N)``): elementwise primitives unite the sets of the operands' elements at the
  same position, data-movement primitives (slices, reshapes, concatenation, gathers with
  constant indices, ...) move them (found by running the primitive on an array of element
  indices), reductions unite them along the reduced axes, call primitives are entered, and
  any other primitive makes every output element depend on every unit any input depends on.
  So a set may be too large, never too small: the decomposition is exact.

Two units interact when some term depends on both. A *block* of units no two of which
interact (an independent set of the interaction graph, e.g. a colour class of a greedy
colouring) is conditionally independent given the other units, and every term depends on
at most one unit :math:`i` of it; setting *all* units of the block to a value :math:`v`
gives every unit's conditional at once:

.. math::  \\log p(x_i = v \\mid x_{-i}) = \\sum_{(\\ell, e):\\, i \\in S_{\\ell e}} t_{\\ell e}(x_{B \\to v}) + \\text{const}_i

(one evaluation of the leaves per value instead of one log density per unit and value).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.extend.core import Literal

from .base import greedy_colouring

__all__ = ["TermStructure", "TooLarge", "term_structure", "leaf_values", "colour_classes", "useful_classes",
           "block_segments", "block_sums", "MAX_CLASSES"]

_ELEMENTWISE = frozenset("""
add sub mul div neg max min pow integer_pow exp exp2 log log1p expm1 tanh logistic sin cos tan
asin acos atan atan2 sinh cosh asinh acosh atanh sqrt rsqrt cbrt abs sign floor ceil round
is_finite nextafter rem select_n eq ne lt le gt ge and or not xor convert_element_type copy
copy_p square erf erfc erf_inv lgamma digamma igamma igammac bessel_i0e bessel_i1e clamp
shift_left shift_right_logical shift_right_arithmetic population_count reduce_precision real
imag conj complex polygamma zeta regularized_incomplete_beta stop_gradient
""".split())
#: data-movement primitives: which operands carry data (the rest must not depend on the units)
_STRUCTURAL = {"reshape": (0,), "broadcast_in_dim": (0,), "transpose": (0,), "squeeze": (0,),
               "expand_dims": (0,), "rev": (0,), "slice": (0,), "pad": (0, 1), "gather": (0,),
               "dynamic_slice": (0,), "dynamic_update_slice": (0, 1), "scatter": (0, 2)}
_REDUCTIONS = frozenset("reduce_sum reduce_max reduce_min reduce_prod reduce_and reduce_or "
                        "reduce_xor argmax argmin".split())
#: the linear tail the leaves are expanded through
_PASS = frozenset(("reduce_sum", "reshape", "squeeze", "convert_element_type", "copy", "copy_p"))
#: a state where one array's dependency matrix would hold more entries is not analysed
MAX_ENTRIES = 2**25
#: units that need more colour classes than this are swept one by one (compile time grows
#: with the number of classes: one evaluation of the terms per class and value)
MAX_CLASSES = 64


class TooLarge(Exception):
    """The dependency matrices would be too large to build."""


# ----------------------------------------------------------------------------- dependency sets
def _numel(aval) -> int:
    return int(math.prod(aval.shape))


def _rows(dep, idx):
    """Rows ``idx`` of ``dep`` (``-1``: an empty row)."""
    idx = np.asarray(idx).reshape(-1)
    padded = sp.vstack([dep, sp.csr_matrix((1, dep.shape[1]), dtype=bool)], format="csr")
    return padded[np.where(idx < 0, dep.shape[0], idx)]


def _union(deps, n_units):
    """Sparse OR of equally shaped dependency matrices (``None`` entries skipped)."""
    deps = [d for d in deps if d is not None]
    if not deps:
        return None
    out = deps[0]
    for d in deps[1:]:
        out = out + d
    return out.astype(bool).tocsr()


def _broadcast_rows(dep, shape, out_shape):
    """The dependency matrix of an operand of ``shape`` broadcast (NumPy rules) to ``out_shape``."""
    if dep is None or tuple(shape) == tuple(out_shape):
        return dep
    idx = np.arange(int(math.prod(shape)), dtype=np.int64).reshape(shape)
    return _rows(dep, np.broadcast_to(idx, out_shape))


def _full(deps, n_out, n_units):
    """Every output element depends on every unit any input element depends on."""
    used = np.unique(np.concatenate([d.tocsr().indices for d in deps if d is not None]))
    if n_out * used.size > MAX_ENTRIES:
        raise TooLarge
    indptr = np.arange(n_out + 1, dtype=np.int64) * used.size
    return sp.csr_matrix((np.ones(n_out * used.size, bool), np.tile(used, n_out), indptr), shape=(n_out, n_units))


def _reduce_map(shape, axes):
    """Flat output index of every input element of a reduction over ``axes``."""
    kept = [d for d in range(len(shape)) if d not in axes]
    if not shape:
        return np.zeros(1, np.int64)
    coords = np.unravel_index(np.arange(int(math.prod(shape))), shape)
    if not kept:
        return np.zeros(int(math.prod(shape)), np.int64)
    return np.ravel_multi_index([coords[d] for d in kept], [shape[d] for d in kept])


def _bind(eqn, invals):
    params = eqn.primitive.get_bind_params(eqn.params)
    if isinstance(params, tuple):  # older JAX: (subfuns, params)
        subfuns, params = params
        invals = [*subfuns, *invals]
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*invals, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def _sub_jaxpr(eqn):
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        j = eqn.params.get(key)
        if j is not None:
            return (j.jaxpr, j.consts) if hasattr(j, "consts") else (j, ())
    return None


def _move(eqn, idx):
    """The data-movement primitive ``eqn`` applied to NumPy index arrays ``idx`` (its data
    operands); ``None`` where it is not written out here (then it is bound on JAX arrays)."""
    name, p, x = eqn.primitive.name, eqn.params, idx[0]
    if name == "reshape" and p.get("dimensions") is None:
        return x.reshape(p["new_sizes"])
    if name == "broadcast_in_dim":
        shape = [1] * len(p["shape"])
        for i, d in enumerate(p["broadcast_dimensions"]):
            shape[d] = x.shape[i]
        return np.broadcast_to(x.reshape(shape), p["shape"])
    if name == "transpose":
        return np.transpose(x, p["permutation"])
    if name == "squeeze":
        return np.squeeze(x, axis=tuple(p["dimensions"]))
    if name == "expand_dims":
        return np.expand_dims(x, tuple(p["dimensions"]))
    if name == "rev":
        return np.flip(x, axis=tuple(p["dimensions"]))
    if name == "slice":
        strides = p.get("strides") or (1,) * x.ndim
        return x[tuple(slice(a, b, c) for a, b, c in zip(p["start_indices"], p["limit_indices"], strides))]
    if name == "concatenate":
        return np.concatenate(idx, axis=p["dimension"])
    return None


def _gather_by_index(eqn, index_shape, index_deps):
    """A gather from an array that depends on no unit, at indices that do (``take_along_axis``
    of a log-probability table at the units' values, ``logits[x]``): output element ``o``
    depends on the units of the index vector it was read at, the last axis of the indices, at
    the position given by ``o``'s batch (non-offset) dimensions in order."""
    out_shape = tuple(eqn.outvars[0].aval.shape)
    offset = set(eqn.params["dimension_numbers"].offset_dims)
    batch = [d for d in range(len(out_shape)) if d not in offset]
    vectors = sp.csr_matrix((np.ones(int(math.prod(index_shape)), np.int32),
                             (_reduce_map(index_shape, (len(index_shape) - 1,)),
                              np.arange(int(math.prod(index_shape))))),
                            shape=(int(math.prod(index_shape[:-1])), int(math.prod(index_shape))))
    vectors = (vectors @ index_deps.astype(np.int32)).astype(bool).tocsr()
    coords = np.indices(out_shape).reshape(len(out_shape), -1)
    position = np.ravel_multi_index([coords[d] for d in batch], index_shape[:-1]) if batch else \
        np.zeros(coords.shape[1], np.int64)
    return _rows(vectors, position)


def _eqn_deps(eqn, indeps, value, n_units):
    """Dependency matrices of ``eqn``'s outputs from its inputs' (``value(k)``: the concrete
    value of input ``k`` when known, else ``None``)."""
    name = eqn.primitive.name
    n_outs = [_numel(v.aval) for v in eqn.outvars]
    shapes = [tuple(v.aval.shape) for v in eqn.invars]
    if all(d is None for d in indeps):
        return [None] * len(n_outs)
    if name in _ELEMENTWISE:
        out_shape = tuple(eqn.outvars[0].aval.shape)
        return [_union([_broadcast_rows(d, sh, out_shape) for d, sh in zip(indeps, shapes)], n_units)]
    if name in _REDUCTIONS:
        size = int(math.prod(shapes[0]))
        p = sp.csr_matrix((np.ones(size, np.int32), (_reduce_map(shapes[0], tuple(eqn.params["axes"])),
                           np.arange(size))), shape=(n_outs[0], size))
        return [(p @ indeps[0].astype(np.int32)).astype(bool).tocsr()]
    if name == "gather" and indeps[0] is None and indeps[1] is not None and len(shapes) == 2:
        return [_gather_by_index(eqn, shapes[1], indeps[1])]
    data = tuple(range(len(shapes))) if name == "concatenate" else _STRUCTURAL.get(name)
    if data is not None and len(n_outs) == 1 and all(
            indeps[k] is None for k in range(len(shapes)) if k not in data):
        offset, idx, parts = 0, [], []
        for k in data:
            size = int(math.prod(shapes[k]))
            idx.append(np.arange(offset, offset + size, dtype=np.int64).reshape(shapes[k]))
            parts.append(indeps[k] if indeps[k] is not None else sp.csr_matrix((size, n_units), dtype=bool))
            offset += size
        moved = _move(eqn, idx)
        if moved is None:
            try:
                args = [value(k) for k in range(len(shapes))]
                if any(a is None for k, a in enumerate(args) if k not in data):
                    raise LookupError
                for k, i in zip(data, idx):
                    args[k] = jnp.asarray(i, jnp.int32)
                moved = np.asarray(_bind(eqn, args)[0])
            except Exception:  # noqa: BLE001 - no index values, or rejected: be conservative
                moved = None
        if moved is not None:
            return [_rows(sp.vstack(parts, format="csr"), moved)]
    sub = _sub_jaxpr(eqn)
    if sub is not None and len(sub[0].invars) == len(indeps):
        _, outs = _forward(sub[0], indeps, n_units)
        return outs
    return [_full(indeps, n, n_units) for n in n_outs]


def _forward(jaxpr, indeps, n_units, values=None, missing=None):
    """Carry every element's dependency set through ``jaxpr`` (``values``: concrete values of
    its variables, where known; variables whose value was asked for and unknown are added to
    ``missing``). Returns ``(env, output deps)``; ``env`` maps each variable to its dependency
    matrix (``None``: depends on no unit)."""
    env = {v: None for v in jaxpr.constvars}
    env.update(zip(jaxpr.invars, indeps))
    values = values or {}

    def read(v):
        return None if isinstance(v, Literal) else env[v]

    for eqn in jaxpr.eqns:
        def value(k, eqn=eqn):
            v = eqn.invars[k]
            if isinstance(v, Literal):
                return v.val
            if v not in values and missing is not None:
                missing.append(v)
            return values.get(v)

        deps = _eqn_deps(eqn, [read(v) for v in eqn.invars], value, n_units)
        for v, d in zip(eqn.outvars, deps):
            if d is not None and d.nnz > MAX_ENTRIES:
                raise TooLarge
            env[v] = d
    return env, [read(v) for v in jaxpr.outvars]


def _values(closed, x_flat, keep):
    """Concrete values of the top-level variables ``keep`` of ``closed`` at ``x_flat`` (one jit)."""
    jaxpr = closed.jaxpr
    keep = [v for v in dict.fromkeys(keep) if v in set(jaxpr.constvars) or any(
        v in eqn.outvars for eqn in jaxpr.eqns)]

    def run(consts, x):
        env = dict(zip(jaxpr.constvars, consts))
        env[jaxpr.invars[0]] = x
        for eqn in jaxpr.eqns:
            outs = _bind(eqn, [v.val if isinstance(v, Literal) else env[v] for v in eqn.invars])
            env.update(zip(eqn.outvars, outs))
        return [env[v] for v in keep]

    vals = jax.jit(run)(closed.consts, x_flat)
    return dict(zip(keep, vals))


# ----------------------------------------------------------------------------- leaves
def _expand(jaxpr, out, independent):
    """Leaves of ``out`` through the linear tail (module doc): a list of ``(var, ops)`` with
    ``ops`` the scalar factors, ``("mul" | "div", var)`` or ``("neg", None)``, to apply."""
    producer = {v: eqn for eqn in jaxpr.eqns for v in eqn.outvars}
    leaves = []

    def scalar_const(v):
        return (isinstance(v, Literal) or independent(v)) and tuple(v.aval.shape) == ()

    def walk(v, ops):
        eqn = None if isinstance(v, Literal) else producer.get(v)
        if eqn is None:
            leaves.append((v, ops))
            return
        name, ins = eqn.primitive.name, eqn.invars
        shape = tuple(v.aval.shape)
        same = [tuple(a.aval.shape) == shape for a in ins]
        floating = all(jnp.issubdtype(a.aval.dtype, jnp.floating) for a in ins) and \
            jnp.issubdtype(v.aval.dtype, jnp.floating)
        if name in ("add", "sub") and all(same) and floating:
            walk(ins[0], ops)
            walk(ins[1], ops + (("neg", None),) if name == "sub" else ops)
        elif name == "neg" and floating:
            walk(ins[0], ops + (("neg", None),))
        elif name == "mul" and floating and any(same[k] and scalar_const(ins[1 - k]) for k in (0, 1)):
            k = 0 if same[0] and scalar_const(ins[1]) else 1
            walk(ins[k], ops + (("mul", ins[1 - k]),))
        elif name == "div" and floating and same[0] and scalar_const(ins[1]):
            walk(ins[0], ops + (("div", ins[1]),))
        elif (name in _PASS or (name == "broadcast_in_dim" and _numel(ins[0].aval) == _numel(v.aval))) \
                and floating:
            walk(ins[0], ops)
        else:
            leaves.append((v, ops))

    walk(out, ())
    return leaves


@dataclasses.dataclass(frozen=True, eq=False)
class TermStructure:
    """The additive structure of ``fn(x_flat) -> outputs`` (each a scalar): for each output
    the leaves (positions in the jaxpr) and one dependency matrix ``(leaf elements, N)``.

    ``num_eqns`` identifies the program (re-traced at run time with the current model
    arguments, it must have the same equations); ``deps[k]`` stacks the leaf elements of
    output ``k`` in the order :func:`leaf_values` returns them."""

    num_units: int
    num_eqns: int
    leaves: tuple
    deps: tuple

    def interactions(self):
        """Boolean ``(N, N)`` sparse matrix: units that share a term (diagonal included)."""
        a = sp.csr_matrix((self.num_units, self.num_units), dtype=np.int32)
        for d in self.deps:
            d = d.astype(np.int32)
            a = a + d.T @ d
        return a.astype(bool).tocsr()


def _trace(fn, n_units, dtype):
    with jax.disable_jit():  # jitted helpers inlined: the same equations at plan and run time
        return jax.make_jaxpr(fn)(jax.ShapeDtypeStruct((n_units,), dtype))


def term_structure(fn, x_flat) -> TermStructure:
    """The :class:`TermStructure` of ``fn`` (scalar outputs), analysed at the units ``x_flat``
    (the structure does not depend on where it is read). Raises :class:`TooLarge` when the
    dependency matrices would be too large."""
    x_flat = jnp.asarray(x_flat)
    n = int(x_flat.shape[0])
    closed = _trace(fn, n, x_flat.dtype)
    jaxpr = closed.jaxpr
    eye = sp.identity(n, dtype=bool, format="csr")
    missing = []
    env, _ = _forward(jaxpr, [eye], n, {}, missing)
    if missing:  # index operands of data movement: evaluate them, then read the movement exactly
        env, _ = _forward(jaxpr, [eye], n, _values(closed, x_flat, missing))

    def independent(v):
        return isinstance(v, Literal) or env[v] is None

    leaves, deps = [], []
    for out in jaxpr.outvars:
        mine = [(v, ops) for v, ops in _expand(jaxpr, out, independent) if not independent(v)]
        leaves.append(tuple((_position(jaxpr, v), tuple((op, None if w is None else _position(jaxpr, w))
                                                         for op, w in ops)) for v, ops in mine))
        rows = [env[v] for v, _ in mine]
        deps.append(sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, n), dtype=bool))
    return TermStructure(n, len(jaxpr.eqns), tuple(leaves), tuple(deps))


def _position(jaxpr, v):
    """Where a variable is defined: ``("in", k)``, ``("const", k)``, ``("lit", value)`` or ``(eqn, out)``."""
    if isinstance(v, Literal):
        return ("lit", np.array(v.val))  # a plain array: JAX's literal types do not survive pickling
    if v in jaxpr.invars:
        return ("in", jaxpr.invars.index(v))
    if v in jaxpr.constvars:
        return ("const", jaxpr.constvars.index(v))
    for i, eqn in enumerate(jaxpr.eqns):
        if v in eqn.outvars:
            return (i, eqn.outvars.index(v))
    raise ValueError("variable not in the jaxpr")


def leaf_values(structure: TermStructure, fn, n_units, dtype):
    """``x_flat -> [leaf elements of output k, ...]`` (each flat, scaled by its tail factors):
    ``fn`` re-traced with the current arguments, then evaluated keeping the leaves."""
    closed = _trace(fn, n_units, dtype)
    jaxpr = closed.jaxpr
    if len(jaxpr.eqns) != structure.num_eqns:
        raise ValueError("the model's program changed between planning and sampling "
                         f"({len(jaxpr.eqns)} equations instead of {structure.num_eqns}); "
                         "model arguments must keep their shapes")
    wanted = [p for out in structure.leaves for p, ops in out] + [
        w for out in structure.leaves for _, ops in out for _, w in ops if w is not None]
    last = max([p[0] for p in wanted if isinstance(p[0], int)], default=-1)

    def run(x_flat):
        env = {}

        def read(v):
            return v.val if isinstance(v, Literal) else env[v]

        for v, c in zip(jaxpr.constvars, closed.consts):
            env[v] = c
        env[jaxpr.invars[0]] = x_flat
        for eqn in jaxpr.eqns[: last + 1]:
            for v, val in zip(eqn.outvars, _bind(eqn, [read(v) for v in eqn.invars])):
                env[v] = val

        def at(p):
            kind = p[0]
            if kind == "lit":
                return p[1]
            if kind == "in":
                return env[jaxpr.invars[p[1]]]
            if kind == "const":
                return env[jaxpr.constvars[p[1]]]
            return env[jaxpr.eqns[kind].outvars[p[1]]]

        outs = []
        for out in structure.leaves:
            parts = []
            for p, ops in out:
                value = jnp.ravel(at(p))
                for op, w in ops:
                    value = -value if op == "neg" else value * at(w) if op == "mul" else value / at(w)
                parts.append(value)
            outs.append(jnp.concatenate(parts) if parts else jnp.zeros((0,), jnp.result_type(float)))
        return outs

    return run


# ----------------------------------------------------------------------------- blocks
def colour_classes(interactions, units):
    """Greedy colouring of ``units`` (flat indices) by the interaction graph: classes of
    mutually non-interacting units (sorted flat indices)."""
    units = np.asarray(units, np.int64)
    sub = sp.triu(interactions[units][:, units], k=1).tocoo()
    classes = greedy_colouring(len(units), np.stack([sub.row, sub.col], 1))
    return tuple(units[np.asarray(c, np.int64)] for c in classes)


def useful_classes(structure: TermStructure, units):
    """The colour classes of ``units`` (:func:`colour_classes`) when they pay off: fewer classes
    than units and at most :data:`MAX_CLASSES`; ``None`` otherwise (sweep unit by unit)."""
    units = np.asarray(units, np.int64)
    classes = colour_classes(structure.interactions(), units)
    if len(classes) < len(units) and len(classes) <= MAX_CLASSES:
        return classes
    return None


def block_segments(structure: TermStructure, block):
    """For every output, the position in ``block`` of the one block unit each leaf element
    depends on (``len(block)`` for none). Raises ``ValueError`` when an element depends on
    two units of the block (the block is not an independent set)."""
    block = np.asarray(block, np.int64)
    out = []
    for d in structure.deps:
        m = d[:, block].tocsr()
        counts = np.diff(m.indptr)
        if np.any(counts > 1):
            raise ValueError("a term depends on two units of the block")
        seg = np.full(d.shape[0], len(block), np.int64)
        rows = np.flatnonzero(counts == 1)
        seg[rows] = m.indices[m.indptr[rows]]
        out.append(seg.astype(np.int32))
    return tuple(out)


def block_sums(leaves, x_flat, block, segments, values):
    """The conditionals of an independent ``block`` from the terms, every block unit set to each
    value at once: for every output :math:`k` the ``(len(block), q)`` array

    .. math::  s_k(i, v) = \\sum_{e:\\ \\text{seg}_k(e) = i} t_{k e}(x_{B \\to v})

    (``leaves``: a function from :func:`leaf_values`; ``x_flat``: the units, flat ``int32``;
    ``block``: flat unit indices; ``segments``: :func:`block_segments` of the block; ``values``:
    the ``q`` unit values). Up to a per-unit constant this is output :math:`k` with unit
    :math:`i` set to :math:`v` (module doc); one evaluation of the leaves per value."""
    where = jnp.asarray(np.asarray(block), jnp.int32)
    size = int(where.shape[0])

    def at(v):
        outs = leaves(x_flat.at[where].set(v))
        return [jax.ops.segment_sum(o, jnp.asarray(s), size + 1)[:size] for o, s in zip(outs, segments)]

    return jax.vmap(at, out_axes=-1)(jnp.asarray(values, x_flat.dtype))
