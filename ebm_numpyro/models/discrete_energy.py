"""A user-written energy over discrete units: any JAX function of ±1 spins, {0,1} units or
q-state labels, sampled with exact heat-bath conditionals computed from energy differences.

For a unit :math:`i` with values :math:`v_1, \\dots, v_q` the heat-bath conditional is

.. math::  p(x_i = v \\mid x_{-i}) = \\frac{e^{-\\beta E(x_{i \\to v})}}{\\sum_w e^{-\\beta E(x_{i \\to w})}},

so only the energy differences :math:`E(x_{i \\to v}) - E(x_{i \\to w})` matter. Two ways of
computing them:

* *by terms* (a colouring): the energy's exact additive structure is read from its jaxpr
  (:mod:`.dependency`: the elements of the arrays the energy sums, and the units each
  depends on). Units no two of which share a term (a colour class of the greedy colouring of
  the interaction graph) are conditionally independent, and setting *all* of them to
  :math:`v` gives each one's :math:`E(x_{i \\to v})` up to a per-unit constant from a single
  evaluation of the terms: a class costs ``q`` evaluations of the terms, whatever its size;
* *unit by unit* (``blocks="single"``, and the fallback wherever no useful colouring is
  proved): ``q`` evaluations of the whole energy per unit, the units one after another
  (``lax.fori_loop``, :func:`ebm_numpyro.kernels.heat_bath.for_each_block`). Always correct.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import float_dtype
from . import dependency
from .base import DiscreteModel, StaticArray, as_float, pytree_dataclass, set_fields, static_field

__all__ = ["DiscreteEnergy"]

#: named unit values of ``DiscreteEnergy(values=...)``
NAMED_VALUES = {"spin": (-1, 1), "binary": (0, 1)}


def _check_shape(shape) -> tuple:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if (not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape)):
        raise ValueError(f"`shape` must be the shape of one state: a positive integer or a non-empty tuple of "
                         f"positive integers; got {shape!r}")
    return tuple(int(s) for s in shape)


def _check_values(values) -> tuple:
    if isinstance(values, str) and values in NAMED_VALUES:
        return NAMED_VALUES[values]
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool) and 2 <= values <= 127:
        return tuple(range(int(values)))
    raise ValueError(f"`values` must be 'spin' (units ±1), 'binary' (units 0/1) or an integer q in 2..127 "
                     f"(labels 0..q-1, stored as int8); got {values!r}")


def _check_blocks(blocks, n) -> list:
    """The user's colour classes as sorted flat index arrays, covering ``0..n-1`` exactly once."""
    try:
        classes = [np.asarray(c, np.int64).reshape(-1) for c in blocks]
    except (TypeError, ValueError):
        classes = None
    if not classes or any(c.size == 0 for c in classes):
        raise ValueError(f"`blocks` must be None (a colouring found from the energy), 'single' (unit by unit) "
                         f"or a list of non-empty lists of flat unit indices; got {blocks!r}")
    every = np.concatenate(classes)
    if every.min() < 0 or every.max() >= n:
        raise ValueError(f"`blocks` must hold flat unit indices in [0, {n}); got values in "
                         f"[{every.min()}, {every.max()}]")
    count = np.bincount(every, minlength=n)
    if np.any(count != 1):
        bad = int(np.flatnonzero(count != 1)[0])
        raise ValueError(f"`blocks` must cover every unit exactly once; unit {bad} is in {int(count[bad])} blocks")
    return [np.sort(c) for c in classes]


def _coupled_pair(terms, block):
    """Two units of ``block`` that share a term of the energy, or ``None``."""
    sub = terms.interactions()[block][:, block].tocoo()
    off = np.flatnonzero(sub.row != sub.col)
    return None if off.size == 0 else (int(block[sub.row[off[0]]]), int(block[sub.col[off[0]]]))


@pytree_dataclass
class DiscreteEnergy(DiscreteModel):
    """Any JAX energy :math:`E(x)` over discrete units, written by the user:

    .. math::  p(x) \\propto e^{-E(x)/T}, \\qquad x_i \\in \\{-1, 1\\},\\ \\{0, 1\\} \\text{ or } \\{0, \\dots, q-1\\}

    :param fn: ``fn(x)`` (or ``fn(x, params)`` when ``params`` is given) returns the scalar
        energy of *one* state ``x`` of shape ``shape``: floats ``±1`` / ``0., 1.`` for spins and
        binary units, ``int32`` labels for q-state units. Any JAX program (three-body terms,
        ``jnp.roll`` stencils, gathers, nonlinearities); :meth:`energy` batches it with ``vmap``.
        ``fn`` is static structure of the model, so it must be hashable (a function is;
        define it once rather than a new lambda per model, or every model compiles anew).
    :param shape: shape of one state (an int or a tuple).
    :param values: ``"spin"`` (units ±1, the default), ``"binary"`` (units 0/1) or an integer
        ``q >= 2`` (labels ``0..q-1``); states are stored as ``int8``.
    :param params: optional pytree of float arrays passed to ``fn``: the model's parameters
        (its leaves, so ``jax.grad``, ``replace_leaves`` and the learning code see them).
    :param blocks: how a sweep groups the units. ``None`` (default): the colour classes of the
        energy's interaction graph, found from its exact term structure (:mod:`.dependency`)
        when that is cheap and leaves fewer classes than units; else unit by unit.
        ``"single"``: unit by unit, always correct. A list of classes (flat unit indices,
        covering every unit exactly once): the user's colouring; when the term structure can
        be read, a class two of whose units share a term is rejected, and the class is drawn
        from its terms; otherwise from ``q`` evaluations of ``fn`` per unit. The analysis is
        conservative: a matrix product is one term of all its units (``x @ J @ x`` couples every
        pair, ``h @ x`` too), so write energies as sums over bonds and sites
        (``jnp.sum(h * x)``) for them to be told apart.

    The conditionals are exact (module doc): :meth:`unit_energies` gives
    :math:`E(x_{i \\to v})` up to a per-unit constant for every unit of a block and every value,
    drawn by the softmax heat bath under :class:`~ebm_numpyro.TemperedGibbs`.

    Example (spins on a ring with a three-body term)::

        def ring(s, p):
            return -p["J"] * jnp.sum(s * jnp.roll(s, 1)) - p["K"] * jnp.sum(s * jnp.roll(s, 1) * jnp.roll(s, 2))

        model = ebm.DiscreteEnergy(ring, 12, "spin", {"J": 1.0, "K": 0.5})
    """

    params: Any
    fn: Callable = static_field()
    shape: tuple = static_field()
    labels: tuple = static_field()
    colour_classes: Any = static_field()
    terms: Any = static_field()
    segments: tuple = static_field()

    def __init__(self, fn, shape, values="spin", params=None, *, blocks=None):
        if not callable(fn):
            raise ValueError(f"`fn` must be a function x -> scalar energy (or (x, params) -> energy); "
                             f"got {type(fn).__name__}")
        try:
            hash(fn)
        except TypeError as err:
            raise ValueError(f"`fn` must be hashable (it is static structure of the model): pass a function; "
                             f"got {type(fn).__name__}") from err
        shape = _check_shape(shape)
        labels = _check_values(values)
        if params is not None:
            try:
                params = jax.tree.map(as_float, params)
            except (TypeError, ValueError) as err:
                raise ValueError(f"`params` must be a pytree of float arrays; {err}") from err
        set_fields(self, params=params, fn=fn, shape=shape, labels=labels, colour_classes=None, terms=None,
                   segments=())
        self._check_fn()
        classes, terms = self._colouring(blocks)
        segments = () if classes is None or terms is None else tuple(
            StaticArray(dependency.block_segments(terms, c)[0]) for c in classes)
        set_fields(self, colour_classes=None if classes is None else tuple(tuple(int(i) for i in c) for c in classes),
                   terms=terms if classes is not None else None, segments=segments)

    # --- construction -------------------------------------------------------------------------
    def _check_fn(self):
        """``fn`` must give a scalar float for one state (traced abstractly, nothing compiled)."""
        state = jax.ShapeDtypeStruct(self.shape, self.state_dtype)
        what = "fn(x)" if self.params is None else "fn(x, params)"
        try:
            out = jax.eval_shape(lambda m, s: m._one(s), self, state)
        except Exception as err:  # noqa: BLE001 - any failure of the user's program
            raise ValueError(f"`fn` could not be evaluated as {what} on one state of shape {self.shape}: "
                             f"{type(err).__name__}: {err}") from err
        if not hasattr(out, "shape") or out.shape != () or not jnp.issubdtype(out.dtype, jnp.floating):
            got = f"shape {out.shape}, dtype {out.dtype}" if hasattr(out, "shape") else type(out).__name__
            raise ValueError(f"`fn` must return the scalar float energy of one state of shape {self.shape}; "
                             f"{what} returned {got}")

    def _structure(self):
        """The energy's :class:`.dependency.TermStructure`, or ``None`` when it is too large or
        the analysis cannot read the program."""
        start = jnp.full((self.num_units,), self.labels[0], jnp.int32)
        try:
            return dependency.term_structure(self._flat_energy, start)
        except Exception:  # noqa: BLE001 - TooLarge, or a program the analysis cannot read
            return None

    def _colouring(self, blocks):
        """``(colour classes or None (unit by unit), term structure or None)`` for ``blocks``."""
        n = self.num_units
        if blocks is None:
            terms = self._structure()
            classes = None if terms is None else dependency.useful_classes(terms, np.arange(n))
            return classes, terms
        if isinstance(blocks, str):
            if blocks != "single":
                raise ValueError(f"`blocks` must be None (a colouring found from the energy), 'single' (unit by "
                                 f"unit) or a list of lists of flat unit indices; got {blocks!r}")
            return None, None
        classes = _check_blocks(blocks, n)
        terms = self._structure()
        if terms is not None:
            for k, c in enumerate(classes):
                pair = _coupled_pair(terms, c)
                if pair is not None:
                    raise ValueError(
                        f"`blocks[{k}]` is not an independent set: units {pair[0]} and {pair[1]} share a term of "
                        "the energy (read from its program), so they cannot be drawn together; use "
                        "blocks=None (a proved colouring) or blocks='single'")
        return classes, terms

    # --- the energy -----------------------------------------------------------------------------
    def _one(self, s):
        """:math:`E(s)` of one state ``s`` (shape ``shape``), given to ``fn`` as floats (spins,
        binary units) or ``int32`` labels."""
        x = s.astype(jnp.int32) if len(self.labels) > 2 else s.astype(self.dtype)
        return self.fn(x) if self.params is None else self.fn(x, self.params)

    def _flat_energy(self, x_flat):
        return self._one(x_flat.reshape(self.shape))

    def energy(self, x):
        """:math:`E(x)` = ``fn`` of every state, batched over the leading axes of ``x`` (``vmap``)."""
        x = jnp.asarray(x)
        batch = x.shape[: x.ndim - len(self.shape)]
        e = jax.vmap(self._one)(x.reshape((-1,) + self.shape))
        return e.reshape(batch)

    @property
    def dtype(self):
        """Floating dtype of the parameters (the default float dtype without parameters)."""
        leaves = jax.tree_util.tree_leaves(self.params)
        return jnp.result_type(*leaves) if leaves else float_dtype()

    # --- the discrete-model interface -----------------------------------------------------------
    @property
    def event_shape(self):
        return self.shape

    @property
    def unit_values(self):
        return self.labels

    @property
    def unit_blocks(self) -> bool:
        """True when the model is swept unit by unit (no colouring)."""
        return self.colour_classes is None

    @property
    def blocks(self):
        """Colour classes ``0..C-1``, or the units ``0..N-1`` when swept unit by unit."""
        return tuple(range(self.num_units if self.colour_classes is None else len(self.colour_classes)))

    def _units(self, block):
        """Flat unit indices of ``block`` (a traced unit index when swept unit by unit)."""
        if self.colour_classes is None:
            return jnp.reshape(block, (1,))
        return np.asarray(self.colour_classes[block])

    def unit_energies(self, x, block):
        """:math:`E(x_{i \\to v})` up to a per-unit constant, for every unit :math:`i` of ``block``
        and value :math:`v`; shape ``batch + (B, q)``.

        With a colouring: every unit of the class set to :math:`v` at once, the energy's terms
        evaluated and summed per unit (:func:`.dependency.block_sums`), ``q`` evaluations of the
        terms. Otherwise :math:`E(x_{i \\to v})` itself, ``q`` evaluations of ``fn`` per unit."""
        x = jnp.asarray(x)
        n = self.num_units
        batch = x.shape[: x.ndim - len(self.shape)]
        flat = x.reshape((-1, n)).astype(jnp.int32)
        units = self._units(block)
        if self.terms is not None:
            leaves = dependency.leaf_values(self.terms, self._flat_energy, n, jnp.int32)
            segments = (self.segments[block].array,)
            e = jax.vmap(lambda s: dependency.block_sums(leaves, s, units, segments, self.labels)[0])(flat)
        else:
            values = jnp.asarray(self.labels, jnp.int32)

            def one(s):  # (B, q): the whole energy with each block unit set to each value
                return jax.vmap(lambda u: jax.vmap(lambda v: self._flat_energy(s.at[u].set(v)))(values))(units)

            e = jax.vmap(one)(flat)
        return e.reshape(batch + e.shape[1:])

    def set_block(self, x, block, values):
        x = jnp.asarray(x)
        flat = x.reshape(x.shape[: x.ndim - len(self.shape)] + (-1,))
        return flat.at[..., self._units(block)].set(values.astype(x.dtype)).reshape(x.shape)

    # --- exact enumeration: the protocol's defaults (streaming over all q^n states, Tilted moments)


def _repr(self):
    name = getattr(self.fn, "__name__", type(self.fn).__name__)
    values = {v: k for k, v in NAMED_VALUES.items()}.get(self.labels, len(self.labels))
    sweep = "unit by unit" if self.colour_classes is None else f"{len(self.colour_classes)} colour classes"
    params = jax.tree.map(lambda a: f"{a.dtype}{list(a.shape)}", self.params)
    return f"DiscreteEnergy(fn={name}, shape={self.shape}, values={values!r}, params={params}, blocks: {sweep})"


DiscreteEnergy.__repr__ = _repr
