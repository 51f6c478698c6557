"""The one dense quadratic model, E(x) = -½ xᵀMx - vᵀx, shared by Ising and BoltzmannMachine."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from .._checks import check_square_symmetric, check_vector, is_concrete
from .base import DiscreteModel, as_float, greedy_colouring, replace_leaves, set_fields
from ._enumeration import independent_log_partition, quadratic_log_partition

__all__ = ["DenseQuadratic", "quadratic_energy"]


def quadratic_energy(x, matrix, vector):
    """:math:`E(x) = -\\tfrac12\\, x^\\top M x - v^\\top x`, batched over the leading axes of ``x``."""
    x = jnp.asarray(x).astype(matrix.dtype)
    return -0.5 * jnp.einsum("...i,ij,...j->...", x, matrix, x) - x @ vector


class DenseQuadratic(DiscreteModel):
    """Base of the dense models: a symmetric zero-diagonal matrix M and a vector v,

    .. math::  E(x) = -\\tfrac12\\, x^\\top M x - v^\\top x,
               \\qquad f_i = -\\partial E/\\partial x_i = (M x)_i + v_i

    Subclasses name the two fields (``_matrix_name``, ``_vector_name``) and set
    ``unit_values``. Gibbs blocks are a greedy colouring of the non-zero entries of M.
    """

    _matrix_name: ClassVar[str]
    _vector_name: ClassVar[str]

    def _setup(self, matrix, vector, blocks):
        matrix = as_float(matrix)
        check_square_symmetric(matrix, self._matrix_name)
        n = matrix.shape[0]
        vector = jnp.zeros((n,), matrix.dtype) if vector is None else as_float(vector)
        check_vector(vector, self._vector_name, n)
        if blocks is None:
            if is_concrete(matrix):
                i, j = np.nonzero(np.asarray(matrix))
                blocks = greedy_colouring(n, np.stack([i, j], 1))
            else:
                blocks = tuple((i,) for i in range(n))
        set_fields(self, **{self._matrix_name: matrix, self._vector_name: vector, "blocks": tuple(blocks)})

    @property
    def _matrix(self):
        return getattr(self, self._matrix_name)

    @property
    def _vector(self):
        return getattr(self, self._vector_name)

    @property
    def event_shape(self):
        return (self._matrix.shape[0],)

    def energy(self, x):
        """:math:`E(x) = -\\tfrac12 x^\\top M x - v^\\top x`, batched over leading axes."""
        self.validate_state(x)
        return quadratic_energy(x, self._matrix, self._vector)

    #: blocks may be traced index arrays (a dense colouring is swept in a ``lax.fori_loop``)
    traced_blocks: ClassVar[bool] = True

    def local_field(self, x, block):
        """:math:`f_i = \\sum_j M_{ij} x_j + v_i` for the units ``i`` in ``block``."""
        idx = jnp.asarray(block)
        x = jnp.asarray(x).astype(self._matrix.dtype)
        return x @ self._matrix[:, idx] + self._vector[idx]

    def set_block(self, x, block, values):
        x = jnp.asarray(x)
        return x.at[..., jnp.asarray(block)].set(values.astype(x.dtype))

    def to_quadratic(self):
        return self._matrix, self._vector, jnp.zeros((), self._matrix.dtype)

    def project_gradient(self, grad):
        """Zero the diagonal of the matrix gradient (no self-coupling is a parameter)."""
        g = getattr(grad, self._matrix_name)
        return replace_leaves(grad, **{self._matrix_name: g * (1.0 - jnp.eye(g.shape[0], dtype=g.dtype))})

    def energy_changes(self, x):
        """:math:`\\Delta_i(v) = -(v - x_i) f_i` with :math:`f = Mx + v` for every unit (exact: the
        energy is affine in each unit, M having a zero diagonal), shape ``batch + (n, 2)``."""
        x = jnp.asarray(x).astype(self._matrix.dtype)
        field = x @ self._matrix + self._vector
        values = jnp.asarray(self.unit_values, field.dtype)
        return -(values - x[..., None]) * field[..., None]

    def log_partition_enumerated(self, beta):
        return quadratic_log_partition(self._matrix, self._vector, beta, values=self.unit_values)

    def moments_model(self):
        return self

    def unit_moments(self, grad, temperature):
        """:math:`\\langle x_i\\rangle = T\\,\\partial_{v_i}\\log Z`, :math:`\\langle x_i x_j\\rangle = T(\\partial_{M_{ij}} + \\partial_{M_{ji}})\\log Z`."""
        gm = getattr(grad, self._matrix_name)
        return temperature * getattr(grad, self._vector_name), temperature * (gm + gm.T)

    def ais_base(self, log_odds):
        """Independent units with :math:`v_i = \\text{logit}_i / (\\text{up} - \\text{down})`, M = 0."""
        down, up = self.unit_values
        vector = jnp.asarray(log_odds, self.dtype) / (up - down)
        base = replace_leaves(self, **{self._matrix_name: jnp.zeros_like(self._matrix), self._vector_name: vector})
        return base, independent_log_partition(vector, self.unit_values)
