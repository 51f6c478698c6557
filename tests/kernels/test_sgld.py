"""SGLD kernel: statistics against analytic posteriors (tolerances from MCSE), schedules,
vectorized chains, resume, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC

from ebm_numpyro import schedules
from ebm_numpyro.kernels.sgld import SGLD, subsample_plates
from helpers import mcse_mean, z_crit

Z = z_crit(2)  # two-sided bound for the two moments each statistical test checks

N, B, SIGMA, PRIOR_SD = 10_000, 100, 2.0, 10.0


@pytest.fixture(scope="module")
def gaussian_data():
    return np.asarray(1.0 + SIGMA * jax.random.normal(jax.random.PRNGKey(1), (N,)))


def gaussian_model(x):
    mu = numpyro.sample("mu", dist.Normal(0.0, PRIOR_SD))
    with numpyro.plate("data", x.shape[0], subsample_size=B):
        numpyro.sample("obs", dist.Normal(mu, SIGMA), obs=numpyro.subsample(x, event_dim=0))


def sgld_gaussian_prediction(x, step_size, temperature):
    """Exact stationary mean/variance of SGLD on the conjugate Gaussian model.

    The chain is the AR(1) recursion mu' = (1 - eps P / 2) mu + eps P m / 2 + noise with
    noise variance eps T + eps^2 V_g / 4, where P is the posterior precision, m the posterior
    mean and V_g = N^2 / B * Var_n(x_n) / sigma^4 the variance of the with-replacement
    minibatch gradient (independent of mu for this model). Hence
    Var = (eps T + eps^2 V_g / 4) / (eps P (1 - eps P / 4)): linear in T with slope
    1 / (P (1 - eps P / 4)), the posterior variance up to the O(eps) discretisation bias.
    """
    x = np.asarray(x, np.float64)
    prec = 1 / PRIOR_SD**2 + N / SIGMA**2
    mean = x.sum() / SIGMA**2 / prec
    v_g = N**2 / B * x.var() / SIGMA**4
    eps = step_size
    var = (eps * temperature + eps**2 * v_g / 4) / (eps * prec * (1 - eps * prec / 4))
    return mean, var, 1 / prec


def run_gaussian(x, temperature, key, step_size=2e-5):
    mcmc = MCMC(
        SGLD(gaussian_model, step_size=step_size, temperature=temperature),
        num_warmup=500, num_samples=20_000, num_chains=4, chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(key), x, extra_fields=("step_size", "temperature", "sampling_phase"))
    return mcmc


def test_subsample_plate_detection(gaussian_data):
    plates = subsample_plates(gaussian_model, jax.random.PRNGKey(0), (gaussian_data,))
    assert plates == {"data": (N, B)}


@pytest.mark.slow
def test_conjugate_gaussian_subsample_plate(gaussian_data):
    """N = 10,000, B = 100: mean and variance (T = 1 and T = 4) against the analytic values."""
    eps = 2e-5
    variances = {}
    for temperature, key in ((1.0, 0), (4.0, 1)):
        mcmc = run_gaussian(gaussian_data, temperature, key, eps)
        draws = np.asarray(mcmc.get_samples(group_by_chain=True)["mu"], np.float64)
        mean_pred, var_pred, post_var = sgld_gaussian_prediction(gaussian_data, eps, temperature)
        mean, se = mcse_mean(draws)
        assert abs(mean - mean_pred) < Z * se, (temperature, mean, mean_pred, se)
        sq = (draws - mean_pred) ** 2
        var, se_var = mcse_mean(sq)
        assert abs(var - var_pred) < Z * se_var, (temperature, var, var_pred, se_var)
        variances[temperature] = (var, se_var)
        extra = mcmc.get_extra_fields()
        np.testing.assert_allclose(extra["step_size"], eps, rtol=1e-6)
        np.testing.assert_allclose(extra["temperature"], temperature)
        assert bool(np.all(extra["sampling_phase"]))
    # variance is linear in T with slope = posterior variance (up to the O(eps) bias factor)
    (v1, s1), (v4, s4) = variances[1.0], variances[4.0]
    slope, se_slope = (v4 - v1) / 3, np.hypot(s1, s4) / 3
    _, _, post_var = sgld_gaussian_prediction(gaussian_data, eps, 1.0)
    prec = 1 / post_var
    assert abs(slope - post_var / (1 - eps * prec / 4)) < Z * se_slope
    assert abs(slope / post_var - 1) < 0.15


def test_full_batch_decreasing_step_correlated_gaussian():
    """Full-batch SGLD with eps_t = a (b + t)^-0.55 on a 2-D Gaussian with correlation 0.8."""
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    prec = jnp.asarray(np.linalg.inv(cov), jnp.float32)
    mean = jnp.array([1.0, -2.0])

    def potential(z):
        d = z - mean
        return 0.5 * d @ prec @ d

    kernel = SGLD(potential_fn=potential, step_size=schedules.polynomial_decay(0.5, 100.0, 0.55))
    mcmc = MCMC(kernel, num_warmup=2000, num_samples=40_000, num_chains=8,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(3), init_params=jnp.zeros((8, 2)), extra_fields=("step_size",))
    draws = np.asarray(mcmc.get_samples(group_by_chain=True)["x"], np.float64)
    eps = np.asarray(mcmc.get_extra_fields()["step_size"])
    assert np.all(np.diff(eps[:40_000]) <= 0)  # decreasing (first chain's block)
    for k in range(2):
        m, se = mcse_mean(draws[..., k])
        assert abs(m - float(mean[k])) < Z * se + 0.01
        v, se_v = mcse_mean((draws[..., k] - float(mean[k])) ** 2)
        # remaining O(eps) bias: at most 1 / (1 - eps_max lambda_max / 4) - 1 ~ 2%
        assert abs(v - cov[k, k]) < Z * se_v + 0.03
    c, se_c = mcse_mean((draws[..., 0] - 1.0) * (draws[..., 1] + 2.0))
    assert abs(c - cov[0, 1]) < Z * se_c + 0.03


@pytest.mark.slow
def test_vectorized_warmup_and_resume_continue_the_schedule():
    sched = schedules.polynomial_decay(0.1, 1.0, 0.6)
    kernel = SGLD(potential_fn=lambda z: 0.5 * jnp.sum(z**2), step_size=sched)
    mcmc = MCMC(kernel, num_warmup=10, num_samples=20, num_chains=2, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params=jnp.ones((2, 3)), extra_fields=("step_size", "i"))
    first = mcmc.get_extra_fields(group_by_chain=True)
    np.testing.assert_allclose(first["step_size"][0], sched(jnp.arange(10, 30)), rtol=1e-6)
    assert mcmc.get_samples(group_by_chain=True)["x"].shape == (2, 20, 3)
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=("step_size", "i"))
    second = mcmc.get_extra_fields(group_by_chain=True)
    np.testing.assert_array_equal(second["i"][0], np.arange(31, 51))
    np.testing.assert_allclose(second["step_size"][1], sched(jnp.arange(30, 50)), rtol=1e-6)


@pytest.mark.slow
def test_same_key_same_draws_and_sequential_matches_shapes(gaussian_data):
    def run():
        mcmc = MCMC(SGLD(gaussian_model, step_size=1e-5), num_warmup=5, num_samples=10,
                    progress_bar=False)
        mcmc.run(jax.random.PRNGKey(7), gaussian_data)
        return np.asarray(mcmc.get_samples()["mu"])

    a, b = run(), run()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10,)


def test_cyclical_step_size_exploration_phase_has_no_noise():
    sched = schedules.cyclical_step_size(0.05, num_steps=100, num_cycles=4, exploration_fraction=0.5)
    kernel = SGLD(potential_fn=lambda z: 0.5 * jnp.sum(z**2), step_size=sched, temperature=1.0)
    mcmc = MCMC(kernel, num_warmup=0, num_samples=100, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params=jnp.zeros(2),
             extra_fields=("step_size", "sampling_phase"))
    extra = mcmc.get_extra_fields()
    phase = np.asarray(extra["sampling_phase"])
    t = np.arange(100)
    np.testing.assert_array_equal(phase, (t % 25) / 25 >= 0.5)
    np.testing.assert_allclose(extra["step_size"], 0.025 * (np.cos(np.pi * (t % 25) / 25) + 1), rtol=1e-5)
    # starting at the minimum with no noise, exploration steps stay exactly at 0
    z = np.asarray(mcmc.get_samples()["x"])
    assert np.all(z[:12] == 0) and np.any(z[13:25] != 0)


@pytest.mark.slow
def test_rmsprop_preconditioning_conjugate_mean(gaussian_data):
    mcmc = MCMC(SGLD(gaussian_model, step_size=1e-2, preconditioning="rmsprop"),
                num_warmup=500, num_samples=5000, num_chains=2, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(5), gaussian_data)
    draws = np.asarray(mcmc.get_samples(group_by_chain=True)["mu"])
    mean_pred, _, post_var = sgld_gaussian_prediction(gaussian_data, 1e-5, 1.0)
    m, se = mcse_mean(draws)
    assert abs(m - mean_pred) < Z * se + 0.5 * np.sqrt(post_var)
    assert np.all(np.isfinite(draws))


@pytest.mark.slow
def test_potential_fn_with_data_minibatches():
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (1000,)) + 3.0)

    def potential(mu, batch):
        return 0.5 * mu**2 / 100 + 0.5 * (1000 / batch.shape[0]) * jnp.sum((batch - mu) ** 2)

    mcmc = MCMC(SGLD(potential_fn=potential, step_size=2e-4, data=x, batch_size=50),
                num_warmup=200, num_samples=4000, num_chains=2, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    draws = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])
    m, se = mcse_mean(draws)
    post_mean = x.sum() / (1000 + 0.01)
    assert abs(m - post_mean) < Z * se


def test_non_finite_gradient_is_a_divergence_and_the_chain_stays_finite():
    # z -> (1 - 5) z per step (eps = 10 on U = z^2 / 2) overflows float32 after ~64 steps
    mcmc = MCMC(SGLD(potential_fn=lambda z: 0.5 * jnp.sum(z**2), step_size=10.0, temperature=1e-30),
                num_warmup=5, num_samples=200, progress_bar=False)
    with pytest.warns(RuntimeWarning, match=r"NaN or infinite \(non-finite gradient\) at step \d+ \(sampling step \d+\)"):
        mcmc.run(jax.random.PRNGKey(0), init_params=jnp.ones(1))
        jax.block_until_ready(mcmc.get_samples())
    diverging = np.asarray(mcmc.get_extra_fields()["diverging"])  # collected by default, as for NUTS
    assert diverging.dtype == bool and diverging[:40].sum() == 0 and diverging[-1]
    first = int(np.argmax(diverging))
    z = np.asarray(mcmc.get_samples()["x"])
    assert np.all(np.isfinite(z)) and np.all(z[first:] == z[first])  # frozen at the last finite position


def test_model_without_subsample_plate_is_rejected():
    def model(x):
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("obs", dist.Normal(mu, 1), obs=x)

    mcmc = MCMC(SGLD(model, step_size=1e-3), num_warmup=1, num_samples=1, progress_bar=False)
    with pytest.raises(ValueError, match="subsample plate"):
        mcmc.run(jax.random.PRNGKey(0), jnp.zeros(10))
    # full-batch Langevin on such a model is allowed on request
    mcmc = MCMC(SGLD(model, step_size=1e-3, require_subsample=False), num_warmup=1,
                num_samples=3, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), jnp.zeros(10))
    assert mcmc.get_samples()["mu"].shape == (3,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(), "exactly one"),
        (dict(model=gaussian_model, potential_fn=lambda z: z), "exactly one"),
        (dict(potential_fn=lambda z: z, step_size=0.0), "step_size"),
        (dict(potential_fn=lambda z: z, step_size=-1e-3), "step_size"),
        (dict(potential_fn=lambda z: z, step_size=float("nan")), "step_size"),
        (dict(potential_fn=lambda z: z, step_size=lambda t: 0.1 - 1e-3 * t), "step 100"),
        (dict(potential_fn=lambda z: z, temperature=0.0), "temperature"),
        (dict(potential_fn=lambda z: z, temperature=lambda t: -jnp.ones_like(t, float)), "temperature"),
        (dict(potential_fn=lambda z, b: z, data=np.zeros(10), batch_size=20), "batch_size"),
        (dict(potential_fn=lambda z, b: z, data=np.zeros(10), batch_size=0), "batch_size"),
        (dict(potential_fn=lambda z: z, preconditioning="adam"), "preconditioning"),
        (dict(model=gaussian_model, data=np.zeros(3)), "data"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGLD(**kwargs)


def test_potential_fn_needs_init_params():
    mcmc = MCMC(SGLD(potential_fn=lambda z: jnp.sum(z**2)), num_warmup=1, num_samples=1,
                progress_bar=False)
    with pytest.raises(ValueError, match="init_params"):
        mcmc.run(jax.random.PRNGKey(0))


@pytest.mark.slow
def test_constrained_site_and_deterministic_come_back_constrained():
    x = np.asarray(0.5 * jax.random.normal(jax.random.PRNGKey(9), (2000,)))

    def model(x):
        scale = numpyro.sample("scale", dist.LogNormal(0.0, 1.0))
        numpyro.deterministic("precision", 1.0 / scale**2)
        with numpyro.plate("data", x.shape[0], subsample_size=50):
            numpyro.sample("obs", dist.Normal(0.0, scale), obs=numpyro.subsample(x, event_dim=0))

    mcmc = MCMC(SGLD(model, step_size=2e-5), num_warmup=2000, num_samples=3000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), x)
    s = mcmc.get_samples()
    assert np.all(s["scale"] > 0)
    np.testing.assert_allclose(s["precision"], 1 / s["scale"] ** 2, rtol=1e-5)
    assert abs(float(np.mean(s["scale"])) - float(np.std(x))) < 0.05
    # the kernel works in NumPyro's unconstrained space (log scale)
    assert np.all(np.asarray(mcmc.last_state.z["scale"]) < 0)


def test_python_number_model_argument_is_a_constant_not_a_tracer():
    """A batch size passed as a model argument is a shape: the kernel must not trace it."""

    def model(x, batch_size=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
        with numpyro.plate("data", x.shape[0], subsample_size=batch_size):
            numpyro.sample("obs", dist.Normal(mu, 1.0), obs=numpyro.subsample(x, event_dim=0))

    x = np.random.default_rng(0).normal(1.0, 1.0, size=500).astype(np.float32)
    mcmc = MCMC(SGLD(model, step_size=1e-4), num_warmup=10, num_samples=20, progress_bar=False)
    mcmc.run(jax.random.key(0), x, batch_size=50)
    assert mcmc.get_samples()["mu"].shape == (20,)
