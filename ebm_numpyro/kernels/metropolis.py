"""Single-site Metropolis on any discrete energy model, tempered by the ladder layer.

.. math::  x_j \\to v \\ (v \\ne x_j \\text{ uniformly}), \\qquad
           \\text{accepted with probability } \\min\\big(1, e^{-\\beta\\,\\Delta_j(v)}\\big),
           \\quad \\Delta_j(v) = E(x_{j \\to v}) - E(x)

One step is a systematic scan over the units ``j = 0 .. N-1``; every single-site update is a
Metropolis kernel with a symmetric proposal, so it leaves :math:`e^{-\\beta E}` invariant and so
does the scan. :math:`\\Delta_j` is the model's whole-state energy change
(:meth:`ebm_numpyro.DiscreteModel.energy_changes`), the acceptance the exact decision of
:func:`.decisions.metropolis_from_words`, the proposed value (``q > 2``) an exact uniform draw
among the other ``q - 1`` values. The textbook baseline against which the heat bath and the
informed samplers are measured; everything else (targets, ladder, swaps, state, ArviZ) is the
:class:`.tempered.TemperedKernel`'s.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .decisions import categorical_from_words, metropolis_from_words
from .tempered import Move, TemperedKernel, observables

__all__ = ["SingleFlipMetropolis", "metropolis_scan"]


def metropolis_scan(words, model, x, betas):
    """One systematic scan of single-site Metropolis updates of the states ``x``
    (``(n,) + event_shape``) at inverse temperatures ``betas`` (``(n,)``); returns
    ``(x, energies, magnetizations)``. Unit ``j`` decides from stream ``j`` (and, for ``q > 2``,
    picks its proposed value from stream ``N + j``) of ``words``."""
    n, num_units, q = x.shape[0], model.num_units, model.num_values
    values = jnp.asarray(model.unit_values, x.dtype)

    def body(j, flat):
        delta = model.energy_changes(flat.reshape(x.shape))[:, j, :]  # (n, q)
        current = jnp.argmax(flat[:, j, None] == values, axis=-1)
        if q == 2:
            proposed = 1 - current
        else:
            offset = categorical_from_words(words, num_units + j, jnp.zeros((n, q - 1), delta.dtype), jnp.int32)
            proposed = (current + 1 + offset) % q
        change = jnp.take_along_axis(delta, proposed[:, None], axis=-1)[:, 0]
        accept = metropolis_from_words(words, j, -betas * change)
        return flat.at[:, j].set(jnp.where(accept, values[proposed], flat[:, j]))

    flat = lax.fori_loop(0, num_units, body, x.reshape(n, num_units))
    x = flat.reshape(x.shape)
    energies = model.energy(x)
    return x, energies, jnp.mean(flat.astype(energies.dtype), axis=-1)


class SingleFlipMetropolis(TemperedKernel):
    """Single-site Metropolis (systematic scan) on a discrete energy model, optionally tempered.

    ``SingleFlipMetropolis(potential_fn=ebm.potential(model), temperature=T)`` samples
    :math:`e^{-U/T}`; ``temperatures=ladder`` (and ``adapt_ladder=True``) run replica exchange
    exactly as for :class:`~ebm_numpyro.TemperedGibbs`, whose arguments, samples, extra fields
    and diagnostics it shares (:class:`~ebm_numpyro.kernels.tempered.TemperedKernel`). One step
    proposes every unit once (:func:`metropolis_scan`); each proposal costs one evaluation of
    the model's :meth:`~ebm_numpyro.DiscreteModel.energy_changes`, so prefer the heat bath on
    large models. Works on any :class:`~ebm_numpyro.DiscreteModel` (two or ``q`` values).
    """

    _accepts_model = False

    def _move(self, target) -> Move:
        model = target.model

        def step(words, x, betas):
            x, energies, mags = metropolis_scan(words, model, x, betas)
            return x, energies, observables(energies, mags)

        return Move(step)
