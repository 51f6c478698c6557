"""Exact enumeration against straightforward brute force, limits, and errors."""

import numpy as np
import pytest
from helpers import brute_logsumexp, brute_states, enable_x64, random_couplings

import ebm_numpyro as ebm


def _brute_quadratic(model, T):
    """log Z and moments of a quadratic model by a plain NumPy sum over all states."""
    J, h, c = (np.asarray(a, np.float64) for a in model.to_quadratic())
    x = brute_states(model.num_units, model.unit_values)
    e = -0.5 * np.einsum("bi,ij,bj->b", x, J, x) - x @ h + c
    logz = brute_logsumexp(-e / T)
    p = np.exp(-e / T - logz)
    mean_e = p @ e
    return logz, mean_e, (p @ e**2 - mean_e**2) / T**2, p @ x, (x * p[:, None]).T @ x


@pytest.mark.parametrize("T", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("n", [3, 9, 14])
def test_frustrated_ising_matches_brute_force(rng, n, T):
    model = ebm.Ising(random_couplings(rng, n, pm_one=True), rng.normal(size=n) * 0.5)
    logz, mean_e, heat, mean, corr = _brute_quadratic(model, T)
    np.testing.assert_allclose(ebm.exact.log_partition(model, T), logz, rtol=2e-6)
    m = ebm.exact.moments(model, T)
    np.testing.assert_allclose(m.log_partition, logz, rtol=2e-6)
    np.testing.assert_allclose(m.mean_energy, mean_e, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.heat_capacity, heat, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(m.mean, mean, atol=2e-5)
    np.testing.assert_allclose(m.correlation, corr, atol=2e-5)


@pytest.mark.parametrize(
    "model",
    [
        ebm.Ising.square_lattice(3, 4, coupling=0.8, field=0.25),
        ebm.Ising.from_edges(6, [[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [0, 5]], [1.0, -2.0, 0.5, 1.5, -1.0, 0.3]),
        ebm.BoltzmannMachine(random_couplings(np.random.default_rng(5), 10), np.linspace(-1, 1, 10)),
    ],
    ids=["lattice", "sparse", "boltzmann"],
)
def test_other_models_match_brute_force(model):
    for T in (0.5, 2.0):
        logz, mean_e, heat, mean, corr = _brute_quadratic(model, T)
        m = ebm.exact.moments(model, T)
        np.testing.assert_allclose(m.log_partition, logz, rtol=2e-6)
        np.testing.assert_allclose(m.mean_energy, mean_e, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(m.heat_capacity, heat, rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(np.ravel(m.mean), mean, atol=2e-5)
        np.testing.assert_allclose(m.correlation, corr, atol=2e-5)
        assert m.mean.shape == model.event_shape


def test_low_and_high_temperature_limits():
    """Ferromagnetic ring: E_min = -n J with degeneracy 2; at high T log Z -> n log 2."""
    n = 12
    edges = np.array([(i, (i + 1) % n) for i in range(n)])
    ring = ebm.Ising.from_edges(n, edges, np.ones(n))
    for T in (0.01, 0.02, 0.05):
        want = n / T + np.log(2.0)
        got = float(ebm.exact.log_partition(ring, T))
        assert np.isfinite(got)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # frustrated triangle: 6 ground states with E = -1
    tri = ebm.Ising.from_edges(3, [[0, 1], [1, 2], [2, 0]], -np.ones(3))
    np.testing.assert_allclose(float(ebm.exact.log_partition(tri, 0.01)), 1 / 0.01 + np.log(6.0), rtol=1e-6)
    for T in (1000.0, 1e6):
        np.testing.assert_allclose(float(ebm.exact.log_partition(ring, T)), n * np.log(2.0), rtol=1e-4)


@pytest.mark.parametrize("T", [0.01, 0.1, 1.0, 10.0, 1000.0])
def test_stable_at_every_temperature_in_float32_and_x64(rng, T):
    model = ebm.Ising(random_couplings(rng, 10), rng.normal(size=10))
    want = _brute_quadratic(model, T)[0]
    got32 = float(ebm.exact.log_partition(model, T))
    with enable_x64():
        m64 = ebm.Ising(np.asarray(model.couplings, np.float64), np.asarray(model.fields, np.float64))
        got64 = ebm.exact.log_partition(m64, T)
        assert got64.dtype == np.float64
        np.testing.assert_allclose(float(got64), _brute_quadratic(m64, T)[0], rtol=1e-12)
    np.testing.assert_allclose(got32, want, rtol=3e-6)


def test_rbm_layers_agree(rng):
    """log Z by visible enumeration = by hidden enumeration = by joint enumeration."""
    rbm = ebm.RBM(rng.normal(size=(6, 9)), rng.normal(size=6), rng.normal(size=9))
    flipped = ebm.RBM(rbm.weights.T, rbm.hidden_bias, rbm.visible_bias)
    for T in (0.3, 1.0, 5.0):
        joint = ebm.exact.log_partition(rbm.to_boltzmann_machine(), T)
        np.testing.assert_allclose(ebm.exact.log_partition(rbm, T), joint, rtol=2e-6)
        np.testing.assert_allclose(ebm.exact.log_partition(flipped, T), joint, rtol=2e-6)
        v = brute_states(6, (0, 1))
        direct = brute_logsumexp(-np.asarray(rbm.free_energy(v, T), np.float64) / T)
        np.testing.assert_allclose(ebm.exact.log_partition(rbm, T), direct, rtol=2e-6)


def test_rbm_moments_match_joint_enumeration(rng):
    rbm = ebm.RBM(rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=4))
    m = ebm.exact.moments(rbm, 0.8)
    logz, mean_e, heat, mean, corr = _brute_quadratic(rbm.to_boltzmann_machine(), 0.8)
    np.testing.assert_allclose(m.log_partition, logz, rtol=2e-6)
    np.testing.assert_allclose(m.mean_energy, mean_e, rtol=1e-4)
    np.testing.assert_allclose(m.heat_capacity, heat, rtol=2e-3)
    np.testing.assert_allclose(m.mean, mean, atol=2e-5)
    np.testing.assert_allclose(m.correlation, corr[:5, 5:], atol=2e-5)


def test_log_likelihood(rng):
    model = ebm.BoltzmannMachine(random_couplings(rng, 6), rng.normal(size=6))
    data = brute_states(6, (0, 1))[rng.integers(0, 64, size=20)]
    logz = _brute_quadratic(model, 1.0)[0]
    want = np.mean(-np.asarray(model.energy(data), np.float64)) - logz
    np.testing.assert_allclose(ebm.exact.log_likelihood(model, data), want, rtol=1e-5)
    rbm = ebm.RBM(rng.normal(size=(6, 3)))
    v = brute_states(6, (0, 1))
    # probabilities of all visible states sum to one
    lp = [float(ebm.exact.log_likelihood(rbm, v[i : i + 1])) for i in range(0, 64, 9)]
    all_lp = np.asarray(-rbm.free_energy(v), np.float64) - float(ebm.exact.log_partition(rbm))
    np.testing.assert_allclose(np.exp(all_lp).sum(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(lp, all_lp[::9], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_kaufman_matches_enumeration_through_public_api():
    for rows, cols in ((4, 4), (3, 5)):
        model = ebm.Ising.square_lattice(rows, cols)
        for T in (1.5, 2.269, 3.5):
            np.testing.assert_allclose(
                ebm.exact.kaufman_log_partition(rows, cols, T), ebm.exact.log_partition(model, T), rtol=1e-5
            )


def test_enumerate_states_order():
    states = ebm.exact.enumerate_states(ebm.Ising.square_lattice(2, 2))
    assert states.shape == (16, 2, 2) and states.dtype == np.int8
    np.testing.assert_array_equal(np.asarray(states[5]).ravel(), [1, -1, 1, -1])
    assert len({tuple(np.asarray(s).ravel()) for s in states}) == 16


def test_28_spins_stream_in_flat_memory(rng):
    """2^26 states stream through the enumeration (28 run in the benchmark)."""
    n = 26
    model = ebm.Ising(random_couplings(rng, n, scale=1 / np.sqrt(n)))
    logz = float(ebm.exact.log_partition(model, 1.0))
    assert np.isfinite(logz) and logz > n * np.log(2.0)  # zero field: Z >= 2^n e^{-<E>_0} = 2^n


# --- errors ---------------------------------------------------------------------------
def test_too_large_raises_before_work():
    big = ebm.Ising.square_lattice(8, 8)
    with pytest.raises(ValueError, match=r"2\^64 .* states .* limit of 2\^32"):
        ebm.exact.log_partition(big)
    with pytest.raises(ValueError, match="max_units"):
        ebm.exact.moments(ebm.RBM(np.zeros((40, 40))))
    # an RBM enumerates its smaller layer only: 40 visible x 12 hidden is fine
    assert np.isfinite(float(ebm.exact.log_partition(ebm.RBM(np.zeros((40, 12))))))


@pytest.mark.parametrize("T", [0.0, -1.0, np.nan, np.inf])
def test_bad_temperature_raises(T):
    model = ebm.Ising.square_lattice(2, 2)
    for fn in (ebm.exact.log_partition, ebm.exact.moments):
        with pytest.raises(ValueError, match="temperature"):
            fn(model, T)


def test_continuous_model_and_bad_data_raise():
    with pytest.raises(ValueError, match="discrete model"):
        ebm.exact.log_partition(ebm.DoubleWell())
    with pytest.raises(ValueError, match="units must be 0 or 1"):
        ebm.exact.log_likelihood(ebm.RBM(np.zeros((3, 2))), np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="trailing shape"):
        ebm.exact.log_likelihood(ebm.RBM(np.zeros((3, 2))), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="spins must be"):
        ebm.exact.log_likelihood(ebm.Ising.square_lattice(2, 2), np.zeros((1, 2, 2)))


def test_all_states_is_the_enumeration_order():
    states = np.asarray(ebm.exact.all_states(3, (-1, 1)))
    assert states.shape == (8, 3) and states.dtype == np.int8
    np.testing.assert_array_equal(states[6], [-1, 1, 1])  # 6 = 0b110: units 1 and 2 up
    lattice = ebm.Ising.square_lattice(2, 2)
    np.testing.assert_array_equal(ebm.exact.enumerate_states(lattice).reshape(16, 4), ebm.exact.all_states(4, (-1, 1)))
