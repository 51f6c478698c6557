"""The bridge to NumPyro: energies as potential functions and as factor sites."""

from __future__ import annotations

import jax.numpy as jnp
import numpyro

from ._checks import check_temperature
from .models._base import EnergyModel

__all__ = ["potential", "energy_factor"]


def _check_model(model):
    if not isinstance(model, EnergyModel):
        raise TypeError(f"`model` must be an ebm_numpyro energy model; got {type(model).__name__}")


def potential(model, temperature=1.0):
    """Potential function for NumPyro's ``potential_fn=``: the Boltzmann weight in log space.

    .. math::  U(z) = \\sum_{\\text{batch}} E(z) / T,  \\qquad p(z) \\propto e^{-U(z)}

    ``z`` is an array of shape ``batch + model.event_shape`` (energies of a batch are summed,
    i.e. independent copies), or a dict with a single array entry (as NumPyro passes
    ``init_params`` given as a dict).

    Example::

        mcmc = MCMC(NUTS(potential_fn=ebm.potential(ebm.DoubleWell(), 0.5)), ...)
        mcmc.run(key, init_params=jnp.array([0.9]))
    """
    _check_model(model)
    check_temperature(temperature)

    def potential_fn(z):
        if isinstance(z, dict):
            if len(z) != 1:
                raise ValueError(f"potential expects one array; got a dict with keys {sorted(z)}")
            (z,) = z.values()
        return jnp.sum(model.energy(z)) / temperature

    return potential_fn


def energy_factor(name, model, x, temperature=1.0):
    """Add the Boltzmann log-weight of ``x`` to a NumPyro model as a factor site:

    .. math::  \\log p \\mathrel{+}= -E(x)/T

    The factor has the batch shape of ``x`` so it composes with ``numpyro.plate``.
    Returns the energies ``E(x)``.
    """
    _check_model(model)
    check_temperature(temperature)
    energies = model.energy(x)
    numpyro.factor(name, -energies / temperature)
    return energies
