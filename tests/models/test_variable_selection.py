"""ebm.VariableSelection: spike-and-slab regression over the inclusion indicators with the
weights (and optionally the noise variance) integrated out; the p x p closed forms against the
n x n Gaussian, the NumPyro model and enumeration."""

import itertools

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import run_mcmc, z_crit
from numpyro.infer.util import log_density

import ebm_numpyro as ebm


def data(n=30, p=10, seed=0):
    rng = np.random.default_rng(seed)
    cov = 0.6 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    beta = np.zeros(p)
    beta[[1, 4, 7]] = [1.2, -0.9, 0.7]
    return X, X @ beta + rng.normal(size=n)


def direct_log_likelihood(X, y, g, tau, sigma):
    """log N(y; 0, sigma^2 (I + X_g X_g^T / tau)) in n x n algebra; sigma=None: the 1/sigma^2 prior."""
    n = X.shape[0]
    c = np.eye(n) + (X * g) @ X.T / tau
    _, logdet = np.linalg.slogdet(c)
    quad = y @ np.linalg.solve(c, y)
    if sigma is None:
        return -0.5 * logdet - 0.5 * n * np.log(quad)
    return -0.5 * logdet - 0.5 * quad / sigma**2 - 0.5 * n * np.log(2 * np.pi * sigma**2)


STATES = np.array(list(itertools.product([0, 1], repeat=10)), np.float64)


@pytest.mark.parametrize("sigma", [1.3, None])
def test_energy_and_changes_against_the_n_by_n_gaussian(sigma):
    X, y = data()
    model = ebm.VariableSelection(X, y, prior_inclusion=0.2, slab_precision=0.7, noise_scale=sigma)
    g = STATES[::37]
    want = np.array([direct_log_likelihood(X, y, s, 0.7, sigma) for s in g])
    got = np.asarray(model.log_likelihood(jnp.asarray(g, jnp.float32)), np.float64)
    np.testing.assert_allclose(got - got[0], want - want[0], rtol=1e-4, atol=2e-3)
    if sigma is not None:  # with its constants
        np.testing.assert_allclose(got, want, rtol=1e-4)
    # every indicator's change in closed form against differences of energies
    x = jnp.asarray(g[:6], jnp.int8)
    changes = np.asarray(model.energy_changes(x), np.float64)
    e = np.asarray(model.energy(x), np.float64)
    for j in range(10):
        flipped = np.asarray(x).copy()
        flipped[:, j] = 1 - flipped[:, j]
        d = np.asarray(model.energy(jnp.asarray(flipped)), np.float64) - e
        np.testing.assert_allclose(changes[np.arange(6), j, flipped[:, j]], d, rtol=2e-3, atol=2e-3)
        np.testing.assert_array_equal(changes[np.arange(6), j, np.asarray(x)[:, j]], 0.0)


def test_energy_is_the_numpyro_model_s_negative_log_joint():
    X, y = data()
    h = 0.15

    def model(y):
        with numpyro.plate("predictors", X.shape[1]):
            g = numpyro.sample("g", dist.Bernoulli(h))
        numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(X.shape[0]), jnp.eye(X.shape[0]) + (X * g) @ X.T), obs=y)

    vs = ebm.VariableSelection(X, y, prior_inclusion=h)
    g = STATES[::53]
    lj = np.array([float(log_density(model, (jnp.asarray(y, jnp.float32),), {}, {"g": jnp.asarray(s)})[0]) for s in g])
    e = np.asarray(vs.energy(jnp.asarray(g, jnp.float32)), np.float64)
    np.testing.assert_allclose(-lj, e - X.shape[1] * np.log1p(-h), rtol=1e-4)


def test_importance_tempered_gibbs_inclusion_probabilities_against_enumeration():
    X, y = data()
    model = ebm.VariableSelection(X, y, noise_scale=None)
    e = np.asarray(model.energy(jnp.asarray(STATES, jnp.float32)), np.float64)
    p = np.exp(-(e - e.min()))
    p /= p.sum()
    exact = p @ STATES
    mcmc = run_mcmc(ebm.ImportanceTemperedGibbs(potential_fn=ebm.potential(model)), key=2, warmup=50, samples=3000,
                    chains=4)
    pip = ebm.diagnostics.weighted_marginals(mcmc)
    est = np.asarray(pip["mean"].values)[..., 1]
    mcse = np.asarray(pip["mcse"].values)[..., 1]
    z = (est - exact) / np.maximum(mcse, 1e-4)
    assert np.abs(z).max() < z_crit(10), (est, exact, z)
    assert np.any((exact > 0.05) & (exact < 0.95))  # some indicators are uncertain: the test has power


def test_errors():
    X, y = data()
    for kwargs, match in (({"prior_inclusion": 1.0}, "prior_inclusion"), ({"slab_precision": 0.0}, "slab_precision"),
                          ({"noise_scale": -1.0}, "noise_scale"), ({"prior_inclusion": "0.1"}, "prior_inclusion")):
        with pytest.raises(ValueError, match=match):
            ebm.VariableSelection(X, y, **kwargs)
    with pytest.raises(ValueError, match="`y`"):
        ebm.VariableSelection(X, y[:-1])
    with pytest.raises(ValueError, match="`X`"):
        ebm.VariableSelection(X[0], y)
