"""The discrete Langevin proposal (Zhang, Liu & Liu, ICML 2022) on discrete energy models and on
the binary latent sites of NumPyro models: DMALA (Metropolis-adjusted, exact) and DULA
(unadjusted, biased), tempered by the ladder layer.

Every unit moves at once. With :math:`\\tilde\\Delta_i(v)` an estimate of the energy change of
setting unit :math:`i` to the value :math:`v` (zero for its current value :math:`x_i`), the
proposal is a product over the units,

.. math::  q(x' \\mid x) = \\prod_i q_i(x'_i \\mid x), \\qquad
           q_i(v \\mid x) \\propto \\exp\\Big(-\\frac{\\beta}{2}\\tilde\\Delta_i(v)
           - \\frac{[v \\ne x_i]}{2\\alpha}\\Big),

with step size :math:`\\alpha`: Zhang et al.'s
:math:`\\exp(\\tfrac12\\nabla f(x)^\\top(x' - x) - \\lVert x' - x\\rVert^2/2\\alpha)` for
:math:`f = -\\beta E` with the squared distance counted in changed units (for :math:`\\{0, 1\\}`
units exactly theirs). For binary units the estimate is first order, from the gradient of the
energy (a NumPyro model's negative log joint) extended to real values,
:math:`\\tilde\\Delta_i(v) = \\partial_i E(x)\\,(v - x_i)` (:mod:`.relaxed`; one gradient pass for
all units); for ``q``-state energy models it is the
model's exact single-unit change :math:`E(x_{i \\to v}) - E(x)`
(:meth:`ebm_numpyro.DiscreteModel.energy_changes`: a label-valued energy has no one-hot
gradient to take). DMALA accepts :math:`x'` with the Metropolis-Hastings probability

.. math::  \\min\\Big(1,\\; e^{-\\beta[E(x') - E(x)]}\\,\\frac{q(x \\mid x')}{q(x' \\mid x)}\\Big),

so each step leaves :math:`e^{-\\beta E}` invariant whatever the estimate; DULA
(``metropolis=False``) always moves and samples a distribution near, not at, the target (its
bias shrinks with :math:`\\alpha`: use it for speed, not for answers). The step size of every
temperature slot is adapted during warm-up towards ``target_accept_prob`` by dual averaging, as
NumPyro adapts HMC (:class:`.tempered.StepSizeAdaptation`), then stays; 0.574 is the optimal
acceptance of locally balanced proposals in high dimension (Sun, Dai & Schuurmans 2023), as of
MALA. All random decisions are the exact ones of :mod:`.decisions`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_positive
from .decisions import categorical_from_words, metropolis_from_words
from .relaxed import Estimator, GradientInformedKernel, change_estimator
from .tempered import EnergyTarget, Move, StepSizeAdaptation, observables

__all__ = ["DiscreteLangevin", "change_estimates", "langevin_logits", "discrete_langevin_step"]


def change_estimates(model, x):
    """Estimated energy changes :math:`\\tilde\\Delta_i(v)` of setting every unit of the states
    ``x`` (``(n,) + event_shape``) of an energy model to every value (``(n, num_units, q)``, zero
    at the current value) and the energies :math:`E(x)` (``(n,)``): first order from the gradient
    for binary units, :math:`\\partial_i E(x)\\,(v - x_i)`; the exact changes for ``q``-state units
    (:func:`.relaxed.change_estimator` at :math:`\\beta = 1`)."""
    estimator = change_estimator(EnergyTarget(model), "change_estimates")
    flat = estimator.to_flat(x)
    delta, energies, _ = estimator.changes(flat, jnp.ones((flat.shape[0],), flat.dtype))
    return delta, energies


def langevin_logits(delta, current, step_size):
    """Log-weights of the discrete Langevin proposal of every unit,
    :math:`-\\tilde\\Delta_i(v)/2 - [v \\ne x_i]/(2\\alpha)` with :math:`\\tilde\\Delta` the slot's
    (tempered) estimated changes ``(n, N, q)``; ``current`` holds the index of every unit's value
    (``(n, N)``), ``step_size`` one value per slot (``(n,)``)."""
    q = delta.shape[-1]
    moved = jnp.arange(q) != current[..., None]
    return -0.5 * delta - moved / (2.0 * step_size[:, None, None])


def _log_q(logits, index):
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return jnp.sum(jnp.take_along_axis(log_p, index[..., None], axis=-1)[..., 0], axis=-1)


def discrete_langevin_step(words, estimator: Estimator, flat, betas, step_size, metropolis=True):
    """One discrete Langevin proposal of every slot of the float units ``flat`` (``(n, N)``) at
    inverse temperatures ``betas`` with step sizes ``step_size`` (both ``(n,)``),
    Metropolis-Hastings corrected unless ``metropolis=False``. The units' new values are drawn
    from stream 0 of ``words``, the test from stream 1. Returns ``(flat, E_t, E_u,
    accept_prob)``, ``accept_prob`` the Metropolis-Hastings acceptance probability of every
    slot's proposal (what the step-size adaptation targets; also computed for DULA)."""
    n = flat.shape[0]
    values = estimator.values
    rows = jnp.arange(values.shape[0])
    current = jnp.argmax(flat[..., None] == values, axis=-1).astype(jnp.int32)
    delta, t, u = estimator.changes(flat, betas)
    logits = langevin_logits(delta, current, step_size)
    index = categorical_from_words(words, 0, logits, jnp.int32)  # (n, N)
    proposal = values[rows, index]
    delta_new, t_new, u_new = estimator.changes(proposal, betas)
    back = langevin_logits(delta_new, index, step_size)
    log_ratio = -(betas * (t_new - t) + (u_new - u)) + _log_q(back, current) - _log_q(logits, index)
    accept_prob = jnp.exp(jnp.minimum(jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio), 0.0))
    accept = metropolis_from_words(words, 1, log_ratio) if metropolis else jnp.ones((n,), bool)
    keep = lambda a, b: jnp.where(accept.reshape((n,) + (1,) * (a.ndim - 1)), a, b)  # noqa: E731
    return keep(proposal, flat), keep(t_new, t), keep(u_new, u), accept_prob


class DiscreteLangevin(GradientInformedKernel):
    """Discrete Langevin proposals (DMALA; DULA with ``metropolis=False``) on a discrete energy
    model, optionally tempered; see the module doc for the proposal and the test.

    ``DiscreteLangevin(potential_fn=ebm.potential(model), temperature=T, step_size=0.2)``
    samples :math:`e^{-U/T}`; ``temperatures=ladder`` (and ``adapt_ladder=True``) run replica
    exchange as for :class:`~ebm_numpyro.TemperedGibbs`, whose arguments, samples, extra fields
    and diagnostics it shares. One step makes one proposal of all units at every temperature.
    ``step_size`` is the initial :math:`\\alpha` of every temperature slot; with
    ``adapt_step_size=True`` (the default) dual averaging moves each slot's towards
    ``target_accept_prob`` during warm-up and then keeps it (``last_state.adaptation.step_size``
    holds them, target slot first), so the draws after warm-up are those of a fixed, exact
    kernel (DMALA). ``metropolis=False`` (DULA) skips the test: biased, documented as such.
    Binary and ``q``-state energy models, and ``model=``: the binary latent sites of a NumPyro
    model (``Bernoulli``, binary ``ebm.Boltzmann``; also a block of ``numpyro.infer.Gibbs``;
    ``Categorical`` sites are refused, naming the samplers that take them). The gradient needs
    the energy (log joint) differentiable at real-valued units (one that is not only loses the
    informed proposal, never exactness).
    """

    def __init__(self, model=None, potential_fn=None, *, step_size=0.2, adapt_step_size=True,
                 target_accept_prob=0.574, metropolis=True, **kwargs):
        if np.ndim(check_positive(step_size, "step_size")) != 0:
            raise ValueError(f"`step_size` must be a number; got shape {np.shape(step_size)}")
        self._step_size = float(step_size)
        if check_positive(target_accept_prob, "target_accept_prob") is None or not float(target_accept_prob) < 1.0:
            raise ValueError(f"`target_accept_prob` must be in (0, 1); got {target_accept_prob!r}")
        if not isinstance(adapt_step_size, bool):
            raise ValueError(f"`adapt_step_size` must be True or False; got {adapt_step_size!r}")
        if not isinstance(metropolis, bool):
            raise ValueError(f"`metropolis` must be True (DMALA, exact) or False (DULA, biased); got {metropolis!r}")
        self._adaptation = StepSizeAdaptation(self._step_size, float(target_accept_prob), bool(adapt_step_size))
        self._metropolis = bool(metropolis)
        super().__init__(model, potential_fn, **kwargs)

    @property
    def step_size(self) -> float:
        """The initial step size of every temperature slot."""
        return self._step_size

    def _move(self, target) -> Move:
        estimator, metropolis = change_estimator(target, type(self).__name__), self._metropolis

        def step(words, x, betas, params):
            flat = estimator.to_flat(x)
            flat, t, u, accept_prob = discrete_langevin_step(words, estimator, flat, betas.astype(flat.dtype),
                                                             params.step_size.astype(flat.dtype), metropolis)
            obs = observables(t, jnp.mean(flat, axis=-1).astype(t.dtype), u)
            return estimator.from_flat(flat), t, {**obs, "move_accept": accept_prob}

        return Move(step, adaptation=self._adaptation)

    def get_diagnostics_str(self, state):
        step = float(np.mean(np.asarray(state.adaptation.step_size)[..., 0]))
        return super().get_diagnostics_str(state) + f", step {step:.3g}"

