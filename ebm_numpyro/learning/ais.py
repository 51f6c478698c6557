"""Annealed importance sampling (AIS) estimates of log Z (Neal 2001; Salakhutdinov & Murray 2008).

Intermediate distributions :math:`p_k \\propto f_k` on a path of inverse temperatures
:math:`0 = \\beta_0 < \\beta_1 < \\dots < \\beta_K = 1` from a tractable base :math:`f_0` to the
target :math:`f_K`. A chain starts with an exact draw :math:`x_0 \\sim p_0`, and for
k = 1..K accumulates :math:`\\log w \\mathrel{+}= \\log f_k(x) - \\log f_{k-1}(x)`, then moves x with
a Gibbs transition that leaves :math:`p_k` invariant. Then
:math:`\\mathbb E[w] = Z_K / Z_0`, so

.. math::  \\widehat{\\log Z} = \\log Z_0 + \\log \\frac1M \\sum_{m=1}^M w_m,
           \\qquad \\mathrm{se} \\approx \\frac{\\mathrm{sd}(w)}{\\sqrt M\\,\\bar w}

(delta method). The estimate of log Z is biased low by about se²/2 (Jensen), negligible when
the standard error is small.

**Path.** Every energy here is linear in the parameters, so the path interpolates them:
:math:`\\theta_k = (1-\\beta_k)\\,\\theta_0 + \\beta_k\\,\\theta`, where the base
:math:`\\theta_0` (``model.ais_base``) has no interactions and fields giving each data unit the
log-odds :math:`b_A` of the data marginals (``data`` given; else 0, the uniform base), so that
log Z_0 is a closed form. :math:`\\log f_k(v) = -F_{\\theta_k}(v)` with F = ``data_energy``: for an
RBM (Salakhutdinov & Murray 2008) the hidden units are summed out,

.. math::  \\log f_k(v) = (1-\\beta_k)\\, b_A^\\top v + \\beta_k\\, a^\\top v
           + \\sum_j \\log\\big(1 + e^{\\beta_k (W^\\top v + c)_j}\\big),
           \\qquad Z_0 = 2^{n_h}\\prod_i (1 + e^{b_{A,i}}),

and the transition is one heat-bath sweep of :math:`\\theta_k` (hidden given v, then v given h).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_temperature
from ..kernels.heat_bath import gibbs_sweep
from ..models import check_discrete_model
from .gradients import validate_data

__all__ = ["AISResult", "ais_log_partition", "ais_log_likelihood", "base_rate_bias"]


class AISResult(NamedTuple):
    """``log_partition`` estimate, its standard error ``stderr``, per-chain ``log_weights``
    (log w, without log Z_0) and the base model's ``log_partition_base`` log Z_0."""

    log_partition: jnp.ndarray
    stderr: jnp.ndarray
    log_weights: jnp.ndarray
    log_partition_base: jnp.ndarray


def base_rate_bias(data, smoothing=1.0, unit_values=(0, 1)):
    """Log-odds of the (smoothed) marginals of ``data``: :math:`b_{A,i} = \\log \\bar u_i - \\log(1-\\bar u_i)`,
    with :math:`\\bar u_i` the fraction of examples whose unit i is up (``unit_values`` = (down, up))."""
    down, up = unit_values
    bits = (np.asarray(data, dtype=np.float64) - down) / (up - down)
    p = (bits.sum(0) + smoothing) / (bits.shape[0] + 2 * smoothing)
    return np.log(p) - np.log1p(-p)


def _summarise(log_w, log_z0):
    n = log_w.shape[0]
    m = jnp.max(log_w)
    r = jnp.exp(log_w - m)
    log_mean = m + jnp.log(jnp.mean(r))
    se = jnp.std(r, ddof=1) / (jnp.sqrt(n) * jnp.mean(r))
    return log_z0 + log_mean, se


def _interpolate(base, model, beta):
    """Parameters :math:`(1-\\beta)\\theta_0 + \\beta\\theta` (the same structure as ``model``)."""
    return jax.tree.map(lambda p0, p: (1 - beta) * p0 + beta * p, base, model)


@functools.partial(jax.jit, static_argnames=("num_chains",))
def _ais(model, base, log_z0, betas, key, num_chains):
    key, k_init, k_base = jax.random.split(key, 3)
    # the base has no interactions: one sweep from any state is an exact draw from it
    x = base.random_state(k_init, (num_chains,)).astype(model.dtype)
    x = gibbs_sweep(k_base, base, x)

    def step(carry, inputs):
        x, log_w = carry
        b_prev, b, k = inputs
        current = _interpolate(base, model, b)
        v = model.data_part(x)
        log_w = log_w + _interpolate(base, model, b_prev).data_energy(v) - current.data_energy(v)
        return (gibbs_sweep(k, current, x), log_w), None

    keys = jax.random.split(key, betas.shape[0] - 1)
    log_w0 = jnp.zeros((num_chains,), model.dtype)
    (_, log_w), _ = jax.lax.scan(step, (x, log_w0), (betas[:-1], betas[1:], keys))
    est, se = _summarise(log_w, log_z0)
    return AISResult(est, se, log_w, log_z0)


def ais_log_partition(
    model,
    key,
    *,
    num_chains: int = 100,
    num_temperatures: int = 10_000,
    data=None,
    betas=None,
    temperature=1.0,
) -> AISResult:
    """AIS estimate of :math:`\\log Z(T) = \\log\\sum_x e^{-E(x)/T}` with its standard error.

    See the module docstring for the path and transitions. ``betas`` (increasing, from 0 to 1)
    overrides the default linear ladder of ``num_temperatures`` values; ``data`` sets the
    base-rate fields (recommended for trained models: it starts the chains near the data
    marginals). Everything after validation is one jit-compiled ``lax.scan``.
    """
    check_discrete_model(model, "model", "AIS")
    num_chains = check_int(num_chains, "num_chains", 2)
    check_temperature(temperature)
    if betas is None:
        num_temperatures = check_int(num_temperatures, "num_temperatures", 2)
        betas = np.linspace(0.0, 1.0, num_temperatures)
    else:
        b = np.asarray(betas, dtype=np.float64)
        if b.ndim != 1 or b.size < 2 or b[0] != 0.0 or b[-1] != 1.0 or np.any(np.diff(b) <= 0):
            raise ValueError("`betas` must increase strictly from 0 to 1 (at least two values)")
        betas = b
    if temperature != 1.0:
        model = jax.tree.map(lambda p: p / temperature, model)
    dtype = model.dtype
    if data is not None:
        data = validate_data(model, data)
        log_odds = jnp.asarray(base_rate_bias(data, unit_values=model.unit_values), dtype)
    else:
        log_odds = jnp.zeros(model.data_shape, dtype)
    base, log_z0 = model.ais_base(log_odds)
    return _ais(model, base, jnp.asarray(log_z0, dtype), jnp.asarray(betas, dtype), key, num_chains)


def ais_log_likelihood(model, data, key, **kwargs):
    """Mean log-likelihood of ``data`` with log Z by AIS: returns ``(estimate, stderr)``.

    .. math::  \\frac1B\\sum_b -F(v_b) - \\widehat{\\log Z}

    (F = ``model.data_energy``: the free energy for an RBM, the energy otherwise), with the
    base-rate base from ``data``. The standard error is that of log Z.
    """
    data = validate_data(model, data)
    res = ais_log_partition(model, key, data=data, **kwargs)
    return jnp.mean(-model.data_energy(data)) - res.log_partition, res.stderr

