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
    assert acc.max() / acc.min() < 2.0, acc
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
