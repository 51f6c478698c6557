"""Exact ground truth: streaming enumeration with a stable log-sum-exp, and closed forms.

Enumeration splits the n enumerated units into ``c`` low bits and ``n - c`` high bits.
For a quadratic energy E(x) = -½xᵀJx - hᵀx the energy of the joint state is

.. math::  E(x_L, x_H) = E_L(x_L) + E_H(x_H) - x_L^\\top J_{LH} x_H,

so a chunk of states (all 2^c low states × a batch of high states) costs one matrix
product and O(c) work per state instead of O(n²). Chunks are reduced by a running
log-sum-exp (never materialising 2^n numbers), inside ``lax.scan`` with a rematerialised
body so that reverse-mode derivatives (used for the moments) also need flat memory.
Restricted Boltzmann machines enumerate only their smaller layer; the other layer is
summed analytically.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._checks import check_event_shape, check_temperature, check_units, format_count
from ._lattice_exact import (
    kaufman_heat_capacity,
    kaufman_log_partition,
    kaufman_mean_energy,
    onsager_critical_temperature,
    onsager_free_energy,
    onsager_magnetization,
    onsager_mean_energy,
)
from .models import RBM
from .models._base import DiscreteModel

__all__ = [
    "MAX_ENUMERATED_UNITS",
    "Moments",
    "log_partition",
    "moments",
    "log_likelihood",
    "enumerate_states",
    "kaufman_log_partition",
    "kaufman_mean_energy",
    "kaufman_heat_capacity",
    "onsager_critical_temperature",
    "onsager_free_energy",
    "onsager_mean_energy",
    "onsager_magnetization",
]

#: Default limit on the number of enumerated units (2^32 ≈ 4.3e9 states).
MAX_ENUMERATED_UNITS = 32
_ASSUMED_RATE = 1e8  # states per second on a 2-core CPU, for the error message only
_CHUNK_ELEMENTS = 2**21  # floats per chunk (≈ 8 MB in float32)
_MAX_LOW_BITS = 12


class Moments(NamedTuple):
    """Exact thermodynamic moments at one temperature (k_B = 1).

    ``log_partition`` log Z; ``mean_energy`` ⟨E⟩; ``heat_capacity`` C = Var(E)/T²;
    ``mean`` ⟨x_i⟩ in the model's state layout; ``correlation`` ⟨x_i x_j⟩ over the flattened
    units (for an RBM: the visible-hidden moments ⟨v_i h_j⟩, the statistics it couples).
    """

    log_partition: jnp.ndarray
    mean_energy: jnp.ndarray
    heat_capacity: jnp.ndarray
    mean: jnp.ndarray
    correlation: jnp.ndarray


# --- one enumeration of states -------------------------------------------------------
def unit_states(indices, num_bits, values, dtype=jnp.float32):
    """States whose bit k is bit k of the integer ``indices``: ``down + (up - down) * bit``."""
    down, up = values
    bits = (indices[:, None] >> jnp.arange(num_bits, dtype=indices.dtype)) & 1
    return (down + (up - down) * bits).astype(dtype)


def enumerate_states(model, max_units: int = 20):
    """All ``2^n`` states of a small discrete model, shape ``(2^n,) + event_shape``, dtype int8.

    State k has unit i equal to ``up`` where bit i of k is set. For an RBM these are joint
    states ``[v, h]``.
    """
    n = _check_enumerable(model, model.num_units, max_units)
    states = unit_states(jnp.arange(2**n, dtype=jnp.int32), n, model.unit_values, jnp.int8)
    return states.reshape((2**n,) + tuple(model.event_shape))


def _stream_logsumexp(chunk_log_weights, num_chunks: int, dtype):
    """:math:`\\log\\sum_k\\sum_s \\exp(w_{k,s})` over chunks k with a running maximum.

    Carry (m, S) means the partial sum equals :math:`e^{m} S`; a new chunk with maximum
    :math:`m_k` updates :math:`m' = \\max(m, m_k)`, :math:`S' = S e^{m-m'} + \\sum_s e^{w_{k,s}-m'}`.
    The maximum is a constant for differentiation (the result does not depend on it).
    """

    def body(carry, k):
        m, s = carry
        lw = chunk_log_weights(k)
        new_m = jax.lax.stop_gradient(jnp.maximum(m, jnp.max(lw)))
        s = s * jnp.exp(m - new_m) + jnp.sum(jnp.exp(lw - new_m))
        return (new_m, s), None

    init = (jnp.array(-jnp.inf, dtype), jnp.array(0.0, dtype))
    (m, s), _ = jax.lax.scan(jax.checkpoint(body), init, jnp.arange(num_chunks, dtype=jnp.int32))
    return m + jnp.log(s)


def _plan(n: int, per_state: int):
    """Split n enumerated units into low bits and chunks of high states.

    Returns ``(low_bits, chunk_high, num_chunks)`` with all counts powers of two and a
    chunk of ``2^low_bits * chunk_high * per_state`` at most ``_CHUNK_ELEMENTS`` floats.
    """
    budget = max(_CHUNK_ELEMENTS // max(per_state, 1), 1)
    low_bits = min(n, _MAX_LOW_BITS, max(int(math.log2(budget)), 0))
    high_bits = n - low_bits
    chunk_bits = min(high_bits, max(int(math.log2(max(budget >> low_bits, 1))), 0))
    return low_bits, 2**chunk_bits, 2 ** (high_bits - chunk_bits)


@functools.partial(jax.jit, static_argnames=("values",))
def _quadratic_log_partition(J, h, const, beta, values):
    """:math:`\\log\\sum_x e^{-\\beta E(x)}` for :math:`E(x) = -\\tfrac12 x^\\top J x - h^\\top x + c`."""
    n = J.shape[0]
    dt = J.dtype
    c, nb, num_chunks = _plan(n, 1)
    low = unit_states(jnp.arange(2**c, dtype=jnp.int32), c, values, dt)
    e_low = -0.5 * jnp.sum((low @ J[:c, :c]) * low, -1) - low @ h[:c]
    low_j = low @ J[:c, c:]

    def chunk(k):
        high = unit_states(k * nb + jnp.arange(nb, dtype=jnp.int32), n - c, values, dt)
        e_high = -0.5 * jnp.sum((high @ J[c:, c:]) * high, -1) - high @ h[c:]
        energy = e_low[:, None] + e_high[None, :] - low_j @ high.T + const
        return -beta * energy

    return _stream_logsumexp(chunk, num_chunks, dt)


@jax.jit
def _rbm_log_partition(W, a, b, beta):
    """:math:`\\log Z = \\log\\sum_v e^{\\beta a^\\top v}\\prod_j (1 + e^{\\beta (v^\\top W + b)_j})`.

    Enumerates the layer along W's first axis; the other is summed out analytically.
    """
    n, m = W.shape
    dt = W.dtype
    c, nb, num_chunks = _plan(n, m)
    low = unit_states(jnp.arange(2**c, dtype=jnp.int32), c, (0, 1), dt)
    pre_low, lin_low = low @ W[:c], low @ a[:c]

    def chunk(k):
        high = unit_states(k * nb + jnp.arange(nb, dtype=jnp.int32), n - c, (0, 1), dt)
        pre_high, lin_high = high @ W[c:] + b, high @ a[c:]
        pre = pre_low[:, None, :] + pre_high[None, :, :]
        return beta * (lin_low[:, None] + lin_high[None, :]) + jnp.sum(jax.nn.softplus(beta * pre), -1)

    return _stream_logsumexp(chunk, num_chunks, dt)


def _rbm_log_partition_smaller_layer(W, a, b, beta):
    """RBM log Z enumerating whichever layer is smaller."""
    if W.shape[0] <= W.shape[1]:
        return _rbm_log_partition(W, a, b, beta)
    return _rbm_log_partition(W.T, b, a, beta)


# --- validation ------------------------------------------------------------------------
def _check_enumerable(model, n: int, max_units: int) -> int:
    if not isinstance(model, DiscreteModel):
        raise ValueError(
            f"exact enumeration needs a discrete model (Ising, BoltzmannMachine, RBM); "
            f"got {type(model).__name__}"
        )
    if n > max_units:
        states = 2.0**n
        seconds = states / _ASSUMED_RATE
        raise ValueError(
            f"exact enumeration of this {type(model).__name__} needs {format_count(states)} states "
            f"(about {seconds:.3g} s at ~{_ASSUMED_RATE:.0e} states/s; memory stays flat), more than "
            f"the limit of 2^{max_units} states (max_units={max_units}). Use "
            f"ebm.exact.kaufman_log_partition for periodic lattices or an AIS estimate instead."
        )
    return n


def _enumerated_units(model) -> int:
    if isinstance(model, RBM):
        return min(model.num_visible, model.num_hidden)
    return model.num_units


def _beta(model, temperature):
    check_temperature(temperature)
    dtype = model.weights.dtype if isinstance(model, RBM) else model.to_quadratic()[0].dtype
    return jnp.asarray(1.0 / jnp.asarray(temperature, dtype), dtype)


# --- public API --------------------------------------------------------------------------
def log_partition(model, temperature=1.0, *, max_units: int = MAX_ENUMERATED_UNITS):
    """Exact log partition function by streaming enumeration:

    .. math::  \\log Z(T) = \\log \\sum_x e^{-E(x)/T}
               = m + \\log \\sum_x e^{-E(x)/T - m},\\quad m = \\max_x(-E(x)/T)

    Stable for every T > 0: at low T it tends to :math:`-E_{min}/T + \\log g` (g the
    ground-state degeneracy), at high T to :math:`n \\log 2`. Memory is flat in n; an RBM
    enumerates only its smaller layer. Raises ``ValueError`` for models with more than
    ``max_units`` enumerated units (stating the state count and time it would need).
    """
    _check_enumerable(model, _enumerated_units(model) if isinstance(model, DiscreteModel) else 0, max_units)
    beta = _beta(model, temperature)
    if isinstance(model, RBM):
        return _rbm_log_partition_smaller_layer(model.weights, model.visible_bias, model.hidden_bias, beta)
    J, h, const = model.to_quadratic()
    return _quadratic_log_partition(J, h, const, beta, values=model.unit_values)


def moments(model, temperature=1.0, *, max_units: int = MAX_ENUMERATED_UNITS) -> Moments:
    """Exact moments as derivatives of log Z (one streaming pass per derivative):

    .. math::
        \\langle E\\rangle = -\\partial_\\beta \\log Z,\\quad
        C = \\beta^2\\,\\partial^2_\\beta \\log Z = \\mathrm{Var}(E)/T^2,\\quad
        \\langle x_i\\rangle = T\\,\\partial_{h_i}\\log Z,\\quad
        \\langle x_i x_j\\rangle = T\\,(\\partial_{J_{ij}} + \\partial_{J_{ji}})\\log Z

    For an RBM ``mean`` is ⟨[v, h]⟩ and ``correlation`` is ⟨v_i h_j⟩ = T ∂log Z/∂W_ij.
    """
    _check_enumerable(model, _enumerated_units(model) if isinstance(model, DiscreteModel) else 0, max_units)
    beta = _beta(model, temperature)
    temperature = 1.0 / beta
    if isinstance(model, RBM):
        f = _rbm_log_partition_smaller_layer
        params = (model.weights, model.visible_bias, model.hidden_bias)
    else:
        J, h, const = model.to_quadratic()
        values = model.unit_values

        def f(J, h, beta):
            return _quadratic_log_partition(J, h, const, beta, values=values)

        params = (J, h)
    logz, grads = jax.value_and_grad(f, argnums=tuple(range(len(params) + 1)))(*params, beta)
    dlogz_dbeta = lambda b: jax.grad(f, argnums=len(params))(*params, b)  # noqa: E731
    _, d2 = jax.jvp(dlogz_dbeta, (beta,), (jnp.ones_like(beta),))
    mean_energy = -grads[-1]
    heat_capacity = jnp.maximum(beta**2 * d2, 0.0)  # Var(E) >= 0; clamp float round-off
    if isinstance(model, RBM):
        mean = temperature * jnp.concatenate([grads[1], grads[2]])
        correlation = temperature * grads[0]
    else:
        mean = (temperature * grads[1]).reshape(model.event_shape)
        correlation = temperature * (grads[0] + grads[0].T)
    return Moments(logz, mean_energy, heat_capacity, mean, correlation)


def log_likelihood(model, data, temperature=1.0, *, max_units: int = MAX_ENUMERATED_UNITS):
    """Mean exact log-likelihood of ``data`` (leading axis = examples):

    .. math::  \\frac1B\\sum_b \\log p(x_b) = \\frac1B\\sum_b \\big(-E(x_b)/T\\big) - \\log Z

    For an RBM ``data`` are visible vectors and :math:`E` is replaced by the free energy
    :math:`F(v)` (hidden units summed out).
    """
    if not isinstance(model, DiscreteModel):
        _check_enumerable(model, 0, max_units)
    if isinstance(model, RBM):
        check_event_shape(data, (model.num_visible,), "data")
        check_units(data, model.unit_values, "data")
        neg = -model.free_energy(data, temperature) / temperature
    else:
        model.validate_state(data, "data")
        neg = -model.energy(data) / temperature
    return jnp.mean(neg) - log_partition(model, temperature, max_units=max_units)
