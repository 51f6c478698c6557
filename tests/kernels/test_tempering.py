"""The tempering layer: ladders (fixed, scheduled, adaptive), the schedule update of Syed et al.
2021, and an adaptive ladder on a deliberately poor ladder across T_c."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import z_crit
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC
from scipy.interpolate import PchipInterpolator

import ebm_numpyro as ebm
from ebm_numpyro.kernels import tempering


def test_monotone_interpolation_is_pchip():
    xp = np.array([0.0, 1.0, 1.5, 4.0, 4.2, 7.0])
    fp = np.array([1.0, 0.8, 0.7, 0.5, 0.45, 0.2])
    x = np.linspace(0.0, 7.0, 101)
    got = np.asarray(tempering.monotone_interp(jnp.asarray(x), jnp.asarray(xp), jnp.asarray(fp)))
    np.testing.assert_allclose(got, PchipInterpolator(xp, fp)(x), atol=1e-6)


def test_replan_equalises_swap_rates_and_keeps_the_ends():
    t = np.array([1.0, 1.2, 1.5, 2.0, 3.0])
    new = np.asarray(tempering.replan_ladder(jnp.asarray(t), jnp.array([0.9, 0.9, 0.9, 0.9])))
    np.testing.assert_allclose(new, t, rtol=1e-5)  # equal rates: a fixed point
    new = np.asarray(tempering.replan_ladder(jnp.asarray(t), jnp.array([0.9, 0.05, 0.9, 0.9])))
    assert new[0] == t[0] and np.isclose(new[-1], t[-1]) and np.all(np.diff(new) > 0)
    assert new[2] - new[1] < t[2] - t[1]  # the bottleneck pair is brought closer


def test_thermodynamic_length_inverts_the_gaussian_swap_acceptance():
    # energies N(mu(beta), sigma^2) at two temperatures: mean swap acceptance 2 Phi(-d / sqrt 2), d = sigma dbeta
    rng = np.random.default_rng(0)
    sigma, dbeta = 30.0, np.array([0.01, 0.05, 0.1, 0.2])
    for db in dbeta:
        e_cold = rng.normal(0.0, sigma, 400_000)
        e_hot = rng.normal(sigma**2 * db, sigma, 400_000)
        a = np.mean(np.minimum(1.0, np.exp(db * (e_cold - e_hot))))
        assert abs(float(tempering.thermodynamic_length(jnp.asarray(a))) - sigma * db) < 0.02 * sigma * db + 0.01
    # small gaps: sqrt(pi) times the rejection rate (Syed et al.'s lambda)
    np.testing.assert_allclose(float(tempering.thermodynamic_length(jnp.asarray(0.999))), np.sqrt(np.pi) * 0.001,
                               rtol=1e-3)


def test_replan_equalises_thermodynamic_lengths():
    # a Gaussian model with sigma(beta) sharply peaked near T_c and 8 geometric rungs (acceptances
    # from 0.6 down to 1e-6): the lengths add up along the ladder, so two replans equalise the
    # swap rates to within 12% (the -log a of the last release still differed 43x after one)
    from scipy.integrate import quad
    from scipy.stats import norm

    sigma = lambda b: 20.0 + 150.0 * np.exp(-(((b - 0.44) / 0.04) ** 2))  # noqa: E731

    def acceptance(t):
        b = 1.0 / t
        d = np.array([quad(sigma, b[k + 1], b[k])[0] for k in range(t.size - 1)])
        return 2 * norm.cdf(-d / np.sqrt(2))

    t = np.geomspace(1.5, 4.0, 8)
    spread = [acceptance(t).max() / acceptance(t).min()]
    for _ in range(2):
        t = np.asarray(tempering.replan_ladder(jnp.asarray(t), jnp.asarray(acceptance(t))), np.float64)
        spread.append(acceptance(t).max() / acceptance(t).min())
    assert spread[0] > 1e5 and spread[1] < 20 and spread[2] < 1.15, spread
    assert t[0] == 1.5 and np.isclose(t[-1], 4.0) and np.all(np.diff(t) > 0)


def test_ladders_from_arguments():
    assert isinstance(tempering.make_ladder(2.0, None), tempering.FixedLadder)
    assert isinstance(tempering.make_ladder(None, [1.0, 2.0], adapt_ladder=True), tempering.AdaptiveLadder)
    assert isinstance(tempering.make_ladder(ebm.schedules.cyclic_cosine(1.0, 2.0, 10), None),
                      tempering.ScheduledTemperature)
    with pytest.raises(ValueError, match="adapt_ladder"):
        tempering.make_ladder(2.0, None, adapt_ladder=True)
    np.testing.assert_array_equal(tempering.adaptation_boundaries(1000, 8), [62, 125, 250, 500, 1000])
    assert tempering.adaptation_boundaries(10, 8).size == 0


@pytest.mark.slow
@pytest.mark.arviz
def test_adaptive_ladder_on_a_poor_geometric_ladder():
    """32x32 periodic lattice, 8 rungs from 1.5 to 4.0 (geometric: far too few near T_c). After
    warm-up the adaptive ladder's swap rates are close to equal, replicas travel the ladder more
    often than on the fixed one, the ladder stays fixed while sampling, and the target rung's
    energy matches Kaufman's exact value within its MCSE."""
    lattice = ebm.Ising.square_lattice(32)
    ladder = ebm.geometric_ladder(1.5, 4.0, 8)
    warmup, samples, chains = 20000, 8000, 8
    results = {}
    for adapt in (False, True):
        kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperatures=ladder, adapt_ladder=adapt,
                                   store_states=False)
        mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains, chain_method="vectorized",
                    progress_bar=False)
        mcmc.warmup(jax.random.key(0), extra_fields=())
        after_warmup = np.asarray(mcmc.post_warmup_state.ladder.temperatures)
        mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=("swap_accept", "replica_index"))
        np.testing.assert_array_equal(np.asarray(mcmc.last_state.ladder.temperatures), after_warmup)
        idata = ebm.diagnostics.to_inference_data(mcmc)
        results[adapt] = (ebm.diagnostics.tempering(idata), mcmc, idata)
    fixed, adaptive = results[False][0], results[True][0]
    acc_fixed, acc = np.asarray(fixed["swap_accept"]), np.asarray(adaptive["swap_accept"])
    assert acc_fixed.max() / acc_fixed.min() > 50
    assert acc.max() / acc.min() < 1.5, acc
    # Lambda is a property of the path from T_0 to T_max, not of the spacing: both estimate it
    # (coarsely: 7 pairs with rejection near 1), neither is far below the other
    assert 5.0 < float(adaptive["communication_barrier"]) < 7.0 and 5.0 < float(fixed["communication_barrier"]) < 7.0
    assert int(adaptive["round_trips_total"]) >= max(1.5 * int(fixed["round_trips_total"]), 1)
    # the final ladders are the coordinates of the adaptive run
    coords = results[True][2].sample_stats.coords
    assert coords["temperature_value"].shape == (chains, 8)
    np.testing.assert_allclose(coords["temperature_value"].values[:, 0], 1.5)
    # the target rung is exact for the final ladder
    e = np.asarray(results[True][1].get_samples(group_by_chain=True)["physical_energy"], np.float64) / 1024
    exact = float(ebm.exact.kaufman_mean_energy(32, 32, 1.5, per_spin=True))
    ess = effective_sample_size(e)
    z = (e.mean() - exact) / (e.std() / np.sqrt(ess))
    assert abs(z) < z_crit(1), z
