"""Ising models on ±1 spins: dense couplings, periodic square lattice, sparse graphs."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_vector, is_concrete
from .base import (
    DiscreteModel,
    StaticArray,
    as_float,
    greedy_colouring,
    neighbour_table,
    pytree_dataclass,
    replace_leaves,
    set_fields,
    static_field,
)
from ._dense import DenseQuadratic
from ._enumeration import independent_log_partition

__all__ = ["Ising", "LatticeIsing", "SparseIsing"]


def _spins_as_float(x, dtype):
    return jnp.asarray(x).astype(dtype)


@pytree_dataclass
class Ising(DenseQuadratic):
    """Ising model with dense couplings on ±1 spins.

    .. math::  E(s) = -\\tfrac12\\, s^\\top J s - h^\\top s, \\qquad s_i \\in \\{-1, +1\\}

    ``couplings`` J is symmetric with a zero diagonal, ``fields`` h has one entry per spin.
    Gibbs blocks are a greedy colouring of the coupling graph (non-zero J_ij).
    Use :meth:`square_lattice` for periodic lattices and :meth:`from_edges` for sparse graphs.
    """

    _matrix_name = "couplings"
    _vector_name = "fields"

    couplings: jnp.ndarray
    fields: jnp.ndarray
    blocks: tuple = static_field(default=None)

    def __init__(self, couplings, fields=None, blocks=None):
        self._setup(couplings, fields, blocks)

    @staticmethod
    def square_lattice(rows, cols=None, coupling=1.0, field=0.0) -> "LatticeIsing":
        """Periodic ``rows × cols`` square lattice (stencil-based; see :class:`LatticeIsing`)."""
        return LatticeIsing(rows, cols, coupling, field)

    @staticmethod
    def from_edges(num_spins, edges, weights, fields=None) -> "SparseIsing":
        """Ising model on a sparse graph (see :class:`SparseIsing`)."""
        return SparseIsing(num_spins, edges, weights, fields)

    @property
    def event_dims(self):
        return ("spin",)


def _spin_changes(s, field):
    """:math:`\\Delta_i(v) = -(v - s_i) f_i` for ``v = -1, +1``: shape ``batch + (N, 2)``."""
    values = jnp.asarray((-1.0, 1.0), field.dtype)
    return -(values - s[..., None]) * field[..., None]


def _dense_ising(model) -> Ising:
    """The dense :class:`Ising` model of ``model.to_quadratic()`` (enumerable sizes only).

    Built without validation so that it stays differentiable in the model's parameters.
    """
    J, h, _ = model.to_quadratic()
    dense = object.__new__(Ising)
    set_fields(dense, couplings=J, fields=h, blocks=tuple((i,) for i in range(J.shape[0])))
    return dense


def _check_dense_size(model, limit=2**12):
    if model.num_units > limit:
        raise ValueError(
            f"to_quadratic builds a {model.num_units}x{model.num_units} matrix; it serves enumeration "
            f"of small models only (at most {limit} units)"
        )


def _lattice_colours(rows: int, cols: int) -> np.ndarray:
    """Proper colouring of the periodic rows×cols lattice: 2 colours if both sides are even, else 3.

    Colour(i, j) = (f(i) + g(j)) mod k with f, g proper colourings of the two cycles;
    for an odd cycle the last site gets the third value 2.
    """
    k = 2 if rows % 2 == 0 and cols % 2 == 0 else 3

    def cycle(n):
        c = np.arange(n) % 2
        if n % 2:
            c[-1] = 2
        return c

    return (cycle(rows)[:, None] + cycle(cols)[None, :]) % k


@pytree_dataclass
class LatticeIsing(DiscreteModel):
    """Ferromagnetic/antiferromagnetic Ising model on a periodic ``rows × cols`` square lattice.

    .. math::  E(s) = -J \\sum_{i,j} s_{i,j}\\,(s_{i+1,j} + s_{i,j+1}) - h \\sum_{i,j} s_{i,j}

    with indices taken modulo ``rows`` and ``cols`` (2·rows·cols bonds). States have shape
    ``(rows, cols)``; the energy is a stencil (rolls), so memory is that of the spins only.
    Gibbs blocks are the checkerboard (three colours when a side is odd).
    """

    coupling: jnp.ndarray
    field: jnp.ndarray
    rows: int = static_field()
    cols: int = static_field()

    def __init__(self, rows, cols=None, coupling=1.0, field=0.0):
        rows = check_int(rows, "rows", 2)
        cols = rows if cols is None else check_int(cols, "cols", 2)
        coupling = as_float(coupling)
        field = as_float(field, coupling.dtype)
        for name, v in (("coupling", coupling), ("field", field)):
            if v.shape != ():
                raise ValueError(f"`{name}` must be a scalar; got shape {v.shape}")
            if is_concrete(v) and not np.isfinite(float(v)):
                raise ValueError(f"`{name}` must be finite; got {float(v)}")
        set_fields(self, coupling=coupling, field=field, rows=rows, cols=cols)

    @property
    def event_shape(self):
        return (self.rows, self.cols)

    @property
    def event_dims(self):
        return ("row", "col")

    @property
    def colours(self) -> np.ndarray:
        """Static colour map of shape ``(rows, cols)``; equal colours are never neighbours."""
        return _lattice_colours(self.rows, self.cols)

    @property
    def blocks(self):
        return tuple(range(int(self.colours.max()) + 1))

    def neighbour_sum(self, s):
        """Sum of the four periodic neighbours of every site, :math:`\\sum_{\\langle ij\\rangle} s_j`."""
        return (
            jnp.roll(s, 1, -2) + jnp.roll(s, -1, -2) + jnp.roll(s, 1, -1) + jnp.roll(s, -1, -1)
        )

    def energy(self, x):
        """:math:`E = -J\\sum s_{ij}(s_{i+1,j}+s_{i,j+1}) - h\\sum s_{ij}`, batched.

        The vertical and horizontal bonds are summed separately, so that every summed element
        is one bond: a NumPyro model with this energy as a factor is then swept by the
        checkerboard (:mod:`ebm_numpyro.kernels.dependency` sees two units per term)."""
        self.validate_state(x)
        s = _spins_as_float(x, self.coupling.dtype)
        bonds = (jnp.sum(s * jnp.roll(s, -1, -2), axis=(-2, -1))
                 + jnp.sum(s * jnp.roll(s, -1, -1), axis=(-2, -1)))
        return -self.coupling * bonds - self.field * jnp.sum(s, axis=(-2, -1))

    def local_field(self, x, block):
        """:math:`f_{ij} = J\\,(\\text{sum of 4 neighbours}) + h` on the whole lattice."""
        s = _spins_as_float(x, self.coupling.dtype)
        return self.coupling * self.neighbour_sum(s) + self.field

    def set_block(self, x, block, values):
        x = jnp.asarray(x)
        mask = jnp.asarray(self.colours == block)
        return jnp.where(mask, values.astype(x.dtype), x)

    def to_quadratic(self):
        _check_dense_size(self)
        n = self.rows * self.cols
        idx = np.arange(n).reshape(self.rows, self.cols)
        counts = np.zeros((n, n))
        for nb in (np.roll(idx, -1, 0), np.roll(idx, -1, 1)):
            np.add.at(counts, (idx.ravel(), nb.ravel()), 1.0)
            np.add.at(counts, (nb.ravel(), idx.ravel()), 1.0)
        dtype = self.coupling.dtype
        J = self.coupling * jnp.asarray(counts, dtype)
        h = jnp.full((n,), self.field, dtype)
        return J, h, jnp.zeros((), dtype)

    def energy_changes(self, x):
        """:math:`\\Delta_i(v) = -(v - s_i) f_i`, :math:`f = J n + h` (stencil), shape ``batch + (N, 2)``."""
        s = _spins_as_float(x, self.coupling.dtype)
        field = self.local_field(s, None)
        return _spin_changes(s.reshape(s.shape[:-2] + (-1,)), field.reshape(field.shape[:-2] + (-1,)))

    def log_partition_enumerated(self, beta):
        return _dense_ising(self).log_partition_enumerated(beta)

    def moments_model(self):
        return _dense_ising(self)

    def ais_base(self, log_odds):
        """Independent spins with the uniform field :math:`h = \\overline{\\text{logit}}/2`, J = 0."""
        field = jnp.mean(jnp.asarray(log_odds, self.dtype)) / 2.0
        base = replace_leaves(self, coupling=jnp.zeros_like(self.coupling), field=field)
        return base, self.num_units * jnp.logaddexp(field, -field)


@pytree_dataclass
class SparseIsing(DiscreteModel):
    """Ising model on a sparse graph given by an edge list.

    .. math::  E(s) = -\\sum_{e=(i,j)} w_e\\, s_i s_j - \\sum_i h_i s_i

    Each undirected edge appears once in ``edges`` (shape ``(E, 2)``); repeated edges add.
    Local fields use a padded neighbour table, so a Gibbs sweep costs O(E), not O(N²).
    """

    weights: jnp.ndarray
    fields: jnp.ndarray
    edges: StaticArray = static_field()
    neighbours: StaticArray = static_field()
    neighbour_edge: StaticArray = static_field()
    num_spins: int = static_field()
    blocks: tuple = static_field(default=None)

    def __init__(self, num_spins, edges, weights, fields=None):
        num_spins = check_int(num_spins, "num_spins", 1)
        edges_np = np.asarray(edges)
        if edges_np.ndim != 2 or edges_np.shape[1] != 2 or not np.issubdtype(edges_np.dtype, np.integer):
            if not (edges_np.size == 0):
                raise ValueError(f"`edges` must be an integer array of shape (E, 2); got {edges_np.shape}")
            edges_np = edges_np.reshape(0, 2).astype(np.int64)
        if edges_np.size and (edges_np.min() < 0 or edges_np.max() >= num_spins):
            raise ValueError(f"`edges` must index spins in [0, {num_spins}); got {edges_np.min()}..{edges_np.max()}")
        if np.any(edges_np[:, 0] == edges_np[:, 1]):
            raise ValueError("`edges` must not contain self-loops (i, i)")
        weights = as_float(weights)
        check_vector(weights, "weights", edges_np.shape[0])
        fields = jnp.zeros((num_spins,), weights.dtype) if fields is None else as_float(fields)
        check_vector(fields, "fields", num_spins)
        nbr, slot = neighbour_table(num_spins, edges_np)
        set_fields(
            self,
            weights=weights,
            fields=fields,
            edges=StaticArray(edges_np.astype(np.int32)),
            neighbours=StaticArray(nbr),
            neighbour_edge=StaticArray(slot),
            num_spins=num_spins,
            blocks=greedy_colouring(num_spins, edges_np),
        )

    @property
    def event_shape(self):
        return (self.num_spins,)

    @property
    def event_dims(self):
        return ("spin",)

    def energy(self, x):
        """:math:`E = -\\sum_e w_e s_i s_j - h^\\top s`, batched."""
        self.validate_state(x)
        s = _spins_as_float(x, self.weights.dtype)
        i, j = self.edges.array[:, 0], self.edges.array[:, 1]
        return -(s[..., i] * s[..., j]) @ self.weights - s @ self.fields

    def local_field(self, x, block):
        """:math:`f_i = \\sum_{e \\ni i} w_e s_{j(e)} + h_i` for the spins in ``block``."""
        idx = np.asarray(block)
        s = _spins_as_float(x, self.weights.dtype)
        w = jnp.concatenate([self.weights, jnp.zeros((1,), self.weights.dtype)])[self.neighbour_edge.array[idx]]
        return jnp.sum(s[..., self.neighbours.array[idx]] * w, axis=-1) + self.fields[idx]

    def set_block(self, x, block, values):
        x = jnp.asarray(x)
        return x.at[..., np.asarray(block)].set(values.astype(x.dtype))

    def to_quadratic(self):
        _check_dense_size(self)
        n = self.num_spins
        J = jnp.zeros((n, n), self.weights.dtype)
        i, j = self.edges.array[:, 0], self.edges.array[:, 1]
        J = J.at[i, j].add(self.weights).at[j, i].add(self.weights)
        return J, self.fields, jnp.zeros((), self.weights.dtype)

    def energy_changes(self, x):
        """:math:`\\Delta_i(v) = -(v - s_i) f_i` for every spin (neighbour table), shape ``batch + (N, 2)``."""
        s = _spins_as_float(x, self.weights.dtype)
        return _spin_changes(s, self.local_field(s, tuple(range(self.num_spins))))

    def log_partition_enumerated(self, beta):
        return _dense_ising(self).log_partition_enumerated(beta)

    def moments_model(self):
        return _dense_ising(self)

    def ais_base(self, log_odds):
        """Independent spins with fields :math:`h_i = \\text{logit}_i/2`, no couplings."""
        fields = jnp.asarray(log_odds, self.dtype) / 2.0
        base = replace_leaves(self, weights=jnp.zeros_like(self.weights), fields=fields)
        return base, independent_log_partition(fields, self.unit_values)
