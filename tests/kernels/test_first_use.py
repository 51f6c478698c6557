"""What a new user trips over first (issue 16's trial), each kept fixed by a test."""

import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import summary_text
from numpyro.infer import HMCGibbs, MCMC, NUTS

import ebm_numpyro as ebm


@pytest.mark.arviz
def test_bare_potentials_come_back_named_in_arviz():
    """CyclicAnnealing and SGLD with a bare potential_fn: the samples are named (not Param:0)."""
    for kernel, init in (
        (ebm.CyclicAnnealing(potential_fn=lambda z: jnp.sum((z**2 - 1) ** 2), temperature=0.5), jnp.zeros(2)),
        (ebm.SGLD(potential_fn=lambda z: 0.5 * jnp.sum(z**2), step_size=1e-2), jnp.zeros(2)),
        (ebm.CyclicAnnealing(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)), temperature=2.0),
         jnp.ones((4, 4), jnp.int8)),
    ):
        mcmc = MCMC(kernel, num_warmup=2, num_samples=5, progress_bar=False)
        mcmc.run(jax.random.key(0), init_params=init)
        name = "spins" if init.dtype == jnp.int8 else "x"
        assert set(mcmc.get_samples()) == {name}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            posterior = az.from_numpyro(mcmc).posterior
        assert name in posterior.data_vars and not any(v.startswith("Param") for v in posterior.data_vars)


def test_summary_of_a_16x16_lattice_is_short():
    """States are kept per draw only up to 64 units by default: a 16x16 lattice's summary shows
    the observables, not 256 spin rows."""
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(16)), temperature=2.5)
    mcmc = MCMC(kernel, num_warmup=2, num_samples=10, progress_bar=False)
    mcmc.run(jax.random.key(0))
    text = summary_text(mcmc)
    assert len(text.strip().splitlines()) < 12, text
    assert "physical_energy" in text and "spins" not in text


def test_gibbs_fn_with_vectorized_chains_says_what_to_use():
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        with numpyro.plate("n", 3):
            z = numpyro.sample("z", dist.Bernoulli(0.4))
            numpyro.sample("y", dist.Normal(mu + z, 1.0), obs=y)

    y = jnp.array([0.5, 1.0, -0.2])
    kernel = HMCGibbs(NUTS(model), gibbs_fn=ebm.gibbs_fn(model, model_args=(y,)), gibbs_sites=["z"])
    mcmc = MCMC(kernel, num_warmup=2, num_samples=2, num_chains=2, chain_method="vectorized", progress_bar=False)
    with pytest.raises(ValueError, match="sequential"):
        mcmc.run(jax.random.key(0), y)
    assert "sequential" in ebm.gibbs_fn.__doc__ and "parallel" in ebm.gibbs_fn.__doc__
