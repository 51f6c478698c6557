"""Tempered Gibbs sampling (Zanella & Roberts 2019, "Scalable importance tempering and Bayesian
variable selection", JRSS-B 81(3)): importance-tempered one-unit moves on any discrete target,
tempered by the ladder layer.

At inverse temperature :math:`\\beta`, write the target's conditional log-odds of unit :math:`i`
taking value :math:`v` against its current value :math:`x_i` as
:math:`\\ell_i(v) = -\\beta\\,\\Delta^t_i(v) - \\Delta^u_i(v)` (the whole-state energy changes of the
tempered and untempered parts; :math:`\\ell_i(x_i) = 0`), so that
:math:`\\pi(v \\mid x_{-i}) = e^{\\ell_i(v) - L_i}` with :math:`L_i = \\log\\sum_v e^{\\ell_i(v)}`.
Every unit gets a *flip rate*

.. math::  p_i(x) = \\eta_i(x_{-i})\\, \\frac{f_i(x_i \\mid x_{-i})}{\\pi(x_i \\mid x_{-i})},

with :math:`f_i \\propto \\pi(\\cdot \\mid x_{-i})^{\\alpha}` the tempered conditional
(``alpha = 0``: uniform over the unit's values) and :math:`\\eta_i = 1` (TGS) or, weighted
(wTGS, Zanella & Roberts Section 5), :math:`\\eta_i = 1 - \\pi(v_0 \\mid x_{-i}) + k/N` (the
probability of leaving the first value :math:`v_0`, the "excluded" value of variable selection,
plus ``exploration`` :math:`k` spread over the :math:`N` units). One move picks unit
:math:`i` with probability :math:`p_i(x)/\\sum_j p_j(x)` and updates it by a Metropolised Gibbs
step of :math:`f_i` (a value :math:`v \\ne x_i` proposed with probability
:math:`\\propto f_i(v)`, accepted with :math:`\\min(1, (1 - f_i(x_i))/(1 - f_i(v)))`; with
``alpha = 0`` always accepted: a binary unit is flipped). On the space of (state, unit) the
law :math:`\\pi(x)\\,p_i(x) = \\pi(x_{-i})\\,\\eta_i(x_{-i})\\,f_i(x_i \\mid x_{-i})` is left invariant by
both halves, so the states are a Markov chain with stationary law
:math:`\\pi(x)\\, Z(x)`, :math:`Z(x) = \\frac1N\\sum_i p_i(x)`: every draw carries the importance
weight :math:`w(x) = 1/Z(x)`, and

.. math::  \\hat E_\\pi[h] = \\frac{\\sum_t w(x_t)\\, h(x_t)}{\\sum_t w(x_t)}, \\qquad
           \\hat\\pi(x_i = v) = \\frac{\\sum_t w(x_t)\\, \\pi(x_i = v \\mid x_{t,-i})}{\\sum_t w(x_t)}

(the second Rao-Blackwellised: :func:`ebm_numpyro.diagnostics.weighted_marginals`). Under a ladder
every rung is such a chain for its own :math:`\\beta`, and the swaps use the extended laws
(:attr:`.tempered.Move.log_extension`, :math:`g_\\beta = Z_\\beta`).

The conditionals of every unit come from one batched evaluation: the energy model's
whole-state :meth:`~ebm_numpyro.DiscreteModel.energy_changes` (closed forms for Ising,
Boltzmann machines, RBMs, Potts), or for ``model=`` the log joint at every unit's other
values, ``vmap``-ed. They are carried with the state, so a move costs one such evaluation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from .._checks import check_text_free
from . import model_target as mt
from .decisions import categorical_from_words, metropolis_from_words
from .tempered import EnergyTarget, Move, TemperedKernel, TemperedState

__all__ = ["ImportanceTemperedGibbs", "ImportanceTemperedState", "flip_rates", "conditional_log_probs",
           "importance_move"]


class Layout(NamedTuple):
    """What the move carries for ``n`` slots: the natural states ``x`` (leading axis ``n``), the
    index of every unit's current value ``index`` (``(n, N)``, units flattened) and the energy
    changes ``tempered``/``untempered`` (``(n, N, q)``; ``+inf`` at the padding of units with fewer
    than ``q`` values)."""

    x: Any
    index: Any
    tempered: Any
    untempered: Any


def conditional_log_probs(tempered, untempered, betas):
    """:math:`\\log \\pi_\\beta(v \\mid x_{-i}) = \\ell_i(v) - \\log\\sum_w e^{\\ell_i(w)}`,
    :math:`\\ell_i(v) = -\\beta\\Delta^t_i(v) - \\Delta^u_i(v)`, from the energy changes
    (``(n, N, q)``) at inverse temperatures ``betas`` (``(n,)``)."""
    logits = -betas[:, None, None] * tempered - untempered
    return jax.nn.log_softmax(logits, axis=-1)


def flip_rates(log_cond, index, alpha, weighted, exploration):
    """``(log p_i(x), log f_i)``: the log flip rates of every unit (``(n, N)``, module doc) and the
    log tempered conditionals :math:`\\log f_i(v)` (``(n, N, q)``), from the log conditionals
    ``log_cond`` and the current value indices ``index``."""
    log_f = jax.nn.log_softmax(alpha * log_cond, axis=-1) if alpha else jnp.where(
        jnp.isfinite(log_cond), -jnp.log(jnp.sum(jnp.isfinite(log_cond), axis=-1, keepdims=True)).astype(
            log_cond.dtype), -jnp.inf)
    at = lambda a: jnp.take_along_axis(a, index[..., None], axis=-1)[..., 0]  # noqa: E731
    log_rate = at(log_f) - at(log_cond)
    if weighted:
        num_units = log_cond.shape[-2]
        leave = -jnp.expm1(log_cond[..., 0])  # 1 - pi(v_0 | x_-i)
        log_rate = log_rate + jnp.log(leave + exploration / num_units)
    return log_rate, log_f


def log_normalizer(log_rate):
    """:math:`\\log Z(x) = \\log \\frac1N \\sum_i p_i(x)` of every slot (``(n,)``)."""
    return jax.nn.logsumexp(log_rate, axis=-1) - jnp.log(log_rate.shape[-1]).astype(log_rate.dtype)


def importance_move(words, flat, layout: Layout, betas, values, alpha, weighted, exploration):
    """One importance-tempered move of every slot (module doc) whose units are ``flat``
    (``(n, N)``): returns the new ``(flat, index)``. Streams of ``words``: 0 the unit, 1 the proposed value (``q > 2``), 2 the
    Metropolised-Gibbs test (``alpha > 0``). ``values`` holds every unit's values (``(N, q)``)."""
    q = values.shape[-1]
    log_cond = conditional_log_probs(layout.tempered, layout.untempered, betas)
    log_rate, log_f = flip_rates(log_cond, layout.index, alpha, weighted, exploration)
    unit = categorical_from_words(words, 0, log_rate, jnp.int32)  # (n,)
    current = jnp.take_along_axis(layout.index, unit[:, None], axis=-1)[:, 0]
    f_unit = jnp.take_along_axis(log_f, unit[:, None, None], axis=1)[:, 0]  # (n, q)
    if q == 2:
        proposed = 1 - current
    else:  # a value other than the current one, with probability proportional to f
        others = jnp.where(jnp.arange(q) == current[:, None], -jnp.inf, f_unit)
        proposed = categorical_from_words(words, 1, others, jnp.int32)
    if alpha:
        pick = lambda i: jnp.take_along_axis(f_unit, i[:, None], axis=-1)[:, 0]  # noqa: E731
        log_ratio = jnp.log(-jnp.expm1(pick(current))) - jnp.log(-jnp.expm1(pick(proposed)))
        proposed = jnp.where(metropolis_from_words(words, 2, log_ratio), proposed, current)
    index = jnp.put_along_axis(layout.index, unit[:, None], proposed[:, None], axis=-1, inplace=False)
    new_value = values[unit, proposed].astype(flat.dtype)
    flat = jnp.put_along_axis(flat, unit[:, None], new_value[:, None], axis=-1, inplace=False)
    return flat, index


class ImportanceTemperedState(TemperedState):
    """:class:`~ebm_numpyro.kernels.tempered.TemperedState` of :class:`ImportanceTemperedGibbs`,
    whose field ``x`` reads the states of every slot from the move's layout, with two extra fields
    of the target slot's state :math:`x`: ``importance_weight``
    :math:`w(x) = 1/Z(x)` and ``conditional`` :math:`\\pi(x_i = v \\mid x_{-i})` of every unit and
    value (``(num_units, q)``)."""

    __slots__ = ()

    @property
    def x(self):
        return self.carried_x.x

    @property
    def importance_weight(self):
        return self.info["importance_weight"]

    @property
    def conditional(self):
        return self.info["conditional"]


# ----------------------------------------------------------------------------- the targets' changes
def _energy_parts(model):
    """``(values (N, q), to_flat, from_flat, changes)`` of an energy model."""
    event = tuple(model.event_shape)
    values = np.broadcast_to(np.asarray(model.unit_values), (model.num_units, model.num_values))

    def changes(flat):
        t = model.energy_changes(flat.reshape((flat.shape[0],) + event))
        return t.astype(jnp.result_type(float)), jnp.zeros_like(t, jnp.result_type(float))

    return (values, lambda x: x.reshape(x.shape[0], -1), lambda f: f.reshape((f.shape[0],) + event), changes)


def _model_parts(target: mt.ModelTarget):
    """``(values (N, q), to_flat, from_flat, changes)`` of a NumPyro model's discrete sites: the
    log joint at every unit's other values, ``vmap``-ed (units with fewer values are padded)."""
    sites = target.sites
    q = max(len(s.values) for s in sites)
    rows = [np.resize(np.asarray(s.values), q) for s in sites for _ in range(s.size)]
    valid = np.asarray([[k < len(s.values) for k in range(q)] for s in sites for _ in range(s.size)])
    values = np.stack(rows).astype(np.int32)
    num_units = values.shape[0]
    dtype = jnp.result_type(float)

    def log_density(flat):
        t, u = target.log_density(mt.unflatten_sites(sites, flat))
        return t.astype(dtype), u.astype(dtype)

    table, ok = jnp.asarray(values), jnp.asarray(valid)

    def one(flat):
        # the log joint at the q - 1 other values of every unit (the current one is the state's)
        t0, u0 = log_density(flat)
        current = jnp.argmax(table == flat[:, None], axis=-1)
        other = (current[:, None] + jnp.arange(1, q)) % q  # (N, q - 1) value indices
        put = lambda i, v: log_density(flat.at[i].set(v))  # noqa: E731
        t, u = jax.vmap(jax.vmap(put, (None, 0)), (0, 0))(jnp.arange(num_units),
                                                          jnp.take_along_axis(table, other, axis=-1))
        rows = jnp.arange(num_units)[:, None]

        def changes(d):
            full = jnp.zeros((num_units, q), dtype).at[rows, other].set(d)
            return jnp.where(ok, full, jnp.inf)

        return changes(t0 - t), changes(u0 - u)

    def from_flat(flat):
        return jax.vmap(lambda f: mt.unflatten_sites(sites, f))(flat)  # the sites' own dtypes

    return (values, lambda x: jax.vmap(lambda v: mt.flatten_sites(sites, v))(x), from_flat, jax.vmap(one))


# ----------------------------------------------------------------------------- the kernel
def _number(value, name) -> float:
    check_text_free(value, name)
    if np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a number; got shape {np.shape(value)}")
    return float(value)


class ImportanceTemperedGibbs(TemperedKernel):
    """Tempered Gibbs sampling, TGS and weighted TGS (Zanella & Roberts 2019): one
    importance-tempered unit update per step, chosen from every unit's full conditional, on a
    discrete energy model (``potential_fn=ebm.potential(model)``) or the discrete latent sites
    of a NumPyro model (``model=``), optionally tempered (``temperatures=``, ``adapt_ladder``).

    The draws follow :math:`\\pi(x) Z(x)`, not :math:`\\pi`: every draw carries an
    ``importance_weight`` :math:`1/Z(x)` (an extra field, collected by default, which
    ``az.from_numpyro`` puts in ``sample_stats``) and, with ``store_states`` (automatic up to
    64 units; always with ``model=``), the ``conditional`` probabilities
    :math:`\\pi(x_i = v \\mid x_{-i})` of every unit (extra field, ``(num_units, q)``). Estimate
    expectations with the weights (:func:`ebm_numpyro.diagnostics.weighted_mean`) and marginals
    by Rao-Blackwellisation (:func:`ebm_numpyro.diagnostics.weighted_marginals`, e.g. posterior
    inclusion probabilities, with MCSEs that account for the weights). ``mcmc.print_summary()``
    and ArviZ's summaries of the samples are *unweighted*: they describe the chain's own law
    :math:`\\pi Z` (useful for mixing, not for posterior means).

    Arguments: ``weighted`` (default ``True``: wTGS, rates towards units likely to leave their
    first value, the sparse setting of variable selection; ``False``: TGS),
    ``exploration`` (:math:`k > 0` of wTGS, default 1), ``alpha`` (in :math:`[0, 1)`: the power
    of the tempered conditional :math:`f_i`; default 0, uniform) and the arguments of
    :class:`~ebm_numpyro.TemperedGibbs` (temperatures, ``store_states``, ``temper``). Each step
    evaluates every unit's conditional once: the energy model's whole-state energy changes, or
    for ``model=`` the log joint at every unit's other values in one ``vmap`` (``N (q - 1)``
    evaluations);
    it pays where units are densely coupled and few of them are uncertain (variable selection,
    spin glasses), where one heat-bath sweep mixes slowly.
    """

    _accepts_model = True

    def __init__(self, model=None, potential_fn=None, *, weighted: bool = True, exploration=1.0, alpha=0.0,
                 **kwargs):
        if weighted not in (True, False):
            raise ValueError(f"`weighted` must be True (weighted TGS) or False (TGS); got {weighted!r}")
        exploration, alpha = _number(exploration, "exploration"), _number(alpha, "alpha")
        if not (np.isfinite(exploration) and exploration > 0):
            raise ValueError(f"`exploration` must be a finite number > 0 (the k/N added to every unit's weight); "
                             f"got {exploration}")
        if not 0 <= alpha < 1:
            raise ValueError(f"`alpha` must be in [0, 1) (the power of the tempered conditional); got {alpha}")
        self._weighted, self._exploration, self._alpha = bool(weighted), exploration, alpha
        super().__init__(model, potential_fn, **kwargs)

    def wrap_model(self, wrapper):
        """Refused: as a block of ``numpyro.infer.Gibbs`` the chain would leave
        :math:`\\pi(z \\mid \\theta) Z(z \\mid \\theta)` invariant while the other blocks move
        :math:`\\theta` under :math:`\\pi(\\theta \\mid z)`, and no weight makes that pair exact."""
        raise ValueError(
            "ImportanceTemperedGibbs cannot be a block of numpyro.infer.Gibbs: its draws follow pi(z | theta) "
            "Z(z | theta), so alternating with another block's pi(theta | z) has no exact importance weight. "
            "Use ebm.TemperedGibbs(model=...) or ebm.SingleFlipMetropolis as the discrete block, or integrate the "
            "continuous sites out of the model (as in variable selection) and sample it with "
            "ImportanceTemperedGibbs(model=...) alone."
        )

    @property
    def default_fields(self):
        return ("z", "importance_weight") + (("conditional",) if self._store_states else ())

    def _state_class(self, move):
        return ImportanceTemperedState

    def output_layout(self, state=None):
        base = super().output_layout(state)
        dims = {**base.dims, "importance_weight": (), "conditional": ("unit", "value")}
        coords = dict(base.coords)
        if self._model is None:
            coords["value"] = np.asarray(self.energy_model.unit_values)
        elif self._sites is not None:
            coords["unit"] = [f"{s.name}[{k}]" if s.shape else s.name for s in self._sites for k in range(s.size)]
        return dataclasses.replace(base, dims=dims, coords=coords)

    def _move(self, target) -> Move:
        parts = _energy_parts(target.model) if isinstance(target, EnergyTarget) else _model_parts(target)
        values, to_flat, from_flat, changes = parts
        table = jnp.asarray(values)
        alpha, weighted, k = self._alpha, self._weighted, self._exploration

        def layout_of(flat, x):
            index = jnp.argmax(flat[..., None] == table.astype(flat.dtype), axis=-1).astype(jnp.int32)
            return Layout(x, index, *changes(flat))

        def to_layout(x):
            return layout_of(to_flat(x), x)

        def from_layout(layout):
            return layout.x

        def log_extension(layout, betas):
            log_cond = conditional_log_probs(layout.tempered, layout.untempered, betas)
            return log_normalizer(flip_rates(log_cond, layout.index, alpha, weighted, k)[0])

        def info(layout, betas):
            log_cond = conditional_log_probs(layout.tempered, layout.untempered, betas)
            log_rate = flip_rates(log_cond, layout.index, alpha, weighted, k)[0]
            return {"importance_weight": jnp.exp(-log_normalizer(log_rate)), "conditional": jnp.exp(log_cond)}

        def step(words, layout, betas):
            flat, index = importance_move(words, to_flat(layout.x), layout, betas.astype(layout.tempered.dtype),
                                          table, alpha, weighted, k)
            x = from_flat(flat)
            energies, obs = target.evaluate(x)
            return Layout(x, index, *changes(flat)), energies, obs

        return Move(step, to_layout, from_layout, log_extension, info)
