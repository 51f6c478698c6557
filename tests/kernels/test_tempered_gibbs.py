"""TemperedGibbs: heat-bath block Gibbs with replica exchange.

Three kinds of tests (STYLE.md): deterministic unit tests of the pure functions and of the
kernel's plumbing through ``numpyro.infer.MCMC``; statistical tests against exact answers
(enumeration, Kaufman's finite-lattice formula) whose tolerances come from the Monte Carlo
standard error; and a mixing test where plain Gibbs is provably stuck.

Statistical tests use fixed keys and many independent chains. The standard error of a
sampled mean is estimated from the spread of the per-chain means (which accounts for the
autocorrelation inside each chain), floored by the i.i.d. binomial/sample error, and every
test allows ``|z| <= z_crit`` with a Bonferroni bound for a family-wise error of 1e-3.
"""

import itertools
import pickle
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_state_frequencies, chain_z_scores, enable_x64, z_crit
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from numpyro.infer import MCMC

import ebm_numpyro as ebm
from ebm_numpyro.kernels import TemperedGibbs, replica_exchange, swap_acceptance
from ebm_numpyro.schedules import geometric_ladder


def gibbs(model, temperature=None, temperatures=None, **kwargs):
    """TemperedGibbs on an energy model, through its potential (the public head)."""
    return TemperedGibbs(potential_fn=ebm.potential(model), temperature=temperature,
                         temperatures=temperatures, **kwargs)


def run_mcmc(kernel, key=0, *, warmup, samples, chains, thinning=1, extra=(), init=None, method="vectorized"):
    mcmc = MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        thinning=thinning,
        chain_method=method,
        progress_bar=False,
    )
    mcmc.run(jax.random.key(key), extra_fields=tuple(extra), init_params=init)
    return mcmc


# ----------------------------------------------------------------------------- models
def frustrated_ising(seed=3, n=10, edge_prob=0.5, sparse=False):
    """Random ±J couplings on a random graph plus random fields: frustrated loops, several colours."""
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < edge_prob]
    w = rng.choice([-1.0, 1.0], size=len(pairs)) * 0.6
    h = rng.uniform(-0.4, 0.4, size=n)
    if sparse:
        return ebm.Ising.from_edges(n, np.array(pairs), w, h)
    J = np.zeros((n, n))
    for (i, j), wij in zip(pairs, w):
        J[i, j] = J[j, i] = wij
    return ebm.Ising(J, h)


def exact_probabilities(model, temperature):
    """Boltzmann probabilities of all 2^n states by brute force, state index = binary code."""
    n = model.num_units
    states = np.array(list(itertools.product((0, 1), repeat=n)), np.int8)[:, ::-1]  # bit i = unit i
    down, up = model.unit_values
    x = np.where(states == 1, up, down).astype(np.int8)
    energy = np.asarray(model.energy(jnp.asarray(x)), np.float64)
    logw = -energy / temperature
    p = np.exp(logw - logw.max())
    return p / p.sum()


def state_codes(x, unit_values):
    """Integer code of each state (bit i = unit i is up), over the last axis."""
    bits = (np.asarray(x) == unit_values[1]).astype(np.int64)
    return bits @ (1 << np.arange(bits.shape[-1]))


# ----------------------------------------------------------------------------- pure functions


def test_swap_acceptance_and_exchange():
    betas = jnp.array([1.0, 0.8, 0.5, 0.3])
    energies = jnp.array([-10.0, -12.0, -3.0, -20.0])
    a = np.asarray(swap_acceptance(energies, betas))
    b, e = np.asarray(betas), np.asarray(energies)
    np.testing.assert_allclose(a, np.minimum(1, np.exp((b[:-1] - b[1:]) * (e[:-1] - e[1:]))), rtol=1e-6)
    for parity in (0, 1):
        perm, acc = replica_exchange(jax.random.key(0), energies, betas, parity)
        perm = np.asarray(perm)
        assert sorted(perm) == [0, 1, 2, 3]
        moved = np.flatnonzero(perm != np.arange(4))
        assert all(min(perm[k], k) % 2 == parity for k in moved)  # only pairs (k, k+1), k ≡ parity
        np.testing.assert_allclose(acc, a)
    # certain swaps (acceptance 1) always happen, impossible ones (a = 0) never
    perm, _ = replica_exchange(jax.random.key(5), jnp.array([5.0, -5.0, 5.0, -5.0]), betas * 100, 0)
    np.testing.assert_array_equal(perm, [1, 0, 3, 2])
    perm, _ = replica_exchange(jax.random.key(5), jnp.array([-5.0, 5.0, -5.0, 5.0]), betas * 100, 0)
    np.testing.assert_array_equal(perm, [0, 1, 2, 3])


def test_geometric_ladder():
    t = np.asarray(geometric_ladder(1.5, 6.0, 5))
    np.testing.assert_allclose(t, 1.5 * 4.0 ** (np.arange(5) / 4), rtol=1e-6)
    assert t[0] == np.float32(1.5) and t[-1] == np.float32(6.0)
    for args, name in [((0.0, 2.0, 3), "t_min"), ((-1, 2.0, 3), "t_min"), ((1.0, np.nan, 3), "t_max"),
                       ((2.0, 1.0, 3), "t_max"), ((2.0, 2.0, 3), "t_max"), ((1.0, 2.0, 1), "n"),
                       ((1.0, 2.0, 2.5), "n"), ((np.ones(2), 2.0, 3), "t_min")]:
        with pytest.raises(ValueError, match=name):
            geometric_ladder(*args)


# ----------------------------------------------------------------------------- errors
def test_bad_construction():
    lattice = ebm.Ising.square_lattice(4)
    with pytest.raises(ValueError, match="model.*DoubleWell"):
        gibbs(ebm.DoubleWell())
    with pytest.raises(ValueError, match="not both"):
        gibbs(lattice, temperature=1.0, temperatures=[1.0, 2.0])
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="`temperature`"):
            gibbs(lattice, bad)
    with pytest.raises(ValueError, match="`temperature` must be a number or a schedule"):
        gibbs(lattice, [1.0, 2.0])
    for bad in ([2.0, 1.0], [1.0, 1.0], [1.0, -2.0], [1.0, np.nan], [], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="`temperatures`"):
            gibbs(lattice, temperatures=bad)


def test_bad_init_params():
    lattice = ebm.Ising.square_lattice(4)
    kernel = gibbs(lattice, temperatures=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="init_params.*-1 or \\+1"):
        kernel.init(jax.random.key(0), 0, jnp.zeros((4, 4)))
    with pytest.raises(ValueError, match="init_params.*shape"):
        kernel.init(jax.random.key(0), 0, jnp.ones((5, 4)))
    with pytest.raises(ValueError, match="init_params.*shape"):
        kernel.init(jax.random.key(0), 0, jnp.ones((2, 4, 4)))  # 2 != 3 temperatures
    bm = gibbs(ebm.BoltzmannMachine(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="init_params.*0 or 1"):
        bm.init(jax.random.key(0), 0, jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match="init_params.*-1 or \\+1"):  # through MCMC, per chain
        run_mcmc(gibbs(lattice), warmup=1, samples=1, chains=2, init=jnp.zeros((2, 4, 4)))
    # accepted: floats that are exactly ±1, per-temperature starts, a leading chain axis
    state = kernel.init(jax.random.key(0), 0, -np.ones((4, 4)))
    assert state.x.shape == (3, 4, 4) and state.x.dtype == jnp.int8 and np.all(np.asarray(state.x) == -1)
    start = np.stack([np.ones((4, 4)), -np.ones((4, 4)), np.ones((4, 4))])
    state = kernel.init(jax.random.key(0), 0, start)
    np.testing.assert_array_equal(state.x, start)
    state = kernel.init(jax.random.split(jax.random.key(0), 2), 0, np.ones((2, 4, 4)))
    assert state.x.shape == (2, 3, 4, 4)


# ----------------------------------------------------------------------------- MCMC plumbing
@pytest.mark.slow
def test_extra_fields_and_shapes():
    kernel = gibbs(ebm.Ising.square_lattice(4, 6), temperatures=geometric_ladder(1.5, 3.0, 3))
    fields = ("physical_energy", "magnetization", "swap_accept", "replica_index", "energies", "x")
    mcmc = run_mcmc(kernel, warmup=5, samples=7, chains=2, extra=fields)
    samples = mcmc.get_samples(group_by_chain=True)
    z = samples["spins"]
    ex = mcmc.get_extra_fields(group_by_chain=True)
    assert z.shape == (2, 7, 4, 6) and z.dtype == jnp.int8
    np.testing.assert_array_equal(samples["physical_energy"], ex["physical_energy"])
    np.testing.assert_array_equal(samples["magnetization"], ex["magnetization"])
    assert ex["physical_energy"].shape == ex["magnetization"].shape == (2, 7)
    assert ex["swap_accept"].shape == (2, 7, 2) and ex["replica_index"].shape == (2, 7, 3)
    assert ex["replica_index"].dtype == jnp.int32
    assert np.all(np.sort(np.asarray(ex["replica_index"]), -1) == np.arange(3))
    np.testing.assert_array_equal(ex["x"][:, :, 0], z)  # samples are the target rung
    model = kernel.energy_model
    np.testing.assert_allclose(ex["physical_energy"], model.energy(z), rtol=1e-6)
    np.testing.assert_allclose(ex["energies"], model.energy(ex["x"]), rtol=1e-6)
    np.testing.assert_allclose(ex["magnetization"], np.asarray(z, np.float64).mean((-1, -2)), rtol=1e-6)
    acc = np.asarray(ex["swap_accept"])
    assert np.all((acc >= 0) & (acc <= 1))
    e, b = np.asarray(ex["energies"], np.float64), 1 / np.asarray(kernel.temperatures)
    # swap_accept is evaluated after the sweep, before the swap: check it on unswapped draws
    same = np.all(np.asarray(ex["replica_index"])[:, 1:] == np.asarray(ex["replica_index"])[:, :-1], -1)
    want = np.minimum(1, np.exp((b[:-1] - b[1:]) * (e[..., :-1] - e[..., 1:])))
    np.testing.assert_allclose(acc[:, 1:][same], want[:, 1:][same], rtol=1e-4)
    assert kernel.get_diagnostics_str(mcmc.last_state).startswith("E ")
    assert "swap acc." in kernel.get_diagnostics_str(mcmc.last_state)


def test_store_states_false_keeps_draws_small():
    """256×256, 4 chains: only scalars per draw, so 10,000 draws of E and m are ~0.5 MB."""
    kernel = gibbs(ebm.Ising.square_lattice(256), 2.5, store_states=False)
    mcmc = run_mcmc(kernel, warmup=0, samples=3, chains=4, extra=("physical_energy", "magnetization"))
    z = mcmc.get_samples(group_by_chain=True)
    ex = mcmc.get_extra_fields(group_by_chain=True)
    assert set(z) == {"physical_energy", "magnetization"} and z["physical_energy"].shape == (4, 3)
    np.testing.assert_array_equal(z["physical_energy"], ex["physical_energy"])
    per_draw = sum(np.asarray(v).nbytes for v in (*z.values(), ex["physical_energy"], ex["magnetization"])) / 3
    assert per_draw * 10_000 < 1e6
    assert kernel.store_states is False


@pytest.mark.slow
def test_vectorized_sequential_parallel_agree():
    """The same key gives the same chains whatever the chain method (parallel falls back to
    sequential with a warning when there are fewer devices than chains, as on one CPU)."""
    cases = (
        (gibbs(ebm.Ising.square_lattice(4, 6), temperatures=[2.0, 2.6, 3.4]), ("sequential", "parallel")),
        (gibbs(frustrated_ising(n=6), temperatures=[1.0, 1.7]), ("sequential",)),
    )
    for kernel, methods in cases:
        runs = {}
        for method in ("vectorized",) + methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                runs[method] = run_mcmc(kernel, 11, warmup=3, samples=6, chains=2, method=method,
                                        extra=("physical_energy", "replica_index"))
        ref = runs["vectorized"]
        for method in methods:
            np.testing.assert_array_equal(runs[method].get_samples()["spins"], ref.get_samples()["spins"])
            np.testing.assert_array_equal(
                runs[method].get_extra_fields()["replica_index"], ref.get_extra_fields()["replica_index"]
            )
            np.testing.assert_allclose(runs[method].get_extra_fields()["physical_energy"], ref.get_extra_fields()["physical_energy"], rtol=1e-6)


@pytest.mark.slow
def test_same_key_same_result_and_resume():
    kernel = gibbs(ebm.Ising.square_lattice(4), temperatures=[1.8, 2.4, 3.2])
    whole = run_mcmc(kernel, 4, warmup=10, samples=40, chains=2, extra=("replica_index",))
    part = run_mcmc(kernel, 4, warmup=10, samples=20, chains=2, extra=("replica_index",))
    first = part.get_samples(group_by_chain=True)["spins"]
    part.post_warmup_state = part.last_state
    part.run(part.last_state.rng_key, extra_fields=("replica_index",))
    second = part.get_samples(group_by_chain=True)["spins"]
    np.testing.assert_array_equal(np.concatenate([first, second], 1), whole.get_samples(group_by_chain=True)["spins"])
    assert int(part.last_state.i[0]) == 10 + 40
    # warmup() then run(): the sampling phase starts from the post-warmup state
    mcmc = MCMC(kernel, num_warmup=10, num_samples=5, num_chains=2, chain_method="vectorized", progress_bar=False)
    mcmc.warmup(jax.random.key(1))
    assert int(mcmc.post_warmup_state.i[0]) == 10
    mcmc.run(jax.random.key(2))
    assert int(mcmc.last_state.i[0]) == 15


def test_progress_bar_single_chain(capsys):
    kernel = gibbs(frustrated_ising(n=5), temperatures=[1.0, 2.0])
    mcmc = MCMC(kernel, num_warmup=5, num_samples=5, progress_bar=True)
    mcmc.run(jax.random.key(0), init_params=np.ones(5))
    assert mcmc.get_samples()["spins"].shape == (5, 5)
    kernel2 = pickle.loads(pickle.dumps(kernel))
    np.testing.assert_array_equal(kernel2.temperatures, [1.0, 2.0])


@pytest.mark.slow
def test_jit_dtypes_and_x64():
    kernel = gibbs(frustrated_ising(n=5), temperatures=[2.0, 3.0])
    state = kernel.init(jax.random.key(0), 0)
    new = jax.jit(kernel.sample)(state, (), {})
    assert new.x.dtype == jnp.int8 and new.physical_energy.dtype == jnp.float32 and new.i == 1
    assert jax.tree.structure(new) == jax.tree.structure(state)
    with enable_x64():
        kernel = gibbs(frustrated_ising(n=5), temperatures=[2.0, 3.0])
        new = jax.jit(kernel.sample)(kernel.init(jax.random.key(0), 0))
        assert new.energies.dtype == jnp.float64 and new.x.dtype == jnp.int8
        kernel = gibbs(ebm.Ising.square_lattice(4), temperatures=[2.0, 3.0])
        mcmc = run_mcmc(kernel, warmup=2, samples=3, chains=2, extra=("physical_energy", "swap_accept"))
        ex = mcmc.get_extra_fields()
        assert ex["physical_energy"].dtype == jnp.float64 and ex["swap_accept"].dtype == jnp.float64
        assert mcmc.get_samples()["spins"].dtype == jnp.int8
        np.testing.assert_allclose(ex["physical_energy"], kernel.energy_model.energy(mcmc.get_samples()["spins"]))


# ----------------------------------------------------------------------------- exactness
@pytest.mark.slow
@pytest.mark.parametrize("sparse", [False, True])
def test_frequencies_single_temperature(sparse):
    """All 2^10 states of a frustrated ±J model with fields: sampled vs exact probabilities."""
    model = frustrated_ising(sparse=sparse)
    assert len(model.blocks) >= 3  # a genuine block sweep, not single-site updates
    kernel = gibbs(model, 1.0)
    mcmc = run_mcmc(kernel, 1, warmup=30, samples=24, thinning=2, chains=1024)
    codes = state_codes(mcmc.get_samples(group_by_chain=True)["spins"], model.unit_values)
    assert_state_frequencies(codes, exact_probabilities(model, 1.0), "single temperature")


@pytest.mark.slow
def test_frequencies_every_rung_of_a_ladder():
    model = frustrated_ising(seed=5)
    ladder = np.array([0.8, 1.2, 1.9])
    kernel = gibbs(model, temperatures=ladder)
    mcmc = run_mcmc(kernel, 2, warmup=30, samples=24, thinning=2, chains=1024, extra=("x", "swap_accept"))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])  # (chain, draw, rung, spin)
    for k, t in enumerate(ladder):
        codes = state_codes(x[:, :, k], model.unit_values)
        assert_state_frequencies(codes, exact_probabilities(model, t), f"rung {k} (T = {t})")
    assert float(mcmc.get_extra_fields()["swap_accept"].mean()) > 0.2  # the ladder does exchange


@pytest.mark.slow
def test_rbm_joint_statistics_match_exact_moments():
    rng = np.random.default_rng(11)
    model = ebm.RBM(rng.normal(0, 1.0, (6, 4)), rng.normal(0, 0.5, 6), rng.normal(0, 0.5, 4))
    temperature = 1.3
    exact = ebm.exact.moments(model, temperature)
    mcmc = run_mcmc(gibbs(model, temperature), 3, warmup=20, samples=30, thinning=2, chains=1024,
                    extra=("physical_energy",))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["units"], np.float64)  # (chain, draw, 10) = [v, h]
    v, h = x[..., :6], x[..., 6:]
    stats = np.concatenate(
        [x, (v[..., :, None] * h[..., None, :]).reshape(*x.shape[:2], -1),
         np.asarray(mcmc.get_extra_fields(group_by_chain=True)["physical_energy"], np.float64)[..., None]], -1
    )
    want = np.concatenate([np.asarray(exact.mean), np.asarray(exact.correlation).ravel(), [float(exact.mean_energy)]])
    iid = stats.reshape(-1, stats.shape[-1]).std(0) / np.sqrt(stats[..., 0].size)
    z = chain_z_scores(stats.mean(1), want, iid)
    assert np.abs(z).max() < z_crit(want.size), f"max |z| = {np.abs(z).max():.2f}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "rows,cols,coupling,field,temperature",
    [(4, 4, 0.7, 0.3, 2.0), (4, 4, -0.8, 0.5, 1.5), (3, 4, 1.0, -0.2, 2.8)],  # fast, fast (AF), generic
)
def test_small_lattices_match_exact_moments(rows, cols, coupling, field, temperature):
    model = ebm.Ising.square_lattice(rows, cols, coupling, field)
    exact = ebm.exact.moments(model, temperature)
    mcmc = run_mcmc(gibbs(model, temperature), 4, warmup=100, samples=30, thinning=2, chains=512,
                    extra=("physical_energy", "magnetization"))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["spins"], np.float64)
    ex = mcmc.get_extra_fields(group_by_chain=True)
    right = (x * np.roll(x, -1, -1)).mean((-1, -2))  # nearest-neighbour correlation along rows
    stats = np.stack([np.asarray(ex["physical_energy"], np.float64), np.asarray(ex["magnetization"], np.float64), right], -1)
    corr = np.asarray(exact.correlation).reshape(rows, cols, rows, cols)
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    want = [float(exact.mean_energy), float(np.mean(exact.mean)), corr[i, j, i, (j + 1) % cols].mean()]
    iid = stats.reshape(-1, 3).std(0) / np.sqrt(stats[..., 0].size)
    z = chain_z_scores(stats.mean(1), want, iid)
    assert np.abs(z).max() < z_crit(3), f"z = {z}"


@pytest.mark.slow
def test_lattice_16x16_mean_energy_matches_kaufman():
    """Below, at and above Tc: mean energy per spin within z_crit MCSE (ESS-based) of Kaufman."""
    temperatures = (1.8, 2.269, 3.0)
    bound = z_crit(len(temperatures))
    model = ebm.Ising.square_lattice(16)
    for k, t in enumerate(temperatures):
        kernel = gibbs(model, t, store_states=False)
        mcmc = run_mcmc(kernel, 10 + k, warmup=300, samples=6000, chains=8, init=np.ones((8, 16, 16)),
                        extra=("physical_energy",))
        e = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["physical_energy"], np.float64) / 256
        ess = float(effective_sample_size(e))
        mcse = e.std() / np.sqrt(ess)
        exact = float(ebm.exact.kaufman_mean_energy(16, 16, t, per_spin=True))
        z = (e.mean() - exact) / mcse
        assert abs(z) < bound, f"T={t}: <E>/N = {e.mean():.5f} vs Kaufman {exact:.5f} (MCSE {mcse:.1e}, ESS {ess:.0f})"
        assert ess > 500


# ----------------------------------------------------------------------------- mixing
def round_trips(replica_index):
    """Completed round trips per chain: a replica visits the target slot, then the hottest
    slot, then the target again (``replica_index``: chain, draw, slot)."""
    rep = np.asarray(replica_index)
    chains, draws, n = rep.shape
    out = np.zeros(chains, int)
    for c in range(chains):
        last = np.full(n, -1)  # last extreme visited by each replica: 0 = target, 1 = hottest
        for d in range(draws):
            bottom, top = rep[c, d, 0], rep[c, d, -1]
            if last[bottom] == 1:
                out[c] += 1
            last[bottom], last[top] = 0, 1
    return out


@pytest.mark.slow
def test_replica_exchange_unsticks_a_cold_ferromagnet():
    """8×8 at T=1.5: flipping the magnetisation costs two domain walls (ΔE ≈ 4LJ = 32, so
    e^{-ΔE/T} ~ 1e-9): plain Gibbs keeps its sign, the ladder up to 3.5 visits both signs."""
    model = ebm.Ising.square_lattice(8)
    chains, temperature = 4, 1.5
    up_down = np.stack([np.ones((8, 8)), np.ones((8, 8)), -np.ones((8, 8)), -np.ones((8, 8))])
    plain = run_mcmc(gibbs(model, temperature, store_states=False), 20, warmup=0, samples=3000,
                     chains=chains, init=up_down, extra=("magnetization",))
    m = np.asarray(plain.get_extra_fields(group_by_chain=True)["magnetization"])
    assert np.all(m[:2] > 0) and np.all(m[2:] < 0)  # every draw keeps its starting sign
    assert float(split_gelman_rubin(m)) > 1.5  # and R-hat says so

    ladder = geometric_ladder(temperature, 3.5, 8)
    tempered = run_mcmc(gibbs(model, temperatures=ladder, store_states=False), 21, warmup=0,
                        samples=3000, chains=chains, init=up_down,
                        extra=("magnetization", "replica_index", "swap_accept"))
    ex = tempered.get_extra_fields(group_by_chain=True)
    m = np.asarray(ex["magnetization"])
    assert np.all((m > 0).any(1) & (m < 0).any(1))  # every chain visits both signs
    sign = np.sign(m)
    ess = float(effective_sample_size(sign))
    frac = float((sign > 0).mean())
    assert ess > 50 and abs(frac - 0.5) < z_crit(1) * 0.5 / np.sqrt(ess), (frac, ess)
    assert float(split_gelman_rubin(m)) < 1.1
    assert np.all(round_trips(ex["replica_index"]) >= 3)
    assert np.all(np.asarray(ex["swap_accept"]).mean((0, 1)) > 0.2)


@pytest.mark.arviz
def test_large_lattice_summaries_show_observables_and_are_fast(capsys):
    """Regression: on a 64×64 lattice the defaults keep no state per draw, so print_summary and
    az.summary(az.from_numpyro(mcmc)) list physical_energy and magnetization (not 4,096 spins)."""
    import time

    import arviz as az

    kernel = gibbs(ebm.Ising.square_lattice(64), 2.5)
    assert kernel.store_states is False  # 4,096 units > AUTO_STORE_UNITS
    mcmc = run_mcmc(kernel, warmup=10, samples=100, chains=2, extra=("potential_energy",))
    mcmc.print_summary()
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert rows[1:3] == ["magnetization", "physical_energy"] and len(rows) < 6, rows
    start = time.perf_counter()
    summary = az.summary(az.from_numpyro(mcmc))
    assert list(summary.index) == ["magnetization", "physical_energy"]
    assert time.perf_counter() - start < 30
    small = gibbs(ebm.Ising.square_lattice(8), 2.5)
    assert small.store_states is True  # 64 units: states are kept by default
