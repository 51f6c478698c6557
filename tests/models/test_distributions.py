"""ebm.Boltzmann: an energy model as a NumPyro distribution (exact log_prob and sample), and
the exact categorical draw it shares with the q-state Gibbs kernels."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import count_z_scores, enable_x64, z_crit
from numpyro.infer.util import log_density

import ebm_numpyro as ebm
from ebm_numpyro.distributions import MAX_ENUMERATED_STATES, all_states_of
from ebm_numpyro.kernels import streams as _random
from ebm_numpyro.kernels.decisions import categorical_from_words, conditional_logits

_W = np.triu(np.random.default_rng(0).normal(size=(6, 6)), 1)
SMALL = {
    "lattice": ebm.Ising.square_lattice(3, 3, coupling=0.7, field=0.2),
    "bm": ebm.BoltzmannMachine(_W + _W.T, np.linspace(-0.5, 0.5, 6)),
    "rbm": ebm.RBM(np.random.default_rng(1).normal(size=(3, 2)), np.full(3, 0.2), np.full(2, -0.3)),
}


# ----------------------------------------------------------------------------- categorical
def test_conditional_logits_recover_softmax():
    logits = jnp.array([0.3, -1.0, 2.0, 0.0])
    c = jax.nn.sigmoid(conditional_logits(logits))
    p = [float(c[0])]
    rest = 1 - c[0]
    for k in range(1, 3):
        p.append(float(rest * c[k]))
        rest = rest * (1 - c[k])
    p.append(float(rest))
    np.testing.assert_allclose(p, jax.nn.softmax(logits), rtol=1e-5)


@pytest.mark.slow
def test_categorical_frequencies_and_zero_probabilities():
    logits = jnp.array([0.3, -1.0, 2.0, -jnp.inf, 0.0, -30.0])
    n = 200_000
    x = np.asarray(categorical_from_words(_random.key_words(jax.random.key(0)), 0, jnp.broadcast_to(logits, (n, 6))))
    counts = np.bincount(x, minlength=6)
    p = np.asarray(jax.nn.softmax(logits), np.float64)
    assert counts[3] == 0  # probability exactly 0 is never drawn
    z = count_z_scores(counts, p, n)
    assert np.abs(z).max() < z_crit(6), (counts / n, p)


def test_categorical_keeps_tiny_probabilities():
    # p_1 = e^-80 / (1 + ...) ~ 1.8e-35: not rounded to 0 (its conditional logit is finite)
    z = conditional_logits(jnp.array([0.0, -80.0, -81.0]))
    assert np.all(np.isfinite(np.asarray(z)))
    assert float(jax.nn.sigmoid(-jnp.abs(z[1]))) > 0


# ----------------------------------------------------------------------------- Boltzmann
@pytest.mark.parametrize("name", sorted(SMALL))
def test_log_prob_is_normalised(name):
    model = SMALL[name]
    d = ebm.Boltzmann(model, 1.5)
    assert d.normalized and d.event_shape == tuple(model.event_shape) and d.batch_shape == ()
    lp = np.asarray(d.log_prob(all_states_of(model)), np.float64)
    np.testing.assert_allclose(np.exp(lp).sum(), 1.0, rtol=1e-5)
    x = all_states_of(model)[5]
    np.testing.assert_allclose(d.log_prob(x), -model.energy(x) / 1.5 - ebm.exact.log_partition(model, 1.5), rtol=1e-5)


@pytest.mark.slow
def test_kaufman_normalisation_and_unnormalised_flag():
    big = ebm.Ising.square_lattice(32)
    d = ebm.Boltzmann(big, 2.5)
    assert d.normalized
    up = jnp.ones((32, 32), jnp.int8)
    np.testing.assert_allclose(d.log_prob(up), 2048 / 2.5 - ebm.exact.kaufman_log_partition(32, 32, 2.5), rtol=1e-6)
    with_field = ebm.Ising.square_lattice(32, field=0.1)
    u = ebm.Boltzmann(with_field, 2.5)
    assert not u.normalized
    np.testing.assert_allclose(u.log_prob(up), -with_field.energy(up) / 2.5, rtol=1e-6)
    with pytest.raises(ValueError, match="normalized=True"):
        ebm.Boltzmann(with_field, 2.5, normalized=True)
    assert not ebm.Boltzmann(SMALL["lattice"], 1.0, normalized=False).normalized


def test_sample_matches_enumeration():
    model = SMALL["bm"]
    d = ebm.Boltzmann(model, 0.8)
    n = 20_000
    x = np.asarray(d.sample(jax.random.key(3), (n,)))
    assert x.shape == (n, 6) and set(np.unique(x)) <= {0, 1}
    codes = (x == 1).astype(np.int64) @ (1 << np.arange(6))
    p = np.exp(np.asarray(d.log_prob(all_states_of(model)), np.float64))
    z = count_z_scores(np.bincount(codes, minlength=64), p, n)
    assert np.abs(z).max() < z_crit(64)


def test_support_and_errors():
    d = ebm.Boltzmann(SMALL["lattice"], 2.0)
    assert d.support.is_discrete and d.support.event_dim == 2
    assert bool(d.support(jnp.ones((3, 3), jnp.int8))) and not bool(d.support(jnp.zeros((3, 3), jnp.int8)))
    with pytest.raises(ValueError, match="sample"):
        ebm.Boltzmann(ebm.Ising.square_lattice(8), 2.0).sample(jax.random.key(0))
    assert 2.0**64 > MAX_ENUMERATED_STATES
    for t in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            ebm.Boltzmann(SMALL["lattice"], t)
    with pytest.raises(ValueError, match="energy_model"):
        ebm.Boltzmann(ebm.DoubleWell(), 1.0)
    with pytest.raises(ValueError, match="normalized"):
        ebm.Boltzmann(SMALL["lattice"], 1.0, normalized="yes")


@pytest.mark.slow
def test_site_in_a_numpyro_model_and_x64():
    lattice = SMALL["lattice"]

    def model(y):
        s = numpyro.sample("s", ebm.Boltzmann(lattice, 2.0))
        numpyro.sample("y", dist.Normal(s, 0.5).to_event(2), obs=y)

    s = jnp.ones((3, 3), jnp.int8)
    y = jnp.zeros((3, 3))
    lp, _ = log_density(model, (y,), {}, {"s": s})
    expected = ebm.Boltzmann(lattice, 2.0).log_prob(s) + dist.Normal(s, 0.5).to_event(2).log_prob(y)
    np.testing.assert_allclose(lp, expected, rtol=1e-6)
    with enable_x64():
        m64 = ebm.Ising.square_lattice(3, 3, coupling=0.7, field=0.2)
        d = ebm.Boltzmann(m64, 1.5)
        assert d.log_prob(jnp.ones((3, 3), jnp.int8)).dtype == jnp.float64
        np.testing.assert_allclose(np.exp(np.asarray(d.log_prob(all_states_of(m64)))).sum(), 1.0, rtol=1e-12)
