"""Mixing diagnostics: effective sample sizes, R-hat and integrated autocorrelation times."""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import _arviz_compat as compat

__all__ = ["mixing", "autocorrelation"]


def _select(post: xr.Dataset, var_names) -> list[str]:
    if var_names is None:
        scalars = [n for n, v in post.data_vars.items() if set(v.dims) == set(compat.SAMPLE_DIMS)]
        return scalars or list(post.data_vars)
    names = [var_names] if isinstance(var_names, str) else list(var_names)
    missing = [n for n in names if n not in post.data_vars]
    if missing:
        raise ValueError(f"posterior has no variable(s) {missing}; it has {list(post.data_vars)}")
    return names


def _worst(ds: xr.Dataset, how: str) -> dict[str, float]:
    """Reduce each variable over its non-sample dims to its worst element (NaN-aware)."""
    out = {}
    for name, v in ds.data_vars.items():
        arr = np.asarray(v, dtype=np.float64)
        if arr.size == 0 or np.all(np.isnan(arr)):
            out[name] = np.nan
        else:
            out[name] = float(np.nanmin(arr) if how == "min" else np.nanmax(arr))
    return out


def mixing(idata, var_names=None) -> xr.Dataset:
    """Bulk and tail ESS, R-hat and integrated autocorrelation time per posterior quantity.

    ``idata``: InferenceData / DataTree from :func:`to_inference_data` (or a posterior
    ``xarray.Dataset`` with ``chain`` and ``draw`` dims). ``var_names`` defaults to every
    scalar posterior variable (``energy`` and ``magnetization`` for the library's
    kernels), or to all variables when none is scalar. A variable with event dims (e.g.
    ``spins``) is reported by its worst element: smallest ESS, largest R-hat and τ.

    With M chains of N draws (ArviZ, Vehtari et al. 2021):

    - ``ess_bulk``: ESS of the rank-normalised split chains; ``ess_tail``: the minimum of
      the ESS of the 5% and 95% quantile indicators;
    - ``r_hat``: rank-normalised split R-hat, the maximum of bulk and folded R-hat,
      :math:`\\hat R = \\sqrt{\\widehat{\\mathrm{var}}^+ / W}` (≈ 1 when chains agree,
      ≳ 1.01 flags a problem);
    - ``tau``: integrated autocorrelation time of the raw (not rank-normalised) values,

      .. math::  \\tau = \\frac{M N}{\\mathrm{ESS}_\\text{mean}}
                 = 1 + 2\\sum_{t=1}^{K}\\hat\\rho_t ,

      where :math:`\\hat\\rho_t` is the autocorrelation combined across split chains and
      K is Geyer's initial-monotone-sequence cutoff; τ is measured in draws (sweeps
      times ``thinning``). For an AR(1) chain with coefficient φ, τ = (1+φ)/(1-φ).

    Returns an ``xarray.Dataset`` with dimension ``quantity`` (the variable names) and
    variables ``ess_bulk``, ``ess_tail``, ``r_hat``, ``tau``; ``.to_dataframe()`` gives a table.
    Quantities that never change (a frozen chain) have NaN diagnostics.
    """
    post = compat.get_group(idata, "posterior")
    names = _select(post, var_names)
    ds = post[names]
    n_samples = ds.sizes["chain"] * ds.sizes["draw"]
    ess_bulk = _worst(compat.ess(ds, "bulk"), "min")
    ess_tail = _worst(compat.ess(ds, "tail"), "min")
    ess_mean = _worst(compat.ess(ds, "mean"), "min")
    r_hat = _worst(compat.rhat(ds), "max")

    def column(values):
        return ("quantity", np.array([values[n] for n in names], dtype=np.float64))

    result = xr.Dataset(
        {
            "ess_bulk": column(ess_bulk),
            "ess_tail": column(ess_tail),
            "r_hat": column(r_hat),
            "tau": column({n: n_samples / ess_mean[n] for n in names}),
        },
        coords={"quantity": np.array(names, dtype=object)},
    )
    result.attrs.update(num_chains=ds.sizes["chain"], num_draws=ds.sizes["draw"])
    return result


def autocorrelation(idata, var_names=None, max_lag: int | None = None) -> xr.Dataset:
    """Autocorrelation :math:`\\hat\\rho_t` per chain for lags t = 0..max_lag (FFT estimate).

    .. math::  \\hat\\rho_t = \\frac{\\sum_{i=1}^{N-t}(x_i-\\bar x)(x_{i+t}-\\bar x)}
                                  {\\sum_{i=1}^{N}(x_i-\\bar x)^2}

    Only scalar posterior variables (default: all of them). Returns a Dataset with dims
    ``(chain, lag)``; ``max_lag`` defaults to ``min(N - 1, 1000)``.
    """
    post = compat.get_group(idata, "posterior")
    names = _select(post, var_names)
    n_draws = post.sizes["draw"]
    max_lag = min(n_draws - 1, 1000) if max_lag is None else min(int(max_lag), n_draws - 1)
    out = {}
    for name in names:
        v = post[name]
        if set(v.dims) != set(compat.SAMPLE_DIMS):
            raise ValueError(f"autocorrelation needs scalar variables; {name!r} has dims {v.dims}")
        rho = compat.autocorr(v.transpose("chain", "draw").values, axis=1)
        out[name] = (("chain", "lag"), rho[:, : max_lag + 1])
    return xr.Dataset(out, coords={"chain": post["chain"].values, "lag": np.arange(max_lag + 1)})
