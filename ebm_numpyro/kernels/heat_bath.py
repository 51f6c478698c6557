"""The one heat-bath (Glauber) update, shared by every kernel and by the learning code.

Every conditional draw of a discrete unit goes through :func:`heat_bath_from_words`:

.. math::  p(x_i = \\text{up} \\mid x_{-i}) = \\sigma\\big(\\beta\\,(\\text{up}-\\text{down})\\,f_i\\big)

with :math:`f_i = -\\partial E/\\partial x_i` the local field. Random bits come from the
counter-based Threefry stream of :mod:`._random`: unit ``k`` (flattened) of a call with
stream id ``s`` uses the counter ``(k, s)`` under the key words ``words``, so a whole block
is drawn without splitting keys and XLA fuses the generator into the update.

Public functions (the package's other modules use these and nothing private):

* :func:`up_probability` - the conditional probability itself;
* :func:`heat_bath_from_words` / :func:`heat_bath` - draw a block of units;
* :func:`metropolis_from_words` - accept with probability :math:`\\min(1, e^{\\log r})`
  (the replica-exchange swap);
* :func:`uniform_units` - uniformly random units;
* :func:`sweep` / :func:`gibbs_sweep` - one systematic sweep over a model's blocks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import _random

__all__ = [
    "up_probability",
    "heat_bath_from_words",
    "heat_bath",
    "metropolis_from_words",
    "uniform_units",
    "sweep",
    "gibbs_sweep",
]

_BITS = 24
_SCALE = float(2**_BITS)


def up_probability(field, beta, unit_values=(-1, 1)):
    """Heat-bath probability that a unit is up given its local field :math:`f = -\\partial E/\\partial x`:

    .. math::  p(x = \\text{up} \\mid \\text{rest}) = \\sigma\\big(\\beta\\,(\\text{up} - \\text{down})\\,f\\big)
               = \\frac{1}{1 + e^{-\\beta (\\text{up} - \\text{down}) f}}

    (for ±1 spins :math:`\\sigma(2\\beta f)`; for {0,1} units :math:`\\sigma(\\beta f)`).
    """
    down, up = unit_values
    return jax.nn.sigmoid(beta * (up - down) * field)


def _threshold(p):
    return jnp.round(p * _SCALE).astype(jnp.int32)


def _choose(bits, thresholds, unit_values, dtype):
    down, up = unit_values
    u = (bits >> jnp.uint32(32 - _BITS)).astype(jnp.int32)
    return jnp.where(u < thresholds, jnp.asarray(up, dtype), jnp.asarray(down, dtype))


def heat_bath_from_words(words, stream, field, beta, unit_values=(-1, 1), dtype=jnp.int8):
    """Draw every unit of a block from its heat-bath conditional.

    .. math::  x_i \\leftarrow \\text{up} \\text{ with probability } \\sigma\\big(\\beta(\\text{up}-\\text{down})f_i\\big),
               \\text{ else down}

    ``words`` are the two ``uint32`` Threefry key words, ``stream`` a stream id unique within
    that key (unit ``k`` of the flattened ``field`` uses counter ``(k, stream)``); ``beta``
    broadcasts against ``field`` (one value per replica, for instance). Returns units of
    ``field``'s shape as ``dtype`` (``int8`` states; the learning code keeps float units).
    """
    field = jnp.asarray(field)
    bits = _random.uniform_bits(words, field.shape, stream)
    return _choose(bits, _threshold(up_probability(field, beta, unit_values)), unit_values, dtype)


def heat_bath(key, field, beta, unit_values=(-1, 1), dtype=jnp.int8):
    """:func:`heat_bath_from_words` keyed by a JAX random ``key`` (stream 0)."""
    return heat_bath_from_words(_random.key_words(key), 0, field, beta, unit_values, dtype)


def metropolis_from_words(words, stream, log_ratio):
    """Metropolis test: ``True`` with probability :math:`\\min(1, e^{\\log r})` per entry of ``log_ratio``.

    NaN counts as rejection. Random bits as in :func:`heat_bath_from_words`.
    """
    log_ratio = jnp.asarray(log_ratio)
    prob = jnp.exp(jnp.minimum(jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio), 0.0))
    bits = _random.uniform_bits(words, log_ratio.shape, stream)
    return _choose(bits, _threshold(prob), (0, 1), jnp.int8) == 1


def uniform_units(words, stream, shape, unit_values=(-1, 1), dtype=jnp.int8):
    """Uniformly random units of ``shape`` (each up with probability 1/2)."""
    bits = _random.uniform_bits(words, tuple(shape), stream)
    down, up = unit_values
    return jnp.where(bits >> jnp.uint32(31) == 1, jnp.asarray(up, dtype), jnp.asarray(down, dtype))


# ----------------------------------------------------------------------------- sweeps
def _expand(beta, ndim):
    """Append singleton axes so that per-replica ``beta`` broadcasts against a block's field."""
    beta = jnp.asarray(beta)
    return beta.reshape(beta.shape + (1,) * max(ndim - beta.ndim, 0))


def magnetization(model, x, dtype):
    """Mean unit value of every state in ``x`` (mean spin, or fraction of units on)."""
    axes = tuple(range(-len(model.event_shape), 0))
    return jnp.mean(x.astype(dtype), axis=axes)


def sweep(words, model, x, beta, barrier=None):
    """One systematic sweep keyed by ``words``; returns ``(x, energy, magnetization)``.

    Block ``b`` of ``model.blocks`` draws from stream ``b``. Periodic lattices with even
    sides take the specialised path of :mod:`._lattice` (same conditionals); ``barrier`` is
    forwarded to it (see :func:`._lattice.sweep`).
    """
    from . import _lattice  # the lattice path imports this module

    if _lattice.supports(model):
        return _lattice.sweep(words, model, x, beta, barrier)
    for stream, block in enumerate(model.blocks):  # static: a handful of colour classes
        field = model.local_field(x, block)
        values = heat_bath_from_words(words, stream, field, _expand(beta, field.ndim), model.unit_values, x.dtype)
        x = model.set_block(x, block, values)
    energy = model.energy(x)
    return x, energy, magnetization(model, x, energy.dtype)


def gibbs_sweep(key, model, x, beta=1.0):
    """One systematic heat-bath sweep: every block of ``model.blocks`` in turn,

    .. math::  x_B \\sim p(x_B \\mid x_{-B}) = \\prod_{i \\in B} p(x_i \\mid x_{-B}),
               \\qquad p(x_i = \\text{up} \\mid x_{-B}) = \\sigma\\big(\\beta(\\text{up}-\\text{down}) f_i(x)\\big)

    Units of one block are conditionally independent, so the sweep leaves the Boltzmann
    distribution :math:`p(x) \\propto e^{-\\beta E(x)}` invariant. ``x`` has shape
    ``batch + model.event_shape`` and keeps its dtype; ``beta`` is a scalar or has shape
    ``batch`` (one inverse temperature per replica). Returns the new state.
    """
    from .._checks import check_event_shape

    check_event_shape(x, model.event_shape)
    x = jnp.asarray(x)
    beta = jnp.asarray(beta, jnp.result_type(float))
    return sweep(_random.key_words(key), model, x, beta)[0]
