"""A discrete target extended to real-valued units, for the gradient-informed moves.

Gibbs-with-Gradients and the discrete Langevin proposal (:mod:`.gradient_flip`,
:mod:`.discrete_langevin`) estimate the energy change of moving unit :math:`i` from :math:`x_i`
to :math:`v` to first order,

.. math::  \\tilde\\Delta_i(v) = \\frac{\\partial \\mathcal E_\\beta}{\\partial x_i}(x)\\,(v - x_i),
           \\qquad \\mathcal E_\\beta(x) = \\beta E_t(x) + E_u(x),

with the slot's energy :math:`\\mathcal E_\\beta` (tempered part :math:`E_t`, untempered rest
:math:`E_u`) evaluated at real-valued units. :func:`relax` gives it for both targets of the
discrete kernels: an energy model (``E_t = E``, ``E_u = 0``), and the discrete latent sites of a
NumPyro model (``E_t = -\\log p_t``, ``E_u = -\\log p_u``: ``Bernoulli`` and binary
``ebm.Boltzmann`` sites, ``numpyro.factor`` terms written with arithmetic). The moves accept
with the exact energies, so an energy that is flat or not differentiable in real values only
makes their proposals less informed. A NumPyro model whose log joint cannot be evaluated at
real values (a unit used as an index) or with sites of more than two values is refused with a
message that names the samplers that take it.

:func:`change_estimator` is what the moves use: these first-order changes for binary units, and
for an energy model with ``q > 2`` values the model's exact single-unit changes
:math:`\\beta\\,[E(x_{i \\to v}) - E(x)]` (:meth:`ebm_numpyro.DiscreteModel.energy_changes`, closed
forms for Potts; a label-valued energy has no one-hot gradient to take).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import model_target as mt
from .tempered import EnergyTarget, TemperedKernel

__all__ = ["Relaxed", "relax", "first_order_changes", "Estimator", "change_estimator", "GradientInformedKernel"]


class Relaxed(NamedTuple):
    """A target's units as a flat ``(n, N)`` float array, and its energies at real values.

    - **values** - every unit's values, ``(N, 2)`` (float), ascending;
    - **to_flat** / **from_flat** - the natural states (leading slot axis) to float units and back;
    - **energies** - ``(flat, betas) -> (E_t, E_u, slope)``: the two parts ``(n,)`` and the
      gradient of every slot's energy :math:`\\beta_k E_t + E_u`, ``(n, N)``, at real-valued units
      (one backward pass).
    """

    values: jnp.ndarray
    to_flat: Callable
    from_flat: Callable
    energies: Callable


def first_order_changes(relaxed: Relaxed, flat, betas):
    """:math:`\\tilde\\Delta_i(v)` of the module doc for every unit and both values, ``(n, N, 2)``
    (zero at the current value), and the slot energies' parts ``(E_t, E_u)`` at ``flat``."""
    t, u, slope = relaxed.energies(flat, betas)
    return slope[..., None] * (relaxed.values - flat[..., None]), t, u


def _energy_relaxed(model) -> Relaxed:
    event = tuple(model.event_shape)
    dtype = jnp.result_type(float)
    values = jnp.broadcast_to(jnp.asarray(model.unit_values, dtype), (model.num_units, 2))

    def energy(f):
        return model.energy(f.reshape(event))

    def energies(flat, betas):
        t, grad = jax.vmap(jax.value_and_grad(energy))(flat)  # one pass gives both
        return t, jnp.zeros_like(t), betas[:, None] * grad

    return Relaxed(values, lambda x: x.reshape(x.shape[0], -1).astype(dtype),
                   lambda f: f.reshape((f.shape[0],) + event).astype(model.state_dtype), energies)


def _model_relaxed(target: mt.ModelTarget, who: str) -> Relaxed:
    sites = target.sites
    dtype = jnp.result_type(float)
    wide = [s.name for s in sites if len(s.values) != 2]
    if wide:
        raise ValueError(
            f"{who}: binary latent sites only (Bernoulli, binary ebm.Boltzmann); the sites {wide} take more than "
            "two values (a Categorical log-probability indexes a table, which has no gradient in the value): use "
            "ebm.TemperedGibbs(model=...) or ebm.ImportanceTemperedGibbs(model=...)"
        )
    values = jnp.asarray(np.concatenate([np.tile(np.asarray(s.values, np.float64), (s.size, 1)) for s in sites]),
                         dtype)

    def unflatten(f):  # real-valued site values (the sites' shapes, float dtype)
        out, start = {}, 0
        for s in sites:
            out[s.name] = f[start:start + s.size].reshape(s.shape)
            start += s.size
        return out

    def slot_energy(f, beta):  # beta E_t + E_u, with the parts as aux
        t, u = target.log_density(unflatten(f))
        t, u = (-t).astype(dtype), (-u).astype(dtype)
        return beta * t + u, (t, u)

    def energies(flat, betas):
        (_, (t, u)), slope = jax.vmap(jax.value_and_grad(slot_energy, has_aux=True))(flat, betas)
        return t, u, slope

    def to_flat(x):
        return jax.vmap(lambda v: mt.flatten_sites(sites, v))(x).astype(dtype)

    def from_flat(flat):
        return jax.vmap(lambda f: mt.unflatten_sites(sites, f))(flat)

    return Relaxed(values, to_flat, from_flat, energies)


def relax(target, who: str, check: bool = True) -> Relaxed:
    """The :class:`Relaxed` form of a discrete kernel's target (an energy model's
    :class:`.tempered.EnergyTarget` or a NumPyro model's :class:`.model_target.ModelTarget`);
    ``who`` names the kernel in errors. Binary units only. With ``check`` a NumPyro model's log
    joint is traced once at real values (abstractly) to refuse one that cannot be."""
    if isinstance(target, EnergyTarget):
        model = target.model
        if model.num_values != 2:
            raise ValueError(f"{who}: binary units only; got {type(model).__name__} with {model.num_values} values per "
                             "unit: use ebm.TemperedGibbs or ebm.SingleFlipMetropolis for q-state models")
        return _energy_relaxed(model)
    relaxed = _model_relaxed(target, who)
    if not check:
        return relaxed
    probe = jnp.asarray(relaxed.values[None, :, 0])
    try:
        jax.eval_shape(relaxed.energies, probe, jnp.ones((1,), probe.dtype))
    except Exception as err:  # noqa: BLE001 - the model's own code decides what it accepts
        raise ValueError(
            f"{who}: the model's log joint cannot be evaluated at real-valued units ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}), so it has no gradient to inform the proposal "
            "(a unit used as an index, say): use ebm.TemperedGibbs(model=...) or "
            "ebm.ImportanceTemperedGibbs(model=...)"
        ) from None
    return relaxed


class Estimator(NamedTuple):
    """What a gradient-informed move needs of its target: every unit's values ``(N, q)``, the
    natural states to float units ``(n, N)`` and back, and ``changes(flat, betas) -> (D, E_t,
    E_u)`` with ``D[k, i, v]`` the (estimated) change of slot ``k``'s energy
    :math:`\\beta_k E_t + E_u` when unit ``i`` takes value ``v`` (zero at its current value)."""

    values: jnp.ndarray
    to_flat: Callable
    from_flat: Callable
    changes: Callable


def change_estimator(target, who: str, check: bool = False) -> Estimator:
    """The :class:`Estimator` of a discrete kernel's target (module doc): first order from
    :func:`relax` for binary units, the exact single-unit changes of a ``q``-state energy model."""
    if isinstance(target, EnergyTarget) and target.model.num_values > 2:
        model = target.model
        event, n_units, q = tuple(model.event_shape), model.num_units, model.num_values
        dtype = jnp.result_type(float)
        values = jnp.broadcast_to(jnp.asarray(model.unit_values, dtype), (n_units, q))

        def from_flat(flat):
            return flat.reshape((flat.shape[0],) + event).astype(model.state_dtype)

        def changes(flat, betas):
            x = from_flat(flat)
            t = model.energy(x).astype(dtype)
            delta = model.energy_changes(x).reshape(flat.shape[0], n_units, q).astype(dtype)
            return betas[:, None, None] * delta, t, jnp.zeros_like(t)

        return Estimator(values, lambda x: x.reshape(x.shape[0], -1).astype(dtype), from_flat, changes)
    relaxed = relax(target, who, check)
    return Estimator(relaxed.values, relaxed.to_flat, relaxed.from_flat,
                     lambda flat, betas: first_order_changes(relaxed, flat, betas))


class GradientInformedKernel(TemperedKernel):
    """Base of the kernels whose moves propose from :func:`change_estimator`
    (:class:`~ebm_numpyro.GibbsWithGradients`, :class:`~ebm_numpyro.DiscreteLangevin`): with
    ``model=`` it refuses, at ``init`` and before anything is compiled, a NumPyro model that
    :func:`relax` cannot take."""

    _accepts_model = True

    def _make_plan(self, sites, trace, model_args, model_kwargs):
        relax(mt.model_target(self._model, model_args, model_kwargs, sites, None, self._temper), type(self).__name__)
        return None
