"""The one heat-bath (Glauber) update shared by every block of every discrete model.

Both the generic block sweep and the specialised lattice sweep decide a unit the same way:
a uniform 24-bit integer ``u`` (the top 24 bits of a random ``uint32``) is compared with the
integer threshold ``round(p_up * 2^24)``; the unit goes up iff ``u < threshold``. The
probability of "up" is therefore ``p_up`` rounded to the nearest multiple of ``2^-24``, the
resolution of a float32 uniform on [0, 1): no approximation of the Boltzmann weights beyond
float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import _random

__all__ = ["up_probability", "threshold", "choose", "heat_bath_from_bits", "heat_bath"]

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


def threshold(p):
    """Integer threshold ``round(p * 2^24)`` (int32) for :func:`choose`; exact in float32."""
    return jnp.round(p * _SCALE).astype(jnp.int32)


def choose(bits, thresholds, unit_values=(-1, 1), dtype=jnp.int8):
    """Units from random ``uint32`` ``bits``: ``up`` where ``bits >> 8 < thresholds``, else ``down``.

    With uniform bits, :math:`P(\\text{up}) = \\text{thresholds} / 2^{24}`.
    """
    down, up = unit_values
    u = (bits >> jnp.uint32(32 - _BITS)).astype(jnp.int32)
    return jnp.where(u < thresholds, jnp.asarray(up, dtype), jnp.asarray(down, dtype))


def heat_bath_from_bits(bits, field, beta, unit_values=(-1, 1), dtype=jnp.int8):
    """:func:`heat_bath` given the random ``uint32`` words ``bits`` (one per unit, ``field``'s shape).

    Units come back as ``dtype`` (``int8`` states; the learning code keeps float units).
    """
    return choose(bits, threshold(up_probability(field, beta, unit_values)), unit_values, dtype)


def heat_bath(key, field, beta, unit_values=(-1, 1)):
    """Draw every unit of a block independently from its heat-bath conditional.

    .. math::  x_i \\leftarrow \\begin{cases}\\text{up} & u_i < p_i\\\\ \\text{down} & \\text{otherwise}\\end{cases},
               \\qquad p_i = \\sigma\\big(\\beta\\,(\\text{up}-\\text{down})\\,f_i\\big),\\quad u_i \\sim U[0, 1)

    ``field`` holds the local fields :math:`f_i` of the block (any shape), ``beta`` = 1/T
    broadcasts against it (one value per replica, for instance), ``unit_values`` is
    ``(down, up)``: ``(-1, 1)`` for spins, ``(0, 1)`` for Boltzmann-machine units. ``u`` has
    24-bit resolution (that of a float32 uniform) and comes from Threefry-2x32 keyed by
    ``key`` (:mod:`._random`). Returns ``int8`` units of ``field``'s shape.
    """
    field = jnp.asarray(field)
    bits = _random.uniform_bits(_random.key_words(key), field.shape, 0)
    return heat_bath_from_bits(bits, field, beta, unit_values)
