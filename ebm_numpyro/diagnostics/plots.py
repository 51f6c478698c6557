"""Figures of a tempered lattice run: energy and heat capacity against Kaufman's exact curves,
swap acceptance along the ladder, trace and rank plots of the chains (the CD-k bias figure is
:func:`plot_cd_bias`).

Each function draws on the matplotlib Axes it is given (a new figure through pyplot only
when none is given) and returns them, so the same functions fill notebook figures and the
``ebm-numpyro`` command's PNG files.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import exact as _exact
from . import _arviz_compat as _compat

__all__ = ["plot_kaufman", "plot_swap_acceptance", "plot_trace"]


def _axes(ax, count, width):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, count, figsize=(width * count, 3.2), squeeze=False)
    return axes[0] if count > 1 else axes[0, 0]


def plot_kaufman(comparison: xr.Dataset, axes=None):
    """Sampled energy and heat capacity per spin (±2 MCSE) against the exact finite-lattice curves.

    ``comparison``: the result of :func:`compare_kaufman` (with its exact curves). ``axes``: two matplotlib Axes
    (energy, heat capacity), new ones if None. The dotted line is Onsager's
    :math:`T_c = 2J/\\log(1+\\sqrt 2)` of the infinite lattice. Returns the two Axes.
    """
    axes = _axes(axes, 2, 4.2)
    temperatures = np.asarray(comparison["temperature"], np.float64)
    grid = np.asarray(comparison["temperature_curve"], np.float64)
    label = f"Kaufman, exact {comparison.attrs['rows']}×{comparison.attrs['cols']}"
    t_c = _exact.onsager_critical_temperature(comparison.attrs["coupling"])
    panels = (("energy_per_spin", "exact_energy_curve", "energy per spin ⟨E⟩/N"),
              ("heat_capacity_per_spin", "exact_heat_capacity_curve", "heat capacity per spin C/N"))
    for ax, (name, curve, ylabel) in zip(axes, panels):
        sampled = comparison[name].sel(statistic="sampled").values
        mcse = comparison[name].sel(statistic="mcse").values
        ax.plot(grid, comparison[curve].values, "-", color="0.3", lw=1.2, label=label)
        ax.errorbar(temperatures, sampled, yerr=2 * mcse, fmt="o", ms=4, capsize=2, label="sampled ±2 MCSE")
        ax.axvline(t_c, ls=":", color="0.5", lw=1, label="$T_c$ (Onsager)")
        ax.set_xlabel("temperature T")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    return axes


def plot_swap_acceptance(tempering_result: xr.Dataset, ax=None):
    """Swap acceptance of each neighbouring pair of the ladder, against the pair's temperatures.

    ``tempering_result``: the result of :func:`tempering` (needs ``swap_accept``). Each pair
    (T_k, T_k+1) is drawn at its geometric mean temperature; thin lines are the chains, the
    thick line their mean. Returns the Axes.
    """
    if "swap_accept" not in tempering_result:
        raise ValueError("`tempering_result` has no 'swap_accept': request the extra field 'swap_accept'")
    ax = _axes(ax, 1, 4.2)
    low = np.asarray(tempering_result["temperature_low"], np.float64)
    high = np.asarray(tempering_result["temperature_high"], np.float64)
    middle = np.sqrt(low * high)
    for chain in np.asarray(tempering_result["swap_accept_chain"]):
        ax.plot(middle, chain, "-", color="C0", alpha=0.3, lw=0.8)
    ax.plot(middle, tempering_result["swap_accept"].values, "o-", color="C0", label="mean over chains")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("temperature pair (geometric mean)")
    ax.set_ylabel("swap acceptance")
    ax.set_title("Replica exchange along the ladder")
    ax.legend(fontsize=8)
    return ax


def plot_trace(idata, var_names=("physical_energy", "magnetization"), axes=None, bins=20):
    """Trace and rank plots of scalar quantities, one row per quantity (ArviZ 0.23 and 1.x alike).

    Left: each chain's draws against the draw index. Right: the rank plot of Vehtari et al.
    (2021): all draws of all chains are ranked together, and each chain's ranks are
    histogrammed in ``bins`` bins, one row per chain (equal values, common for discrete quantities such as a
    lattice's energy, are ranked in a random order with a fixed seed, so that ties do not
    favour any chain). Chains that sample the same distribution give flat histograms (each bin holds about ``draws / bins`` of a chain's ranks, the dotted line);
    a chain stuck in one part of the distribution piles its ranks at one end.

    ``idata``: InferenceData / DataTree from :func:`to_inference_data` (or a posterior
    ``xarray.Dataset`` with ``chain`` and ``draw`` dims). ``axes``: an array of matplotlib
    Axes of shape (len(var_names), 2), new ones if None. Returns the Axes.
    """
    post = _compat.get_group(idata, "posterior")
    names = [var_names] if isinstance(var_names, str) else list(var_names)
    missing = [n for n in names if n not in post.data_vars]
    if missing:
        raise ValueError(f"posterior has no variable(s) {missing}; it has {list(post.data_vars)}")
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(len(names), 2, figsize=(9.0, 2.4 * len(names)), squeeze=False,
                               gridspec_kw=dict(width_ratios=(2.2, 1.0)))
    axes = np.asarray(axes).reshape(len(names), 2)
    for (trace_ax, rank_ax), name in zip(axes, names):
        values = np.asarray(post[name].transpose("chain", "draw", ...), np.float64)
        if values.ndim != 2:
            raise ValueError(f"{name!r} is not a scalar per draw: dims {post[name].dims}")
        chains, draws = values.shape
        flat = values.ravel()
        order = np.lexsort((np.random.default_rng(0).random(flat.size), flat))  # ties in random order
        ranks = np.empty(flat.size, np.int64)
        ranks[order] = np.arange(flat.size)
        ranks = ranks.reshape(chains, draws)
        edges = np.linspace(0, chains * draws, bins + 1)
        height = 2.0 * draws / bins  # each chain's histogram on its own baseline, as ArviZ draws it
        for c in range(chains):
            trace_ax.plot(values[c], lw=0.5, alpha=0.8, color=f"C{c % 10}", label=f"chain {c}")
            counts, _ = np.histogram(ranks[c], bins=edges)
            base = c * height * 1.1
            rank_ax.bar(np.arange(bins), np.minimum(counts, height), width=1.0, bottom=base, align="edge",
                        color=f"C{c % 10}", alpha=0.8, edgecolor="white", lw=0.3)
            rank_ax.axhline(base + draws / bins, ls=":", color="0.3", lw=0.8)
        trace_ax.set_ylabel(name)
        trace_ax.set_xlabel("draw")
        rank_ax.set_xlabel(f"rank bin (of {bins})")
        rank_ax.set_yticks([c * height * 1.1 for c in range(chains)], [f"chain {c}" for c in range(chains)], fontsize=7)
        rank_ax.set_xlim(0, bins)
    axes[0, 0].set_title("trace")
    axes[0, 1].set_title("rank plot")
    if len(names) and chains <= 8:
        axes[0, 0].legend(fontsize=7, ncol=min(chains, 4), loc="best")
    return axes
