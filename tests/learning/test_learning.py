"""Positive/negative-phase gradients (exact, CD-k, PCD) and the fit loop."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ebm_numpyro as ebm
from ebm_numpyro import learning


def _rbm(nv=6, nh=4, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    return ebm.RBM(rng.normal(size=(nv, nh)) * scale, rng.normal(size=nv) * 0.3, rng.normal(size=nh) * 0.3)


def _bm(n=5, seed=0):
    rng = np.random.default_rng(seed)
    w = np.triu(rng.normal(size=(n, n)), 1) * 0.5
    return ebm.BoltzmannMachine(w + w.T, rng.normal(size=n) * 0.3)


def _data(n, d, seed=1, values=(0, 1)):
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, d))
    return np.where(bits == 1, values[1], values[0]).astype(np.int8)


def _offdiag(a):
    a = np.asarray(a)
    return a * (1 - np.eye(a.shape[0]))


# --- exact gradient ----------------------------------------------------------------------
@pytest.mark.slow
def test_exact_gradient_rbm_matches_autodiff():
    model, data = _rbm(), _data(20, 6)
    g = learning.exact_gradient(model, data)
    ref = jax.grad(lambda m: ebm.exact.log_likelihood(m, data))(model)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # and the phases: weights = <v σ(Wᵀv+c)>_data - <v h>_model
    v = data.astype(np.float64)
    sig = 1 / (1 + np.exp(-(v @ np.asarray(model.weights) + np.asarray(model.hidden_bias))))
    mom = ebm.exact.moments(model)
    np.testing.assert_allclose(g.weights, v.T @ sig / len(v) - np.asarray(mom.correlation), atol=1e-5)


@pytest.mark.parametrize("kind", ["bm", "ising"])
def test_exact_gradient_fully_visible(kind):
    if kind == "bm":
        model, data, cname, bname = _bm(), _data(20, 5), "weights", "bias"
    else:
        rng = np.random.default_rng(2)
        j = np.triu(rng.normal(size=(5, 5)), 1) * 0.5
        model, data, cname, bname = ebm.Ising(j + j.T, rng.normal(size=5) * 0.3), _data(20, 5, values=(-1, 1)), "couplings", "fields"
    g = learning.exact_gradient(model, data)
    ref = jax.grad(lambda m: ebm.exact.log_likelihood(m, data))(model)
    np.testing.assert_allclose(getattr(g, cname), _offdiag(getattr(ref, cname)), atol=1e-5)
    np.testing.assert_allclose(getattr(g, bname), getattr(ref, bname), atol=1e-5)
    assert np.all(np.diag(np.asarray(getattr(g, cname))) == 0)
    np.testing.assert_allclose(getattr(g, cname), np.asarray(getattr(g, cname)).T, atol=1e-7)


# --- CD and PCD ---------------------------------------------------------------------------
@pytest.mark.slow
def test_cd_with_long_chains_is_unbiased_bm():
    """CD-k with k large forgets the data: its mean is the exact gradient (z-test, generic Gibbs sweeps)."""
    model, data = _bm(), _data(10, 5)
    n = 2000
    keys = jax.random.split(jax.random.key(0), n)
    draws = jax.vmap(lambda k: learning.CD(25).gradient(model, jnp.asarray(data, jnp.float32), None, k)[0])(keys)
    exact = learning.exact_gradient(model, data)
    for field in ("weights", "bias"):
        d = np.asarray(getattr(draws, field), np.float64)
        mean, se = d.mean(0), d.std(0, ddof=1) / np.sqrt(n)
        mask = se > 0
        z = (mean - np.asarray(getattr(exact, field)))[mask] / se[mask]
        assert np.max(np.abs(z)) < 4.0, (field, np.max(np.abs(z)))


@pytest.mark.slow
def test_cd_and_pcd_shapes_jit_and_keys():
    model, data = _rbm(), _data(16, 6)
    key = jax.random.key(3)
    g1 = learning.cd_gradient(model, data, key, k=2)
    g2 = learning.cd_gradient(model, data, key, k=2)
    assert jax.tree.structure(g1) == jax.tree.structure(model)
    for a, b, m in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), jax.tree.leaves(model)):
        assert a.shape == m.shape
        np.testing.assert_array_equal(a, b)
    chains = learning.init_chains(model, jax.random.key(4), 8)
    assert chains.shape == (8, 6) and set(np.unique(chains)) <= {0.0, 1.0}
    g, new = learning.pcd_gradient(model, data, chains, key, k=3)
    assert new.shape == chains.shape and not np.array_equal(new, chains)
    assert set(np.unique(new)) <= {0.0, 1.0}
    assert jax.tree.structure(g) == jax.tree.structure(model)


@pytest.mark.slow
def test_pcd_chains_sample_the_model():
    """Persistent chains (fixed model) visit visible states with the exact marginal frequencies."""
    model = _rbm(4, 3, seed=5)
    chains = learning.init_chains(model, jax.random.key(0), 2000)
    data = _data(4, 4)
    key = jax.random.key(1)
    for i in range(3):
        _, chains = learning.pcd_gradient(model, data, chains, jax.random.fold_in(key, i), k=10)
    mom = ebm.exact.moments(model)
    freq = np.asarray(chains).mean(0)
    se = np.sqrt(freq * (1 - freq) / 2000)
    assert np.max(np.abs(freq - np.asarray(mom.mean[:4])) / se) < 4.0


# --- fit ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_fit_exact_increases_log_likelihood():
    data = ebm.datasets.bars_and_stripes(2)
    start = ebm.RBM(np.random.default_rng(0).normal(size=(4, 3)) * 0.5)
    res = learning.fit(start, data, method="exact", optimizer=optax.adam(0.05), epochs=90,
                       batch_size=6, progress=False, eval_every=30)
    ll = res.history["log_likelihood"]
    assert res.history["epoch"] == [30, 60, 90] and len(res.history["seconds"]) == 90
    assert np.all(np.diff(ll) > 0) and ll[-1] > -4 * np.log(2) + 0.25  # uniform model: -4 log 2
    assert res.history["log_likelihood_se"] == [0.0] * 3


@pytest.mark.slow
def test_cd1_fixed_point_is_biased():
    """3x3 bars-and-stripes, 9x4 RBM, same start and optimizer: CD-1 ends at a lower exact
    log-likelihood than exact-gradient training, both with sampled CD-1 (``fit``) and with the
    exact expected CD-1 gradient (no sampling noise, so the gap is bias, not variance)."""
    data = ebm.datasets.bars_and_stripes(3)
    start = _rbm(9, 4, seed=1, scale=0.1)
    kw = dict(optimizer=optax.adam(0.05), epochs=1500, batch_size=len(data), progress=False, eval_every=100,
              key=jax.random.key(3))
    ll_exact = learning.fit(start, data, method="exact", **kw).history["log_likelihood"][-1]
    ll_cd = np.mean(learning.fit(start, data, method="cd", k=1, **kw).history["log_likelihood"][-5:])
    opt = optax.adam(0.05)
    model, state = start, opt.init(start)
    for _ in range(1500):
        g = learning.expected_cd_gradient(model, data, k=1)
        g = jax.tree_util.tree_map(lambda a: -a, g)
        updates, state = opt.update(g, state, model)
        model = optax.apply_updates(model, updates)
    ll_expected_cd = float(ebm.exact.log_likelihood(model, data))
    print(f"3x3 B&S, 9x4 RBM, 1500 Adam(0.05) steps: exact-gradient LL = {ll_exact:.4f}, "
          f"sampled CD-1 LL = {ll_cd:.4f} (mean of last 5 evaluations), expected CD-1 LL = {ll_expected_cd:.4f}")
    assert ll_cd < ll_exact - 0.1
    assert ll_expected_cd < ll_exact - 0.5


def test_fit_checkpoint_resume_is_exact(tmp_path):
    data = _data(40, 6, seed=7)
    model = _rbm(scale=0.1)
    kw = dict(method="pcd", k=2, optimizer=optax.adam(0.01), batch_size=8, key=jax.random.key(5),
              progress=False, num_chains=12)
    full = learning.fit(model, data, epochs=6, **kw)
    path = tmp_path / "ckpt.pkl"
    part = learning.fit(model, data, epochs=3, checkpoint=path, **kw)
    assert part.epoch == 3 and path.exists()
    loaded = learning.load_checkpoint(path)
    assert loaded.epoch == 3 and loaded.chains.shape == (12, 6)
    resumed = learning.fit(model, data, epochs=6, checkpoint=path, **kw)
    assert resumed.epoch == 6
    for a, b in zip(jax.tree.leaves((full.model, full.opt_state, full.chains)),
                    jax.tree.leaves((resumed.model, resumed.opt_state, resumed.chains))):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert resumed.history["log_likelihood"] == pytest.approx(full.history["log_likelihood"], abs=1e-5)


@pytest.mark.slow
def test_fit_boltzmann_machine_and_ais_history():
    data = _data(30, 5, seed=3)
    res = learning.fit(_bm(), data, method="cd", k=1, epochs=3, batch_size=10, progress=False)
    assert np.all(np.diag(np.asarray(res.model.weights)) == 0)
    np.testing.assert_allclose(res.model.weights, np.asarray(res.model.weights).T, atol=1e-6)
    big = _rbm(24, 22, scale=0.05)
    res = learning.fit(big, _data(32, 24), method="pcd", epochs=2, batch_size=16, progress=False,
                       log_likelihood="ais", ais_kwargs=dict(num_chains=50, num_temperatures=300),
                       key=jax.random.key(1))
    assert len(res.history["log_likelihood"]) == 2 and all(s > 0 for s in res.history["log_likelihood_se"])


# --- bad input ------------------------------------------------------------------------------
def test_bad_input():
    model, data = _rbm(), _data(10, 6)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="0 or 1"):
        learning.exact_gradient(model, data * 2)
    with pytest.raises(ValueError, match="shape"):
        learning.cd_gradient(model, data[:, :4], key)
    with pytest.raises(ValueError, match="shape"):
        learning.exact_gradient(model, data[0])
    with pytest.raises(ValueError, match="`k`"):
        learning.cd_gradient(model, data, key, k=0)
    with pytest.raises(ValueError, match="`k`"):
        learning.fit(model, data, k=0, progress=False)
    with pytest.raises(ValueError, match="method"):
        learning.fit(model, data, method="sgd", progress=False)
    with pytest.raises(ValueError, match="0 or 1"):
        learning.fit(model, data - 1, progress=False)
    with pytest.raises(ValueError, match="chains"):
        learning.pcd_gradient(model, data, jnp.zeros((4, 5)), key)
    with pytest.raises(ValueError, match="continuous model: use ebm.learning.Langevin"):
        learning.fit(ebm.DoubleWell(), np.zeros((3, 1)), progress=False)


# --- regressions ----------------------------------------------------------------------------
def _sparse(seed=0):
    rng = np.random.default_rng(seed)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2], [3, 4]])
    return ebm.Ising.from_edges(5, edges, rng.normal(size=len(edges)) * 0.5, rng.normal(size=5) * 0.3)


@pytest.mark.slow
def test_sparse_model_learns_like_its_dense_twin():
    """from_edges models: exact/CD gradients and fit work (they raised TypeError on index leaves)."""
    model, data = _sparse(), _data(20, 5, values=(-1, 1))
    g = learning.exact_gradient(model, data)
    assert jax.tree.structure(g) == jax.tree.structure(model)
    J, h, _ = model.to_quadratic()
    dense = ebm.Ising(J, h)
    gd = learning.exact_gradient(dense, data)
    edges = model.edges.array
    # d/dw_e = d/dJ_ij + d/dJ_ji
    np.testing.assert_allclose(g.weights, 2 * np.asarray(gd.couplings)[edges[:, 0], edges[:, 1]], atol=1e-5)
    np.testing.assert_allclose(g.fields, gd.fields, atol=1e-5)
    cd = learning.cd_gradient(model, data, jax.random.key(0), k=2)
    assert cd.weights.shape == model.weights.shape
    res = learning.fit(model, data, method="cd", epochs=2, batch_size=10, progress=False)
    assert isinstance(res.model, ebm.SparseIsing) and len(res.history["log_likelihood"]) == 2
    updated = optax.apply_updates(model, jax.tree.map(jnp.negative, g))
    assert updated.edges == model.edges


def test_positive_phase_of_a_huge_lattice_builds_no_dense_matrix():
    """4096 x 4096 spins: dtype, energy and the positive phase work without an N x N matrix."""
    model = ebm.Ising.square_lattice(4096, coupling=0.5, field=0.1)
    assert model.dtype == jnp.float32
    x = jnp.ones((1, 4096, 4096), jnp.int8)
    g = learning.positive_phase(model, x)
    np.testing.assert_allclose(float(g.coupling), 2.0 * 4096 * 4096, rtol=1e-6)
    np.testing.assert_allclose(float(g.field), 4096 * 4096, rtol=1e-6)


@pytest.mark.slow
def test_fit_defaults_skip_ais_on_large_models():
    """log_likelihood="auto": exact history when enumerable, no (costly) AIS otherwise."""
    big = _rbm(24, 22, scale=0.05)
    res = learning.fit(big, _data(32, 24), epochs=2, batch_size=16, progress=False)
    assert res.history["log_likelihood"] == [] and len(res.history["seconds"]) == 2
    small = learning.fit(_rbm(), _data(16, 6), epochs=2, batch_size=8, progress=False)
    assert small.history["epoch"] == [1, 2] and small.history["log_likelihood_se"] == [0.0, 0.0]
