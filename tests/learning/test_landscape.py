"""Entropic force: SGLD occupancy of a wide vs a narrow minimum of equal depth; sharpness measures."""

import importlib
import pathlib
import sys

import numpy as np
import pytest

import ebm_numpyro as ebm
from ebm_numpyro import landscape

Z = 4.0


@pytest.mark.slow
@pytest.mark.parametrize("dim", [1, 2])
def test_entropic_force_occupancy_ratio(dim):
    r = landscape.entropic_force_experiment(
        dim, temperature=1.0, k_wide=1.0, k_narrow=4.0, separation=1.5, step_size=0.025,
        num_samples=200_000, thinning=20, num_chains=16, rng_key=dim,
    )
    assert r.predicted == pytest.approx(2.0**dim)
    assert r.crossings > 1000 and r.ess > 1000
    # against the Boltzmann ratio at this T corrected by the harmonic step-size bias ...
    assert abs(r.measured - r.exact * r.sgld_bias_factor) < Z * r.stderr, r
    # ... and against the entropic prediction (k_n/k_w)^(d/2), within the error bar plus the
    # (known, < 3%) tail and step-size corrections
    assert abs(r.measured - r.predicted) < Z * r.stderr + abs(r.predicted - r.exact * r.sgld_bias_factor)
    assert r.stderr < 0.05 * r.predicted
    assert r.fraction_wide == pytest.approx(r.measured / (1 + r.measured))


def test_exact_occupancy_ratio_limits():
    # d = 1: harmonic up to the far tail (x < -2a here), negligible unless T is large
    m1 = ebm.WideNarrowWells(dim=1, separation=1.0, k_wide=1.0, k_narrow=9.0)
    for t in (0.05, 0.2):
        assert landscape.exact_occupancy_ratio(m1, t) == pytest.approx(3.0, rel=1e-4)
    assert landscape.exact_occupancy_ratio(m1, 3.0) > 3.1
    m2 = ebm.WideNarrowWells(dim=2, separation=1.5, k_wide=1.0, k_narrow=4.0)
    coarse = landscape.exact_occupancy_ratio(m2, 1.0, num_grid=1001)
    assert landscape.exact_occupancy_ratio(m2, 1.0) == pytest.approx(coarse, rel=1e-3)
    # d = 3: tends to the harmonic value as T -> 0 and moves away at high T
    m3 = ebm.WideNarrowWells(dim=3, separation=2.0, k_wide=1.0, k_narrow=4.0)
    assert landscape.exact_occupancy_ratio(m3, 0.2) == pytest.approx(8.0, rel=1e-3)
    assert landscape.exact_occupancy_ratio(m3, 2.0) > 8.1


def test_entropic_force_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        landscape.entropic_force_experiment(1, temperature=0.0)
    with pytest.raises(ValueError, match="dim"):
        landscape.entropic_force_experiment(0)
    with pytest.raises(ValueError, match="k_narrow"):
        landscape.entropic_force_experiment(1, k_narrow=-1.0)
    with pytest.raises(ValueError, match="step_size"):
        landscape.entropic_force_experiment(1, step_size=0.0)


@pytest.mark.slow
def test_hessian_trace_and_top_eigenvalue_on_a_quadratic():
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    eig = np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    a = jnp.asarray((q * eig) @ q.T, jnp.float32)

    def loss(params):
        th = jnp.concatenate([params["u"], params["v"].ravel()])
        return 0.5 * th @ a @ th

    params = {"u": jnp.ones(2), "v": jnp.zeros((2, 2))}
    est, se = landscape.hessian_trace(loss, params, jax.random.PRNGKey(0), num_probes=2000)
    assert abs(float(est) - eig.sum()) < Z * float(se) + 1e-3
    top = landscape.top_hessian_eigenvalue(loss, params, jax.random.PRNGKey(1), num_iters=200)
    assert float(top) == pytest.approx(5.0, rel=1e-3)
    # diagonal Hessian: Rademacher probes are exact
    diag = lambda p: 0.5 * jnp.sum(jnp.arange(1.0, 5.0) * p**2)  # noqa: E731
    est, se = landscape.hessian_trace(diag, jnp.ones(4), jax.random.PRNGKey(2), num_probes=4)
    assert float(est) == pytest.approx(10.0, rel=1e-5) and float(se) < 1e-5


def _sharpness_script():
    """``benchmarks/sharpness.py`` (the SGD vs SGLD experiment lives with the benchmarks)."""
    bench = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"  # this file: tests/learning/
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    return importlib.import_module("sharpness")


def test_landscape_exports_the_library_only():
    assert set(landscape.__all__) == {"EntropicForceResult", "entropic_force_experiment",
                                      "exact_occupancy_ratio", "hessian_trace", "top_hessian_eigenvalue"}
    for name in ("sharpness_experiment", "two_moons", "mlp_init", "mlp_logits", "cross_entropy"):
        assert not hasattr(landscape, name)


@pytest.mark.slow
def test_sharpness_benchmark_smoke():
    sharpness = _sharpness_script()
    r = sharpness.sharpness_experiment(1.0, num_steps=300, num_runs=2, num_points=64,
                                       num_probes=4, batch_size=16, rng_key=0)
    for method in ("sgd", "sgld"):
        res = r[method]
        for field in ("loss", "accuracy", "hessian_trace", "top_eigenvalue"):
            assert res[field].shape == (2,)
            assert np.all(np.isfinite(res[field]))
            assert np.isfinite(res[f"{field}_mean"]) and np.isfinite(res[f"{field}_se"])
        assert res["accuracy_mean"] > 0.7
    with pytest.raises(ValueError, match="polish_fraction"):
        sharpness.sharpness_experiment(polish_fraction=1.0)
    with pytest.raises(ValueError, match="temperature"):
        sharpness.sharpness_experiment(-1.0)
