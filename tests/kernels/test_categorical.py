"""The exact categorical (softmax) draw of kernels/categorical.py: the conditional logits of
its chain of binary decisions against a float64 reference (far tails included, both the
unrolled and the scanned reverse log-sum-exp), impossible states, and the frequencies of
independent draws against the softmax probabilities (fixed key, Bonferroni z bound)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_numpyro.kernels import decisions as categorical
from ebm_numpyro.kernels import streams as _random
from helpers import count_z_scores, z_crit


def reference_conditional_logits(logits):
    """z_k = l_k - log sum_{j>k} exp(l_j) in float64, with a per-k maximum (no underflow)."""
    logits = np.asarray(logits, np.float64)
    out = np.empty(logits.shape[:-1] + (logits.shape[-1] - 1,))
    for k in range(logits.shape[-1] - 1):
        rest = logits[..., k + 1:]
        m = rest.max(axis=-1, keepdims=True)
        out[..., k] = logits[..., k] - (m[..., 0] + np.log(np.exp(rest - m).sum(axis=-1)))
    return out


@pytest.mark.parametrize("q", [2, 3, 7, categorical.UNROLLED_STATES, categorical.UNROLLED_STATES + 9])
def test_conditional_logits_match_float64_far_into_the_tails(q):
    rng = np.random.default_rng(q)
    # spreads up to 80 nats: states with probability ~e^-80 (far below float32's 2^-24 ulp of 1)
    logits = rng.normal(size=(64, q)) * rng.choice([0.1, 3.0, 30.0], size=(64, 1))
    got = np.asarray(categorical.conditional_logits(jnp.asarray(logits, jnp.float32)), np.float64)
    want = reference_conditional_logits(np.asarray(jnp.asarray(logits, jnp.float32), np.float64))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * (1 + np.abs(want)).max())


def test_impossible_states_are_never_drawn():
    logits = jnp.array([[-jnp.inf, 0.0, -jnp.inf, -jnp.inf],
                        [0.0, -jnp.inf, -jnp.inf, -jnp.inf],
                        [-jnp.inf, -jnp.inf, -jnp.inf, 1.0],
                        [-jnp.inf, 2.0, -jnp.inf, 2.0]])
    words = _random.key_words(jax.random.key(0))
    draws = np.asarray(categorical.categorical_from_words(words, 0, jnp.broadcast_to(logits, (200,) + logits.shape)))
    assert np.all(draws[:, 0] == 1) and np.all(draws[:, 1] == 0) and np.all(draws[:, 2] == 3)
    assert set(np.unique(draws[:, 3]).tolist()) == {1, 3}


def test_frequencies_match_the_softmax():
    logits = jnp.array([0.3, -1.2, 2.0, -4.0, 0.0])  # the smallest probability is ~1.6e-3
    n = 400_000
    words = _random.key_words(jax.random.key(7))
    draws = np.asarray(categorical.categorical_from_words(words, 3, jnp.broadcast_to(logits, (n, 5))))
    p = np.asarray(jax.nn.softmax(logits.astype(jnp.float64) if jax.config.jax_enable_x64 else logits), np.float64)
    p = p / p.sum()
    z = count_z_scores(np.bincount(draws, minlength=5), p, n)
    assert np.abs(z).max() < z_crit(5), (z, p)


def test_many_states_descend_a_tree_exactly():
    # above TREE_STATES states the draw descends a binary tree of log-masses: frequencies of 100
    # states against the softmax (states of probability 0 never drawn, one 30 nats down, the
    # smallest of the rest ~1e-4 with about 40 expected draws)
    from ebm_numpyro.kernels.decisions import TREE_STATES

    q = 100
    assert q > TREE_STATES
    rng = np.random.default_rng(3)
    logits = rng.normal(size=q)
    logits[[5, 50, 99]] = -np.inf
    logits[7] = -30.0 + logits.max()
    logits[11] = np.log(0.05) + np.log(np.exp(logits[np.isfinite(logits)]).sum())  # a state with ~5%
    n = 400_000
    draws = np.asarray(categorical.categorical_from_words(_random.key_words(jax.random.key(8)), 2,
                                                          jnp.broadcast_to(jnp.asarray(logits, jnp.float32), (n, q))))
    p = np.exp(logits - np.logaddexp.reduce(logits[np.isfinite(logits)]))
    counts = np.bincount(draws, minlength=q)
    assert counts[[5, 50, 99]].sum() == 0
    z = count_z_scores(counts, p, n)
    assert np.abs(z[np.isfinite(z)]).max() < z_crit(q), z
