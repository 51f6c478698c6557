"""SGLD regressions of issue #16: the step's random numbers (jax.random's draws, bit for bit,
without its rolled CPU loops) and ``az.from_numpyro`` after a run on a subsampled model
(quiet; no pointwise log-likelihood of B arbitrary rows; the full-data one on request)."""

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from jax import random
from numpyro.infer import MCMC

from ebm_numpyro.kernels import _moves
from ebm_numpyro.kernels.sgld import SGLD

N, D, B = 300, 3, 20


def regression(x, y):
    """The README's SGLD example, smaller."""
    w = numpyro.sample("w", dist.Normal(0, 1).expand([x.shape[1]]).to_event(1))
    with numpyro.plate("data", x.shape[0], subsample_size=B):
        xb, yb = numpyro.subsample(x, event_dim=1), numpyro.subsample(y, event_dim=0)
        numpyro.sample("y", dist.Bernoulli(logits=xb @ w), obs=yb)


def regression_extras(x, y):
    """With a constrained scale, an observed site outside the plate and a deterministic site in it."""
    w = numpyro.sample("w", dist.Normal(0, 1).expand([x.shape[1]]).to_event(1))
    s = numpyro.sample("s", dist.HalfNormal(1.0))
    numpyro.sample("s_obs", dist.Normal(s, 1.0), obs=0.5)  # not subsampled: its likelihood is kept
    with numpyro.plate("data", x.shape[0], subsample_size=B):
        xb, yb = numpyro.subsample(x, event_dim=1), numpyro.subsample(y, event_dim=0)
        numpyro.deterministic("p", jax.nn.sigmoid(xb @ w / s))
        numpyro.sample("y", dist.Bernoulli(logits=xb @ w / s), obs=yb)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, D)).astype(np.float32)
    logits = x @ np.array([1.0, -2.0, 0.5])
    y = (rng.random(N) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return x, y


def _run(model, data, num_chains=1):
    mcmc = MCMC(SGLD(model, step_size=1e-3), num_warmup=10, num_samples=12, num_chains=num_chains,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(random.PRNGKey(2), *data)
    return mcmc


@pytest.fixture(scope="module")
def readme_run(data):
    return _run(regression, data, num_chains=2)


def _no_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not messages, messages
    return out


# --------------------------------------------------------------------------- random numbers
KEYS = [random.PRNGKey(0), random.PRNGKey(12345), random.key(7), random.key(2**31 - 1)]
DRAWS = {
    "split": (lambda r, k: r.split(k), _moves.split_keys),
    "split3": (lambda r, k: r.split(k, 3), lambda k: _moves.split_keys(k, 3)),
    "randint": (lambda r, k: r.randint(k, (100,), 0, 10_000), lambda k: _moves.randint(k, (100,), 0, 10_000)),
    "randint-2d-wide": (lambda r, k: r.randint(k, (7, 3), -5, 2**31 - 1),
                        lambda k: _moves.randint(k, (7, 3), -5, 2**31 - 1)),
    "randint-odd": (lambda r, k: r.randint(k, (1,), 3, 4), lambda k: _moves.randint(k, (1,), 3, 4)),
    "normal": (lambda r, k: r.normal(k, (20,)), lambda k: _moves.normal(k, (20,))),
    "normal-2d": (lambda r, k: r.normal(k, (3, 5)), lambda k: _moves.normal(k, (3, 5))),
    "normal-scalar": (lambda r, k: r.normal(k, ()), lambda k: _moves.normal(k, ())),
    "normal-f16": (lambda r, k: r.normal(k, (4,), jnp.float16), lambda k: _moves.normal(k, (4,), jnp.float16)),
}


def _words(x):
    return np.asarray(random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x)


@pytest.mark.parametrize("name", list(DRAWS))
def test_fused_draws_are_jax_random_bit_for_bit(name):
    reference, fused = DRAWS[name]
    for key in KEYS:
        expected = _words(reference(random, key))
        np.testing.assert_array_equal(_words(fused(key)), expected)
        np.testing.assert_array_equal(_words(jax.jit(fused)(key)), expected)
        np.testing.assert_array_equal(_words(jax.vmap(fused)(jnp.stack([key, key]))[1]), expected)


def test_tree_normal_like_is_jax_random_bit_for_bit():
    tree = {"a": jnp.zeros(3), "b": jnp.zeros((2, 2)), "c": jnp.zeros(())}
    key = random.PRNGKey(3)
    leaves, treedef = jax.tree.flatten(tree)
    keys = random.split(key, len(leaves))
    expected = jax.tree.unflatten(treedef, [random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    got = jax.jit(_moves.tree_normal_like)(key, tree)
    jax.tree.map(np.testing.assert_array_equal, got, expected)


def _while_loops(kernel, state, args):
    hlo = jax.jit(lambda s: kernel.sample(s, args, {})).lower(state).compile().as_text()
    return len(re.findall(r"\swhile\(", hlo))


def test_one_step_compiles_without_loops(data):
    """jax.random's Threefry is a rolled loop of 5 iterations on CPU: HEAD's step ran 6 of them
    (split, split, randint's split and two halves, the noise), ~600 XLA thunks a step."""
    kernel = SGLD(regression, step_size=1e-3)
    state = kernel.init(random.PRNGKey(0), 0, model_args=data)
    assert _while_loops(kernel, state, data) == 0


def test_one_step_is_the_jax_random_formula():
    """Same key, same draw as the step written with jax.random (the draws before the fix)."""
    x = np.linspace(-1.0, 1.0, N).astype(np.float32)

    def potential(mu, batch):
        return 0.5 * mu**2 + 0.5 * N / batch.shape[0] * jnp.sum((batch - mu) ** 2)

    eps, temperature = 1e-3, 0.7
    kernel = SGLD(potential_fn=potential, data=x, batch_size=B, step_size=eps, temperature=temperature)
    state = kernel.init(random.PRNGKey(5), 0, init_params=jnp.float32(0.3))
    new = kernel.sample(state)
    key, key_step = random.split(state.rng_key)
    key_batch, key_noise = random.split(key_step)
    batch = x[random.randint(key_batch, (B,), 0, N)]
    grad = jax.grad(potential)(state.z, batch)
    expected = state.z - 0.5 * eps * grad + jnp.sqrt(eps * temperature) * random.normal(key_noise, ())
    np.testing.assert_array_equal(np.asarray(new.rng_key), np.asarray(key))
    np.testing.assert_allclose(float(new.z), float(expected), rtol=1e-6)


# --------------------------------------------------------------------------- ArviZ
@pytest.mark.arviz
def test_from_numpyro_after_the_readme_example_is_quiet(readme_run):
    import arviz as az

    from ebm_numpyro.diagnostics._arviz_compat import get_group, group_names

    idata = _no_warnings(lambda: az.from_numpyro(readme_run))
    groups = set(group_names(idata))
    assert {"posterior", "sample_stats"} <= groups
    # no (chain, draw, N) pointwise log-likelihood by default, and no B arbitrary rows passing for the data
    assert "log_likelihood" not in groups and "observed_data" not in groups
    assert get_group(idata, "posterior")["w"].shape == (2, 12, D)
    assert get_group(idata, "sample_stats")["diverging"].shape == (2, 12)


@pytest.mark.arviz
def test_from_numpyro_keeps_what_is_not_subsampled(data):
    import arviz as az

    from ebm_numpyro.diagnostics._arviz_compat import get_group, group_names

    mcmc = _run(regression_extras, data)
    idata = _no_warnings(lambda: az.from_numpyro(mcmc, log_likelihood=True))  # ArviZ 1.x's default: False
    post = get_group(idata, "posterior")
    assert post["p"].dims == ("chain", "draw", "data") and post["p"].shape == (1, 12, B)  # first B rows
    assert float(post["s"].min()) > 0  # constrained
    assert "log_likelihood" in group_names(idata)
    ll = get_group(idata, "log_likelihood")
    assert list(ll.data_vars) == ["s_obs"]  # the observed site outside the plate, exactly
    s = np.asarray(mcmc.get_samples()["s"])
    np.testing.assert_allclose(ll["s_obs"].values[0], dist.Normal(s, 1.0).log_prob(0.5), rtol=1e-5)


def test_full_data_model_gives_the_pointwise_log_likelihood(readme_run, data):
    x, y = data
    samples = readme_run.get_samples(group_by_chain=True)
    sampler = readme_run.sampler
    ll = _no_warnings(lambda: numpyro.infer.log_likelihood(sampler.full_data_model, samples, x, y, batch_ndims=2))
    assert set(ll) == {"y"} and ll["y"].shape == (2, 12, N)
    logits = np.einsum("nd,csd->csn", x.astype(np.float64), np.asarray(samples["w"], np.float64))
    expected = y * -np.logaddexp(0, -logits) + (1 - y) * -np.logaddexp(0, logits)
    np.testing.assert_allclose(np.asarray(ll["y"]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.arviz
def test_full_data_log_likelihood_goes_into_inference_data(readme_run, data):
    import arviz as az

    from ebm_numpyro.diagnostics._arviz_compat import USES_DATATREE, get_group

    if USES_DATATREE:
        pytest.skip("the add_groups recipe is ArviZ 0.23's")
    ll = numpyro.infer.log_likelihood(readme_run.sampler.full_data_model, readme_run.get_samples(group_by_chain=True),
                                      *data, batch_ndims=2)
    idata = az.from_numpyro(readme_run)
    idata.add_groups(log_likelihood=ll)
    assert get_group(idata, "log_likelihood")["y"].shape == (2, 12, N)


def test_model_is_the_users_before_init_and_full_data_model_needs_no_init():
    kernel = SGLD(regression)
    assert kernel.model is regression  # numpyro.infer.Gibbs compares its blocks' models
    assert SGLD(potential_fn=lambda z: jnp.sum(z**2)).full_data_model is None
    x = np.zeros((N, D), np.float32)
    tr = _no_warnings(lambda: numpyro.handlers.trace(numpyro.handlers.seed(kernel.full_data_model, 0)).get_trace(x, x[:, 0]))
    assert tr["y"]["value"].shape == (N,) and tr["y"]["scale"] in (None, 1.0)
