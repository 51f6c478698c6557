"""Boltzmann machines on {0,1} units: fully connected and restricted (bipartite)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_event_shape, check_temperature, check_units, check_vector, is_concrete
from .base import DiscreteModel, as_float, pytree_dataclass, replace_leaves, set_fields, static_field
from ._dense import DenseQuadratic
from ._enumeration import bipartite_log_partition, independent_log_partition
from .ising import Ising

__all__ = ["BoltzmannMachine", "RBM"]


@pytree_dataclass
class BoltzmannMachine(DenseQuadratic):
    """Fully connected Boltzmann machine on {0,1} units.

    .. math::  E(x) = -\\tfrac12\\, x^\\top W x - b^\\top x, \\qquad x_i \\in \\{0, 1\\}

    ``weights`` W is symmetric with a zero diagonal. The substitution x = (s + 1)/2 maps it
    exactly onto an Ising model (see :meth:`to_ising`): the network's weights are couplings.
    """

    unit_values = (0, 1)
    _matrix_name = "weights"
    _vector_name = "bias"

    weights: jnp.ndarray
    bias: jnp.ndarray
    blocks: tuple = static_field(default=None)

    def __init__(self, weights, bias=None, blocks=None):
        self._setup(weights, bias, blocks)

    @property
    def event_dims(self):
        return ("unit",)

    def to_ising(self):
        """Exact map to ±1 spins, s = 2x - 1, returning ``(ising, constant)``.

        .. math::
            J = W/4,\\quad h = W\\mathbf 1/4 + b/2,\\quad
            c = -\\mathbf 1^\\top W \\mathbf 1/8 - \\mathbf 1^\\top b/2,

        so that :math:`E_{BM}(x) = E_{Ising}(2x-1) + c` for every state x.
        """
        w, b = self.weights, self.bias
        ising = Ising(w / 4.0, jnp.sum(w, axis=1) / 4.0 + b / 2.0, blocks=self.blocks)
        constant = -jnp.sum(w) / 8.0 - jnp.sum(b) / 2.0
        return ising, constant


@pytree_dataclass
class RBM(DiscreteModel):
    """Restricted Boltzmann machine on {0,1} visible units v and hidden units h.

    .. math::  E(v, h) = -v^\\top W h - a^\\top v - c^\\top h

    with ``weights`` W (n_visible × n_hidden), ``visible_bias`` a, ``hidden_bias`` c. A joint
    state is the concatenation ``x = [v, h]``; the two layers are the Gibbs blocks, hidden
    (1) first, so that a sweep from data is one step v → h → v'. Training examples are
    visible vectors; :meth:`free_energy` sums the hidden layer out analytically.
    """

    unit_values = (0, 1)

    weights: jnp.ndarray
    visible_bias: jnp.ndarray
    hidden_bias: jnp.ndarray

    def __init__(self, weights, visible_bias=None, hidden_bias=None):
        weights = as_float(weights)
        if weights.ndim != 2:
            raise ValueError(f"`weights` must have shape (n_visible, n_hidden); got {weights.shape}")
        nv, nh = weights.shape
        if nv == 0 or nh == 0:
            raise ValueError(f"`weights` must have at least one visible and one hidden unit; got shape {weights.shape}")
        if is_concrete(weights) and not np.all(np.isfinite(np.asarray(weights))):
            raise ValueError("`weights` must be finite")
        a = jnp.zeros((nv,), weights.dtype) if visible_bias is None else as_float(visible_bias)
        c = jnp.zeros((nh,), weights.dtype) if hidden_bias is None else as_float(hidden_bias)
        check_vector(a, "visible_bias", nv)
        check_vector(c, "hidden_bias", nh)
        set_fields(self, weights=weights, visible_bias=a, hidden_bias=c)

    @property
    def num_visible(self) -> int:
        return self.weights.shape[0]

    @property
    def num_hidden(self) -> int:
        return self.weights.shape[1]

    @property
    def event_shape(self):
        return (self.num_visible + self.num_hidden,)

    @property
    def event_dims(self):
        return ("unit",)

    def split(self, x):
        """Split a joint state ``[v, h]`` into ``(v, h)``."""
        return x[..., : self.num_visible], x[..., self.num_visible :]

    def joint_energy(self, v, h):
        """:math:`E(v,h) = -v^\\top W h - a^\\top v - c^\\top h`, batched."""
        _check_layer(v, self.num_visible, "v")
        _check_layer(h, self.num_hidden, "h")
        return _bipartite_energy(v, h, self.weights, self.visible_bias, self.hidden_bias)

    def energy(self, x):
        """Joint energy of ``x = [v, h]``; see :meth:`joint_energy`."""
        self.validate_state(x)
        return _bipartite_energy(*self.split(x), self.weights, self.visible_bias, self.hidden_bias)

    def free_energy(self, v, temperature=1.0):
        """Free energy of the visible layer, hidden units summed out:

        .. math::  F(v) = -a^\\top v - T\\sum_j \\log\\big(1 + e^{(v^\\top W + c)_j / T}\\big)

        so that :math:`p(v) \\propto e^{-F(v)/T}`.
        """
        check_temperature(temperature)
        _check_layer(v, self.num_visible, "v")
        v = jnp.asarray(v).astype(self.weights.dtype)
        pre = v @ self.weights + self.hidden_bias
        return -v @ self.visible_bias - temperature * jnp.sum(jax.nn.softplus(pre / temperature), -1)

    def hidden_free_energy(self, h, temperature=1.0):
        """Free energy of the hidden layer, visible units summed out (the mirror of :meth:`free_energy`)."""
        check_temperature(temperature)
        _check_layer(h, self.num_hidden, "h")
        h = jnp.asarray(h).astype(self.weights.dtype)
        pre = h @ self.weights.T + self.visible_bias
        return -h @ self.hidden_bias - temperature * jnp.sum(jax.nn.softplus(pre / temperature), -1)

    @property
    def blocks(self):
        """Layers as blocks: 1 (hidden) then 0 (visible)."""
        return (1, 0)

    def local_field(self, x, block):
        """Visible block: :math:`W h + a`; hidden block: :math:`W^\\top v + c`."""
        v, h = self.split(jnp.asarray(x).astype(self.weights.dtype))
        if block == 0:
            return h @ self.weights.T + self.visible_bias
        return v @ self.weights + self.hidden_bias

    def set_block(self, x, block, values):
        """``x`` with layer ``block`` replaced (a concatenation: cheaper than an in-place update on CPU)."""
        x = jnp.asarray(x)
        values = values.astype(x.dtype)
        v, h = self.split(x)
        return jnp.concatenate([values, h] if block == 0 else [v, values], -1)

    def to_boltzmann_machine(self) -> BoltzmannMachine:
        """The same model as a dense :class:`BoltzmannMachine` on the joint units ``[v, h]``."""
        nv, nh = self.weights.shape
        w = jnp.zeros((nv + nh, nv + nh), self.weights.dtype)
        w = w.at[:nv, nv:].set(self.weights).at[nv:, :nv].set(self.weights.T)
        blocks = (tuple(range(nv)), tuple(range(nv, nv + nh)))
        return BoltzmannMachine(w, jnp.concatenate([self.visible_bias, self.hidden_bias]), blocks=blocks)

    def to_quadratic(self):
        return self.to_boltzmann_machine().to_quadratic()

    # --- data view: visible vectors ----------------------------------------------
    @property
    def data_shape(self):
        return (self.num_visible,)

    def embed_data(self, data):
        """Joint states ``[v, 0]`` (the first sweep redraws the hidden layer given v)."""
        data = jnp.asarray(data)
        return jnp.concatenate([data, jnp.zeros(data.shape[:-1] + (self.num_hidden,), data.dtype)], -1)

    def data_part(self, x):
        return x[..., : self.num_visible]

    def data_energy(self, data, temperature=1.0):
        """The free energy :meth:`free_energy` of visible vectors."""
        return self.free_energy(data, temperature)

    def data_energy_gradient(self, data):
        """Closed form of the mean free-energy gradient, with :math:`p = \\sigma(W^\\top v + c)`:

        .. math::  \\langle\\nabla_W F\\rangle = -\\langle v\\, p^\\top\\rangle,\\quad
                   \\langle\\nabla_a F\\rangle = -\\langle v\\rangle,\\quad
                   \\langle\\nabla_c F\\rangle = -\\langle p\\rangle
        """
        v = jnp.asarray(data).astype(self.weights.dtype)
        p = jax.nn.sigmoid(v @ self.weights + self.hidden_bias)
        n = v.shape[0]
        return replace_leaves(self, weights=-(v.T @ p) / n, visible_bias=-jnp.mean(v, 0), hidden_bias=-jnp.mean(p, 0))

    # --- exact enumeration, moments, AIS ---------------------------------------------
    @property
    def enumerated_units(self):
        """The smaller layer is enumerated; the other is summed analytically."""
        return min(self.num_visible, self.num_hidden)

    def energy_changes(self, x):
        """:math:`\\Delta_i(v) = -(v - x_i) f_i` with the fields :math:`Wh + a` (visible) and
        :math:`W^\\top v + c` (hidden), shape ``batch + (n_v + n_h, 2)``."""
        x = jnp.asarray(x).astype(self.weights.dtype)
        field = jnp.concatenate([self.local_field(x, 0), self.local_field(x, 1)], -1)
        values = jnp.asarray((0.0, 1.0), field.dtype)
        return -(values - x[..., None]) * field[..., None]

    def log_partition_enumerated(self, beta):
        return bipartite_log_partition(self.weights, self.visible_bias, self.hidden_bias, beta)

    def moments_model(self):
        return self

    def unit_moments(self, grad, temperature):
        """:math:`\\langle [v, h]\\rangle = T\\,\\partial_{(a, c)}\\log Z`, :math:`\\langle v_i h_j\\rangle = T\\,\\partial_{W_{ij}}\\log Z`."""
        mean = jnp.concatenate([grad.visible_bias, grad.hidden_bias])
        return temperature * mean, temperature * grad.weights

    @property
    def correlation_dims(self):
        return ("visible", "hidden")

    def correlation_factors(self, x):
        return self.split(x)

    def ais_base(self, log_odds):
        """Base-rate model (Salakhutdinov & Murray 2008): visible biases ``log_odds``, W = 0, c = 0,

        .. math::  \\log Z_0 = n_h \\log 2 + \\sum_i \\log(1 + e^{b_{A,i}})
        """
        bias = jnp.asarray(log_odds, self.dtype)
        base = replace_leaves(
            self, weights=jnp.zeros_like(self.weights), visible_bias=bias, hidden_bias=jnp.zeros_like(self.hidden_bias)
        )
        return base, self.num_hidden * math.log(2.0) + independent_log_partition(bias, self.unit_values)


def _bipartite_energy(v, h, W, a, c):
    """:math:`E(v,h) = -v^\\top W h - a^\\top v - c^\\top h`, batched over leading axes."""
    v, h = jnp.asarray(v).astype(W.dtype), jnp.asarray(h).astype(W.dtype)
    return -jnp.einsum("...i,ij,...j->...", v, W, h) - v @ a - h @ c


def _check_layer(x, size, name):
    check_event_shape(x, (size,), name)
    check_units(x, (0, 1), name)
