"""Streaming enumeration of states: the one log-sum-exp over all states of a small model.

Enumeration splits the n enumerated units into ``c`` low bits and ``n - c`` high bits.
For a quadratic energy E(x) = -½xᵀJx - hᵀx the energy of the joint state is

.. math::  E(x_L, x_H) = E_L(x_L) + E_H(x_H) - x_L^\\top J_{LH} x_H,

so a chunk of states (all 2^c low states × a batch of high states) costs one matrix
product and O(c) work per state instead of O(n²). Chunks are reduced by a running
log-sum-exp (never materialising 2^n numbers), inside ``lax.scan`` with a rematerialised
body so that reverse-mode derivatives (used for the moments) also need flat memory.
A restricted Boltzmann machine enumerates one layer and sums the other analytically.

The models call these functions from their ``log_partition_enumerated``;
:mod:`ebm_numpyro.exact` is the public entry point.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

__all__ = ["unit_states", "digit_states", "enumerate_states", "quadratic_log_partition", "bipartite_log_partition",
           "energy_log_partition", "independent_log_partition"]

_CHUNK_ELEMENTS = 2**21  # floats per chunk (≈ 8 MB in float32)
_MAX_LOW_BITS = 12


def unit_states(indices, num_bits, values, dtype=jnp.float32):
    """States whose unit k is bit k of the integer ``indices``: ``down + (up - down) * bit``."""
    down, up = values
    bits = (indices[:, None] >> jnp.arange(num_bits, dtype=indices.dtype)) & 1
    return (down + (up - down) * bits).astype(dtype)


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
def quadratic_log_partition(J, h, beta, values):
    """:math:`\\log\\sum_x e^{-\\beta E(x)}` for :math:`E(x) = -\\tfrac12 x^\\top J x - h^\\top x`, x over ``values``^n."""
    n = J.shape[0]
    dt = J.dtype
    c, nb, num_chunks = _plan(n, 1)
    low = unit_states(jnp.arange(2**c, dtype=jnp.int32), c, values, dt)
    e_low = -0.5 * jnp.sum((low @ J[:c, :c]) * low, -1) - low @ h[:c]
    low_j = low @ J[:c, c:]

    def chunk(k):
        high = unit_states(k * nb + jnp.arange(nb, dtype=jnp.int32), n - c, values, dt)
        e_high = -0.5 * jnp.sum((high @ J[c:, c:]) * high, -1) - high @ h[c:]
        energy = e_low[:, None] + e_high[None, :] - low_j @ high.T
        return -beta * energy

    return _stream_logsumexp(chunk, num_chunks, dt)


@jax.jit
def _layer_log_partition(W, a, b, beta):
    """Enumerate the {0,1} layer along W's first axis, sum the other out (see :func:`bipartite_log_partition`)."""
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


def bipartite_log_partition(W, a, b, beta):
    """Log partition function of an RBM, :math:`E(v,h) = -v^\\top W h - a^\\top v - b^\\top h`:

    .. math::  \\log Z = \\log\\sum_v e^{\\beta a^\\top v}\\prod_j \\big(1 + e^{\\beta (v^\\top W + b)_j}\\big)

    enumerating whichever layer is smaller and summing the other out analytically.
    """
    if W.shape[0] <= W.shape[1]:
        return _layer_log_partition(W, a, b, beta)
    return _layer_log_partition(W.T, b, a, beta)


def independent_log_partition(fields, values):
    """:math:`\\log Z_0 = \\sum_i \\log\\big(e^{h_i\\,\\text{up}} + e^{h_i\\,\\text{down}}\\big)` for
    independent units with :math:`E_0(x) = -h^\\top x` (the AIS base distributions)."""
    down, up = values
    return jnp.sum(jnp.logaddexp(fields * up, fields * down))


def digit_states(indices, num_units, values, dtype=jnp.int8):
    """States whose unit k takes ``values[d_k]`` with :math:`d_k = \\lfloor i / q^k \\rfloor \\bmod q`
    (the base-``q`` digits of the integer ``i``; for two values the bits of :func:`unit_states`)."""
    q = len(values)
    powers = jnp.asarray([q**k for k in range(num_units)], indices.dtype)
    d = (indices[:, None] // powers) % q
    return jnp.asarray(values, dtype)[d]


def energy_log_partition(model, beta):
    """:math:`\\log \\sum_x e^{-\\beta E(x)}` over all :math:`q^n` states of a discrete ``model``
    (``n`` units, ``q`` unit values) from its batched ``energy``: chunks of states reduced by the
    running log-sum-exp of :func:`_stream_logsumexp` (flat memory)."""
    num_units, values, dtype = model.num_units, tuple(model.unit_values), model.dtype
    event = tuple(model.event_shape)

    def energy(flat):
        return model.energy(flat.reshape((-1,) + event))

    total = len(values) ** num_units
    chunk = min(total, max(_CHUNK_ELEMENTS // max(num_units, 1), 1))
    num_chunks = -(-total // chunk)

    def chunk_log_weights(k):
        idx = k * chunk + jnp.arange(chunk, dtype=jnp.int32)
        states = digit_states(jnp.minimum(idx, total - 1), num_units, values, model.state_dtype)
        lw = -beta * energy(states).astype(dtype)
        return jnp.where(idx < total, lw, -jnp.inf)

    return _stream_logsumexp(chunk_log_weights, num_chunks, dtype)


def enumerate_states(model):
    """All :math:`q^n` states of a discrete ``model``, shape ``(q^n,) + event_shape`` in its
    ``state_dtype``: state ``i`` has unit ``k`` equal to ``unit_values[d_k]``, :math:`d_k` the k-th
    base-``q`` digit of ``i`` (for two values, unit ``k`` is up where bit ``k`` of ``i`` is set).
    The one enumerator of states (callers check the count first)."""
    count = len(model.unit_values) ** model.num_units
    states = digit_states(jnp.arange(count, dtype=jnp.int32), model.num_units, tuple(model.unit_values),
                          model.state_dtype)
    return states.reshape((count,) + tuple(model.event_shape))
