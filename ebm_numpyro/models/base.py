"""What every model shares, and what a user needs to write one: immutable pytree dataclasses
(:func:`pytree_dataclass`, :func:`static_field`, :class:`StaticArray`), the discrete-model
protocol (:class:`DiscreteModel`) with working defaults, and graph colouring."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_event_shape, check_units
from ._enumeration import energy_log_partition

__all__ = [
    "pytree_dataclass",
    "set_fields",
    "Tilted",
    "check_discrete_model",
    "changes_from_unit_energies",
    "static_field",
    "StaticArray",
    "replace_leaves",
    "EnergyModel",
    "DiscreteModel",
    "greedy_colouring",
    "neighbour_table",
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
        leaves = jax.tree_util.tree_leaves(self)
        if not leaves:
            from .._checks import float_dtype

            return float_dtype()
        return jnp.result_type(*leaves)

    @property
    def event_dims(self) -> tuple[str, ...]:
        """Names of the axes of one state, used for ArviZ dimensions."""
        return tuple(f"dim_{i}" for i in range(len(self.event_shape)))

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


class DiscreteModel(EnergyModel):
    """A model on discrete units: the protocol every discrete sampler, enumeration and learning
    routine of the library reads. Subclass it (with :func:`pytree_dataclass`) and implement:

    **Required**

    - ``event_shape`` - shape of one state; ``energy(x)`` - energies of states ``x`` of shape
      ``batch + event_shape``, batched over the leading axes.

    **Declared, with working defaults** (override for speed)

    - ``unit_values`` - the values every unit takes: ``(-1, 1)`` (spins, the default), ``(0, 1)``
      (Boltzmann-machine units) or ``(0, ..., q-1)`` (``q``-state labels); ``state_dtype`` (``int8``).
    - ``blocks`` - static block descriptors of the systematic Gibbs sweep; the units of one block
      must be conditionally independent given the others. Default: every unit its own block
      (``unit_blocks`` is then ``True`` and a sweep runs over the units in a ``lax.fori_loop``).
      A model whose ``local_field``/``unit_energies``/``set_block`` also take a block as a traced
      ``int32`` index array sets ``traced_blocks = True``: many blocks of one size are then
      swept in a ``lax.fori_loop`` too (compile time independent of their number).
    - ``set_block(x, block, values)`` - ``x`` with the units of ``block`` replaced, ``values``
      in the block's layout (that of :meth:`local_field` / :meth:`unit_energies`).
    - ``local_field(x, block)`` (two unit values) - :math:`f_i = -\\partial E/\\partial x_i`,
      i.e. :math:`E(x_{i\\to v}) = c_i - v f_i`: the binary heat bath reads it.
    - ``unit_energies(x, block)`` - :math:`E(x_{i \\to v})` up to a per-unit constant for every
      unit of the block and every value, shape ``batch + layout + (q,)``: the ``q``-state heat
      bath reads it. Default: from :meth:`local_field` when that is implemented, else from
      energy differences (``q`` evaluations of :meth:`energy` per unit).
    - ``energy_changes(x)`` - for every unit at once, the change of energy of each value,
      :math:`\\Delta_{i}(v) = E(x_{i\\to v}) - E(x)`, shape ``batch + (num_units, q)`` (zero at the
      current value): what gradient-informed and importance-tempered samplers and single-flip
      Metropolis read. Default: from :meth:`unit_energies`, block by block.
    - ``log_partition_enumerated(beta)`` - :math:`\\log\\sum_x e^{-\\beta E(x)}` over all :math:`q^n`
      states; default: streaming enumeration of :meth:`energy` (differentiable, flat memory).
    - ``moments_model()`` / ``unit_moments(grad, temperature)`` - a model whose
      ``log_partition_enumerated`` is differentiable in parameters that give the unit moments, and
      the map from that gradient to ``(<x_i>, <x_i x_j>)``; default: :class:`Tilted`.

    With only the required methods a model works everywhere: ``ebm.exact``, ``ebm.Boltzmann``,
    ``ebm.TemperedGibbs`` (unit by unit) and learning where it applies.

    Learning and exact enumeration use the *data* view of a model: a training example has
    shape :attr:`data_shape` and (free) energy :meth:`data_energy`. For fully visible models
    that is the state itself; a model with latent units (the RBM's hidden layer) embeds
    data in a joint state with :meth:`embed_data`, reads it back with :meth:`data_part`, and
    orders its ``blocks`` so that one sweep first redraws the latent units given the data.
    """

    is_discrete: ClassVar[bool] = True
    unit_values: ClassVar[tuple[int, ...]] = (-1, 1)
    state_dtype: ClassVar[Any] = jnp.int8

    @property
    def num_units(self) -> int:
        return int(np.prod(self.event_shape))

    @property
    def num_values(self) -> int:
        """Number of values a unit takes (``q``)."""
        return len(self.unit_values)

    def validate_state(self, x, name: str = "x") -> None:
        """Raise ``ValueError`` if ``x`` has the wrong trailing shape or invalid unit values.

        Unit values are checked only when ``x`` is concrete (under ``jit`` it is a tracer).
        """
        check_event_shape(x, self.event_shape, name)
        check_units(x, self.unit_values, name)

    def random_state(self, key, batch_shape=()):
        """Uniformly random state of shape ``batch_shape + event_shape`` (``state_dtype``)."""
        idx = jax.random.randint(key, tuple(batch_shape) + tuple(self.event_shape), 0, self.num_values)
        return jnp.asarray(self.unit_values, self.state_dtype)[idx]

    def _flat(self, x):
        x = jnp.asarray(x)
        return x.reshape(x.shape[: x.ndim - len(self.event_shape)] + (-1,))

    # --- block Gibbs interface -------------------------------------------------
    @property
    def unit_blocks(self) -> bool:
        """Whether the blocks are the single units (block ``j`` = flat unit ``j``, a traced index
        in the sweep's ``lax.fori_loop``): true unless the model declares its own ``blocks``."""
        return type(self).blocks is DiscreteModel.blocks

    #: whether ``local_field``/``unit_energies``/``set_block`` take a traced index array as a block
    traced_blocks: ClassVar[bool] = False

    @property
    def blocks(self) -> tuple:
        """Static, hashable block descriptors; default: the units ``0 .. num_units - 1``."""
        return tuple(range(self.num_units))

    def set_block(self, x, block, values):
        """``x`` with the units of ``block`` replaced by ``values`` (the block's layout). The
        default handles unit blocks (``values`` of shape ``batch + (1,)``)."""
        if not self.unit_blocks:
            raise NotImplementedError(f"{type(self).__name__} declares `blocks`: it must implement `set_block`")
        x = jnp.asarray(x)
        flat = self._flat(x)
        values = jnp.reshape(values, flat.shape[:-1]).astype(x.dtype)
        return flat.at[..., block].set(values).reshape(x.shape)

    def _implements(self, name) -> bool:
        return getattr(type(self), name) is not getattr(DiscreteModel, name)

    def local_field(self, x, block):
        """Local field :math:`f = -\\partial E/\\partial x` of the units in ``block`` (two unit
        values): :math:`E(x_{i\\to v}) = c_i - v f_i`. Default: from :meth:`unit_energies`."""
        if self.num_values != 2:
            raise NotImplementedError(
                f"{type(self).__name__} has {self.num_values} values per unit and no single local field: "
                "its sweeps read `unit_energies`")
        if not self._implements("unit_energies") and not self.unit_blocks:
            raise NotImplementedError(
                f"{type(self).__name__} declares `blocks`: it must implement `local_field` or `unit_energies`")
        e = self.unit_energies(x, block)
        down, up = self.unit_values
        return -(e[..., 1] - e[..., 0]) / (up - down)

    def unit_energies(self, x, block):
        """:math:`E(x_{i \\to v})` up to a per-unit constant, for every unit of ``block`` and value
        ``v``; shape ``batch + layout + (q,)``. Default: :math:`-v f_i` from :meth:`local_field`
        when it is implemented, else :meth:`energy` at each value (unit blocks)."""
        if self._implements("local_field"):
            field = self.local_field(x, block)
            values = jnp.asarray(self.unit_values, field.dtype)
            return -field[..., None] * values
        if not self.unit_blocks:
            raise NotImplementedError(
                f"{type(self).__name__} declares `blocks`: it must implement `local_field` or `unit_energies`")
        x = jnp.asarray(x)
        flat = self._flat(x)
        values = jnp.asarray(self.unit_values, x.dtype)

        def at(v):
            return self.energy(flat.at[..., block].set(v).reshape(x.shape))

        e = jax.vmap(at, out_axes=-1)(values)  # batch + (q,)
        return e[..., None, :]

    def block_layout(self, block):
        """``(flat unit indices, layout positions)`` of one block (NumPy): unit ``idx[k]`` sits at
        position ``pos[k]`` of the flattened layout of :meth:`local_field` / :meth:`unit_energies`.
        Found by writing position codes with :meth:`set_block` (abstractly traced, nothing compiled)."""
        event = tuple(self.event_shape)
        energies = jax.eval_shape(lambda x: self.unit_energies(x, block), jax.ShapeDtypeStruct(event, self.state_dtype))
        size = int(np.prod(energies.shape[:-1]))
        with jax.ensure_compile_time_eval():  # concrete even when called while tracing
            codes = jnp.arange(size, dtype=jnp.int32).reshape(energies.shape[:-1])
            out = np.asarray(self.set_block(jnp.full(event, -1, jnp.int32), block, codes)).reshape(-1)
        idx = np.flatnonzero(out >= 0)
        return idx, out[idx]

    def energy_changes(self, x):
        """:math:`\\Delta_i(v) = E(x_{i\\to v}) - E(x)` for every unit ``i`` (flattened) and value
        ``v``, shape ``batch + (num_units, q)``; zero at each unit's current value. Default: the
        blocks' :meth:`unit_energies` (exact: a per-unit constant cancels in the difference)."""
        x = jnp.asarray(x)
        batch = x.shape[: x.ndim - len(self.event_shape)]
        if self.unit_blocks:
            e = jax.vmap(lambda j: self.unit_energies(x, j)[..., 0, :], out_axes=-2)(jnp.arange(self.num_units))
        else:
            e = None
            for block in self.blocks:
                idx, pos = self.block_layout(block)
                eb = self.unit_energies(x, block)
                eb = eb.reshape(batch + (-1, eb.shape[-1]))[..., pos, :]
                e = jnp.zeros(batch + (self.num_units, eb.shape[-1]), eb.dtype) if e is None else e
                e = e.at[..., idx, :].set(eb)
        return changes_from_unit_energies(e, self._flat(x), self.unit_values)

    # --- exact enumeration ---------------------------------------------------------
    @property
    def enumerated_units(self) -> int:
        """Binary digits of the number of enumerated states, :math:`\\lceil n \\log_2 q \\rceil`
        (``n`` for two unit values: :math:`2^n` terms); enumeration limits count in bits."""
        q = self.num_values
        return self.num_units if q == 2 else math.ceil(self.num_units * math.log2(q))

    def log_partition_enumerated(self, beta):
        """:math:`\\log \\sum_x e^{-\\beta E(x)}` over all :math:`q^n` states: streaming enumeration of
        :meth:`energy` (chunks reduced by a running log-sum-exp; differentiable, flat memory)."""
        return energy_log_partition(self, beta)

    def moments_model(self) -> "DiscreteModel":
        """An equivalent model whose parameter gradient of ``log_partition_enumerated`` gives the
        unit moments through :meth:`unit_moments`; default: :class:`Tilted` ``(self)``."""
        return Tilted(self)

    def unit_moments(self, grad, temperature):
        """``(<x> flattened, correlation)`` from ``grad`` = the gradient of log Z with respect to
        the parameters of this model (as returned by :meth:`moments_model`)."""
        raise NotImplementedError(f"{type(self).__name__}.unit_moments: use moments_model() (a Tilted model)")

    def to_quadratic(self):
        """Dense quadratic form ``(J, h, constant)``: E(x) = -1/2 xᵀJx - hᵀx + constant.

        ``x`` is the flattened state. Builds an N×N matrix: for enumeration and tests only.
        """
        raise NotImplementedError(f"{type(self).__name__} is not a quadratic model")

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
        raise NotImplementedError(f"{type(self).__name__} has no AIS base model")


def changes_from_unit_energies(energies, x_flat, values):
    """:math:`\\Delta_i(v) = \\epsilon_i(v) - \\epsilon_i(x_i)`: per-unit energies (any per-unit
    constant) minus the energy at each unit's current value; ``energies`` is ``batch + (N, q)``,
    ``x_flat`` the flat states ``batch + (N,)``."""
    current = jnp.asarray(x_flat)[..., None] == jnp.asarray(values, jnp.asarray(x_flat).dtype)
    at_current = jnp.sum(jnp.where(current, energies, 0.0), axis=-1, keepdims=True)
    return energies - at_current


def check_discrete_model(model, name: str = "model", who: str | None = None):
    """Return ``model`` if it is a :class:`DiscreteModel`, else raise ``ValueError`` naming the
    argument and the type it got."""
    if not isinstance(model, DiscreteModel):
        where = f"{who}: " if who else ""
        raise ValueError(f"{where}`{name}` must be a discrete model (an ebm_numpyro.DiscreteModel, "
                         f"including your own subclasses); got {type(model).__name__}")
    return model


@pytree_dataclass
class Tilted(DiscreteModel):
    """:math:`E'(x) = E(x) - h^\\top x - \\tfrac12 x^\\top J x` (``x`` flattened, as unit values): at
    :math:`h = J = 0` it is ``base``, and :math:`T\\,\\partial_{h_i} \\log Z = \\langle x_i\\rangle`,
    :math:`T(\\partial_{J_{ij}} + \\partial_{J_{ji}}) \\log Z = \\langle x_i x_j\\rangle`: the generic
    moments of any discrete model by differentiating its enumeration."""

    base: Any
    field: jnp.ndarray
    coupling: jnp.ndarray

    def __init__(self, base, field=None, coupling=None):
        n, dt = base.num_units, base.dtype
        field = jnp.zeros((n,), dt) if field is None else field
        coupling = jnp.zeros((n, n), dt) if coupling is None else coupling
        set_fields(self, base=base, field=field, coupling=coupling)

    @property
    def event_shape(self):
        return self.base.event_shape

    @property
    def unit_values(self):
        return self.base.unit_values

    @property
    def state_dtype(self):
        return self.base.state_dtype

    def energy(self, x):
        flat = self._flat(x).astype(self.field.dtype)
        return self.base.energy(x) - flat @ self.field - 0.5 * jnp.sum((flat @ self.coupling) * flat, -1)

    def moments_model(self):
        return self

    def unit_moments(self, grad, temperature):
        return temperature * grad.field, temperature * (grad.coupling + grad.coupling.T)


def neighbour_table(num_units: int, edges: np.ndarray):
    """Padded neighbour table of a graph: ``(neighbours, edge_ids)``, both ``(num_units, width)``
    (``width`` the largest degree, at least 1); row ``i`` lists unit ``i``'s neighbours and the ids
    of the edges joining them, padded with neighbour 0 and edge id ``len(edges)`` (give that id a
    zero weight: ``concatenate([weights, [0]])[edge_ids]``). Repeated edges appear repeatedly."""
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    degree = np.bincount(edges.ravel(), minlength=num_units)
    width = max(int(degree.max(initial=0)), 1)
    neighbours = np.zeros((num_units, width), np.int32)
    edge_ids = np.full((num_units, width), len(edges), np.int32)
    fill = np.zeros(num_units, np.int64)
    for e, (i, j) in enumerate(edges):
        for a, b in ((i, j), (j, i)):
            neighbours[a, fill[a]], edge_ids[a, fill[a]] = b, e
            fill[a] += 1
    return neighbours, edge_ids


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
