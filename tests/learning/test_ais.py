"""AIS estimates of log Z against exact enumeration (random and trained models)."""

import jax
import numpy as np
import optax
import pytest

import ebm_numpyro as ebm
from ebm_numpyro import learning


def _random_rbm(nv, nh, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    return ebm.RBM(rng.normal(size=(nv, nh)) * scale, rng.normal(size=nv) * 0.3, rng.normal(size=nh) * 0.3)


def check_ais(res, exact, max_se=0.05):
    est, se = float(res.log_partition), float(res.stderr)
    print(f"AIS log Z = {est:.4f} ± {se:.4f}, exact {float(exact):.4f}, z = {(est - float(exact)) / se:+.2f}")
    assert 0 < se < max_se
    assert abs(est - float(exact)) < 3 * se


@pytest.fixture(scope="module")
def trained_rbm():
    """16 visible x 20 hidden RBM trained with CD-1 on 4x4 bars-and-stripes (exact log Z enumerates v)."""
    data = ebm.datasets.bars_and_stripes(4)
    res = learning.fit(
        _random_rbm(16, 20, 3, 0.05), data, method="cd", k=1, optimizer=optax.adam(0.05), epochs=300,
        batch_size=len(data), log_likelihood=None, progress=False, key=jax.random.key(1),
    )
    return res.model, data


@pytest.mark.slow
def test_random_rbm_24x16():
    model = _random_rbm(24, 16, 0)
    res = learning.ais_log_partition(model, jax.random.key(0), num_chains=200, num_temperatures=3000)
    assert res.log_weights.shape == (200,)
    check_ais(res, ebm.exact.log_partition(model))


@pytest.mark.slow
def test_random_rbm_16x20_with_temperature():
    model = _random_rbm(16, 20, 1, 0.5)
    res = learning.ais_log_partition(model, jax.random.key(1), num_chains=200, num_temperatures=3000, temperature=2.0)
    check_ais(res, ebm.exact.log_partition(model, 2.0))


@pytest.mark.slow
def test_trained_rbm(trained_rbm):
    model, data = trained_rbm
    ll = float(ebm.exact.log_likelihood(model, data))
    assert ll > -8.0  # it did learn (uniform: 16 log 2 = -11.1)
    res = learning.ais_log_partition(model, jax.random.key(2), num_chains=500, num_temperatures=10000, data=data)
    check_ais(res, ebm.exact.log_partition(model), max_se=0.1)
    est, se = learning.ais_log_likelihood(model, data, jax.random.key(2), num_chains=500, num_temperatures=10000)
    print(f"trained RBM log-likelihood: AIS {float(est):.4f} ± {float(se):.4f}, exact {ll:.4f}")
    assert abs(float(est) - ll) < 3 * float(se)


@pytest.mark.slow
def test_boltzmann_machine():
    rng = np.random.default_rng(4)
    w = np.triu(rng.normal(size=(12, 12)), 1) * 0.3
    bm = ebm.BoltzmannMachine(w + w.T, rng.normal(size=12) * 0.3)
    res = learning.ais_log_partition(bm, jax.random.key(3), num_chains=200, num_temperatures=2000)
    check_ais(res, ebm.exact.log_partition(bm))


@pytest.mark.slow
def test_deterministic_and_custom_betas():
    model = _random_rbm(8, 6, 5)
    betas = np.concatenate([np.linspace(0, 0.5, 500, endpoint=False), np.linspace(0.5, 1, 2500)])
    a = learning.ais_log_partition(model, jax.random.key(7), num_chains=100, betas=betas)
    b = learning.ais_log_partition(model, jax.random.key(7), num_chains=100, betas=betas)
    assert float(a.log_partition) == float(b.log_partition)
    check_ais(a, ebm.exact.log_partition(model))


def test_bad_input():
    model = _random_rbm(8, 6, 5)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="num_chains"):
        learning.ais_log_partition(model, key, num_chains=1)
    with pytest.raises(ValueError, match="num_temperatures"):
        learning.ais_log_partition(model, key, num_temperatures=1)
    with pytest.raises(ValueError, match="betas"):
        learning.ais_log_partition(model, key, betas=[0.0, 0.7, 0.5, 1.0])
    with pytest.raises(ValueError, match="temperature"):
        learning.ais_log_partition(model, key, temperature=0.0)
    with pytest.raises(ValueError, match="0 or 1"):
        learning.ais_log_partition(model, key, data=np.full((3, 8), 2))
    with pytest.raises(ValueError, match="shape"):
        learning.ais_log_partition(model, key, data=np.zeros((3, 7), np.int8))
    with pytest.raises(ValueError, match="discrete"):
        learning.ais_log_partition(ebm.DoubleWell(), key)


@pytest.mark.slow
def test_sparse_ising_with_temperature():
    """from_edges models: AIS at T = 2 (dividing the parameters used to raise TypeError)."""
    rng = np.random.default_rng(6)
    edges = np.array([(i, (i + 1) % 10) for i in range(10)] + [(0, 5), (2, 7)])
    model = ebm.Ising.from_edges(10, edges, rng.normal(size=len(edges)) * 0.5, rng.normal(size=10) * 0.3)
    res = learning.ais_log_partition(model, jax.random.key(4), num_chains=200, num_temperatures=1000, temperature=2.0)
    check_ais(res, ebm.exact.log_partition(model, 2.0))


@pytest.mark.slow
def test_lattice_with_spin_data_base_rate():
    """The base-rate base also serves ±1 spins (a uniform field on the lattice)."""
    model = ebm.Ising.square_lattice(3, 4, coupling=0.4, field=0.2)
    data = np.where(np.random.default_rng(2).random((40, 3, 4)) < 0.7, 1, -1).astype(np.int8)
    res = learning.ais_log_partition(model, jax.random.key(5), num_chains=200, num_temperatures=1000, data=data)
    check_ais(res, ebm.exact.log_partition(model))
