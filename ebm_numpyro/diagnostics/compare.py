"""Sampled moments against exact enumeration, with z-scores from the Monte Carlo standard error."""

from __future__ import annotations

import statistics

import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import exact as _exact
from .._checks import check_int, check_temperature
from ..models import DiscreteModel
from . import _arviz_compat as compat
from .convert import state_name

__all__ = ["compare_exact", "compare_kaufman", "max_abs_z", "z_threshold", "STATISTICS"]

#: Values of the ``statistic`` coordinate of :func:`compare_exact`'s result.
STATISTICS = ("sampled", "exact", "mcse", "ess", "z")
#: Largest number of correlation entries compared by default (e.g. N = 256 units: 32,896 pairs).
MAX_CORRELATIONS = 2**16
#: Temperatures of the exact curves that :func:`compare_kaufman` adds for plotting.
CURVE_POINTS = 200
_CHUNK_ELEMENTS = 2**24  # products materialised at once (128 MiB in float64)


def _moment_stats(values: np.ndarray):
    """Mean, MCSE and ESS over (chain, draw) of ``values`` (chain, draw, k)."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=(0, 1))
    sd = values.reshape(-1, values.shape[-1]).std(axis=0, ddof=1)
    ess = compat.ess(xr.Dataset({"v": (("chain", "draw", "k"), values)}), "mean")["v"].values
    constant = sd == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mcse = np.where(constant, 0.0, sd / np.sqrt(ess))
    return mean, mcse, ess


def _table(mean, mcse, ess, exact):
    """Stack (sampled, exact, mcse, ess, z) along a leading axis."""
    exact = np.asarray(exact, dtype=np.float64).reshape(mean.shape)
    diff = mean - exact
    tol = 1e-4 * (1.0 + np.abs(exact))  # float32 exact values; only for zero-variance entries
    with np.errstate(invalid="ignore", divide="ignore"):
        exact_match = np.where(np.abs(diff) <= tol, 0.0, np.copysign(np.inf, diff))
        z = np.where(mcse > 0, diff / mcse, exact_match)
    return np.stack([mean, exact, mcse, ess, z])


def _products(x: np.ndarray, model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, MCSE and ESS of the products ``left_i * right_j`` of ``model.correlation_factors(x)``
    (x_i x_j, or v_i h_j for an RBM), chunked over rows i.

    Only the row chunk ``i0:i1`` times the columns is materialised (chain × draw × rows ×
    columns values, at most ~2^24 at once); for the symmetric x_i x_j only columns
    ``j >= i0`` are computed and mirrored.
    """
    n_chains, n_draws, _ = x.shape
    left, right = model.correlation_factors(x)
    symmetric = model.correlation_dims is None
    n_rows, n_cols = left.shape[-1], right.shape[-1]
    out = np.zeros((3, n_rows, n_cols))
    rows = max(1, _CHUNK_ELEMENTS // (n_chains * n_draws * n_cols))
    for i0 in range(0, n_rows, rows):  # chunks of rows, vectorised inside
        i1 = min(i0 + rows, n_rows)
        j0 = i0 if symmetric else 0
        prod = left[..., i0:i1, None] * right[..., None, j0:]
        k = prod.shape[-2:]
        stats = np.stack(_moment_stats(prod.reshape(n_chains, n_draws, -1))).reshape(3, *k)
        out[:, i0:i1, j0:] = stats
        if symmetric:
            out[:, j0:, i0:i1] = np.swapaxes(stats, 1, 2)
    return out[0], out[1], out[2]


def compare_exact(
    idata,
    model,
    temperature=None,
    *,
    correlations: bool = True,
    max_correlations: int = MAX_CORRELATIONS,
) -> xr.Dataset:
    """Sampled moments against exact enumeration, with z-scores from the MCSE.

    For each quantity f (``physical_energy`` E, ``magnetization`` m = mean unit value, ``mean``
    ⟨x_i⟩ and ``correlation`` ⟨x_i x_j⟩, for an RBM ⟨v_i h_j⟩) over M chains of N draws:

    .. math::
        \\bar f = \\frac{1}{MN}\\sum_{m,n} f_{mn},\\qquad
        \\mathrm{MCSE} = \\frac{\\mathrm{sd}(f)}{\\sqrt{\\mathrm{ESS}_\\text{mean}(f)}},\\qquad
        z = \\frac{\\bar f - f_\\text{exact}}{\\mathrm{MCSE}}

    with ArviZ's mean ESS across chains (split chains, Geyer truncation) and the exact
    value from :func:`ebm_numpyro.exact.moments`. A quantity that never varied (e.g.
    ⟨s_i s_i⟩ = 1) has MCSE 0 and z = 0 if it equals the exact value (to 1e-4 relative),
    otherwise ±inf. Under a correct sampler z is approximately standard normal, so
    ``max_abs_z(result) < z_threshold(result)`` is a test with family-wise error ≈ α.
    The MCSE assumes the chains have mixed: check :func:`mixing` first (a chain stuck in
    one mode has a small MCSE and a wrong mean).

    ``idata``: from :func:`to_inference_data`; the posterior needs the states (``spins``
    or ``units``) for mean and correlation, ``physical_energy`` / ``magnetization`` are taken from
    the posterior or computed from the states. ``temperature`` defaults to the
    posterior's ``temperature`` attribute (the target temperature of the run).

    Memory: the products x_i x_j are formed in chunks of rows (never more than about 2^24
    values); each of the N(N+1)/2 entries (nv·nh for an RBM) needs one ESS, which costs
    about 1 ms per 4,000 draws (N = 64: 2,080 entries, a few seconds). More than ``max_correlations``
    entries is a ``ValueError``; ``correlations=False`` compares only energy,
    magnetization and means.

    Returns an ``xarray.Dataset`` with a leading dimension ``statistic`` =
    ("sampled", "exact", "mcse", "ess", "z"): variables ``physical_energy`` and ``magnetization``
    (scalars per statistic), ``mean`` (the model's event dims) and ``correlation``
    (``{dim}_i``, ``{dim}_j`` over the flattened units, or ``visible``, ``hidden`` for an
    RBM). ``result.sel(statistic="z")`` holds all z-scores.
    """
    if not isinstance(model, DiscreteModel):
        raise TypeError(
            f"compare_exact needs an enumerable discrete model; got {type(model).__name__}"
        )
    post = compat.get_group(idata, "posterior")
    if temperature is None:
        if "temperature" not in post.attrs:
            raise ValueError("pass `temperature`: the posterior has no 'temperature' attribute")
        temperature = post.attrs["temperature"]
    check_temperature(temperature)
    n_units = model.num_units
    if model.correlation_dims is None:
        n_corr = n_units * (n_units + 1) // 2
    else:
        n_corr = int(np.prod([f.shape[-1] for f in model.correlation_factors(np.zeros((1, n_units)))]))
    name = state_name(model)
    has_states = name in post.data_vars
    if correlations and has_states and n_corr > max_correlations:
        raise ValueError(
            f"comparing correlations of {n_units} units needs {n_corr} ESS evaluations "
            f"(more than max_correlations={max_correlations}); pass correlations=False to "
            "compare only energy, magnetization and means, or raise max_correlations"
        )
    if not has_states and not {"physical_energy", "magnetization"} & set(post.data_vars):
        raise ValueError(
            f"the posterior has neither the states {name!r} nor 'physical_energy'/'magnetization' "
            "(the samples of ebm.TemperedGibbs)"
        )
    moments = _exact.moments(model, temperature)
    dims = tuple(model.event_dims)

    x = None
    if has_states:
        x = np.asarray(post[name].transpose("chain", "draw", *dims))
        x = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float32)

    out: dict = {}
    scalar = {}
    if "physical_energy" in post.data_vars:
        scalar["physical_energy"] = np.asarray(post["physical_energy"].transpose("chain", "draw"))
    elif x is not None:
        states = jnp.asarray(x.reshape(x.shape[:2] + tuple(model.event_shape)))
        scalar["physical_energy"] = np.asarray(model.energy(states))
    if "magnetization" in post.data_vars:
        scalar["magnetization"] = np.asarray(post["magnetization"].transpose("chain", "draw"))
    elif x is not None:
        scalar["magnetization"] = x.mean(axis=-1)
    exact_scalar = {
        "physical_energy": float(moments.mean_energy),
        "magnetization": float(jnp.mean(moments.mean)),
    }
    for key, values in scalar.items():
        table = _table(*_moment_stats(values[..., None]), exact_scalar[key])
        out[key] = ("statistic", table[:, 0])

    coords: dict = {"statistic": list(STATISTICS)}
    if x is not None:
        table = _table(*_moment_stats(x), np.asarray(moments.mean).reshape(-1))
        out["mean"] = (("statistic", *dims), table.reshape(len(STATISTICS), *model.event_shape))
        coords.update({d: np.arange(n) for d, n in zip(dims, model.event_shape)})
        if correlations:
            table = _table(*_products(x, model), np.asarray(moments.correlation))
            cdims = model.correlation_dims
            if cdims is None:
                base = dims[0] if len(dims) == 1 else "site"
                cdims = (f"{base}_i", f"{base}_j")
            out["correlation"] = (("statistic", *cdims), table)
            coords.update({d: np.arange(n) for d, n in zip(cdims, table.shape[1:])})
    result = xr.Dataset(out, coords=coords)
    result.attrs.update(temperature=float(temperature), model=type(model).__name__)
    return result


def _ladder_energies(idata) -> tuple[np.ndarray, np.ndarray]:
    """Physical energies ``(chain, draw, temperature)`` and the temperatures of a run: every
    ladder slot from ``sample_stats.energies``, else the target from ``posterior.physical_energy``."""
    stats = compat.get_group(idata, "sample_stats", required=False)
    if stats is not None and "energies" in stats:
        energies = stats["energies"].transpose("chain", "draw", "temperature")
        return np.asarray(energies, np.float64), np.asarray(energies["temperature"], np.float64)
    post = compat.get_group(idata, "posterior")
    if "physical_energy" not in post or "temperature" not in post.attrs:
        raise ValueError(
            "compare_kaufman needs the energies of a TemperedGibbs run: the extra field 'energies' "
            '(mcmc.run(..., extra_fields=("energies",))) or the posterior\'s physical_energy'
        )
    energy = np.asarray(post["physical_energy"].transpose("chain", "draw"), np.float64)
    return energy[..., None], np.asarray([post.attrs["temperature"]], np.float64)


def compare_kaufman(idata, rows: int, cols: int | None = None, coupling: float = 1.0) -> xr.Dataset:
    """Energy and heat capacity per spin at every ladder temperature against Kaufman's exact
    finite-lattice values, with z-scores from the MCSE.

    For a run of :class:`~ebm_numpyro.TemperedGibbs` on ``ebm.Ising.square_lattice(rows, cols,
    coupling)`` (no field), with the physical energies :math:`E_k` of every ladder slot k
    (extra field ``energies``; without it, only the target's ``physical_energy``), N =
    ``rows * cols`` spins and M chains of D draws:

    .. math::
        u_k = \\frac{\\overline{E_k}}{N},\\qquad
        c_k = \\frac{\\overline{(E_k - \\overline{E_k})^2}}{N T_k^2},\\qquad
        z = \\frac{\\text{sampled} - \\text{exact}}{\\mathrm{MCSE}},

    with the MCSE of each mean as in :func:`compare_exact` (sd / sqrt(ESS_mean)); for
    :math:`c_k` the MCSE is that of the mean squared deviation (the error of
    :math:`\\overline{E_k}` itself is of lower order). The exact values are
    :func:`ebm_numpyro.exact.kaufman_mean_energy` and :func:`~ebm_numpyro.exact.kaufman_heat_capacity`
    (any lattice size, no enumeration), so this is the check of large lattices that
    :func:`compare_exact` cannot enumerate. The MCSE assumes mixed chains: read
    :func:`mixing` and :func:`tempering` first.

    Returns an ``xarray.Dataset`` with dims ``statistic`` = ("sampled", "exact", "mcse",
    "ess", "z") and ``temperature`` (the ladder), variables ``energy_per_spin`` and
    ``heat_capacity_per_spin``, and attrs ``rows``, ``cols``, ``coupling``;
    :func:`max_abs_z` and :func:`z_threshold` apply to it. The exact curves on a grid of
    ``CURVE_POINTS`` temperatures spanning the ladder (for :func:`plot_kaufman`) are the
    coordinates ``exact_energy_curve`` and ``exact_heat_capacity_curve`` along
    ``temperature_curve``, computed in the same call as the exact values (Kaufman's
    derivatives compile once per array length).
    """
    rows = check_int(rows, "rows", 2)
    cols = rows if cols is None else check_int(cols, "cols", 2)
    n = rows * cols
    energies, temperatures = _ladder_energies(idata)
    curve = np.linspace(0.95 * temperatures.min(), 1.05 * temperatures.max(), CURVE_POINTS)
    both = np.concatenate([temperatures, curve])  # one evaluation, one compilation
    exact_energy = np.asarray(_exact.kaufman_mean_energy(rows, cols, both, coupling, per_spin=True), np.float64)
    exact_heat = np.asarray(_exact.kaufman_heat_capacity(rows, cols, both, coupling, per_spin=True), np.float64)
    k = temperatures.size
    deviation2 = (energies - energies.mean(axis=(0, 1))) ** 2
    scale = 1.0 / (n * temperatures**2)
    energy_mean, energy_mcse, energy_ess = _moment_stats(energies / n)
    var_mean, var_mcse, var_ess = _moment_stats(deviation2)
    dims = ("statistic", "temperature")
    out = {
        "energy_per_spin": (dims, _table(energy_mean, energy_mcse, energy_ess, exact_energy[:k])),
        "heat_capacity_per_spin": (dims, _table(var_mean * scale, var_mcse * scale, var_ess, exact_heat[:k])),
    }
    coords = {
        "statistic": list(STATISTICS),
        "temperature": temperatures,
        "temperature_curve": curve,
        "exact_energy_curve": ("temperature_curve", exact_energy[k:]),
        "exact_heat_capacity_curve": ("temperature_curve", exact_heat[k:]),
    }
    result = xr.Dataset(out, coords=coords)
    result.attrs.update(rows=rows, cols=cols, coupling=float(coupling))
    return result


def _names(ds: xr.Dataset, var_names) -> list[str]:
    if var_names is None:
        return list(ds.data_vars)
    return [var_names] if isinstance(var_names, str) else list(var_names)


def max_abs_z(comparison: xr.Dataset, var_names=None) -> float:
    """Largest |z| over the quantities of :func:`compare_exact` (NaN ignored, inf kept)."""
    z = comparison.sel(statistic="z")
    values = np.concatenate([np.abs(np.asarray(z[n], dtype=float)).ravel() for n in _names(z, var_names)])
    values = values[~np.isnan(values)]
    return float(values.max()) if values.size else float("nan")


def z_threshold(comparison: xr.Dataset, alpha: float = 0.01, var_names=None) -> float:
    """Bonferroni threshold for :func:`max_abs_z`: :math:`\\Phi^{-1}(1 - \\alpha / (2K))`.

    K counts the compared entries with a positive MCSE (zero-variance entries are
    checked exactly); symmetric correlation entries are counted once. If the sampler is
    correct, P(max |z| > threshold) ≤ α approximately.
    """
    sub = comparison.sel(statistic="mcse")
    k = 0
    for n in _names(sub, var_names):
        mcse = np.asarray(sub[n])
        if n == "correlation" and mcse.ndim == 2 and sub[n].dims[0].endswith("_i"):
            mcse = mcse[np.triu_indices(mcse.shape[0])]
        k += int(np.sum(mcse > 0))
    return statistics.NormalDist().inv_cdf(1.0 - alpha / (2 * max(k, 1)))
