"""Gibbs-with-Gradients (Grathwohl et al., ICML 2021) on binary energy models, tempered by the
ladder layer.

With the energy extended to real-valued states and :math:`\\bar x_i` the other value of unit
:math:`i`, the first-order estimate of the energy change of flipping unit :math:`i` is

.. math::  \\tilde\\Delta_i(x) = \\frac{\\partial E}{\\partial x_i}(x)\\,(\\bar x_i - x_i).

A proposal picks one unit from the locally balanced softmax
:math:`q(i \\mid x) \\propto e^{-\\beta\\tilde\\Delta_i(x)/2}`, flips it (:math:`x' = x_{i\\to\\bar x_i}`),
and accepts with the Metropolis-Hastings probability

.. math::  \\min\\Big(1,\\; e^{-\\beta\\,[E(x') - E(x)]}\\,\\frac{q(i \\mid x')}{q(i \\mid x)}\\Big),

with the energy change from the two states' energies (not the estimate), so every proposal leaves :math:`e^{-\\beta E}` invariant whatever the
quality of the gradient (an energy that is flat or not differentiable in real values only makes
the proposal less informed). One step makes ``num_proposals`` proposals (default: one per unit,
a sweep's worth). Each costs two gradient evaluations of the whole state (each with its energy), so the
sampler pays where units are densely coupled (a flip's rate then depends on all of them); on
lattices and RBM layers the heat bath's blocks are faster. The categorical choice and the test
are the exact decisions of :mod:`.decisions`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import check_int
from .decisions import categorical_from_words, metropolis_from_words
from .tempered import Move, TemperedKernel, observables

__all__ = ["GibbsWithGradients", "flip_estimates", "gradient_flip_scan"]


def flip_estimates(model, x):
    """First-order energy changes :math:`\\tilde\\Delta_i(x) = \\partial_i E(x)\\,(\\bar x_i - x_i)` of
    flipping every unit of the binary states ``x`` (``(n,) + event_shape``), as float arrays
    ``(n, num_units)``, and the energies :math:`E(x)` (``(n,)``)."""
    a, b = model.unit_values
    xf = x.astype(jnp.result_type(float))
    energies, grad = jax.vmap(jax.value_and_grad(model.energy))(xf)  # one pass gives both
    return (grad * (a + b - 2 * xf)).reshape(x.shape[0], -1), energies


def gradient_flip_scan(words, model, x, betas, num_proposals):
    """``num_proposals`` Gibbs-with-Gradients proposals of the states ``x`` (``(n,) + event_shape``)
    at inverse temperatures ``betas`` (``(n,)``); returns ``(x, energies, magnetizations)``.
    Proposal ``j`` picks its unit from stream ``2j`` and decides from stream ``2j + 1`` of ``words``."""
    n = x.shape[0]
    a, b = model.unit_values
    beta = betas[:, None]

    def body(j, carry):
        x, (est, energy) = carry
        log_q = jax.nn.log_softmax(-0.5 * beta * est, axis=-1)
        unit = categorical_from_words(words, 2 * j, log_q, jnp.int32)  # (n,)
        flat = x.reshape(n, -1)
        current = jnp.take_along_axis(flat, unit[:, None], axis=-1)
        proposal = jnp.put_along_axis(flat, unit[:, None], (a + b - current).astype(flat.dtype), axis=-1,
                                      inplace=False).reshape(x.shape)
        est_new, energy_new = flip_estimates(model, proposal)
        log_q_back = jax.nn.log_softmax(-0.5 * beta * est_new, axis=-1)
        pick = lambda lq: jnp.take_along_axis(lq, unit[:, None], axis=-1)[:, 0]  # noqa: E731
        log_ratio = -betas * (energy_new - energy) + pick(log_q_back) - pick(log_q)
        accept = metropolis_from_words(words, 2 * j + 1, log_ratio)
        keep = lambda new, old: jnp.where(accept.reshape((n,) + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
        return keep(proposal, x), (keep(est_new, est), keep(energy_new, energy))

    x, (_, energies) = lax.fori_loop(0, num_proposals, body, (x, flip_estimates(model, x)))
    return x, energies, jnp.mean(x.reshape(n, -1).astype(energies.dtype), axis=-1)


def _check_binary(model):
    if model.num_values != 2:
        raise ValueError(
            f"GibbsWithGradients: binary units only; got {type(model).__name__} with {model.num_values} values "
            f"per unit: use ebm.TemperedGibbs or ebm.SingleFlipMetropolis for q-state models"
        )
    return model


class GibbsWithGradients(TemperedKernel):
    """Gibbs-with-Gradients (locally balanced one-flip proposals from the energy's gradient,
    Metropolis-Hastings corrected: exact) on a binary discrete energy model, optionally tempered.

    ``GibbsWithGradients(potential_fn=ebm.potential(model), temperature=T)`` samples
    :math:`e^{-U/T}`; ``temperatures=ladder`` (and ``adapt_ladder=True``) run replica exchange as
    for :class:`~ebm_numpyro.TemperedGibbs`, whose arguments, samples, extra fields and
    diagnostics it shares. ``num_proposals`` (default: the number of units) is the number of
    one-flip proposals per step (:func:`gradient_flip_scan`). The model's ``energy`` is evaluated
    at real-valued states for its gradient (``ebm.DiscreteEnergy`` functions written with
    ``jnp`` arithmetic are differentiable; an energy that is not only loses the informed
    proposal, never exactness). Binary units only: for ``q``-state models use
    :class:`~ebm_numpyro.TemperedGibbs` or :class:`~ebm_numpyro.SingleFlipMetropolis`.
    """

    _accepts_model = False

    def __init__(self, model=None, potential_fn=None, *, num_proposals=None, **kwargs):
        self._num_proposals = None if num_proposals is None else check_int(num_proposals, "num_proposals", minimum=1)
        super().__init__(model, potential_fn, **kwargs)
        _check_binary(self.energy_model)  # at construction, before anything is compiled

    def _move(self, target) -> Move:
        model = _check_binary(target.model)
        num_proposals = self._num_proposals or model.num_units

        def step(words, x, betas):
            x, energies, mags = gradient_flip_scan(words, model, x, betas, num_proposals)
            return x, energies, observables(energies, mags)

        return Move(step)
