"""The NumPyro bridge: potentials for potential_fn= and factor sites."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import log_density

import ebm_numpyro as ebm


def _quadrature_moment(model, T, f, lo=-4.0, hi=4.0, n=200001):
    x = np.linspace(lo, hi, n)
    w = np.exp(-np.asarray(model.energy(x[:, None]), np.float64) / T)
    return np.sum(f(x) * w) / np.sum(w)


def test_potential_is_energy_over_temperature():
    model = ebm.DoubleWell()
    pot = ebm.potential(model, temperature=0.5)
    np.testing.assert_allclose(pot(jnp.array([0.0])), 2.0)
    np.testing.assert_allclose(pot({"x": jnp.array([2.0])}), 18.0)
    np.testing.assert_allclose(jax.grad(pot)(jnp.array([0.5])), [2 * 4 * 0.5 * (0.25 - 1)], rtol=1e-6)
    lattice = ebm.Ising.square_lattice(3, 3)
    np.testing.assert_allclose(ebm.potential(lattice, 2.0)(jnp.ones((3, 3))), -9.0)


@pytest.mark.slow
def test_nuts_samples_double_well_through_mcmc():
    """NUTS on p(x) ∝ exp(-(x²-1)²/T) reproduces ⟨x²⟩ from quadrature within 4 MCSE."""
    model, T = ebm.DoubleWell(), 1.0
    kernel = NUTS(potential_fn=ebm.potential(model, T))
    mcmc = MCMC(kernel, num_warmup=500, num_samples=2000, num_chains=2, chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(0), init_params=jnp.array([[0.9], [-0.9]]))
    x = np.asarray(mcmc.get_samples(group_by_chain=True))[..., 0]
    x2 = x**2
    ess = float(effective_sample_size(x2))
    mcse = x2.std() / np.sqrt(ess)
    want = _quadrature_moment(model, T, lambda x: x**2)
    assert ess > 300
    assert abs(x2.mean() - want) < 4 * mcse, (x2.mean(), want, mcse)
    # both wells visited, with weights balanced within MCSE (exact: 1/2 by symmetry)
    right = (x > 0).astype(float)
    mcse_r = right.std() / np.sqrt(float(effective_sample_size(right)))
    assert abs(right.mean() - 0.5) < 4 * mcse_r


def test_energy_factor_adds_minus_energy_over_temperature():
    model = ebm.Ising.square_lattice(2, 3, coupling=0.7, field=0.1)
    x = jnp.asarray(np.random.default_rng(0).choice([-1, 1], size=(4, 2, 3)), jnp.int8)

    def numpyro_model():
        with numpyro.plate("configs", 4):
            ebm.energy_factor("boltzmann", model, x, temperature=2.0)

    logp, trace = log_density(numpyro_model, (), {}, {})
    np.testing.assert_allclose(logp, -jnp.sum(model.energy(x)) / 2.0, rtol=1e-6)
    assert trace["boltzmann"]["fn"].batch_shape == (4,)


@pytest.mark.slow
def test_energy_factor_in_a_continuous_model_with_nuts():
    """A prior times a double-well factor: sampled ⟨x⟩ matches quadrature of the product density."""
    model = ebm.DoubleWell(tilt=0.3)

    def numpyro_model():
        x = numpyro.sample("x", dist.Normal(0.0, 2.0).expand([1]).to_event(1))
        ebm.energy_factor("well", model, x, temperature=0.7)

    mcmc = MCMC(NUTS(numpyro_model), num_warmup=500, num_samples=3000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(1))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])[..., 0]
    grid = np.linspace(-5, 5, 200001)
    w = np.exp(-np.asarray(model.energy(grid[:, None]), np.float64) / 0.7 - grid**2 / 8)
    want = np.sum(grid * w) / np.sum(w)
    mcse = x.std() / np.sqrt(float(effective_sample_size(x)))
    assert abs(x.mean() - want) < 4 * mcse, (x.mean(), want, mcse)
    assert want < -0.1  # the tilt makes the left well deeper: the test has something to detect


@pytest.mark.parametrize("T", [0.0, -2.0, float("nan"), float("inf")])
def test_bad_temperature(T):
    with pytest.raises(ValueError, match="temperature"):
        ebm.potential(ebm.DoubleWell(), T)
    with pytest.raises(ValueError, match="temperature"):
        ebm.energy_factor("f", ebm.DoubleWell(), jnp.zeros(1), T)


def test_non_model_raises():
    with pytest.raises(TypeError, match="model"):
        ebm.potential(lambda x: x**2)


def test_scalar_continuous_sites_and_init_params():
    """Regression: a scalar site (or a 0-d init_params) on a one-dimensional model works, and
    a scalar site inside a plate gives one energy per element."""
    import numpyro.distributions as dist
    from numpyro.infer.util import log_density

    well = ebm.DoubleWell()

    def scalar_model():
        x = numpyro.sample("x", dist.Normal(0.0, 10.0))
        ebm.energy_factor("well", well, x, temperature=0.5)

    lp, _ = log_density(scalar_model, (), {}, {"x": jnp.array(0.3)})
    want = dist.Normal(0.0, 10.0).log_prob(0.3) - (0.3**2 - 1) ** 2 / 0.5
    np.testing.assert_allclose(lp, want, rtol=1e-6)

    def plate_model():
        with numpyro.plate("n", 3):
            x = numpyro.sample("x", dist.Normal(0.0, 10.0))
            assert ebm.energy_factor("well", well, x).shape == (3,)

    xs = jnp.array([-1.0, 0.0, 2.0])
    lp, _ = log_density(plate_model, (), {}, {"x": xs})
    want = dist.Normal(0.0, 10.0).log_prob(xs).sum() - ((xs**2 - 1) ** 2).sum()
    np.testing.assert_allclose(lp, want, rtol=1e-6)

    mcmc = MCMC(ebm.CyclicAnnealing(potential_fn=ebm.potential(well), temperature=0.3),
                num_warmup=0, num_samples=20, progress_bar=False)
    mcmc.run(jax.random.key(0), init_params=jnp.array(0.9))  # 0-d init_params
    assert mcmc.get_samples()["x"].shape == (20,) and np.all(np.isfinite(mcmc.get_samples()["x"]))
