"""Exact 2D Ising results: Kaufman (finite torus) vs brute force, Onsager (infinite lattice).

Self-contained: the brute-force reference below enumerates all 2^N configurations with
numpy in float64 and shares no code with ``ebm_numpyro._lattice_exact``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_numpyro._lattice_exact import (
    kaufman_heat_capacity,
    kaufman_log_partition,
    kaufman_mean_energy,
    onsager_critical_temperature,
    onsager_free_energy,
    onsager_magnetization,
    onsager_mean_energy,
)

TC = 2.0 / math.log(1.0 + math.sqrt(2.0))  # 2.269185314213022
TEMPS = np.array([0.5, 1.5, 2.269, TC, 3.0, 10.0])  # both sides of Tc, and Tc itself
SIZES = [(4, 4), (3, 5), (5, 3), (2, 3), (3, 2), (3, 3), (2, 2)]


def brute_force(rows: int, cols: int, temps: np.ndarray, coupling: float = 1.0):
    """(log Z, <E>/N, C/N) at each temperature by enumerating all 2^N configurations."""
    n = rows * cols
    idx = np.arange(2**n, dtype=np.int64)
    spins = (((idx[:, None] >> np.arange(n)) & 1) * 2 - 1).astype(np.float64)
    s = spins.reshape(-1, rows, cols)
    # periodic: bond (i,j)-(i+1,j) and (i,j)-(i,j+1), indices mod rows / cols
    energy = -coupling * (s * np.roll(s, -1, axis=1) + s * np.roll(s, -1, axis=2)).sum((1, 2))
    out = []
    for t in np.atleast_1d(temps):
        a = -energy / t
        amax = a.max()
        w = np.exp(a - amax)
        zs = w.sum()
        mean = (w * energy).sum() / zs
        var = (w * (energy - mean) ** 2).sum() / zs
        out.append((amax + math.log(zs), mean / n, var / (t * t * n)))
    return tuple(np.array(col) for col in zip(*out))


@pytest.fixture(scope="module")
def reference():
    return {size: brute_force(*size, TEMPS) for size in SIZES}


# ------------------------------------------------------------------ Kaufman vs brute force
@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_log_partition_matches_brute_force_float32(size, reference):
    log_z, energy, heat = reference[size]
    t = jnp.asarray(TEMPS, jnp.float32)
    got = np.asarray(kaufman_log_partition(*size, t))
    assert got.dtype == np.float32 and got.shape == TEMPS.shape
    np.testing.assert_allclose(got, log_z, rtol=1e-5)
    np.testing.assert_allclose(kaufman_mean_energy(*size, t, per_spin=True), energy, atol=1e-5)
    np.testing.assert_allclose(kaufman_heat_capacity(*size, t, per_spin=True), heat, atol=1e-4)


@pytest.mark.parametrize("size", SIZES)
def test_matches_brute_force_float64(size, reference):
    log_z, energy, heat = reference[size]
    with jax.enable_x64(True):
        t = jnp.asarray(TEMPS)
        got = np.asarray(kaufman_log_partition(*size, t))
        e = np.asarray(kaufman_mean_energy(*size, t, per_spin=True))
        c = np.asarray(kaufman_heat_capacity(*size, t, per_spin=True))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, log_z, rtol=1e-12)
    np.testing.assert_allclose(e, energy, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, heat, rtol=1e-8, atol=1e-12)


def test_coupling_enters_only_through_beta_j():
    t = np.array([0.7, 2.0, 5.0])
    log_z, energy, _ = brute_force(3, 4, t / 1.7)  # J = 1 at T / J
    np.testing.assert_allclose(kaufman_log_partition(3, 4, t, coupling=1.7), log_z, rtol=1e-5)
    np.testing.assert_allclose(
        kaufman_mean_energy(3, 4, t, coupling=1.7, per_spin=True), 1.7 * energy, rtol=1e-5, atol=1e-6
    )


def test_jit_grad_and_vmap_in_temperature():
    # one user-level compilation exercising jit, vmap and grad (custom JVP) together
    f = jax.jit(jax.vmap(jax.value_and_grad(lambda x: kaufman_log_partition(4, 4, x))))
    t = jnp.asarray([0.8, 2.0, TC, 2.5], jnp.float32)
    value, grad = f(t)
    np.testing.assert_allclose(value, kaufman_log_partition(4, 4, t), rtol=1e-6)
    # <E> = T^2 d log Z / dT, also exactly at Tc (no NaN from the gamma_0 = 0 crossing)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(t**2 * grad / 16, kaufman_mean_energy(4, 4, t, per_spin=True), rtol=1e-5)
    assert kaufman_log_partition(4, 4, t.reshape(2, 2)).shape == (2, 2)
    assert kaufman_mean_energy(4, 4, 1.5, per_spin=True).shape == ()


# ------------------------------------------------------------------ extremes, no overflow
@pytest.mark.slow
@pytest.mark.parametrize("size", [(256, 256), (257, 255)])
def test_large_lattice_limits_no_overflow(size):
    n = size[0] * size[1]
    temps = jnp.asarray([0.05, 1000.0], jnp.float32)
    log_z = np.asarray(kaufman_log_partition(*size, temps), dtype=np.float64)
    assert np.all(np.isfinite(log_z))
    low = 2.0 * n / 0.05 + math.log(2.0)  # two ground states, E0 = -2NJ
    high = n * math.log(2.0)
    assert abs(log_z[0] - low) / low < 1e-5
    assert abs(log_z[1] - high) / high < 1e-5
    e = np.asarray(kaufman_mean_energy(*size, temps, per_spin=True))
    assert np.all(np.isfinite(e))
    np.testing.assert_allclose(e[0], -2.0, atol=1e-6)
    np.testing.assert_allclose(e[1], -2.0 * math.tanh(1e-3), rtol=1e-3)  # high-T series


def test_small_lattice_limits():
    log_z = np.asarray(kaufman_log_partition(5, 7, jnp.asarray([0.05, 1e4])), np.float64)
    np.testing.assert_allclose(log_z[0], 2 * 35 / 0.05 + math.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(log_z[1], 35 * math.log(2.0), rtol=1e-6)


# ------------------------------------------------------------------ Onsager
def test_critical_temperature():
    assert onsager_critical_temperature() == pytest.approx(2.269185314213022, rel=1e-14)
    assert onsager_critical_temperature(2.5) == pytest.approx(2.5 * TC, rel=1e-14)
    assert math.sinh(2.0 / onsager_critical_temperature()) == pytest.approx(1.0, rel=1e-14)


def test_kaufman_large_lattice_matches_onsager():
    temps = jnp.asarray([1.5, 2.0, 3.5, 5.0], jnp.float32)
    n = 128 * 128
    u_k = np.asarray(kaufman_mean_energy(128, 128, temps, per_spin=True))
    u_o = np.asarray(onsager_mean_energy(temps))
    np.testing.assert_allclose(u_k, u_o, atol=1e-3)
    np.testing.assert_allclose(u_k[[0, 2]], u_o[[0, 2]], atol=1e-5)  # exponentially close
    log_z = np.asarray(kaufman_log_partition(128, 128, temps), np.float64)
    below = np.asarray(temps) < TC
    # below Tc the finite torus has the 2-fold ground-state degeneracy on top of N f
    f_k = -np.asarray(temps) * (log_z - below * math.log(2.0)) / n
    np.testing.assert_allclose(onsager_free_energy(temps), f_k, atol=2e-5)


def test_onsager_energy_is_derivative_of_free_energy():
    with jax.enable_x64(True):
        for t in [1.0, 2.0, TC, 2.5, 4.0, 20.0]:
            u_fd = jax.grad(lambda b: b * onsager_free_energy(1.0 / b))(1.0 / t)
            u = onsager_mean_energy(t)
            assert np.isfinite(u)
            np.testing.assert_allclose(u, u_fd, atol=1e-6)
        np.testing.assert_allclose(onsager_mean_energy(TC), -math.sqrt(2.0), atol=1e-12)
        np.testing.assert_allclose(onsager_free_energy(1e-3), -2.0, rtol=1e-9)  # ground state
        np.testing.assert_allclose(  # high T: f -> -T log 2
            onsager_free_energy(1e4), -1e4 * math.log(2.0) - 1e-4, rtol=1e-9
        )
    assert np.isfinite(onsager_mean_energy(onsager_critical_temperature()))


def test_onsager_magnetization():
    m = np.asarray(onsager_magnetization(jnp.asarray([2.3, 3.0, 10.0, TC * 1.0001])))
    np.testing.assert_array_equal(m, 0.0)
    expected = (1.0 - math.sinh(1.0) ** -4) ** 0.125  # T = 2, K = 1/2
    assert expected == pytest.approx(0.911319, abs=1e-6)
    assert float(onsager_magnetization(2.0)) == pytest.approx(expected, rel=1e-6)
    assert float(onsager_magnetization(0.05)) == pytest.approx(1.0, abs=1e-7)
    temps = np.linspace(0.1, TC * 0.999, 50)
    mags = np.asarray(onsager_magnetization(temps))
    assert np.all(np.diff(mags) <= 0) and np.all(mags > 0) and mags[-1] < 0.6
    assert float(onsager_magnetization(4.0, coupling=2.0)) == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------ input validation
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), [1.0, -2.0]])
def test_bad_temperature(bad):
    for fn in (kaufman_log_partition, kaufman_mean_energy, kaufman_heat_capacity):
        with pytest.raises(ValueError, match="temperature"):
            fn(4, 4, bad)
    for fn in (onsager_free_energy, onsager_mean_energy, onsager_magnetization):
        with pytest.raises(ValueError, match="temperature"):
            fn(bad)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_coupling(bad):
    with pytest.raises(ValueError, match="coupling"):
        kaufman_log_partition(4, 4, 1.0, coupling=bad)
    with pytest.raises(ValueError, match="coupling"):
        onsager_mean_energy(1.0, coupling=bad)
    with pytest.raises(ValueError, match="coupling"):
        onsager_critical_temperature(bad)


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True, "4"])
def test_bad_size(bad):
    with pytest.raises(ValueError, match="rows"):
        kaufman_log_partition(bad, 4, 1.0)
    with pytest.raises(ValueError, match="cols"):
        kaufman_mean_energy(4, bad, 1.0, per_spin=True)
