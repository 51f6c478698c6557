"""Exact CD-k with Langevin negative chains on the Gaussian energy (no sampling): the continuous
twin of :func:`~ebm_numpyro.learning.cd_bias`.

For :math:`E(x) = \\tfrac12 (x-\\mu)^\\top P (x-\\mu)` (:class:`~ebm_numpyro.GaussianEnergy`) one
unadjusted Langevin step (ULA) with step :math:`\\epsilon` and noise scale :math:`\\sigma`,

.. math::  x' = x - \\epsilon \\nabla E(x) + \\sigma \\xi = \\mu + A (x - \\mu) + \\sigma\\xi, \\qquad
           A = I - \\epsilon P, \\quad \\xi \\sim \\mathcal N(0, I),

is a linear Gaussian map, so a chain started at the data has after k steps the mean and covariance

.. math::  m_k = \\mu + A^k (\\bar x - \\mu), \\qquad S_k = A^k \\hat S A^{k\\top} + \\sigma^2 \\sum_{j<k} A^j A^{j\\top}

(:math:`\\bar x`, :math:`\\hat S`: the data's mean and covariance with divisor n). The log-likelihood
gradient is :math:`g = \\langle -\\nabla_\\theta E \\rangle_{\\text{data}} - \\langle -\\nabla_\\theta E\\rangle_{\\text{model}}`
and CD-k replaces the model by the k-step chains; both expectations are linear in the first two
moments:

.. math::  -\\nabla_\\mu E = P (x - \\mu), \\qquad -\\nabla_P E = -\\tfrac12 (x-\\mu)(x-\\mu)^\\top

(:math:`P`'s entries taken as independent, as ``jax.grad`` takes them), with the model's moments
:math:`(\\mu, P^{-1})`. :math:`\\sigma = \\sqrt{2\\epsilon}` is Langevin proper; the common
practice of a smaller noise samples the tempered law :math:`e^{-E/T}` with
:math:`T = \\sigma^2 / (2\\epsilon)` (as :math:`\\epsilon \\to 0`), which the result reports.
ULA's own discretisation bias stays as :math:`k \\to \\infty`: its stationary covariance solves
:math:`S = A S A^\\top + \\sigma^2 I`, :math:`S = \\sigma^2 (2\\epsilon P - \\epsilon^2 P^2)^{-1}` (for
:math:`\\sigma^2 = 2\\epsilon`: :math:`(P - \\epsilon P^2/2)^{-1} \\ne P^{-1}`), so the bias tends to
that of the ULA stationary law, not to zero. Everything is float64 NumPy.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import xarray as xr

from .._checks import check_int, check_positive
from ..models import GaussianEnergy
from .exact_cd import bias_statistics

__all__ = ["GaussianMoments", "langevin_moments", "gaussian_cd_gradient", "gaussian_cd_bias"]


class GaussianMoments(NamedTuple):
    """``(mean, covariance)`` of a Gaussian (float64 NumPy arrays)."""

    mean: np.ndarray
    covariance: np.ndarray


def _model(model):
    if not isinstance(model, GaussianEnergy):
        raise ValueError(f"`model` must be an ebm.GaussianEnergy; got {type(model).__name__}")
    return np.asarray(model.mean, np.float64), np.asarray(model.precision, np.float64)


def _data_moments(data, d):
    x = np.asarray(data, np.float64)
    if x.ndim != 2 or x.shape[1] != d or x.shape[0] < 1:
        raise ValueError(f"`data` must have shape (n, {d}) with n >= 1; got {x.shape}")
    c = x - x.mean(0)
    return GaussianMoments(x.mean(0), c.T @ c / x.shape[0])


def _noise(step_size, noise_scale):
    step_size = float(check_positive(step_size, "step_size"))
    noise_scale = math.sqrt(2.0 * step_size) if noise_scale is None else float(noise_scale)
    if not (math.isfinite(noise_scale) and noise_scale >= 0):
        raise ValueError(f"`noise_scale` must be a finite number >= 0 or None (sqrt(2 step_size)); got {noise_scale}")
    return step_size, noise_scale


def langevin_moments(model, moments, k, step_size, noise_scale=None) -> GaussianMoments:
    """Mean and covariance after ``k`` ULA steps (module doc) from a Gaussian with ``moments``
    ``(mean, covariance)``; ``noise_scale`` :math:`\\sigma` defaults to :math:`\\sqrt{2\\epsilon}`."""
    mu, p = _model(model)
    step_size, sigma = _noise(step_size, noise_scale)
    k = check_int(k, "k", 0)
    a = np.eye(mu.size) - step_size * p
    m, s = np.asarray(moments[0], np.float64), np.asarray(moments[1], np.float64)
    for _ in range(k):
        m = mu + a @ (m - mu)
        s = a @ s @ a.T + sigma**2 * np.eye(mu.size)
    return GaussianMoments(m, s)


def _expected_stats(mu, p, moments):
    """:math:`\\langle -\\nabla_\\mu E\\rangle, \\langle -\\nabla_P E\\rangle` under a Gaussian with ``moments``."""
    dm = moments.mean - mu
    return {"mean": p @ dm, "precision": -0.5 * (moments.covariance + np.outer(dm, dm))}


def _sub(a, b):
    return {f: a[f] - b[f] for f in a}


def _flat(g):
    return np.concatenate([np.ravel(g["mean"]), np.ravel(g["precision"])])


def gaussian_cd_gradient(model, data, k=1, step_size=0.1, noise_scale=None) -> dict:
    """Exact :math:`\\mathbb E[g_{CD-k}]` with ULA negative chains from the data (module doc):
    ``{"mean": (d,), "precision": (d, d)}``, float64, the ascent direction of the log-likelihood
    (as :func:`~ebm_numpyro.learning.expected_cd_gradient`)."""
    mu, p = _model(model)
    data_m = _data_moments(data, mu.size)
    chains = langevin_moments(model, data_m, k, step_size, noise_scale)
    return _sub(_expected_stats(mu, p, data_m), _expected_stats(mu, p, chains))


def gaussian_cd_bias(model, data, ks=(1, 2, 5, 10), step_size=0.1, noise_scale=None) -> xr.Dataset:
    """Exact bias :math:`\\mathbb E[g_{CD-k}] - g_{ML}` of CD-k with ULA negative chains on a
    :class:`~ebm_numpyro.GaussianEnergy`, for each k in ``ks``, in the form of
    :func:`~ebm_numpyro.learning.cd_bias`: an ``xarray.Dataset`` over ``k`` (and ``dim``,
    ``dim_``) with ``mean`` and ``precision`` (the bias of each parameter), ``bias_norm``,
    ``relative_bias``, ``cosine`` (between :math:`\\mathbb E[g_{CD-k}]` and :math:`g_{ML}`),
    ``true_mean``, ``true_precision`` (:math:`g_{ML}`), and in ``attrs`` the step size, the noise
    scale and the implied temperature :math:`\\sigma^2 / (2\\epsilon)`."""
    ks = sorted({check_int(k, "k", 1) for k in np.atleast_1d(ks).tolist()})
    if not ks:
        raise ValueError("`ks` must contain at least one k >= 1")
    mu, p = _model(model)
    step_size, sigma = _noise(step_size, noise_scale)
    data_m = _data_moments(data, mu.size)
    positive = _expected_stats(mu, p, data_m)
    true = _sub(positive, _expected_stats(mu, p, GaussianMoments(mu, np.linalg.inv(p))))
    true_flat = _flat(true)
    out = {"mean": [], "precision": []}
    norms, rel, cos = [], [], []
    moments, t = data_m, 0
    for k in ks:
        moments, t = langevin_moments(model, moments, k - t, step_size, sigma), k
        cd = _sub(positive, _expected_stats(mu, p, moments))
        bias = _sub(cd, true)
        for f in out:
            out[f].append(bias[f])
        b, r, c = bias_statistics(_flat(cd), true_flat)
        norms.append(b)
        rel.append(r)
        cos.append(c)
    return xr.Dataset(
        {
            "mean": (("k", "dim"), np.array(out["mean"])),
            "precision": (("k", "dim", "dim_"), np.array(out["precision"])),
            "bias_norm": (("k",), np.array(norms)),
            "relative_bias": (("k",), np.array(rel)),
            "cosine": (("k",), np.array(cos)),
            "true_mean": (("dim",), true["mean"]),
            "true_precision": (("dim", "dim_"), true["precision"]),
        },
        coords={"k": np.array(ks)},
        attrs={
            "description": "exact E[CD-k gradient] - exact log-likelihood gradient, ULA negative chains from the data",
            "step_size": step_size,
            "noise_scale": sigma,
            "implied_temperature": sigma**2 / (2.0 * step_size),
            "true_gradient_norm": float(np.linalg.norm(true_flat)),
            "num_examples": int(np.shape(data)[0]),
        },
    )
