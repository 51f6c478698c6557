"""The heat-bath sweep of a model with ``q`` unit values, from its per-unit conditional energies.

.. math::  p(x_i = v_k \\mid x_{-i}) = \\frac{e^{-\\beta \\epsilon_i(k)}}{\\sum_l e^{-\\beta \\epsilon_i(l)}}

(:math:`\\epsilon_i(k)` the energy with unit :math:`i` at value :math:`k`, up to a per-unit
constant, ``model.unit_energies``), every colour class drawn at once by the exact categorical
decision of :func:`.decisions.categorical_from_words`.
"""

from __future__ import annotations

import jax.numpy as jnp

from .blocks import expand_beta, for_each_block, magnetization
from .decisions import categorical_from_words

__all__ = ["sweep"]


def sweep(words, model, x, beta):
    """One systematic sweep, colour class ``b`` of ``model.blocks`` drawn from stream ``b``
    (unit ``j`` from stream ``j`` for a model swept unit by unit); returns
    ``(x, energy, magnetization)`` like :func:`.sweep_binary.sweep`."""
    values = jnp.asarray(model.unit_values, x.dtype)

    def update(x, block, stream):
        e = model.unit_energies(x, block)
        logits = -expand_beta(beta, e.ndim) * e
        return model.set_block(x, block, values[categorical_from_words(words, stream, logits, jnp.int32)])

    x = for_each_block(model, x, update)
    energy = model.energy(x)
    return x, energy, magnetization(model, x, energy.dtype)
