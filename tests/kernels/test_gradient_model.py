"""The gradient-informed kernels (GibbsWithGradients, DiscreteLangevin) on NumPyro models: the
log joint extended to real-valued units (:mod:`ebm_numpyro.kernels.relaxed`), every state of a
model with 10 coupled Bernoulli sites on every rung of a ladder against enumeration, and the
models they refuse."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import assert_state_frequencies, run_mcmc
from test_importance import coupled_bernoulli

import ebm_numpyro as ebm
from ebm_numpyro.kernels import model_target as mt
from ebm_numpyro.kernels.relaxed import relax

KERNELS = {"gwg": lambda **kw: ebm.GibbsWithGradients(num_proposals=4, **kw),
           "dla": lambda **kw: ebm.DiscreteLangevin(**kw)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_ten_bernoulli_sites_every_state_on_every_rung(name):
    model, log_joint = coupled_bernoulli()
    z = np.array(list(itertools.product([0, 1], repeat=10)), np.float64)
    lp = log_joint(z)
    ladder = [1.0, 1.7, 3.0]
    mcmc = run_mcmc(KERNELS[name](model=model, temperatures=ladder), key=5, warmup=30, samples=60, chains=512,
                    extra=("x", "swap_accept"))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"]["z"])  # (chain, draw, rung, 10)
    codes = (x * 2 ** np.arange(9, -1, -1)).sum(-1).astype(int)  # the row of `z` above
    for k, t in enumerate(ladder):
        p = np.exp(lp / t - np.logaddexp.reduce(lp / t))
        assert_state_frequencies(codes[:, :, k], p, f"{name}, rung {k} (T = {t})")
    assert float(np.mean(mcmc.get_extra_fields()["swap_accept"])) > 0.2


def test_relaxed_log_joint_and_its_gradient():
    # the relaxed energy at discrete values is the model's; its gradient that of the log joint
    # at real values, where Bernoulli's log-probability is x log p + (1 - x) log(1 - p)
    rng = np.random.default_rng(0)
    w, prior = rng.normal(size=5), rng.uniform(0.2, 0.6, size=5)

    def model():
        z = numpyro.sample("z", dist.Bernoulli(probs=jnp.asarray(prior, jnp.float32)).to_event(1))
        numpyro.sample("y", dist.Normal(jnp.sum(jnp.asarray(w, jnp.float32) * z), 0.7), obs=1.3)

    def log_joint(x):
        return (x * np.log(prior) + (1 - x) * np.log1p(-prior)).sum(-1) - 0.5 * ((1.3 - x @ w) / 0.7) ** 2 \
            - np.log(0.7 * np.sqrt(2 * np.pi))

    sites, _ = mt.find_sites(model, (), {})
    relaxed = relax(mt.model_target(model, (), {}, sites), "test")
    z = np.array([[0, 1, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 1, 1, 1]])  # (only states: validation masks others)
    t, u, gt = relaxed.energies(jnp.asarray(z, jnp.float32), jnp.ones((z.shape[0],), jnp.float32))  # slope at beta 1
    np.testing.assert_allclose(np.asarray(t), -log_joint(z), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(u), 0.0)
    grad = np.log(prior / (1 - prior)) + w[None] * ((1.3 - z @ w) / 0.49)[:, None]
    np.testing.assert_allclose(np.asarray(gt), -grad, rtol=1e-4, atol=1e-5)


def categorical_model():
    c = numpyro.sample("c", dist.Categorical(probs=jnp.array([0.2, 0.5, 0.3])))
    numpyro.sample("y", dist.Normal(c, 1.0), obs=0.7)


def indexing_model():
    b = numpyro.sample("b", dist.Bernoulli(0.3).expand([3]).to_event(1))
    table = jnp.array([0.0, 1.0])
    numpyro.sample("y", dist.Normal(table[b[0]], 1.0), obs=0.7)  # a unit used as an index


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_refused_models_name_the_alternatives(name):
    with pytest.raises(ValueError, match=r"binary latent sites only.*TemperedGibbs\(model=...\)"):
        run_mcmc(KERNELS[name](model=categorical_model), warmup=1, samples=1, chains=1)
    with pytest.raises(ValueError, match=r"real-valued units.*ImportanceTemperedGibbs"):
        run_mcmc(KERNELS[name](model=indexing_model), warmup=1, samples=1, chains=1)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_quick_run_with_summary(name):
    model, _ = coupled_bernoulli()
    mcmc = run_mcmc(KERNELS[name](model=model), warmup=10, samples=20, chains=2)
    assert mcmc.get_samples()["z"].shape == (40, 10)
    assert set(np.unique(np.asarray(mcmc.get_samples()["z"]))) <= {0, 1}
    jax.block_until_ready(mcmc.last_state)
