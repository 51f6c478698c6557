"""Diagnostics on synthetic data with known answers, on ArviZ 0.23 and 1.x alike.

- AR(1) chains: τ = (1+φ)/(1-φ), ESS = MN/τ, ρ_1 = φ;
- R-hat ≈ 1 for iid chains, ≫ 1 for chains with different means;
- round trips counted on hand-made replica trajectories;
- compare_exact on iid draws from the exact Boltzmann distribution (enumeration +
  ``jax.random.categorical``): z-scores within a Bonferroni bound; a wrong model fails;
- group names, dims, coordinates and attributes of the converted run.
"""

from types import SimpleNamespace

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from helpers import random_couplings

import ebm_numpyro as ebm
from ebm_numpyro import diagnostics as dg
from ebm_numpyro.diagnostics import _arviz_compat as compat
from ebm_numpyro.diagnostics.compare import CURVE_POINTS
from ebm_numpyro.kernels._base import state_name

pytestmark = pytest.mark.arviz  # every test here reads ArviZ's containers


# --- helpers ---------------------------------------------------------------------------
def fake_mcmc(samples, extra, sampler=None):
    """Stand-in for a finished numpyro.infer.MCMC (only what to_inference_data reads)."""
    return SimpleNamespace(
        sampler=sampler,
        get_samples=lambda group_by_chain=False: samples,
        get_extra_fields=lambda group_by_chain=False: extra,
    )


def gibbs(model, temperatures, store_states=True):
    return ebm.TemperedGibbs(potential_fn=ebm.potential(model), temperatures=temperatures,
                             store_states=store_states)


def observables(model, x):
    """The samples TemperedGibbs returns for states x: observables and the states."""
    energy = np.asarray(model.energy(jnp.asarray(x)))
    magnetization = x.reshape(x.shape[:2] + (-1,)).mean(-1)
    return {"physical_energy": energy, "magnetization": magnetization, state_name(model): x}


def exact_draws(model, temperature, key, chains, draws):
    """iid states from p(x) ∝ exp(-E(x)/T), by enumeration; shape (chains, draws) + event."""
    states = ebm.exact.enumerate_states(model)
    logits = -model.energy(states) / temperature
    index = jax.random.categorical(key, logits, shape=(chains, draws))
    return np.asarray(states)[np.asarray(index)]


def idata_from_states(model, x, temperature, **extra):
    layout = gibbs(model, [temperature]).output_layout()
    return dg.from_samples(observables(model, x), extra, layout=layout)


def ar1(rng, phi, chains, draws, offsets=None):
    """AR(1) chains x_t = φ x_{t-1} + sqrt(1-φ²) ε_t (unit stationary variance)."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    noise = rng.normal(size=(chains, draws)) * np.sqrt(1 - phi**2)
    for t in range(1, draws):  # a loop over draws, vectorised over chains
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    if offsets is not None:
        x = x + np.asarray(offsets)[:, None]
    return x


def positions_to_replica_index(positions):
    """positions[c, t, r] = slot of replica r  ->  replica_index[c, t, k] = replica at slot k."""
    return np.argsort(np.asarray(positions), axis=-1)


@pytest.fixture(scope="module")
def frustrated():
    rng = np.random.default_rng(7)
    n = 6
    return ebm.Ising(random_couplings(rng, n, pm_one=True), 0.3 * rng.normal(size=n))


@pytest.fixture(scope="module")
def ladder_idata(frustrated):
    rng = np.random.default_rng(3)
    chains, draws, n_t = 2, 50, 4
    x = exact_draws(frustrated, 1.5, jax.random.PRNGKey(0), chains, draws)
    rep = np.stack([rng.permutation(n_t) for _ in range(chains * draws)]).reshape(chains, draws, n_t)
    acc = rng.uniform(size=(chains, draws, n_t - 1))
    samples = observables(frustrated, x)
    extra = {
        "potential_energy": samples["physical_energy"] / 1.5,
        "swap_accept": acc,
        "replica_index": rep,
    }
    mcmc = fake_mcmc(samples, extra, gibbs(frustrated, np.array([1.5, 2.0, 3.0, 4.5])))
    return dg.to_inference_data(mcmc), extra


# --- conversion: groups, dims, coordinates -----------------------------------------------
def test_container_type_matches_arviz_version(ladder_idata):
    idata, _ = ladder_idata
    if compat.ARVIZ_MAJOR >= 1:
        assert isinstance(idata, xr.DataTree)
    else:
        assert isinstance(idata, az.InferenceData)
    assert set(compat.group_names(idata)) == {"posterior", "sample_stats"}


def test_posterior_and_sample_stats_layout(ladder_idata):
    idata, extra = ladder_idata
    post = dg.get_group(idata, "posterior")
    stats = dg.get_group(idata, "sample_stats")
    assert post["spins"].dims == ("chain", "draw", "spin")
    assert post["spins"].dtype == np.int8
    assert post["physical_energy"].dims == ("chain", "draw") == post["magnetization"].dims
    assert post.attrs["temperature"] == 1.5
    np.testing.assert_array_equal(post["chain"], [0, 1])
    np.testing.assert_array_equal(post["spin"], np.arange(6))
    assert stats["swap_accept"].dims == ("chain", "draw", "pair")
    assert stats["replica_index"].dims == ("chain", "draw", "temperature")
    np.testing.assert_allclose(stats["temperature"], [1.5, 2.0, 3.0, 4.5])
    np.testing.assert_array_equal(stats["pair"], [0, 1, 2])
    np.testing.assert_allclose(stats["temperature_low"], [1.5, 2.0, 3.0])
    np.testing.assert_allclose(stats["temperature_high"], [2.0, 3.0, 4.5])
    np.testing.assert_array_equal(stats["replica_index"], extra["replica_index"])
    # NumPyro's potential_energy becomes ArviZ's lp; nothing is called "energy" (HMC's)
    np.testing.assert_allclose(stats["lp"], -post["physical_energy"] / 1.5, rtol=1e-6)
    assert "energy" not in stats and "potential_energy" not in stats


def test_arviz_itself_reads_the_result(ladder_idata):
    idata, _ = ladder_idata
    summary = az.summary(idata, var_names=["physical_energy", "magnetization"])
    assert len(summary) == 2


def test_lattice_bm_and_rbm_dims():
    lattice = ebm.Ising.square_lattice(3, 4)
    x = np.ones((2, 5, 3, 4), np.int8)
    post = dg.get_group(dg.from_samples({"spins": x}, layout=gibbs(lattice, [1.0]).output_layout()), "posterior")
    assert post["spins"].dims == ("chain", "draw", "row", "col")
    assert (post.sizes["row"], post.sizes["col"]) == (3, 4)

    rng = np.random.default_rng(0)
    bm = ebm.BoltzmannMachine(random_couplings(rng, 3), np.zeros(3))
    layout = gibbs(bm, [1.0]).output_layout()
    post = dg.get_group(dg.from_samples({"units": np.zeros((1, 4, 3), np.int8)}, layout=layout), "posterior")
    assert post["units"].dims == ("chain", "draw", "unit")
    # user dims and coords override the kernel's (as in az.from_numpyro)
    post = dg.get_group(dg.from_samples({"units": np.zeros((1, 4, 3), np.int8)}, layout=layout,
                                        dims={"units": ["neuron"]}, coords={"neuron": ["a", "b", "c"]}), "posterior")
    assert post["units"].dims == ("chain", "draw", "neuron") and list(post["neuron"].values) == ["a", "b", "c"]


def test_store_states_false_keeps_only_scalars(frustrated):
    samples = {"physical_energy": np.zeros((2, 7)), "magnetization": np.zeros((2, 7))}
    mcmc = fake_mcmc(samples, {}, gibbs(frustrated, [1.0], store_states=False))
    post = dg.get_group(dg.to_inference_data(mcmc), "posterior")
    assert set(post.data_vars) == {"physical_energy", "magnetization"}


def test_generic_numpyro_run_without_energy_model():
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import NUTS

    def model():
        numpyro.sample("mu", dist.Normal(0, 1))
        numpyro.sample("theta", dist.Normal(0, 1).expand([3]))

    # what MCMC(NUTS(model)).get_samples / get_extra_fields(group_by_chain=True) return
    # (a stand-in: compiling NUTS takes longer than this whole file should)
    rng = np.random.default_rng(0)
    samples = {"mu": rng.normal(size=(2, 30)), "theta": rng.normal(size=(2, 30, 3))}
    extra = {"energy": rng.normal(size=(2, 30)), "diverging": np.zeros((2, 30), bool)}
    mcmc = fake_mcmc(samples, extra, NUTS(model))  # not one of the library's kernels
    idata = dg.to_inference_data(mcmc)
    post = dg.get_group(idata, "posterior")
    stats = dg.get_group(idata, "sample_stats")
    assert post["mu"].dims == ("chain", "draw")
    assert post["theta"].dims == ("chain", "draw", "theta_dim_0")
    assert set(stats.data_vars) == {"energy", "diverging"}  # NUTS energy stays a sample stat
    assert "energy" not in post

    # a potential_fn run returns a bare array: it becomes "x"
    arr = rng.normal(size=(2, 30, 2))
    post = dg.get_group(dg.to_inference_data(fake_mcmc(arr, {})), "posterior")
    assert post["x"].dims == ("chain", "draw", "x_dim_0")



def test_conversion_errors(frustrated):
    layout = gibbs(frustrated, [1.0, 2.0]).output_layout()
    with pytest.raises(ValueError, match="spins.*dims"):
        dg.from_samples({"spins": np.zeros((2, 5, 4, 2), np.int8)}, layout=layout)
    with pytest.raises(ValueError, match="replica_index"):
        dg.from_samples({"spins": np.zeros((2, 5, 6), np.int8)}, {"replica_index": np.zeros((2, 5))}, layout=layout)
    with pytest.raises(ValueError, match="chain, draw"):
        dg.from_samples({"spins": np.zeros((2, 5, 6), np.int8)}, {"lp": np.zeros((2, 4))}, layout=layout)


# --- mixing ------------------------------------------------------------------------------
def test_ar1_autocorrelation_time_matches_theory():
    phi = 0.8  # tau = (1 + phi) / (1 - phi) = 9
    x = ar1(np.random.default_rng(0), phi, chains=4, draws=20_000)
    ds = xr.Dataset({"q": (("chain", "draw"), x)})
    result = dg.mixing(ds)
    tau = float(result["tau"].sel(quantity="q"))
    # estimator sd ≈ τ·sqrt(2(2K+1)/(MN)) with window K ≲ 5τ: about 3%; allow 12%
    assert tau == pytest.approx((1 + phi) / (1 - phi), rel=0.12)
    assert float(result["ess_bulk"].sel(quantity="q")) == pytest.approx(80_000 / 9, rel=0.12)
    assert float(result["r_hat"].sel(quantity="q")) < 1.01
    rho = dg.autocorrelation(ds, max_lag=3)["q"]
    assert rho.dims == ("chain", "lag")
    np.testing.assert_allclose(rho.isel(lag=0), 1.0)
    np.testing.assert_allclose(rho.isel(lag=1), phi, atol=0.02)
    np.testing.assert_allclose(rho.isel(lag=2), phi**2, atol=0.03)


def test_rhat_flags_chains_with_different_means():
    rng = np.random.default_rng(1)
    ds = xr.Dataset({
        "iid": (("chain", "draw"), rng.normal(size=(4, 1000))),
        "split": (("chain", "draw"), ar1(rng, 0.5, 4, 1000, offsets=[0, 0, 3, 3])),
    })
    result = dg.mixing(ds)
    assert abs(float(result["r_hat"].sel(quantity="iid")) - 1) < 0.01
    assert float(result["r_hat"].sel(quantity="split")) > 1.5
    assert float(result["tau"].sel(quantity="iid")) == pytest.approx(1.0, abs=0.1)


def test_mixing_defaults_and_array_variables(ladder_idata):
    idata, _ = ladder_idata
    default = dg.mixing(idata)
    assert list(default["quantity"].values) == ["physical_energy", "magnetization"]
    assert set(default.data_vars) == {"ess_bulk", "ess_tail", "r_hat", "tau"}
    table = dg.mixing(idata, var_names=["spins"]).to_dataframe()
    assert list(table.index) == ["spins"] and np.isfinite(table.values).all()
    with pytest.raises(ValueError, match="no variable"):
        dg.mixing(idata, var_names="nope")


# --- tempering ---------------------------------------------------------------------------
def test_round_trips_two_temperatures():
    # replica 0 at slots 0,1,0,1,0 -> B T B T B = 2 round trips;
    # replica 1 at slots 1,0,1,0,1 -> T B T B T: starts at the top, 1 round trip.
    rep = np.array([[[0, 1], [1, 0], [0, 1], [1, 0], [0, 1]]])
    np.testing.assert_array_equal(dg.round_trips(rep), [3])


def test_round_trips_three_temperatures_with_middle():
    # slots of replicas (0, 1, 2) over 9 sweeps of one chain (B = slot 0, T = slot 2):
    # replica 0: 0 1 2 2 1 0 0 1 2 -> B T B T     : 1 round trip
    # replica 1: 1 0 0 1 2 2 1 0 0 -> (mid) B T B : 1 round trip
    # replica 2: 2 2 1 0 0 1 2 2 1 -> T B T       : 0 (its T -> B is half a trip)
    positions = np.array([[
        [0, 1, 2], [1, 0, 2], [2, 0, 1], [2, 1, 0], [1, 2, 0],
        [0, 2, 1], [0, 1, 2], [1, 0, 2], [2, 0, 1],
    ]])
    np.testing.assert_array_equal(dg.round_trips(positions_to_replica_index(positions)), [2])
    # time reversed: replica 0 T B T B -> 1, replica 1 B T B -> 1, replica 2 T B T -> 0
    both = np.concatenate([positions, positions[:, ::-1]], axis=0)
    np.testing.assert_array_equal(dg.round_trips(positions_to_replica_index(both)), [2, 2])
    # nobody moves: no trips
    frozen = np.broadcast_to(np.arange(3), (2, 9, 3))
    np.testing.assert_array_equal(dg.round_trips(frozen), [0, 0])


def test_tempering_summary(ladder_idata):
    idata, extra = ladder_idata
    result = dg.tempering(idata)
    np.testing.assert_allclose(result["swap_accept"], extra["swap_accept"].mean(axis=(0, 1)))
    np.testing.assert_allclose(result["swap_accept_chain"], extra["swap_accept"].mean(axis=1))
    np.testing.assert_allclose(result["temperature_low"], [1.5, 2.0, 3.0])
    trips = dg.round_trips(extra["replica_index"])
    np.testing.assert_array_equal(result["round_trips"], trips)
    assert int(result["round_trips_total"]) == trips.sum()
    assert float(result["round_trip_rate"]) == pytest.approx(trips.sum() / 100)
    f = result["up_fraction"].values
    assert f[0] == 1.0 and f[-1] == 0.0 and np.all((f >= 0) & (f <= 1))


def test_tempering_errors(frustrated):
    x = np.ones((1, 5, 6), np.int8)
    layout = gibbs(frustrated, [1.0]).output_layout()
    plain = dg.from_samples({"spins": x}, {"potential_energy": np.zeros((1, 5))}, layout=layout)
    with pytest.raises(ValueError, match=r"extra_fields=\(\"swap_accept\", \"replica_index\"\)"):
        dg.tempering(plain)
    with pytest.raises(ValueError, match="no ladder"):
        dg.tempering(dg.from_samples({"spins": x}, {"swap_accept": np.zeros((1, 5, 0))}, layout=layout))
    with pytest.raises(ValueError, match="permutation"):
        dg.round_trips(np.zeros((1, 5, 3), int))


# --- compare_exact -----------------------------------------------------------------------
def test_compare_exact_on_exact_draws(frustrated):
    x = exact_draws(frustrated, 1.5, jax.random.PRNGKey(1), chains=4, draws=1000)
    result = dg.compare_exact(idata_from_states(frustrated, x, 1.5), frustrated)
    assert list(result["statistic"].values) == list(dg.compare.STATISTICS)
    assert result["mean"].dims == ("statistic", "spin")
    assert result["correlation"].dims == ("statistic", "spin_i", "spin_j")
    z = result.sel(statistic="z")
    np.testing.assert_array_equal(np.diag(z["correlation"]), 0.0)  # s_i² = 1 exactly
    corr = result["correlation"].sel(statistic="sampled").values
    np.testing.assert_allclose(corr, corr.T)
    assert dg.max_abs_z(result) < dg.z_threshold(result, alpha=1e-3)
    # MCSE of iid draws ≈ sd / sqrt(MN)
    ess = float(result["physical_energy"].sel(statistic="ess"))
    assert 0.8 * 4000 < ess < 1.2 * 4000


def test_compare_exact_detects_a_wrong_model(frustrated):
    x = exact_draws(frustrated, 1.5, jax.random.PRNGKey(1), chains=4, draws=1000)
    idata = idata_from_states(frustrated, x, 1.5)
    assert dg.max_abs_z(dg.compare_exact(idata, frustrated, 3.0)) > 10  # wrong temperature
    flipped = ebm.Ising(frustrated.couplings, -frustrated.fields)
    assert dg.max_abs_z(dg.compare_exact(idata, flipped, correlations=False)) > 10


@pytest.mark.slow
def test_compare_exact_rbm_and_lattice():
    rng = np.random.default_rng(5)
    key = jax.random.PRNGKey(2)
    rbm = ebm.RBM(rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3))
    lattice = ebm.Ising.square_lattice(3, 3, field=0.2)
    for model, cdims in [(rbm, ("visible", "hidden")), (lattice, ("site_i", "site_j"))]:
        x = exact_draws(model, 2.0, key, chains=2, draws=1500)
        result = dg.compare_exact(idata_from_states(model, x, 2.0), model)
        assert result["correlation"].dims == ("statistic", *cdims)
        assert result["mean"].dims == ("statistic", *model.event_dims)
        assert dg.max_abs_z(result) < dg.z_threshold(result, alpha=1e-3), type(model).__name__


def test_compare_exact_scalars_only_and_errors(frustrated):
    x = exact_draws(frustrated, 1.5, jax.random.PRNGKey(4), chains=2, draws=500)
    full = idata_from_states(frustrated, x, 1.5)
    post = dg.get_group(full, "posterior")
    samples = {"physical_energy": post["physical_energy"].values, "magnetization": post["magnetization"].values}
    scalars = dg.from_samples(samples, layout=gibbs(frustrated, [1.5], store_states=False).output_layout())
    result = dg.compare_exact(scalars, frustrated)
    assert set(result.data_vars) == {"physical_energy", "magnetization"}
    assert dg.max_abs_z(result) < dg.z_threshold(result, alpha=1e-3)
    with pytest.raises(ValueError, match="max_correlations"):
        dg.compare_exact(full, frustrated, max_correlations=10)
    with pytest.raises(TypeError, match="discrete"):
        dg.compare_exact(full, ebm.DoubleWell())
    no_temperature = dg.from_samples({"spins": x})
    with pytest.raises(ValueError, match="temperature"):
        dg.compare_exact(no_temperature, frustrated)
    with pytest.raises(ValueError, match="temperature"):
        dg.compare_exact(full, frustrated, temperature=-1.0)


def test_correlation_chunking_matches_direct(frustrated, monkeypatch):
    x = exact_draws(frustrated, 1.5, jax.random.PRNGKey(5), chains=2, draws=200)
    idata = idata_from_states(frustrated, x, 1.5)
    direct = dg.compare_exact(idata, frustrated)
    monkeypatch.setattr(dg.compare, "_CHUNK_ELEMENTS", 2 * 200 * 6 * 2)  # 2 rows per chunk
    chunked = dg.compare_exact(idata, frustrated)
    xr.testing.assert_allclose(direct, chunked)


# --- with the real kernel ----------------------------------------------------------------
@pytest.mark.slow
def test_tempered_gibbs_run_end_to_end():
    from numpyro.infer import MCMC

    model = ebm.Ising.square_lattice(3, 3)
    ladder = ebm.geometric_ladder(2.5, 6.0, 4)
    mcmc = MCMC(gibbs(model, ladder), num_warmup=100, num_samples=1000,
                num_chains=2, chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), extra_fields=("potential_energy", "swap_accept", "replica_index"))
    idata = dg.to_inference_data(mcmc)
    post = dg.get_group(idata, "posterior")
    stats = dg.get_group(idata, "sample_stats")
    assert post["spins"].dims == ("chain", "draw", "row", "col")
    np.testing.assert_allclose(stats["temperature"], np.asarray(ladder), rtol=1e-6)
    assert post.attrs["temperature"] == pytest.approx(2.5)
    mix = dg.mixing(idata)
    assert float(mix["r_hat"].max()) < 1.05
    temp = dg.tempering(idata)
    assert temp.sizes["pair"] == 3 and np.all((temp["swap_accept"] > 0) & (temp["swap_accept"] <= 1))
    assert int(temp["round_trips_total"]) > 0
    result = dg.compare_exact(idata, model)
    assert dg.max_abs_z(result) < dg.z_threshold(result, alpha=1e-3)


def _kaufman_idata(rows, temperatures, seed=0, chains=4, draws=2000):
    """Independent normal energies with Kaufman's exact mean N u(T) and variance N T^2 c(T)."""
    n, k = rows * rows, temperatures.size
    # evaluated at as many temperatures as compare_kaufman evaluates (one compilation for both)
    padded = np.concatenate([temperatures, np.full(CURVE_POINTS, 2.5)])
    u = np.asarray(ebm.exact.kaufman_mean_energy(rows, rows, padded, per_spin=True), np.float64)[:k]
    c = np.asarray(ebm.exact.kaufman_heat_capacity(rows, rows, padded, per_spin=True), np.float64)[:k]
    rng = np.random.default_rng(seed)
    energies = n * u + np.sqrt(n * c) * temperatures * rng.standard_normal((chains, draws, k))
    return dg.from_samples({"physical_energy": energies[..., 0]}, {"energies": energies},
                           dims={"energies": ["temperature"]}, coords={"temperature": temperatures})


def test_compare_kaufman_on_exact_energies():
    temperatures = np.array([1.8, 2.27, 3.0])
    idata = _kaufman_idata(8, temperatures)
    result = dg.compare_kaufman(idata, 8)
    assert result["energy_per_spin"].dims == ("statistic", "temperature")
    assert dg.max_abs_z(result) < dg.z_threshold(result)
    sampled = result["heat_capacity_per_spin"].sel(statistic="sampled").values
    np.testing.assert_allclose(sampled, result["heat_capacity_per_spin"].sel(statistic="exact"), rtol=0.1)
    assert result["exact_heat_capacity_curve"].dims == ("temperature_curve",)
    wrong = dg.compare_kaufman(idata, 6)  # the same energies read as a 6x6 lattice
    assert dg.max_abs_z(wrong) > 10


def test_kaufman_and_swap_plots_draw_on_given_axes(ladder_idata):
    from matplotlib.figure import Figure

    axes = Figure().subplots(1, 3)
    comparison = dg.compare_kaufman(_kaufman_idata(4, np.array([2.0, 2.5]), draws=200), 4)
    assert list(dg.plot_kaufman(comparison, axes=axes[:2])) == list(axes[:2])
    assert dg.plot_swap_acceptance(dg.tempering(ladder_idata[0]), ax=axes[2]) is axes[2]
    assert len(axes[0].lines) >= 2 and axes[2].get_ylabel() == "swap acceptance"


def test_plot_trace_draws_traces_and_flat_ranks():
    from matplotlib.figure import Figure

    draws = np.random.default_rng(0).normal(size=(3, 400))
    post = xr.Dataset({"physical_energy": (("chain", "draw"), draws),
                       "magnetization": (("chain", "draw"), draws + np.arange(3)[:, None])})
    axes = Figure().subplots(2, 2)
    assert dg.plot_trace(post, axes=axes) is not None
    assert len(axes[0, 0].lines) == 3 and axes[1, 0].get_ylabel() == "magnetization"
    assert len(axes[0, 1].patches) == 3 * 20  # one rank histogram per chain
    with pytest.raises(ValueError, match="no variable"):
        dg.plot_trace(post, var_names="spins", axes=Figure().subplots(1, 2))


def test_plot_trace_ranks_ties_without_favouring_a_chain():
    from matplotlib.figure import Figure

    draws = np.random.default_rng(1).integers(0, 3, size=(4, 3000)).astype(float)  # heavy ties
    axes = dg.plot_trace(xr.Dataset({"physical_energy": (("chain", "draw"), draws)}), "physical_energy",
                         axes=Figure().subplots(1, 2), bins=10)
    counts = np.array([p.get_height() for p in axes[0, 1].patches]).reshape(4, 10)
    assert np.all(np.abs(counts - 300) < 5 * np.sqrt(300)), counts
