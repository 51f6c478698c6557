"""The q-state Potts model on a graph or a periodic square lattice."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int
from .base import (DiscreteModel, StaticArray, as_float, changes_from_unit_energies, greedy_colouring,
                   neighbour_table, pytree_dataclass, set_fields, static_field)

__all__ = ["Potts", "lattice_edges"]


def lattice_edges(rows: int, cols: int) -> np.ndarray:
    """The ``2 rows cols`` bonds of a periodic ``rows × cols`` lattice (flat row-major indices):
    every site to its right and lower neighbour."""
    idx = np.arange(rows * cols).reshape(rows, cols)
    right = np.stack([idx.ravel(), np.roll(idx, -1, 1).ravel()], 1)
    down = np.stack([idx.ravel(), np.roll(idx, -1, 0).ravel()], 1)
    return np.concatenate([right, down])


@pytree_dataclass
class Potts(DiscreteModel):
    """q-state Potts model: labels :math:`\\sigma_i \\in \\{0, \\dots, q-1\\}` on a graph,

    .. math::  E(\\sigma) = -\\sum_{\\langle ij \\rangle} J_{ij}\\,\\delta(\\sigma_i, \\sigma_j) - \\sum_i h_i(\\sigma_i)

    with one coupling per edge and a field per unit and label (``fields``, shape
    ``(num_units, q)``; zero when omitted). The heat-bath conditional of a unit is the softmax

    .. math::  p(\\sigma_i = k \\mid \\sigma_{-i}) \\propto \\exp\\Big(\\beta \\big(\\textstyle\\sum_{j \\sim i} J_{ij}\\,
               \\delta(k, \\sigma_j) + h_i(k)\\big)\\Big)

    (:meth:`unit_energies` gives :math:`-(\\dots)` for every label); units of one colour class of
    the graph (:attr:`blocks`: greedy colouring; the checkerboard on periodic lattices with
    even sides) are drawn together. For :math:`q = 2` it is the Ising model with
    :math:`J_{\\text{Ising}} = J/2` up to a constant. Build it with :meth:`square_lattice` or
    ``Potts(num_states, num_units, edges, couplings, fields)``.
    """

    couplings: jnp.ndarray
    fields: jnp.ndarray
    num_states: int = static_field()
    shape: tuple = static_field()
    edges: StaticArray = static_field()
    neighbours: StaticArray = static_field()
    neighbour_edges: StaticArray = static_field()
    colour_classes: tuple = static_field()

    state_dtype = jnp.int8

    def __init__(self, num_states, num_units, edges, couplings=1.0, fields=None, *, shape=None):
        q = check_int(num_states, "num_states", 2)
        if q > 127:
            raise ValueError(f"`num_states` must be at most 127 (labels are int8); got {q}")
        n = check_int(num_units, "num_units", 1)
        edges = np.asarray(edges, np.int64).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= n):
            raise ValueError(f"`edges` must index units 0..{n - 1}; got values in [{edges.min()}, {edges.max()}]")
        if np.any(edges[:, 0] == edges[:, 1]):
            raise ValueError("`edges` must not contain self-loops (i, i)")
        couplings = as_float(couplings)
        if couplings.ndim == 0:
            couplings = jnp.full((len(edges),), couplings)
        if couplings.shape != (len(edges),):
            raise ValueError(f"`couplings` must be a scalar or have shape ({len(edges)},) (one per edge); "
                             f"got {couplings.shape}")
        fields = jnp.zeros((n, q), couplings.dtype) if fields is None else as_float(fields, couplings.dtype)
        if fields.shape != (n, q):
            raise ValueError(f"`fields` must have shape (num_units, num_states) = {(n, q)}; got {fields.shape}")
        shape = (n,) if shape is None else tuple(int(s) for s in shape)
        if math.prod(shape) != n:
            raise ValueError(f"`shape` {shape} must hold num_units = {n} units")
        nbr, nbr_edge = neighbour_table(n, edges)
        classes = greedy_colouring(n, edges)
        set_fields(self, couplings=couplings, fields=fields, num_states=q, shape=shape,
                   edges=StaticArray(edges), neighbours=StaticArray(nbr), neighbour_edges=StaticArray(nbr_edge),
                   colour_classes=classes)

    @staticmethod
    def square_lattice(rows, cols=None, num_states=3, coupling=1.0, field=None) -> "Potts":
        """Periodic ``rows × cols`` lattice (states of shape ``(rows, cols)``), one coupling on
        every bond; ``field`` of shape ``(rows, cols, q)`` or ``(q,)`` (the same on every site)."""
        rows = check_int(rows, "rows", 2)
        cols = rows if cols is None else check_int(cols, "cols", 2)
        q = check_int(num_states, "num_states", 2)
        if field is not None:
            field = jnp.broadcast_to(as_float(field), (rows, cols, q)).reshape(rows * cols, q)
        return Potts(q, rows * cols, lattice_edges(rows, cols), coupling, field, shape=(rows, cols))

    # --- the discrete-model interface ---------------------------------------------------------
    @property
    def event_shape(self):
        return self.shape

    @property
    def unit_values(self):
        return tuple(range(self.num_states))

    @property
    def blocks(self):
        return tuple(range(len(self.colour_classes)))

    def energy(self, x):
        """:math:`-\\sum_{\\langle ij\\rangle} J_{ij}\\delta(\\sigma_i,\\sigma_j) - \\sum_i h_i(\\sigma_i)`, batched."""
        x = self._flat(x).astype(jnp.int32)
        e = self.edges.array
        same = (x[..., e[:, 0]] == x[..., e[:, 1]]).astype(self.couplings.dtype)
        onehot = jax.nn.one_hot(x, self.num_states, dtype=self.fields.dtype)
        return -(same @ self.couplings) - jnp.sum(onehot * self.fields, axis=(-2, -1))

    def unit_energies(self, x, block):
        """Energy of every unit of colour class ``block`` at every label, up to a per-unit constant:
        :math:`\\epsilon_i(k) = -\\sum_{j\\sim i} J_{ij}\\,\\delta(k,\\sigma_j) - h_i(k)`, shape ``batch + (B, q)``."""
        return self._unit_energies(x, np.asarray(self.colour_classes[block]))

    def set_block(self, x, block, values):
        units = np.asarray(self.colour_classes[block])
        x = jnp.asarray(x)
        flat = self._flat(x)
        return flat.at[..., units].set(values.astype(x.dtype)).reshape(x.shape)

    def _unit_energies(self, x, units):
        x = self._flat(x).astype(jnp.int32)
        nbr, nbr_edge = self.neighbours.array[units], self.neighbour_edges.array[units]
        w = jnp.concatenate([self.couplings, jnp.zeros((1,), self.couplings.dtype)])[nbr_edge]  # (B, width)
        labels = x[..., nbr]  # batch + (B, width); padding: unit 0 at weight 0
        onehot = jax.nn.one_hot(labels, self.num_states, dtype=w.dtype)
        return -jnp.einsum("...bwk,bw->...bk", onehot, w) - self.fields[units]

    def energy_changes(self, x):
        """:math:`\\Delta_i(k) = \\epsilon_i(k) - \\epsilon_i(\\sigma_i)` for every unit and label (all units'
        :meth:`unit_energies` at once), shape ``batch + (N, q)``."""
        e = self._unit_energies(x, np.arange(self.num_units))
        return changes_from_unit_energies(e, self._flat(x), self.unit_values)
