"""Shared machinery of every model: immutable pytree dataclasses and the discrete-model API."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_event_shape, check_units

__all__ = [
    "pytree_dataclass",
    "static_field",
    "StaticArray",
    "replace_leaves",
    "EnergyModel",
    "DiscreteModel",
    "greedy_colouring",
]


def static_field(**kwargs):
    """A dataclass field stored in the pytree's static (hashable) metadata, not as a leaf."""
    return dataclasses.field(metadata={"static": True}, **kwargs)


def pytree_dataclass(cls):
    """Make ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields declared with :func:`static_field` are treedef metadata (Python ints,
    tuples); all others are leaves. Unflattening bypasses ``__init__`` so that
    validation runs only when users construct a model, never on tracers.
    """
    cls = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static"))
    meta = tuple(f.name for f in fields if f.metadata.get("static"))

    def flatten(obj):
        children = tuple(getattr(obj, n) for n in data)
        aux = tuple(getattr(obj, n) for n in meta)
        return children, aux

    def flatten_with_keys(obj):
        children = tuple((jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in data)
        aux = tuple(getattr(obj, n) for n in meta)
        return children, aux

    def unflatten(aux, children):
        obj = object.__new__(cls)
        for n, v in zip(data, children):
            object.__setattr__(obj, n, v)
        for n, v in zip(meta, aux):
            object.__setattr__(obj, n, v)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)

    def __repr__(self):
        parts = []
        for n in data + meta:
            v = getattr(self, n)
            if hasattr(v, "shape") and hasattr(v, "dtype") and np.size(v) > 1:
                parts.append(f"{n}={v.dtype}{list(v.shape)}")
            elif hasattr(v, "shape") and hasattr(v, "dtype"):
                parts.append(f"{n}={v}")
            elif n != "blocks":
                parts.append(f"{n}={v!r}")
        return f"{cls.__name__}({', '.join(parts)})"

    cls.__repr__ = __repr__
    return cls


class StaticArray:
    """A read-only NumPy array usable as static pytree metadata (hashable, compared by value).

    Index arrays of sparse graphs are structure, not parameters: storing them as static
    fields keeps them out of ``jax.grad``, ``jax.tree.map`` and optax updates. The hash is
    computed once from the bytes; equality compares shape, dtype and bytes.
    """

    __slots__ = ("array", "_hash")

    def __init__(self, array):
        array = np.array(array)
        array.setflags(write=False)
        self.array = array
        self._hash = hash((array.shape, array.dtype.str, array.tobytes()))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return (
            isinstance(other, StaticArray)
            and self._hash == other._hash
            and self.array.shape == other.array.shape
            and self.array.dtype == other.array.dtype
            and np.array_equal(self.array, other.array)
        )

    def __repr__(self):
        return f"StaticArray({self.array.dtype}{list(self.array.shape)})"


def replace_leaves(model, **values):
    """Copy of an immutable model with some parameter leaves replaced (no re-validation)."""
    new = copy.copy(model)
    set_fields(new, **values)
    return new


def set_fields(obj, **values):
    """Write fields of a frozen dataclass during ``__init__`` (models are immutable afterwards)."""
    for k, v in values.items():
        object.__setattr__(obj, k, v)


class EnergyModel:
    """Base of every model: an energy function batched over the leading axes of ``x``.

    Subclasses define ``event_shape`` (shape of one state) and ``energy(x)``, which
    maps ``x`` of shape ``batch + event_shape`` to energies of shape ``batch``.
    """

    is_discrete: ClassVar[bool] = False
    event_shape: tuple[int, ...]

    def energy(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def dtype(self):
        """Floating dtype of the parameters (float32, or float64 under ``jax_enable_x64``)."""
        return jnp.result_type(*jax.tree_util.tree_leaves(self))

    @property
    def event_dims(self) -> tuple[str, ...]:
        """Names of the axes of one state, used for ArviZ dimensions."""
        return tuple(f"dim_{i}" for i in range(len(self.event_shape)))


class DiscreteModel(EnergyModel):
    """A model on binary units with a block-Gibbs structure.

    ``unit_values`` is ``(-1, 1)`` for Ising spins and ``(0, 1)`` for Boltzmann-machine
    units. ``blocks`` partitions the units into conditionally independent sets: given
    all other units, the units of one block are independent, each with

    .. math::  p(x_i = \\text{up} \\mid x_{-i}) = \\sigma\\big(\\beta\\,(\\text{up}-\\text{down})\\, f_i(x)\\big)

    where :math:`f_i = -\\partial E / \\partial x_i` is the local field returned by
    :meth:`local_field` (for Ising spins :math:`f_i = \\sum_j J_{ij}s_j + h_i`).

    Learning and exact enumeration use the *data* view of a model: a training example has
    shape :attr:`data_shape` and (free) energy :meth:`data_energy`. For fully visible models
    that is the state itself; a model with latent units (the RBM's hidden layer) embeds
    data in a joint state with :meth:`embed_data`, reads it back with :meth:`data_part`, and
    orders its ``blocks`` so that one sweep first redraws the latent units given the data.
    Nothing here builds an N×N matrix except :meth:`to_quadratic` (enumeration sizes only).
    """

    is_discrete: ClassVar[bool] = True
    unit_values: ClassVar[tuple[int, int]] = (-1, 1)
    state_dtype: ClassVar[Any] = jnp.int8
    #: the blocks are the single units (block ``j`` = flat unit ``j``, a traced index): sweeps
    #: run over them with ``lax.fori_loop`` instead of a Python loop over ``blocks``
    unit_blocks: ClassVar[bool] = False

    @property
    def num_units(self) -> int:
        return int(np.prod(self.event_shape))

    def validate_state(self, x, name: str = "x") -> None:
        """Raise ``ValueError`` if ``x`` has the wrong trailing shape or invalid unit values.

        Unit values are checked only when ``x`` is concrete (under ``jit`` it is a tracer).
        """
        check_event_shape(x, self.event_shape, name)
        check_units(x, self.unit_values, name)

    # --- block Gibbs interface -------------------------------------------------
    @property
    def blocks(self) -> tuple:
        """Static, hashable block descriptors; see :meth:`local_field` and :meth:`set_block`."""
        raise NotImplementedError

    def local_field(self, x, block):
        """Local field :math:`f = -\\partial E/\\partial x` of the units in ``block`` given ``x``."""
        raise NotImplementedError

    def set_block(self, x, block, values):
        """Return ``x`` with the units of ``block`` replaced by ``values`` (layout of local_field)."""
        raise NotImplementedError

    def random_state(self, key, batch_shape=()):
        """Uniformly random state of shape ``batch_shape + event_shape`` (dtype ``int8``)."""
        down, up = self.unit_values
        bits = jax.random.bernoulli(key, 0.5, tuple(batch_shape) + tuple(self.event_shape))
        return jnp.where(bits, up, down).astype(self.state_dtype)

    # --- data view (learning) ----------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one training example (the state itself for fully visible models)."""
        return tuple(self.event_shape)

    def embed_data(self, data):
        """Joint state holding ``data`` in its data units (latent units, if any, set to down)."""
        return data

    def data_part(self, x):
        """The data units of joint states ``x`` (inverse of :meth:`embed_data`)."""
        return x

    def data_energy(self, data, temperature=1.0):
        """(Free) energy of training examples, :math:`p(v) \\propto e^{-F(v)/T}`; the energy for
        fully visible models (independent of ``temperature``)."""
        return self.energy(data)

    def data_energy_gradient(self, data):
        """:math:`\\frac1B\\sum_b \\nabla_\\theta F(v_b)` over the leading axis of ``data``, model-shaped
        (autodiff of :meth:`data_energy`, projected by :meth:`project_gradient`)."""
        grad = jax.grad(lambda m: jnp.mean(m.data_energy(data)))(self)
        return self.project_gradient(grad)

    def project_gradient(self, grad):
        """Project a model-shaped gradient onto the parameter space (identity unless some
        entries are not free parameters, e.g. the zero diagonal of dense couplings)."""
        return grad

    # --- exact enumeration ---------------------------------------------------------
    @property
    def enumerated_units(self) -> int:
        """Binary digits of the number of enumerated states, :math:`\\lceil n \\log_2 q \\rceil`
        (``n`` for two unit values: :math:`2^n` terms); enumeration limits count in bits."""
        q = len(self.unit_values)
        return self.num_units if q == 2 else math.ceil(self.num_units * math.log2(q))

    def to_quadratic(self):
        """Dense quadratic form ``(J, h, constant)``: E(x) = -1/2 xᵀJx - hᵀx + constant.

        ``x`` is the flattened state. Builds an N×N matrix: for enumeration and tests only.
        """
        raise NotImplementedError

    def _enumeration_model(self) -> "DiscreteModel":
        """An equivalent model whose parameter gradient of log Z gives the unit moments."""
        return self

    def _log_partition_enumerated(self, beta):
        """:math:`\\log \\sum_x e^{-\\beta E(x)}` by streaming enumeration (differentiable)."""
        return self._enumeration_model()._log_partition_enumerated(beta)

    def _unit_moments(self, grad, temperature):
        """``(⟨x⟩ flattened, correlation)`` from ``grad`` = ∇ log Z w.r.t. this model's parameters."""
        raise NotImplementedError

    @property
    def correlation_dims(self) -> tuple[str, str] | None:
        """Names of the axes of the exact ``correlation`` moment; None: all units × all units."""
        return None

    def correlation_factors(self, x):
        """The two factors (flattened units) whose products form the ``correlation`` moment."""
        return x, x

    # --- annealed importance sampling ------------------------------------------------
    def ais_base(self, log_odds):
        """AIS base model and its log partition function ``(base, log_z0)``.

        ``base`` has this model's structure, no interactions, and fields that give each data
        unit the log-odds ``log_odds`` (shape :attr:`data_shape`) of being up, as closely as
        the parametrisation allows; AIS interpolates parameters ``(1-β)·base + β·model``.
        """
        raise NotImplementedError


def greedy_colouring(num_units: int, edges: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """Partition units into independent sets by greedy colouring (largest degree first).

    Units in one colour share no edge, so they are conditionally independent given
    the rest. Returns a tuple of colour classes, each a sorted tuple of unit indices.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    edges = edges[edges[:, 0] != edges[:, 1]]
    neighbours: list[set[int]] = [set() for _ in range(num_units)]
    for i, j in edges:
        neighbours[i].add(int(j))
        neighbours[j].add(int(i))
    order = sorted(range(num_units), key=lambda u: -len(neighbours[u]))
    colour = np.full(num_units, -1, dtype=np.int64)
    for u in order:
        used = {colour[v] for v in neighbours[u] if colour[v] >= 0}
        c = 0
        while c in used:
            c += 1
        colour[u] = c
    return tuple(tuple(int(i) for i in np.flatnonzero(colour == c)) for c in range(colour.max() + 1))


def as_float(x, dtype=None):
    """Convert to a JAX floating array (float32 by default, float64 under x64)."""
    from .._checks import float_dtype

    return jnp.asarray(x, dtype=dtype or float_dtype())
