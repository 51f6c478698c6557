"""DiscreteLangevin (DMALA / DULA): all units proposed at once from the discrete Langevin
proposal, Metropolis-Hastings corrected, a step size per temperature slot adapted during
warm-up; on the seam (one ``_move``), tempered by the ladder layer; exact against enumeration
on every rung."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_every_state_on_every_rung, exact_state_probabilities, run_mcmc, state_codes
from test_metropolis import dense_with_three_body

import ebm_numpyro as ebm
from ebm_numpyro.kernels.discrete_langevin import change_estimates, discrete_langevin_step
from ebm_numpyro.kernels.gradient_flip import flip_estimates
from ebm_numpyro.kernels.relaxed import change_estimator
from ebm_numpyro.kernels.streams import key_words
from ebm_numpyro.kernels.tempered import EnergyTarget

POTTS = ebm.Potts(3, 6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3)], np.linspace(-0.5, 1.2, 7),
                  fields=np.random.default_rng(1).normal(size=(6, 3)) * 0.4)


def _binary(spin):
    """The same energy written for {0, 1} units."""
    return ebm.DiscreteEnergy(lambda x, p: spin.energy(2 * x - 1), spin.num_units, "binary", {})


@pytest.mark.parametrize("name", ["spin", pytest.param("binary", marks=pytest.mark.slow),
                                  pytest.param("potts", marks=pytest.mark.slow)])
def test_every_state_on_every_rung(name):
    model = {"spin": dense_with_three_body, "binary": lambda: _binary(dense_with_three_body()),
             "potts": lambda: POTTS}[name]()
    ladder = [1.0, 1.6, 2.5]
    kernel = ebm.DiscreteLangevin(potential_fn=ebm.potential(model), temperatures=ladder, store_states=True)
    mcmc, swap = assert_every_state_on_every_rung(kernel, model, ladder, name)
    assert swap > 0.2
    step = np.asarray(mcmc.last_state.adaptation.step_size)  # (chains, rungs), fixed after warm-up
    assert np.all(np.isfinite(step)) and np.all(step > 0)


def sherrington_kirkpatrick(n=64, seed=0):
    rng = np.random.default_rng(seed)
    j = np.triu(rng.normal(size=(n, n)), 1) / np.sqrt(n)
    return ebm.Ising(j + j.T, 0.1 * rng.normal(size=n))


def test_step_sizes_adapt_in_warmup_only_and_hit_the_target():
    # 64 weakly coupled spins: a large step proposes to flip about half of them, a small one none
    model = sherrington_kirkpatrick()
    kernel = ebm.DiscreteLangevin(potential_fn=ebm.potential(model), temperature=1.0, step_size=5.0)
    mcmc = run_mcmc(kernel, key=1, warmup=300, samples=400, chains=8, extra=("x",))
    step = np.asarray(mcmc.last_state.adaptation.step_size)[:, 0]
    assert np.all(step < 5.0)  # moved from the initial value
    # after warm-up the kernel is fixed: rerunning the last state keeps its step sizes
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.run(jax.random.key(2), extra_fields=("x",))
    np.testing.assert_array_equal(np.asarray(mcmc.last_state.adaptation.step_size)[:, 0], step)
    # the realised acceptance at the adapted step size is near the target (0.574): the
    # acceptance probability of proposals from the post-warm-up states, averaged
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])[:, ::10, 0].reshape(-1, model.num_units)
    words = key_words(jax.random.key(3))
    betas = jnp.ones((x.shape[0],))
    steps = jnp.full((x.shape[0],), float(np.median(step)))
    estimator = change_estimator(EnergyTarget(model), "test")
    *_, accept = discrete_langevin_step(words, estimator, estimator.to_flat(jnp.asarray(x)), betas, steps)
    assert 0.45 < float(np.mean(np.asarray(accept))) < 0.70


def test_dula_is_biased_and_dmala_is_not():
    # a large fixed step: DULA's law differs from the Boltzmann law by far more than its noise
    model = dense_with_three_body()
    kernel = ebm.DiscreteLangevin(potential_fn=ebm.potential(model), temperature=1.0, step_size=2.0,
                                  adapt_step_size=False, metropolis=False, store_states=True)
    mcmc = run_mcmc(kernel, key=4, warmup=20, samples=60, chains=512, extra=("x",))
    codes = state_codes(np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])[:, :, 0], model.unit_values)
    p = exact_state_probabilities(model, 1.0)
    freq = np.bincount(codes.ravel(), minlength=p.size) / codes.size
    assert 0.5 * np.abs(freq - p).sum() > 0.05  # total variation; DMALA's runs are exact (above)


def test_change_estimates():
    # binary: first order from the gradient, exact for a quadratic energy in spins
    rng = np.random.default_rng(0)
    j = np.triu(rng.normal(size=(6, 6)), 1)
    model = ebm.Ising(j + j.T, rng.normal(size=6))
    x = np.asarray(rng.choice([-1, 1], size=(3, 6)), np.int8)
    est, energy = change_estimates(model, x)
    np.testing.assert_allclose(np.asarray(est), np.asarray(model.energy_changes(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(energy), np.asarray(model.energy(x)), rtol=1e-6)
    flips, _ = flip_estimates(model, x)  # GibbsWithGradients' view: the change of flipping each unit
    np.testing.assert_allclose(np.asarray(flips), np.asarray(est).sum(-1), rtol=1e-6)
    # q states: the exact single-unit changes
    labels = np.asarray(rng.integers(0, 3, size=(2, 6)), POTTS.state_dtype)
    est, _ = change_estimates(POTTS, labels)
    np.testing.assert_allclose(np.asarray(est), np.asarray(POTTS.energy_changes(labels)), rtol=1e-6)


def test_errors_and_a_quick_run():
    pot = ebm.potential(ebm.Ising.square_lattice(4))
    for bad in ({"step_size": 0.0}, {"step_size": [0.1, 0.2]}, {"target_accept_prob": 1.0},
                {"target_accept_prob": -0.5}, {"metropolis": "yes"}, {"adapt_step_size": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ebm.DiscreteLangevin(potential_fn=pot, **bad)
    lattice = ebm.Ising.square_lattice(4)
    mcmc = run_mcmc(ebm.DiscreteLangevin(potential_fn=ebm.potential(lattice), temperature=2.5), warmup=5,
                    samples=10, chains=2)
    s = mcmc.get_samples()
    np.testing.assert_allclose(np.asarray(s["physical_energy"]), np.asarray(lattice.energy(s["spins"])), rtol=1e-6)
