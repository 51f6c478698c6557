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

**RBM** (Salakhutdinov & Murray 2008). Base-rate model: visible biases :math:`b_A` (the
log-odds of the data marginals when ``data`` is given, else 0), no weights, so
:math:`Z_0 = 2^{n_h}\\prod_i (1 + e^{b_{A,i}})`. Geometric path with the hidden units summed out

.. math::  \\log f_k(v) = (1-\\beta_k)\\, b_A^\\top v + \\beta_k\\, a^\\top v
           + \\sum_j \\log\\big(1 + e^{\\beta_k (W^\\top v + c)_j}\\big)

and block-Gibbs transitions :math:`h \\sim \\sigma(\\beta_k(W^\\top v + c))`,
:math:`v \\sim \\sigma((1-\\beta_k) b_A + \\beta_k(W h + a))`.

**Other discrete models**: uniform base (:math:`Z_0 = 2^n`), :math:`\\log f_k(x) = -\\beta_k E(x)`,
heat-bath block-Gibbs sweeps at :math:`\\beta_k`.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_temperature
from ..models import RBM
from ..models._base import DiscreteModel
from ._gibbs import gibbs_sweep, heat_bath
from .gradients import validate_data

__all__ = ["AISResult", "ais_log_partition", "ais_log_likelihood", "base_rate_bias"]


class AISResult(NamedTuple):
    """``log_partition`` estimate, its standard error ``stderr``, per-chain ``log_weights``
    (log w, without log Z_0) and the base model's ``log_partition_base`` log Z_0."""

    log_partition: jnp.ndarray
    stderr: jnp.ndarray
    log_weights: jnp.ndarray
    log_partition_base: jnp.ndarray


def base_rate_bias(data, smoothing=1.0):
    """Log-odds of the (smoothed) visible marginals: :math:`b_{A,i} = \\log \\bar v_i - \\log(1-\\bar v_i)`."""
    data = np.asarray(data, dtype=np.float64)
    p = (data.sum(0) + smoothing) / (data.shape[0] + 2 * smoothing)
    return np.log(p) - np.log1p(-p)


def _summarise(log_w, log_z0):
    n = log_w.shape[0]
    m = jnp.max(log_w)
    r = jnp.exp(log_w - m)
    log_mean = m + jnp.log(jnp.mean(r))
    se = jnp.std(r, ddof=1) / (jnp.sqrt(n) * jnp.mean(r))
    return log_z0 + log_mean, se


@functools.partial(jax.jit, static_argnames=("num_chains",))
def _rbm_ais(model, base_bias, betas, key, num_chains):
    W, a, c = model.weights, model.visible_bias, model.hidden_bias
    nh = W.shape[1]

    def log_f(v, beta):
        return (1 - beta) * (v @ base_bias) + beta * (v @ a) + jnp.sum(jax.nn.softplus(beta * (v @ W + c)), -1)

    key, k0 = jax.random.split(key)
    v = heat_bath(k0, jnp.broadcast_to(base_bias, (num_chains, W.shape[0])), 1.0, (0, 1)).astype(W.dtype)

    def step(carry, betas_pair):
        v, log_w, key = carry
        b_prev, b = betas_pair
        log_w = log_w + log_f(v, b) - log_f(v, b_prev)
        key, kh, kv = jax.random.split(key, 3)
        h = heat_bath(kh, v @ W + c, b, (0, 1)).astype(W.dtype)
        v = heat_bath(kv, (1 - b) * base_bias + b * (h @ W.T + a), 1.0, (0, 1)).astype(W.dtype)
        return (v, log_w, key), None

    log_w0 = jnp.zeros((num_chains,), W.dtype)
    (v, log_w, _), _ = jax.lax.scan(step, (v, log_w0, key), (betas[:-1], betas[1:]))
    log_z0 = nh * math.log(2.0) + jnp.sum(jax.nn.softplus(base_bias))
    est, se = _summarise(log_w, log_z0)
    return AISResult(est, se, log_w, log_z0)


@functools.partial(jax.jit, static_argnames=("num_chains",))
def _generic_ais(model, betas, key, num_chains):
    dtype = model.to_quadratic()[0].dtype
    down, up = model.unit_values
    key, k0 = jax.random.split(key)
    bits = jax.random.bernoulli(k0, 0.5, (num_chains,) + tuple(model.event_shape))
    x = jnp.where(bits, up, down).astype(dtype)

    def step(carry, betas_pair):
        x, log_w, key = carry
        b_prev, b = betas_pair
        log_w = log_w - (b - b_prev) * model.energy(x)
        key, sub = jax.random.split(key)
        return (gibbs_sweep(sub, model, x, b), log_w, key), None

    (x, log_w, _), _ = jax.lax.scan(step, (x, jnp.zeros((num_chains,), dtype), key), (betas[:-1], betas[1:]))
    log_z0 = jnp.asarray(model.num_units * math.log(2.0), dtype)
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
    overrides the default linear ladder of ``num_temperatures`` values; ``data`` (RBM only)
    sets the base-rate visible biases (recommended for trained models: it starts the chains
    near the data marginals). Everything after validation is one jit-compiled ``lax.scan``.
    """
    if not isinstance(model, DiscreteModel):
        raise ValueError(f"AIS needs a discrete model (RBM, BoltzmannMachine, Ising); got {type(model).__name__}")
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
    if isinstance(model, RBM):
        dtype = model.weights.dtype
        if data is not None:
            data = validate_data(model, data)
            base = jnp.asarray(base_rate_bias(data), dtype)
        else:
            base = jnp.zeros((model.num_visible,), dtype)
        return _rbm_ais(model, base, jnp.asarray(betas, dtype), key, num_chains)
    if data is not None:
        raise ValueError("`data` (base-rate model) is only supported for RBMs")
    dtype = model.to_quadratic()[0].dtype
    return _generic_ais(model, jnp.asarray(betas, dtype), key, num_chains)


def ais_log_likelihood(model, data, key, **kwargs):
    """Mean log-likelihood of ``data`` with log Z by AIS: returns ``(estimate, stderr)``.

    .. math::  \\frac1B\\sum_b -F(v_b) - \\widehat{\\log Z}

    (free energy F for an RBM, energy E otherwise). The standard error is that of log Z.
    """
    data = validate_data(model, data)
    res = ais_log_partition(model, key, data=data if isinstance(model, RBM) else None, **kwargs)
    neg = -model.free_energy(data) if isinstance(model, RBM) else -model.energy(data)
    return jnp.mean(neg) - res.log_partition, res.stderr

