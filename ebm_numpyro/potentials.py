"""The bridge to NumPyro: energies as potential functions and as factor sites."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import numpyro

from ._checks import check_temperature
from .models import EnergyModel

__all__ = ["Potential", "potential", "energy_factor"]


def _check_model(model):
    if not isinstance(model, EnergyModel):
        raise TypeError(f"`model` must be an ebm_numpyro energy model; got {type(model).__name__}")


@dataclasses.dataclass(frozen=True, eq=False)
class Potential:
    """A NumPyro potential :math:`U(z) = \\sum_{\\text{batch}} E(z)/T` that carries its energy model.

    Callable like any ``potential_fn``; the library's kernels also read ``model`` (for local
    fields, Gibbs blocks and unit values) and ``temperature``. Build it with :func:`potential`.
    """

    model: EnergyModel
    temperature: float = 1.0

    def __call__(self, z):
        if isinstance(z, dict):
            if len(z) != 1:
                raise ValueError(f"potential expects one array; got a dict with keys {sorted(z)}")
            (z,) = z.values()
        return jnp.sum(self.model.energy(z)) / self.temperature


def potential(model, temperature=1.0) -> Potential:
    """Potential function for NumPyro's ``potential_fn=``: the Boltzmann weight in log space.

    .. math::  U(z) = \\sum_{\\text{batch}} E(z) / T,  \\qquad p(z) \\propto e^{-U(z)}

    ``z`` is an array of shape ``batch + model.event_shape`` (energies of a batch are summed,
    i.e. independent copies), or a dict with a single array entry (as NumPyro passes
    ``init_params`` given as a dict). The returned :class:`Potential` also carries ``model``
    and ``temperature``, so the library's kernels use the model's structure (local fields,
    Gibbs blocks): ``ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), ...)``. A kernel
    with its own temperature ``T_k`` samples :math:`e^{-U/T_k} = e^{-E/(T T_k)}`.

    Example::

        mcmc = MCMC(NUTS(potential_fn=ebm.potential(ebm.DoubleWell(), 0.5)), ...)
        mcmc.run(key, init_params=jnp.array([0.9]))
    """
    _check_model(model)
    check_temperature(temperature)
    if np.ndim(temperature) != 0:
        raise ValueError(f"`temperature` must be a scalar; got shape {np.shape(temperature)}")
    return Potential(model, float(temperature))


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
