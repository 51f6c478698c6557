"""Gibbs-with-Gradients (Grathwohl et al., ICML 2021) on discrete energy models and on the binary
latent sites of NumPyro models, tempered by the ladder layer.

With the slot's energy :math:`\\mathcal E_\\beta = \\beta E_t + E_u` extended to real-valued units
(:mod:`.relaxed`) and :math:`\\bar x_i` the other value of unit :math:`i`, the first-order
estimate of the energy change of flipping unit :math:`i` is

.. math::  \\tilde\\Delta_i(x) = \\frac{\\partial \\mathcal E_\\beta}{\\partial x_i}(x)\\,(\\bar x_i - x_i).

A proposal picks one unit from the locally balanced softmax
:math:`q(i \\mid x) \\propto e^{-\\tilde\\Delta_i(x)/2}`, flips it (:math:`x' = x_{i\\to\\bar x_i}`),
and accepts with the Metropolis-Hastings probability

.. math::  \\min\\Big(1,\\; e^{-[\\mathcal E_\\beta(x') - \\mathcal E_\\beta(x)]}\\,\\frac{q(i \\mid x')}{q(i \\mid x)}\\Big),

with the energy change from the two states' energies (not the estimate), so every proposal
leaves :math:`e^{-\\mathcal E_\\beta}` invariant whatever the quality of the gradient (an energy
that is flat or not differentiable in real values only makes the proposal less informed). For
``q``-state energy models the proposal runs over the (unit, value) pairs with the model's exact
single-unit changes in place of the estimate (:func:`.relaxed.change_estimator`). One step
makes ``num_proposals`` proposals (default: one per unit, a sweep's worth). Each costs two
gradient evaluations of the whole state (each with its energy), so the sampler pays where units
are densely coupled (a flip's rate then depends on all of them); on lattices and RBM layers the
heat bath's blocks are faster. The categorical choice and the test are the exact decisions of
:mod:`.decisions`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import check_int
from .decisions import categorical_from_words, metropolis_from_words
from .relaxed import Estimator, GradientInformedKernel, change_estimator
from .tempered import EnergyTarget, Move, observables

__all__ = ["GibbsWithGradients", "flip_estimates", "gradient_flip_scan"]


def flip_estimates(model, x):
    """First-order energy changes :math:`\\tilde\\Delta_i(x) = \\partial_i E(x)\\,(\\bar x_i - x_i)` of
    flipping every unit of the binary states ``x`` (``(n,) + event_shape``) of an energy model,
    as float arrays ``(n, num_units)``, and the energies :math:`E(x)` (``(n,)``)."""
    estimator = change_estimator(EnergyTarget(model), "flip_estimates")
    flat = estimator.to_flat(x)
    delta, energies, _ = estimator.changes(flat, jnp.ones((flat.shape[0],), flat.dtype))
    return jnp.sum(delta, axis=-1), energies  # zero at the current value: the sum is the flip's


def _proposal_log_probs(values, flat, delta):
    """Log-probabilities of the one-unit moves of every slot, ``(n, M)``: for binary units the
    ``M = N`` flips, :math:`\\propto e^{-\\tilde\\Delta_i/2}`; for ``q`` values the ``M = N q``
    (unit, value) pairs, the current values excluded."""
    n, num_units, q = delta.shape
    if q == 2:
        return jax.nn.log_softmax(-0.5 * jnp.sum(delta, axis=-1), axis=-1)
    current = flat[..., None] == values
    return jax.nn.log_softmax(jnp.where(current, -jnp.inf, -0.5 * delta).reshape(n, num_units * q), axis=-1)


def gradient_flip_scan(words, estimator: Estimator, flat, betas, num_proposals):
    """``num_proposals`` Gibbs-with-Gradients proposals of the float units ``flat`` (``(n, N)``)
    at inverse temperatures ``betas`` (``(n,)``); returns ``(flat, E_t, E_u)``. Proposal ``j``
    picks its move from stream ``2j`` and decides from stream ``2j + 1`` of ``words``."""
    n = flat.shape[0]
    values = estimator.values
    q = values.shape[-1]
    rows = jnp.arange(n)

    def body(j, carry):
        flat, delta, t, u = carry
        log_q = _proposal_log_probs(values, flat, delta)
        pick = categorical_from_words(words, 2 * j, log_q, jnp.int32)  # (n,)
        unit = pick if q == 2 else pick // q
        current = jnp.argmax(flat[rows, unit][:, None] == values[unit], axis=-1).astype(jnp.int32)
        new = 1 - current if q == 2 else pick % q
        proposal = flat.at[rows, unit].set(values[unit, new])
        delta_new, t_new, u_new = estimator.changes(proposal, betas)
        log_q_back = _proposal_log_probs(values, proposal, delta_new)
        back = unit if q == 2 else unit * q + current
        log_ratio = (-(betas * (t_new - t) + (u_new - u)) + log_q_back[rows, back] - log_q[rows, pick])
        accept = metropolis_from_words(words, 2 * j + 1, log_ratio)
        keep = lambda a, b: jnp.where(accept.reshape((n,) + (1,) * (a.ndim - 1)), a, b)  # noqa: E731
        return keep(proposal, flat), keep(delta_new, delta), keep(t_new, t), keep(u_new, u)

    delta, t, u = estimator.changes(flat, betas)
    flat, _, t, u = lax.fori_loop(0, num_proposals, body, (flat, delta, t, u))
    return flat, t, u


class GibbsWithGradients(GradientInformedKernel):
    """Gibbs-with-Gradients (locally balanced one-unit proposals from the energy's gradient,
    Metropolis-Hastings corrected: exact) on a discrete energy model or the binary latent sites
    of a NumPyro model, optionally tempered.

    ``GibbsWithGradients(potential_fn=ebm.potential(model), temperature=T)`` samples
    :math:`e^{-U/T}`; ``GibbsWithGradients(model=numpyro_model)`` the discrete latent sites
    (``Bernoulli``, binary ``ebm.Boltzmann``; also a block of ``numpyro.infer.Gibbs``);
    ``temperatures=ladder`` (and ``adapt_ladder=True``, ``temper=``) run replica exchange as
    for :class:`~ebm_numpyro.TemperedGibbs`, whose arguments, samples, extra fields and
    diagnostics it shares. ``num_proposals`` (default: the number of units) is the number of
    one-unit proposals per step (:func:`gradient_flip_scan`). The energy (or log joint) is
    evaluated at real-valued units for its gradient (:mod:`.relaxed`: written with ``jnp``
    arithmetic it is differentiable; one that is not only loses the informed proposal, never
    exactness). ``q``-state energy models (Potts, ``DiscreteEnergy``) propose (unit, value)
    pairs from their exact single-unit changes; a NumPyro model's ``Categorical`` sites are
    refused (use :class:`~ebm_numpyro.TemperedGibbs` or
    :class:`~ebm_numpyro.ImportanceTemperedGibbs`).
    """

    def __init__(self, model=None, potential_fn=None, *, num_proposals=None, **kwargs):
        self._num_proposals = None if num_proposals is None else check_int(num_proposals, "num_proposals", minimum=1)
        super().__init__(model, potential_fn, **kwargs)

    def _move(self, target) -> Move:
        estimator = change_estimator(target, type(self).__name__)
        num_proposals = self._num_proposals or int(estimator.values.shape[0])

        def step(words, x, betas):
            flat = estimator.to_flat(x)
            flat, t, u = gradient_flip_scan(words, estimator, flat, betas.astype(flat.dtype), num_proposals)
            return estimator.from_flat(flat), t, observables(t, jnp.mean(flat, axis=-1).astype(t.dtype), u)

        return Move(step)
