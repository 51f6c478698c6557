"""CyclicAnnealing on the double well E(x) = (x^2 - 1)^2: trapping at low T, barrier
crossings under a cyclic schedule, symmetric base-temperature occupancy, tilted-well annealing."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC

import ebm_numpyro as ebm
from ebm_numpyro import schedules
from ebm_numpyro.kernels.annealing import CyclicAnnealing
from helpers import mcse_mean, z_crit

Z = z_crit(2)  # two-sided bound for the (at most two) moments each test checks
CHAINS = 8
DW = ebm.potential(ebm.DoubleWell())


def run(kernel, num_samples, init, key=0, extra=("temperature", "physical_energy", "best_energy", "at_base")):
    mcmc = MCMC(kernel, num_warmup=0, num_samples=num_samples, num_chains=init.shape[0],
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(key), init_params=init, extra_fields=extra)
    return mcmc


def crossings(x, threshold=0.5):
    """Barrier crossings of one trajectory: switches between x < -threshold and x > threshold."""
    side = np.where(x > threshold, 1, np.where(x < -threshold, -1, 0))
    side = side[side != 0]
    return int(np.sum(side[1:] != side[:-1]))


def left_well_moments(temperature):
    """Exact mean and variance of x restricted to x < 0 under exp(-(x^2-1)^2 / T) (quadrature)."""
    x = np.linspace(-3.0, 0.0, 200_001)
    w = np.exp(-((x**2 - 1) ** 2) / temperature)
    m = np.trapezoid(x * w, x) / np.trapezoid(w, x)
    v = np.trapezoid((x - m) ** 2 * w, x) / np.trapezoid(w, x)
    return m, v


def test_metropolis_at_low_temperature_stays_in_left_well():
    kernel = CyclicAnnealing(potential_fn=ebm.potential(ebm.DoubleWell()), temperature=schedules.constant(0.05),
                             move="metropolis", step_size=1.0)
    mcmc = run(kernel, 10_000, -jnp.ones((CHAINS, 1)))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])[..., 0]
    assert np.all(x < 0), "a T = 0.05 chain left the left well (barrier 20 T)"
    m_exact, v_exact = left_well_moments(0.05)
    m, se = mcse_mean(x)
    assert abs(m - m_exact) < Z * se
    v, se_v = mcse_mean((x - m_exact) ** 2)
    assert abs(v - v_exact) < Z * se_v


@pytest.mark.parametrize("move, step_size", [("metropolis", 0.7), ("langevin", 0.02)])
def test_cyclic_annealing_crosses_and_base_draws_are_symmetric(move, step_size):
    schedule = schedules.cyclic_cosine(0.05, 1.0, 200)
    dw = ebm.DoubleWell()
    # every move: the trajectory crosses the barrier many times
    traj = run(CyclicAnnealing(potential_fn=ebm.potential(dw), temperature=schedule, move=move, step_size=step_size),
               20_000, -jnp.ones((CHAINS, 1)), key=1)
    x = np.asarray(traj.get_samples(group_by_chain=True)["x"])[..., 0]
    counts = [crossings(c) for c in x]
    assert min(counts) >= 20, counts
    extra = traj.get_extra_fields(group_by_chain=True)
    np.testing.assert_allclose(extra["temperature"][0], schedule(jnp.arange(20_000)), rtol=1e-5)
    np.testing.assert_allclose(extra["physical_energy"], dw.energy(x[..., None]), rtol=1e-4, atol=1e-5)
    assert np.all(np.diff(extra["best_energy"], axis=1) <= 0)
    assert np.all(extra["at_base"] == np.isclose(extra["temperature"], 0.05, rtol=1e-3))
    # base-temperature draws only: P(right well) = 1/2 by symmetry
    base = run(CyclicAnnealing(potential_fn=ebm.potential(dw), temperature=schedule, move=move, step_size=step_size,
                               base_only=True),
               500, -jnp.ones((CHAINS, 1)), key=2)
    xb = np.asarray(base.get_samples(group_by_chain=True)["x"])[..., 0]
    np.testing.assert_allclose(base.get_extra_fields()["temperature"], 0.05, rtol=1e-5)
    right = (xb > 0).astype(np.float64)
    p, se = mcse_mean(right)
    assert abs(p - 0.5) < Z * se, (p, se)
    assert se < 0.03


def test_tilted_double_well_annealing_ends_in_deep_well():
    dw = ebm.DoubleWell(tilt=0.5)  # E(-1) ~ -0.5 (deep), E(+1) ~ +0.5 (shallow)
    kernel = CyclicAnnealing(potential_fn=ebm.potential(dw), temperature=schedules.exponential_cooling(0.01, 1.0, 4000),
                             move="metropolis", step_size=0.7)
    mcmc = run(kernel, 5000, jnp.ones((16, 1)), key=3, extra=("best_energy", "best_z"))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])[..., 0]
    assert np.all(x[:, -1] < 0), x[:, -1]
    grid = np.linspace(-2, 2, 40_001)
    e_min = float(np.min(dw.energy(grid[:, None])))
    best = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["best_energy"])[:, -1]
    assert np.all(best - e_min < 0.01) and np.all(best >= e_min - 1e-5)


def test_sawtooth_base_only_and_numpyro_model():
    def model():
        numpyro.sample("x", dist.Normal(2.0, 1.0))

    # 80 of every 100 steps at the base temperature T = 1: the plateau lets the chain
    # equilibrate, so the base-only draws are (nearly) samples of the target N(2, 1)
    schedule = schedules.sawtooth(1.0, 3.0, 100, base_fraction=0.8)
    kernel = CyclicAnnealing(model=model, temperature=schedule, step_size=2.0, base_only=True)
    mcmc = MCMC(kernel, num_warmup=100, num_samples=4000, num_chains=2, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), extra_fields=("temperature", "i"))
    np.testing.assert_allclose(mcmc.get_extra_fields()["temperature"], 1.0, rtol=1e-5)
    i = np.asarray(mcmc.get_extra_fields()["i"])
    assert np.all((i - 1) % 100 >= 19)  # only moves taken on the plateau are returned
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])
    m, se = mcse_mean(x)
    assert abs(m - 2.0) < Z * se
    v, se_v = mcse_mean((x - 2.0) ** 2)
    assert abs(v - 1.0) < Z * se_v


def test_potential_fn_sequential_chain_same_key_same_result():
    def go():
        kernel = CyclicAnnealing(potential_fn=lambda z: jnp.sum((z**2 - 1) ** 2),
                                 temperature=schedules.cyclic_cosine(0.1, 1.0, 20))
        mcmc = MCMC(kernel, num_warmup=5, num_samples=50, progress_bar=False)
        mcmc.run(jax.random.PRNGKey(4), init_params=jnp.zeros(2))
        return np.asarray(mcmc.get_samples()["x"])

    a, b = go(), go()
    assert a.shape == (50, 2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(temperature=schedules.constant(1.0)), ValueError, "exactly one"),
        (dict(potential_fn=jnp.sum, model=lambda: None, temperature=1.0), ValueError, "exactly one"),
        (dict(model=ebm.DoubleWell(), temperature=1.0), ValueError, "potential_fn=ebm.potential"),
        (dict(potential_fn=DW), TypeError, "temperature"),
        (dict(potential_fn=DW, temperature=lambda t: 1.0 - 1e-3 * t), ValueError, "step 1000"),
        (dict(potential_fn=DW, temperature=lambda t: jnp.nan * t), ValueError, "temperature"),
        (dict(potential_fn=DW, temperature=-1.0), ValueError, "temperature"),
        (dict(potential_fn=DW, temperature=1.0, move="hmc"), ValueError, "move"),
        (dict(potential_fn=DW, temperature=1.0, step_size=0.0), ValueError, "step_size"),
        (dict(potential_fn=DW, temperature=schedules.cyclic_cosine(0.1, 1.0, 20), base_only=True,
              base_temperature=0.01), ValueError, "base_temperature"),
        (dict(potential_fn=DW, temperature=1.0, move="heat_bath"), ValueError, "heat_bath"),
        (dict(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)), temperature=1.0, move="metropolis"),
         ValueError, "heat_bath"),
    ],
)
def test_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        CyclicAnnealing(**kwargs)


def test_needs_init_params_and_checks_shape():
    kernel = CyclicAnnealing(potential_fn=ebm.potential(ebm.DoubleWell(dim=2)), temperature=schedules.constant(1.0))
    mcmc = MCMC(kernel, num_warmup=1, num_samples=1, progress_bar=False)
    with pytest.raises(ValueError, match="init_params"):
        mcmc.run(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="trailing shape"):
        mcmc.run(jax.random.PRNGKey(0), init_params=jnp.zeros(3))


@pytest.mark.slow
def test_heat_bath_annealing_finds_the_ising_ground_state():
    lattice = ebm.Ising.square_lattice(4)  # periodic 4 x 4, J = 1: ground energy -32 (all aligned)
    ground = float(lattice.energy(np.ones(lattice.event_shape, np.int8)))
    init = np.where(np.random.default_rng(0).random((4,) + lattice.event_shape) < 0.5, 1, -1).astype(np.int8)
    kernel = CyclicAnnealing(potential_fn=ebm.potential(lattice), temperature=schedules.exponential_cooling(0.1, 5.0, 400))
    mcmc = run(kernel, 500, jnp.asarray(init), key=5, extra=("physical_energy", "best_energy", "temperature"))
    extra = mcmc.get_extra_fields(group_by_chain=True)
    np.testing.assert_allclose(extra["best_energy"][:, -1], ground)
    assert extra["temperature"][0, -1] == pytest.approx(0.1, rel=1e-5)
    z = np.asarray(mcmc.get_samples(group_by_chain=True)["spins"])
    assert z.dtype == np.int8 and set(np.unique(z)) <= {-1, 1}


@pytest.mark.slow
def test_heat_bath_base_draws_match_exact_energy():
    rng = np.random.default_rng(3)
    j = np.triu(rng.normal(size=(8, 8)), 1)
    model = ebm.Ising(j + j.T, 0.3 * rng.normal(size=8))
    t_base = 1.5
    exact = ebm.exact.moments(model, t_base)
    schedule = schedules.sawtooth(t_base, 4.0, 50, base_fraction=0.8)
    kernel = CyclicAnnealing(potential_fn=ebm.potential(model), temperature=schedule, base_only=True)
    init = jnp.ones((CHAINS, 8), jnp.int8)
    mcmc = run(kernel, 2000, init, key=6, extra=("physical_energy", "temperature"))
    energy = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["physical_energy"], np.float64)
    np.testing.assert_allclose(mcmc.get_extra_fields()["temperature"], t_base, rtol=1e-5)
    m, se = mcse_mean(energy)
    assert abs(m - float(exact.mean_energy)) < Z * se, (m, float(exact.mean_energy), se)
