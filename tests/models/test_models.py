"""Deterministic tests of the energy models: identities, block structure, invariances, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import brute_states, np_state, random_couplings
from hypothesis import given, settings
from hypothesis import strategies as st

import ebm_numpyro as ebm


def _block_indices(model, block):
    """Flat unit indices of a block descriptor (lattice blocks are colours)."""
    if isinstance(model, ebm.LatticeIsing):
        return np.flatnonzero(model.colours.ravel() == block)
    if isinstance(model, ebm.RBM):
        nv = model.num_visible
        return np.arange(nv) if block == 0 else np.arange(nv, nv + model.num_hidden)
    return np.asarray(block)


def _models(rng):
    n = 7
    J = random_couplings(rng, n)
    J[0, 3] = J[3, 0] = 0.0
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [1, 4], [4, 5], [5, 6], [0, 2]])
    W = random_couplings(rng, n)
    return [
        ebm.Ising(J, rng.normal(size=n)),
        ebm.Ising.square_lattice(4, 4, coupling=0.7, field=0.3),
        ebm.Ising.square_lattice(3, 5, coupling=-0.4, field=-0.2),
        ebm.Ising.square_lattice(2, 3, coupling=1.1),
        ebm.Ising.from_edges(7, edges, rng.normal(size=len(edges)), rng.normal(size=7)),
        ebm.BoltzmannMachine(W, rng.normal(size=n)),
        ebm.RBM(rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3)),
    ]


def test_energy_matches_dense_quadratic_form(rng):
    for model in _models(rng):
        J, h, c = (np.asarray(a, np.float64) for a in model.to_quadratic())
        x = np.asarray(np_state(model, 0, (50,)))
        flat = x.reshape(50, -1).astype(np.float64)
        want = -0.5 * np.einsum("bi,ij,bj->b", flat, J, flat) - flat @ h + c
        np.testing.assert_allclose(model.energy(x), want, rtol=1e-5, atol=1e-4, err_msg=repr(model))


def test_blocks_partition_units_into_independent_sets(rng):
    for model in _models(rng):
        J = np.asarray(model.to_quadratic()[0])
        seen = np.concatenate([_block_indices(model, b) for b in model.blocks])
        assert sorted(seen.tolist()) == list(range(model.num_units)), repr(model)
        for b in model.blocks:
            idx = _block_indices(model, b)
            assert np.all(J[np.ix_(idx, idx)] == 0), f"{model!r}: block {b} is coupled internally"


def test_lattice_uses_checkerboard_or_three_colours():
    assert len(ebm.Ising.square_lattice(8).blocks) == 2
    assert len(ebm.Ising.square_lattice(5, 4).blocks) == 3
    assert len(ebm.Ising.square_lattice(3, 3).blocks) == 3


@pytest.mark.slow
def test_local_field_is_minus_energy_derivative(rng):
    """Flipping unit i changes E by -(up - down) f_i (sign by direction): the Gibbs field is exact."""
    for model in _models(rng):
        down, up = model.unit_values
        x = np.asarray(np_state(model, 3))
        flat = x.ravel()
        for b in model.blocks:
            field = np.asarray(model.local_field(jnp.asarray(x), b)).ravel()
            idx = _block_indices(model, b)
            if isinstance(model, ebm.LatticeIsing):
                field = field[idx]
            for k, i in enumerate(idx):
                xu, xd = flat.copy(), flat.copy()
                xu[i], xd[i] = up, down
                de = float(model.energy(xu.reshape(x.shape)) - model.energy(xd.reshape(x.shape)))
                np.testing.assert_allclose(de, -(up - down) * field[k], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_set_block_only_touches_block(rng):
    for model in _models(rng):
        x = np_state(model, 1)
        for b in model.blocks:
            field = model.local_field(x, b)
            up = jnp.full(field.shape, model.unit_values[1], x.dtype)
            y = np.asarray(model.set_block(x, b, up)).ravel()
            idx = _block_indices(model, b)
            assert np.all(y[idx] == model.unit_values[1])
            rest = np.setdiff1d(np.arange(model.num_units), idx)
            np.testing.assert_array_equal(y[rest], np.asarray(x).ravel()[rest])


def test_boltzmann_machine_is_an_ising_model(rng):
    """E_BM(x) = E_Ising(2x - 1) + c for every one of the 2^n states."""
    n = 8
    bm = ebm.BoltzmannMachine(random_couplings(rng, n), rng.normal(size=n))
    ising, const = bm.to_ising()
    x = brute_states(n, (0, 1))
    np.testing.assert_allclose(bm.energy(x), ising.energy(2 * x - 1) + const, rtol=1e-5, atol=1e-4)
    assert ising.blocks == bm.blocks
    for T in (0.3, 1.0, 5.0):
        np.testing.assert_allclose(
            ebm.exact.log_partition(bm, T), ebm.exact.log_partition(ising, T) - const / T, rtol=1e-5
        )


def test_rbm_free_energy_sums_hidden_out(rng):
    rbm = ebm.RBM(rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=4))
    v = brute_states(5, (0, 1))
    h = brute_states(4, (0, 1))
    for T in (0.5, 1.0, 3.0):
        e = np.asarray(rbm.joint_energy(v[:, None, :], h[None, :, :]), np.float64)
        want = -T * np.log(np.exp(-e / T).sum(1))
        np.testing.assert_allclose(rbm.free_energy(v, T), want, rtol=1e-5, atol=1e-5)
        eh = -T * np.log(np.exp(-e / T).sum(0))
        np.testing.assert_allclose(rbm.hidden_free_energy(h, T), eh, rtol=1e-5, atol=1e-5)
    joint = np.concatenate([np.repeat(v, 16, 0), np.tile(h, (32, 1))], 1)
    np.testing.assert_allclose(rbm.energy(joint), rbm.to_boltzmann_machine().energy(joint), rtol=1e-5, atol=1e-5)


def test_double_well_and_wide_narrow():
    dw = ebm.DoubleWell()
    x = jnp.linspace(-2, 2, 9)[:, None]
    np.testing.assert_allclose(dw.energy(x), (x[:, 0] ** 2 - 1) ** 2, rtol=1e-6)
    dw2 = ebm.DoubleWell(a=2.0, height=3.0, tilt=0.5, dim=2)
    y = jnp.array([[2.0, -2.0], [0.0, 1.0]])
    want = 3.0 * (y**2 - 4) ** 2 / 16 + 0.5 * y
    np.testing.assert_allclose(dw2.energy(y), want.sum(-1), rtol=1e-6)
    wn = ebm.WideNarrowWells(dim=2, separation=3.0, k_wide=1.0, k_narrow=9.0)
    wide, narrow = wn.centres()
    np.testing.assert_allclose(wn.energy(jnp.stack([wide, narrow])), [0.0, 0.0], atol=1e-7)
    assert bool(wn.in_wide_well(wide)) and not bool(wn.in_wide_well(narrow))
    np.testing.assert_allclose(wn.occupancy_ratio(), 9.0)


def test_models_are_pytrees_and_jit(rng):
    model = ebm.Ising.square_lattice(6, 4, coupling=0.5)
    leaves, treedef = jax.tree_util.tree_flatten(model)
    assert len(leaves) == 2
    doubled = jax.tree_util.tree_map(lambda a: 2 * a, model)
    x = np_state(model, 0, (3,))
    np.testing.assert_allclose(jax.jit(lambda m, x: m.energy(x))(doubled, x), 2 * model.energy(x), rtol=1e-6)
    grad = jax.grad(lambda m: m.energy(x).sum())(model)
    assert isinstance(grad, ebm.LatticeIsing)
    dense = ebm.Ising(random_couplings(rng, 5))
    assert jax.tree_util.tree_map(lambda a: a, dense).blocks == dense.blocks


def test_lattice_memory_is_the_spins_only():
    """A 4096×4096 lattice holds two scalars; its energy never builds an N×N matrix."""
    model = ebm.Ising.square_lattice(4096)
    assert sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(model)) == 2
    x = jnp.ones((4096, 4096), jnp.int8)
    np.testing.assert_allclose(float(model.energy(x)), -2.0 * 4096 * 4096, rtol=1e-6)


# --- property-based invariances --------------------------------------------------
@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 9))
def test_global_spin_flip_symmetry_at_zero_field(seed, n):
    rng = np.random.default_rng(seed)
    dense = ebm.Ising(random_couplings(rng, n))
    edges = np.array([(i, (i + 1) % n) for i in range(n - 1)])
    sparse = ebm.Ising.from_edges(n, edges, rng.normal(size=len(edges)))
    lattice = ebm.Ising.square_lattice(2 + seed % 3, 2 + n % 4, coupling=rng.normal())
    for model in (dense, sparse, lattice):
        x = np_state(model, seed % 1000, (4,))
        np.testing.assert_allclose(model.energy(x), model.energy(-x), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch=st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_energy_is_batched_over_leading_axes(seed, batch):
    rng = np.random.default_rng(seed)
    for model in _models(rng):
        x = np_state(model, seed % 997, tuple(batch))
        e = np.asarray(model.energy(x))
        assert e.shape == tuple(batch)
        flat = np.asarray(x).reshape((-1,) + tuple(model.event_shape))
        np.testing.assert_allclose(e.ravel(), model.energy(flat), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(e.ravel()[-1], model.energy(flat[-1]), rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), shift=st.integers(0, 5))
def test_lattice_translation_invariance(seed, shift):
    model = ebm.Ising.square_lattice(4, 6, coupling=0.9, field=0.2)
    x = np_state(model, seed % 10007)
    moved = jnp.roll(jnp.roll(x, shift, 0), 2 * shift, 1)
    np.testing.assert_allclose(model.energy(x), model.energy(moved), rtol=1e-6)


# --- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: ebm.Ising([[0.0, 1.0], [0.5, 0.0]]), "symmetric"),
        (lambda: ebm.Ising([[1.0, 1.0], [1.0, 0.0]]), "zero diagonal"),
        (lambda: ebm.Ising(np.zeros((2, 3))), "square"),
        (lambda: ebm.Ising(np.zeros((3, 3)), np.zeros(2)), "fields"),
        (lambda: ebm.Ising([[0.0, np.nan], [np.nan, 0.0]]), "finite"),
        (lambda: ebm.Ising.square_lattice(1, 4), "rows"),
        (lambda: ebm.Ising.square_lattice(4, 0), "cols"),
        (lambda: ebm.Ising.square_lattice(4.5), "rows"),
        (lambda: ebm.Ising.square_lattice(4, coupling=[1.0, 2.0]), "coupling"),
        (lambda: ebm.Ising.from_edges(3, [[0, 3]], [1.0]), "edges"),
        (lambda: ebm.Ising.from_edges(3, [[1, 1]], [1.0]), "self-loops"),
        (lambda: ebm.Ising.from_edges(3, [[0, 1]], [1.0, 2.0]), "weights"),
        (lambda: ebm.BoltzmannMachine([[0.0, 1.0], [2.0, 0.0]]), "weights"),
        (lambda: ebm.RBM(np.zeros(3)), "weights"),
        (lambda: ebm.RBM(np.zeros((3, 2)), np.zeros(2)), "visible_bias"),
        (lambda: ebm.RBM(np.zeros((3, 2)), hidden_bias=np.zeros(3)), "hidden_bias"),
        (lambda: ebm.DoubleWell(a=0.0), "`a`"),
        (lambda: ebm.DoubleWell(height=-1.0), "height"),
        (lambda: ebm.WideNarrowWells(k_narrow=np.inf), "k_narrow"),
    ],
)
def test_bad_model_arguments_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_sparse_model_structure_is_static(rng):
    """Index arrays of from_edges models are static: only weights and fields are leaves."""
    model = _models(rng)[4]
    assert [leaf.shape for leaf in jax.tree_util.tree_leaves(model)] == [(8,), (7,)]
    halved = jax.tree.map(lambda p: p / 2.0, model)
    x = np_state(model, 0, (3,))
    np.testing.assert_allclose(halved.energy(x), model.energy(x) / 2.0, rtol=1e-6)
    grad = jax.grad(lambda m: m.energy(x).sum())(model)
    assert isinstance(grad, ebm.SparseIsing) and grad.edges == model.edges
    same = ebm.Ising.from_edges(7, np.asarray(model.edges.array), model.weights, model.fields)
    assert jax.tree.structure(same) == jax.tree.structure(model)
    assert hash(same.edges) == hash(model.edges)


def test_dtype_needs_no_dense_matrix(rng):
    for model in _models(rng):
        assert model.dtype == jnp.float32, repr(model)
    big = ebm.Ising.square_lattice(4096)
    assert big.dtype == jnp.float32 and big.num_units == 4096**2
    with pytest.raises(ValueError, match="to_quadratic"):
        big.to_quadratic()


def test_energy_rejects_units_of_the_wrong_kind(rng):
    """{0,1} given as spins (and the reverse) is a ValueError naming the argument and the values."""
    for model in _models(rng):
        down, up = model.unit_values
        wrong = np.full(model.event_shape, 1 - up if down == -1 else -1, np.int8)
        match = "spins must be -1 or \\+1" if down == -1 else "units must be 0 or 1"
        with pytest.raises(ValueError, match="`x`: " + match):
            model.energy(wrong)
    rbm = _models(rng)[-1]
    with pytest.raises(ValueError, match="`v`: units must be 0 or 1"):
        rbm.free_energy(-np.ones((2, 4)))
    with pytest.raises(ValueError, match="`h`: units must be 0 or 1"):
        rbm.joint_energy(np.ones(4), 2 * np.ones(3))
    # under jit the values are tracers: no check, no error
    ising = _models(rng)[0]
    jax.jit(ising.energy)(jnp.zeros(ising.event_shape))


def test_bad_states_raise():
    model = ebm.Ising.square_lattice(4)
    with pytest.raises(ValueError, match="spins must be -1 or \\+1"):
        model.validate_state(jnp.zeros((4, 4), jnp.int8))
    with pytest.raises(ValueError, match="trailing shape"):
        model.energy(jnp.ones((4, 5)))
    bm = ebm.BoltzmannMachine(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="units must be 0 or 1"):
        bm.validate_state(np.array([0, 1, -1]))
