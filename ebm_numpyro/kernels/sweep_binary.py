"""The generic heat-bath sweep of a model with two unit values, from its local fields.

.. math::  x_B \\sim \\prod_{i \\in B} p(x_i \\mid x_{-B}), \\qquad
           p(x_i = \\text{up} \\mid x_{-B}) = \\sigma\\big(\\beta(\\text{up}-\\text{down}) f_i(x)\\big)

block by block (:func:`.blocks.for_each_block`), every draw the exact decision of
:func:`.decisions.heat_bath_from_words`.
"""

from __future__ import annotations

from .blocks import expand_beta, for_each_block, magnetization
from .decisions import heat_bath_from_words

__all__ = ["sweep"]


def sweep(words, model, x, beta):
    """One systematic sweep keyed by ``words``, block ``b`` of ``model.blocks`` drawing from
    stream ``b``; returns ``(x, energy, magnetization)``. ``x`` is ``batch + event_shape``,
    ``beta`` a scalar or of shape ``batch``."""

    def update(x, block, stream):
        field = model.local_field(x, block)
        values = heat_bath_from_words(words, stream, field, expand_beta(beta, field.ndim), model.unit_values, x.dtype)
        return model.set_block(x, block, values)

    x = for_each_block(model, x, update)
    energy = model.energy(x)
    return x, energy, magnetization(model, x, energy.dtype)
