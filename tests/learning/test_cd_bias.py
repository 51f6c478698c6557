"""Exact CD-k bias on bars-and-stripes, cross-checked against sampled CD-1 gradients."""

import jax
import numpy as np
import optax
import pytest
import xarray as xr

import ebm_numpyro as ebm
from ebm_numpyro import learning

KS = (1, 2, 5, 10, 20, 50)


def _random_rbm(nv, nh, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    return ebm.RBM(rng.normal(size=(nv, nh)) * scale, rng.normal(size=nv) * 0.5, rng.normal(size=nh) * 0.5)


@pytest.fixture(scope="module")
def trained_3x3():
    data = ebm.datasets.bars_and_stripes(3)
    res = learning.fit(
        _random_rbm(9, 4, 0, 0.1), data, method="exact", optimizer=optax.adam(0.05), epochs=30,
        batch_size=len(data), log_likelihood=None, progress=False,
    )
    return res.model, data


def _check_shrinks(ds):
    rel = ds["relative_bias"].values
    print(ebm.diagnostics.cd_bias_report(ds).to_string())
    assert np.all(np.diff(rel[rel > 1e-10]) < 0), rel  # strictly shrinking with k (above round-off)
    assert rel[0] > 1e-3 and rel[-1] < 0.5 * rel[0]
    assert ds["cosine"].values[-1] > 0.99
    norm = ds["bias_norm"].values
    assert np.all(np.diff(norm[rel > 1e-10]) < 0)


@pytest.mark.arviz
def test_bias_shrinks_with_k_3x3(trained_3x3):
    model, data = trained_3x3
    ds = learning.cd_bias(model, data, ks=KS)
    assert isinstance(ds, xr.Dataset)
    assert ds["weights"].dims == ("k", "visible", "hidden") and ds["weights"].shape == (6, 9, 4)
    assert ds["visible_bias"].shape == (6, 9) and ds["hidden_bias"].shape == (6, 4)
    assert list(ds["k"].values) == list(KS)
    _check_shrinks(ds)


@pytest.mark.arviz
def test_bias_shrinks_with_k_4x4():
    data = ebm.datasets.bars_and_stripes(4)
    ds = learning.cd_bias(_random_rbm(16, 4, 1), data, ks=KS)
    _check_shrinks(ds)


def test_bias_consistent_with_exact_gradient(trained_3x3):
    model, data = trained_3x3
    ds = learning.cd_bias(model, data, ks=(1, 200))
    g = learning.exact_gradient(model, data)
    np.testing.assert_allclose(ds["true_weights"], g.weights, atol=2e-5)
    np.testing.assert_allclose(ds["true_visible_bias"], g.visible_bias, atol=2e-5)
    np.testing.assert_allclose(ds["true_hidden_bias"], g.hidden_bias, atol=2e-5)
    # after many steps the chain has forgotten the data: E[CD-200] = exact gradient
    assert float(ds["relative_bias"].sel(k=200)) < 1e-6
    cd1 = learning.expected_cd_gradient(model, data, k=1)
    np.testing.assert_allclose(cd1.weights - ds["true_weights"].values, ds["weights"].sel(k=1), atol=1e-12)


@pytest.mark.parametrize("size", [3, 4])
def test_sampled_cd1_mean_matches_exact(trained_3x3, size):
    """Mean of 5,000 sampled CD-1 gradients vs the exact expectation: z-scores within MC error."""
    if size == 3:
        model, data = trained_3x3
    else:
        model, data = _random_rbm(16, 4, 2), ebm.datasets.bars_and_stripes(4)
    n = 5000
    keys = jax.random.split(jax.random.key(42), n)
    sampled = jax.vmap(lambda k: learning.CD(1).gradient(model, data.astype(np.float32), None, k)[0])(keys)
    exact = learning.expected_cd_gradient(model, data, k=1)
    zs = []
    for field in ("weights", "visible_bias", "hidden_bias"):
        draws = np.asarray(getattr(sampled, field), np.float64)
        mean, sd = draws.mean(0), draws.std(0, ddof=1)
        assert np.all(sd > 0)
        zs.append(np.ravel((mean - getattr(exact, field)) / (sd / np.sqrt(n))))
    zs = np.concatenate(zs)
    # ~50-80 components: Bonferroni-style bound (two-sided p ≈ 1e-4 each)
    print(f"CD-1 sampled vs exact ({size}x{size}): max |z| = {np.max(np.abs(zs)):.2f} over {len(zs)} components")
    assert np.max(np.abs(zs)) < 4.0, np.max(np.abs(zs))
    assert abs(np.mean(zs)) < 4.0 / np.sqrt(len(zs)) + 0.5


@pytest.mark.arviz
def test_report_and_plot(trained_3x3):
    model, data = trained_3x3
    ds = learning.cd_bias(model, data, ks=[1, 3])
    df = ebm.diagnostics.cd_bias_report(ds)
    assert list(df.columns) == ["bias_norm", "relative_bias", "cosine"] and len(df) == 2
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = ebm.diagnostics.plot_cd_bias(ds)
    assert len(ax.lines) == 2


def test_bad_input(trained_3x3):
    model, data = trained_3x3
    with pytest.raises(ValueError, match="k"):
        learning.cd_bias(model, data, ks=(0, 1))
    with pytest.raises(ValueError, match="0 or 1"):
        learning.cd_bias(model, data * 2, ks=(1,))
    with pytest.raises(ValueError, match="shape"):
        learning.cd_bias(model, data[:, :5], ks=(1,))
    with pytest.raises(ValueError, match="RBM"):
        learning.cd_bias(ebm.BoltzmannMachine(np.zeros((3, 3))), data[:, :3])
    with pytest.raises(ValueError, match="2\\^26"):
        learning.cd_bias(ebm.RBM(np.zeros((20, 10))), np.zeros((2, 20), np.int8))
