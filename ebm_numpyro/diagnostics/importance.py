"""Estimates from importance-weighted draws (:class:`~ebm_numpyro.ImportanceTemperedGibbs`).

With draws :math:`x_t` from a chain whose stationary law is :math:`\\pi(x) Z(x)` and weights
:math:`w_t = 1/Z(x_t)`, the self-normalised estimate of :math:`E_\\pi[h]` is

.. math::  \\hat\\mu = \\frac{\\sum_t w_t h_t}{\\sum_t w_t},

and to first order :math:`\\hat\\mu - \\mu \\approx \\overline{u}` with
:math:`u_t = \\tilde w_t (h_t - \\hat\\mu)`, :math:`\\tilde w_t = w_t / \\bar w` (delta method). Its
Monte Carlo standard error is therefore :math:`\\mathrm{sd}(u)/\\sqrt{\\mathrm{ESS}(u)}`, with ArviZ's
ESS of the mean of the series :math:`u` (autocorrelation across draws and chains
accounted for). The reported ``ess`` of an estimate is the number of independent draws from
:math:`\\pi` with the same error, :math:`\\widehat{\\mathrm{Var}}_\\pi(h) / \\mathrm{MCSE}^2`; Kish's
:math:`(\\sum_t w_t)^2 / \\sum_t w_t^2` (:func:`kish_ess`) is the weights' own loss, ignoring
autocorrelation.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._arviz_compat import ess as _ess
from ._arviz_compat import get_group

__all__ = ["kish_ess", "weighted_mean", "weighted_marginals"]


def kish_ess(weights) -> float:
    """Kish's effective sample size of importance weights, :math:`(\\sum w)^2 / \\sum w^2`."""
    w = np.asarray(weights, np.float64).ravel()
    if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("`weights` must be finite, non-negative and not all zero")
    return float(w.sum() ** 2 / np.square(w).sum())


def weighted_mean(values, weights) -> xr.Dataset:
    """Self-normalised importance estimate of :math:`E_\\pi[h]` for every entry of ``values``
    (``(chain, draw, ...)``) with ``weights`` (``(chain, draw)``): a Dataset with ``mean``,
    ``sd`` (the weighted standard deviation of :math:`h` under :math:`\\pi`), ``mcse`` and ``ess``
    (module doc), over the trailing dims ``dim_0, dim_1, ...``."""
    h = np.asarray(values, np.float64)
    w = np.asarray(weights, np.float64)
    if h.ndim < 2 or w.shape != h.shape[:2]:
        raise ValueError(f"`weights` must have the (chain, draw) shape of `values`; got {w.shape} and {h.shape}")
    kish_ess(w)  # validates
    w = w / w.mean()
    wb = w.reshape(w.shape + (1,) * (h.ndim - 2))
    mean = (wb * h).sum((0, 1)) / w.sum()
    var = (wb * np.square(h - mean)).sum((0, 1)) / w.sum()
    u = wb * (h - mean)
    dims = ["chain", "draw"] + [f"dim_{k}" for k in range(h.ndim - 2)]
    ess_u = np.asarray(_ess(xr.Dataset({"u": (dims, u)}), method="mean")["u"].values, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mcse = np.where(ess_u > 0, u.std(axis=(0, 1)) / np.sqrt(ess_u), np.nan)
        ess = np.where(mcse > 0, var / np.square(mcse), np.nan)
    inner = dims[2:]
    return xr.Dataset({"mean": (inner, mean), "sd": (inner, np.sqrt(var)), "mcse": (inner, mcse),
                       "ess": (inner, ess)}, attrs={"kish_ess": kish_ess(w)})


def _fields(run):
    """``(conditional (chain, draw, unit, value), weights (chain, draw), unit coordinate, value coordinate)``."""
    if hasattr(run, "get_extra_fields"):  # a numpyro.infer.MCMC
        fields = run.get_extra_fields(group_by_chain=True)
        missing = {"importance_weight", "conditional"} - set(fields)
        if missing:
            raise ValueError(f"the run has no {sorted(missing)} extra fields: sample with ebm.ImportanceTemperedGibbs "
                             "(its default fields; pass extra_fields=('conditional',) to MCMC.run when store_states "
                             "is False)")
        layout = run.sampler.output_layout()
        return (np.asarray(fields["conditional"]), np.asarray(fields["importance_weight"]),
                layout.coords.get("unit"), layout.coords.get("value"))
    stats = get_group(run, "sample_stats")
    missing = {"importance_weight", "conditional"} - set(stats.data_vars)
    if missing:
        raise ValueError(f"sample_stats has no {sorted(missing)}: convert a run of ebm.ImportanceTemperedGibbs")
    cond = stats["conditional"]
    unit, value = (cond.coords[d].values if d in cond.coords else None for d in cond.dims[2:4])
    return np.asarray(cond.values), np.asarray(stats["importance_weight"].values), unit, value


def weighted_marginals(run) -> xr.Dataset:
    """Rao-Blackwellised marginals :math:`\\hat\\pi(x_i = v) = \\sum_t w_t\\, \\pi(x_i = v \\mid x_{t,-i})
    / \\sum_t w_t` of every unit and value (for variable selection, ``mean.sel(value=1)`` are the
    posterior inclusion probabilities), with their MCSE and ESS (:func:`weighted_mean`), from a
    run of :class:`~ebm_numpyro.ImportanceTemperedGibbs`: the ``numpyro.infer.MCMC`` object, or
    its InferenceData (``az.from_numpyro(mcmc)`` or :func:`to_inference_data`). Dims ``unit``
    (site names with ``model=``) and ``value``."""
    cond, weights, unit, value = _fields(run)
    out = weighted_mean(cond, weights).rename({"dim_0": "unit", "dim_1": "value"})
    if unit is not None:
        out = out.assign_coords(unit=np.asarray(unit))
    if value is not None:
        out = out.assign_coords(value=np.asarray(value))
    return out
