"""Reports of the exact CD-k bias computed by :func:`ebm_numpyro.learning.cd_bias`."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["cd_bias_report", "plot_cd_bias"]


def cd_bias_report(ds: xr.Dataset):
    """Table (pandas DataFrame indexed by k) of ``bias_norm``, ``relative_bias`` and ``cosine``."""
    return ds[["bias_norm", "relative_bias", "cosine"]].to_dataframe()


def plot_cd_bias(ds: xr.Dataset, ax=None):
    """Plot relative bias and 1 - cosine against k on log axes; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2))
    k = ds["k"].values
    ax.plot(k, ds["relative_bias"].values, "o-", label="relative bias ‖E[g_CD]−g‖/‖g‖")
    ax.plot(k, np.maximum(1.0 - ds["cosine"].values, 1e-16), "s--", label="1 − cosine(E[g_CD], g)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("CD steps k")
    ax.set_title("Exact CD-k bias")
    ax.legend(fontsize=8)
    return ax
