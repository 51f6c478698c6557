"""Continuous moves shared by the kernels: one Langevin step and one Metropolis test.

Pure functions on pytrees of arrays (a latent ``z`` may be a dict of sites). ``SGLD`` and
``CyclicAnnealing`` both call :func:`langevin_step`; ``CyclicAnnealing`` also calls
:func:`metropolis_accept` through :func:`random_walk_metropolis`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import random

__all__ = ["tree_normal_like", "langevin_step", "metropolis_accept", "random_walk_metropolis"]


def tree_normal_like(rng_key, tree):
    """Independent standard normals with the shapes and dtypes of ``tree``'s leaves."""
    leaves, treedef = jax.tree.flatten(tree)
    keys = random.split(rng_key, len(leaves)) if len(leaves) > 1 else [rng_key]
    noise = [random.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)]
    return jax.tree.unflatten(treedef, noise)


def langevin_step(rng_key, z, grad_potential, step_size, temperature, preconditioner=None, noise=True):
    """One (possibly preconditioned) Langevin step, in the convention of Welling & Teh (2011):

    .. math::  z' = z - \\frac{\\varepsilon}{2} G\\,\\nabla U(z)
                    + \\sqrt{\\varepsilon\\, T}\\; G^{1/2}\\xi, \\qquad \\xi \\sim N(0, I)

    with :math:`U = -\\log \\tilde p` (the potential at temperature 1), ``T`` the temperature
    (:math:`T = 1` samples :math:`\\tilde p`, otherwise :math:`\\tilde p^{1/T}`) and ``G`` a
    diagonal preconditioner (a pytree like ``z``; ``None`` means ``G = I``). With
    ``noise=False`` (a traced bool is fine) the step is plain gradient descent with rate
    :math:`\\varepsilon/2`. BlackJAX writes the same diffusion as
    :math:`z + \\epsilon\\nabla\\log p + \\sqrt{2T\\epsilon}\\,\\xi`, i.e. its
    :math:`\\epsilon` is our :math:`\\varepsilon/2`.
    """
    xi = tree_normal_like(rng_key, z)
    noise_scale = jnp.where(noise, jnp.sqrt(step_size * temperature), 0.0)
    if preconditioner is None:
        return jax.tree.map(
            lambda x, g, n: x - 0.5 * step_size * g + noise_scale.astype(x.dtype) * n,
            z, grad_potential, xi,
        )
    return jax.tree.map(
        lambda x, g, n, p: x - 0.5 * step_size * p * g + noise_scale.astype(x.dtype) * jnp.sqrt(p) * n,
        z, grad_potential, xi, preconditioner,
    )


def metropolis_accept(rng_key, log_ratio):
    """Metropolis test: accept with probability :math:`\\min(1, e^{\\log r})`.

    ``log_ratio`` is the log acceptance ratio, e.g. :math:`-(E' - E)/T` for a symmetric
    proposal at temperature T; NaN counts as rejection. Returns ``(accept, probability)``.
    """
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    prob = jnp.exp(jnp.minimum(log_ratio, 0.0))
    log_u = jnp.log(random.uniform(rng_key, jnp.shape(log_ratio), prob.dtype))
    return log_u < log_ratio, prob


def random_walk_metropolis(rng_key, z, energy, energy_fn, scale, temperature):
    """Random-walk Metropolis step targeting :math:`p(z) \\propto e^{-E(z)/T}`.

    Proposal :math:`z' = z + \\sigma\\xi` with :math:`\\sigma` = ``scale``; accepted with
    probability :math:`\\min\\{1, e^{-(E(z') - E(z))/T}\\}` (:func:`metropolis_accept`).
    Returns ``(z_new, energy_new, accept_probability)``.
    """
    key_prop, key_acc = random.split(rng_key)
    xi = tree_normal_like(key_prop, z)
    proposal = jax.tree.map(lambda x, n: x + jnp.asarray(scale, x.dtype) * n, z, xi)
    energy_prop = energy_fn(proposal)
    accept, prob = metropolis_accept(key_acc, -(energy_prop - energy) / temperature)
    z_new = jax.tree.map(lambda a, b: jnp.where(accept, a, b), proposal, z)
    return z_new, jnp.where(accept, energy_prop, energy), prob
