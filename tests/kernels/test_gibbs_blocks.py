"""The library's model= kernels as blocks of NumPyro 0.22's composable ``numpyro.infer.Gibbs``:
``refresh`` and ``wrap_model``, and the posterior of a small mixed model against enumeration over
the discrete sites times quadrature over the continuous one, beside NumPyro's ``DiscreteGibbs``."""

import itertools

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import z_crit
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS, DiscreteGibbs, Gibbs
from scipy.stats import norm

import ebm_numpyro as ebm

Y = np.array([1.2, -0.3, 2.0])


def mixed(y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    with numpyro.plate("n", y.shape[0]):
        z = numpyro.sample("z", dist.Bernoulli(0.4))
        numpyro.sample("y", dist.Normal(mu + 1.5 * z, 0.7), obs=y)


def exact_posterior():
    """E[mu], E[z_i]: enumeration over z, quadrature over mu."""
    mus = np.linspace(-8, 8, 8001)
    total, mean_z, mean_mu = 0.0, np.zeros(3), 0.0
    for z in itertools.product([0, 1], repeat=3):
        z = np.array(z)
        w = np.prod(np.where(z, 0.4, 0.6)) * norm.pdf(mus) * np.prod(norm.pdf(Y[None], mus[:, None] + 1.5 * z, 0.7), -1)
        total += w.sum()
        mean_z += w.sum() * z
        mean_mu += (w * mus).sum()
    return mean_mu / total, mean_z / total


@pytest.mark.slow
def test_block_interface():
    kernel = ebm.TemperedGibbs(model=mixed)
    wrapped = kernel.wrap_model(lambda m: m)
    assert wrapped is not kernel and wrapped.model is not None and wrapped._sample_fn is None
    composite = Gibbs([(NUTS(mixed), ["mu"]), (kernel, ["z"])])
    mcmc = MCMC(composite, num_warmup=5, num_samples=5, progress_bar=False)
    mcmc.run(jax.random.key(0), Y)
    assert set(mcmc.get_samples()) == {"mu", "z"}
    assert set(np.unique(np.asarray(mcmc.get_samples()["z"]))) <= {0, 1}


@pytest.mark.slow
@pytest.mark.parametrize("peer", ["ebm", "DiscreteGibbs", "gwg", "dla"])
def test_mixed_model_posterior_against_exact(peer):
    block = {"ebm": lambda: ebm.TemperedGibbs(model=mixed), "DiscreteGibbs": lambda: DiscreteGibbs(mixed),
             "gwg": lambda: ebm.GibbsWithGradients(model=mixed), "dla": lambda: ebm.DiscreteLangevin(model=mixed)}[peer]()
    mcmc = MCMC(Gibbs([(NUTS(mixed), ["mu"]), (block, ["z"])]), num_warmup=300, num_samples=1500, num_chains=2,
                chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.key(1), Y)
    samples = mcmc.get_samples(group_by_chain=True)
    exact_mu, exact_z = exact_posterior()
    draws = [np.asarray(samples["mu"], np.float64)] + [np.asarray(samples["z"][..., i], np.float64) for i in range(3)]
    for d, want in zip(draws, [exact_mu, *exact_z]):
        ess = effective_sample_size(d)
        z = (d.mean() - want) / max(d.std() / np.sqrt(ess), 1e-9)
        assert abs(z) < z_crit(4), (d.mean(), want, z)
