"""ebm.Potts: energies, softmax conditionals, exact enumeration, and TemperedGibbs against
enumeration (every energy level) and against the exact critical energy on large lattices."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import MCMC

import ebm_numpyro as ebm
from ebm_numpyro.distributions import all_states_of
from helpers import assert_state_frequencies, chain_z_scores, run_mcmc, z_crit

FIELD = np.random.default_rng(0).normal(size=(3, 3, 3)) * 0.5


def small_potts():
    return ebm.Potts.square_lattice(3, num_states=3, coupling=1.0, field=FIELD)


def test_unit_energies_are_energy_differences():
    p = small_potts()
    x = jnp.asarray(np.random.default_rng(1).integers(0, 3, (2, 3, 3)), jnp.int8)
    for b in p.blocks:
        eps = np.asarray(p.unit_energies(x, b))  # (2, B, q)
        for j, u in enumerate(p.colour_classes[b]):
            flat = x.reshape(2, -1)
            e = np.stack([np.asarray(p.energy(flat.at[:, u].set(k).reshape(2, 3, 3))) for k in range(3)], -1)
            np.testing.assert_allclose(e - e[:, :1], eps[:, j] - eps[:, j, :1], atol=1e-5)


def test_enumeration_and_q2_is_ising():
    p = small_potts()
    states = all_states_of(p)
    assert states.shape == (3**9, 3, 3)
    e = np.asarray(p.energy(states), np.float64)
    ref = np.log(np.sum(np.exp(-e / 1.5)))
    np.testing.assert_allclose(float(ebm.exact.log_partition(p, 1.5)), ref, rtol=1e-5)
    # q = 2: E_potts = -J sum delta = -J/2 sum (1 + s s') = E_ising(J/2) - J * bonds / 2
    p2 = ebm.Potts.square_lattice(4, num_states=2, coupling=1.0)
    ising = ebm.Ising.square_lattice(4, coupling=0.5)
    x = jnp.asarray(np.random.default_rng(2).integers(0, 2, (5, 4, 4)), jnp.int8)
    np.testing.assert_allclose(np.asarray(p2.energy(x)), np.asarray(ising.energy(2 * x - 1)) - 16.0, atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="num_states"):
        ebm.Potts.square_lattice(3, num_states=1)
    with pytest.raises(ValueError, match="fields"):
        ebm.Potts(3, 4, [(0, 1)], 1.0, fields=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="edges"):
        ebm.Potts(3, 4, [(0, 7)])


def _energy_levels(p, temperature):
    states = all_states_of(p)
    e = np.round(np.asarray(p.energy(states), np.float64), 3)
    w = np.exp(-(e - e.min()) / temperature)
    levels, inverse = np.unique(e, return_inverse=True)
    prob = np.bincount(inverse, weights=w) / w.sum()
    return levels, prob


def test_potts_6_sites_every_state_on_every_rung():
    """q = 3 on 6 sites (a ring with two chords, couplings of both signs, a random field on every
    site and label): the frequency of each of the 729 states on every rung of a ladder against
    enumeration."""
    rng = np.random.default_rng(4)
    edges = [(i, (i + 1) % 6) for i in range(6)] + [(0, 3), (1, 4)]
    potts = ebm.Potts(3, 6, edges, rng.normal(size=len(edges)), 0.7 * rng.normal(size=(6, 3)))
    ladder = np.array([1.0, 1.7, 2.9])
    mcmc = run_mcmc(ebm.TemperedGibbs(potential_fn=ebm.potential(potts), temperatures=ladder),
                    samples=4000, extra=("x",))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"], np.int64)  # (chain, draw, rung, 6)
    codes = x @ (3 ** np.arange(6))
    states = np.asarray(all_states_of(potts))
    assert np.array_equal(states.astype(np.int64) @ (3 ** np.arange(6)), np.arange(3 ** 6))
    energies = np.asarray(potts.energy(jnp.asarray(states)), np.float64)
    for k, t in enumerate(ladder):
        w = np.exp(-(energies - energies.min()) / t)
        assert_state_frequencies(codes[:, :, k], w / w.sum(), f"rung {k} (T = {t})")


@pytest.mark.slow
def test_potts_3x3_every_energy_level_against_enumeration():
    """3x3 periodic, q = 3, a field on each label (the same on every site, so that energy
    levels are degenerate): the frequency of every energy level against enumeration."""
    p, t = ebm.Potts.square_lattice(3, num_states=3, coupling=1.0, field=np.array([0.3, -0.2, 0.0])), 1.5
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(p), temperatures=[t, 3.0])
    mcmc = MCMC(kernel, num_warmup=100, num_samples=2000, num_chains=4, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.key(0))
    levels, prob = _energy_levels(p, t)
    e = np.asarray(mcmc.get_samples(group_by_chain=True)["physical_energy"], np.float64)
    idx = np.abs(e[..., None] - levels).argmin(-1)
    assert np.abs(levels[idx] - e).max() < 1e-3  # every draw is at an energy level
    keep = prob > 1e-4  # levels that can be checked at all with these draws
    freq = np.stack([np.bincount(c, minlength=len(levels)) / c.size for c in idx])[:, keep]
    z = chain_z_scores(freq, prob[keep], np.sqrt(prob[keep] * (1 - prob[keep]) / idx.size))
    assert np.abs(z).max() < z_crit(int(keep.sum())), np.abs(z).max()


@pytest.mark.slow
@pytest.mark.parametrize("q", [2, 3, 4])
def test_critical_energy_approaches_the_exact_value(q):
    """At T_c = J / ln(1 + sqrt q) the energy per site tends to -J (1 + 1/sqrt q) as L grows:
    the error shrinks with L (finite-size corrections ~ L^{-(1-alpha)/nu} for q <= 4)."""
    t_c = 1.0 / math.log(1.0 + math.sqrt(q))
    exact = -(1.0 + 1.0 / math.sqrt(q))
    errors = {}
    for side in (8, 16, 32):
        p = ebm.Potts.square_lattice(side, num_states=q)
        kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(p), temperature=t_c)
        mcmc = MCMC(kernel, num_warmup=500, num_samples=2000, num_chains=4, chain_method="vectorized",
                    progress_bar=False)
        mcmc.run(jax.random.key(side))
        e = np.asarray(mcmc.get_samples(group_by_chain=True)["physical_energy"], np.float64) / side**2
        errors[side] = abs(e.mean() - exact)
    print(f"q={q}: |<E>/N - exact| by L: {errors}")
    assert errors[32] < errors[8]
    assert errors[32] < 0.05
