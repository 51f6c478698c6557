"""Generalized cross-entropy: limits, stability, gradient weights, truncation, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ebm_numpyro import losses

gce = losses.generalized_cross_entropy


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(32, 5)) * 2.0, jnp.float32)
    labels = jnp.asarray(rng.integers(0, 5, size=32))
    return logits, labels


def _ce(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def test_matches_formula(batch):
    logits, labels = batch
    p = np.asarray(jax.nn.softmax(logits))
    py = p[np.arange(32), np.asarray(labels)]
    for q in (0.1, 0.5, 0.7, 1.0):
        np.testing.assert_allclose(gce(logits, labels, q=q), (1 - py**q) / q, rtol=1e-5, atol=1e-6)


def test_q_to_zero_is_cross_entropy(batch):
    logits, labels = batch
    np.testing.assert_allclose(gce(logits, labels, q=1e-4), _ce(logits, labels), rtol=1e-3, atol=1e-5)


def test_q_one_is_mae(batch):
    logits, labels = batch
    py = jax.nn.softmax(logits)[jnp.arange(32), labels]
    np.testing.assert_allclose(gce(logits, labels, q=1.0), 1 - py, rtol=1e-5, atol=1e-6)


def test_tsallis_reading(batch):
    logits, labels = batch
    py = jax.nn.softmax(logits)[jnp.arange(32), labels]
    q = 0.7
    np.testing.assert_allclose(gce(logits, labels, q=q), -losses.tsallis_log(py, 1 - q), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.tsallis_log(py, 1.0), jnp.log(py), rtol=1e-6)


def test_stable_for_huge_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
    labels = jnp.array([0, 0])
    out = gce(logits, labels, q=0.7)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, 1 / 0.7], atol=1e-6)
    g = jax.grad(lambda x: gce(x, labels).sum())(logits)
    assert np.all(np.isfinite(g))


def test_gradient_weight_is_py_to_the_q(batch):
    logits, labels = batch
    q = 0.7
    g_gce = jax.vmap(jax.grad(lambda x, y: gce(x, y, q=q)))(logits, labels)
    g_ce = jax.vmap(jax.grad(lambda x, y: _ce(x, y)))(logits, labels)
    weight = jax.nn.softmax(logits)[jnp.arange(32), labels] ** q
    np.testing.assert_allclose(g_gce, weight[:, None] * g_ce, rtol=1e-4, atol=1e-6)


def test_truncated(batch):
    logits, labels = batch
    q, k = 0.7, 0.3
    py = np.asarray(jax.nn.softmax(logits)[jnp.arange(32), labels])
    out = np.asarray(gce(logits, labels, q=q, truncation=k))
    full = np.asarray(gce(logits, labels, q=q))
    low = py <= k
    assert low.any() and (~low).any()
    np.testing.assert_allclose(out[~low], full[~low], rtol=1e-6)
    np.testing.assert_allclose(out[low], (1 - k**q) / q, rtol=1e-6)
    g = np.asarray(jax.vmap(jax.grad(lambda x, y: gce(x, y, q=q, truncation=k)))(logits, labels))
    np.testing.assert_allclose(g[low], 0.0)
    assert np.abs(g[~low]).sum() > 0


def test_jit_and_batch_shapes():
    logits = jnp.zeros((2, 3, 4))
    labels = jnp.zeros((2, 3), jnp.int32)
    out = jax.jit(gce)(logits, labels)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, (1 - 0.25**0.7) / 0.7, rtol=1e-6)


@pytest.mark.parametrize("q", [0.0, -0.1, 1.5, float("nan")])
def test_bad_q(batch, q):
    with pytest.raises(ValueError, match="q"):
        gce(*batch, q=q)


def test_bad_labels(batch):
    logits, labels = batch
    with pytest.raises(ValueError, match="shape"):
        gce(logits, labels[:5])
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        gce(logits, labels.at[0].set(5))
    with pytest.raises(ValueError, match="integer"):
        gce(logits, labels.astype(jnp.float32))
    for k in (0.0, 1.0, 2.0):
        with pytest.raises(ValueError, match="truncation"):
            gce(logits, labels, truncation=k)
