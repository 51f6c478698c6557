"""ebm.DiscreteEnergy: a user-written JAX energy over spins, {0,1} units or q-state labels.

Colourings found from the energy's program, conditionals equal to brute-force energy
differences, exact enumeration, and TemperedGibbs against enumeration: every state's
frequency on every rung of a ladder, for energies with a three-body term (default colouring
and unit by unit; spins and q = 3 labels), and as an ``ebm.Boltzmann`` site. Fixed keys;
tolerances from the MCSE (tests/helpers.py)."""

import itertools

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import assert_state_frequencies, enable_x64, run_mcmc, summary_text
from numpyro.infer import MCMC

import ebm_numpyro as ebm

# ----------------------------------------------------------------------------- energies
N = 9
PAIRS = np.array([(i, (i + 1) % N) for i in range(N)] + [(0, 4), (2, 6)])
TRIPLES = np.array([(0, 1, 2), (3, 4, 5), (6, 7, 8), (1, 4, 7)])
_RNG = np.random.default_rng(7)
PARAMS = {"J": 0.6 * _RNG.normal(size=len(PAIRS)), "K": 0.8 * _RNG.normal(size=len(TRIPLES)),
          "h": 0.3 * _RNG.normal(size=N)}


def pair_triple(s, p):
    """Pairwise couplings, a three-body term on four triples and fields, over ±1 spins."""
    pairs = jnp.sum(p["J"] * s[PAIRS[:, 0]] * s[PAIRS[:, 1]])
    triples = jnp.sum(p["K"] * s[TRIPLES[:, 0]] * s[TRIPLES[:, 1]] * s[TRIPLES[:, 2]])
    return -pairs - triples - jnp.sum(p["h"] * s)  # a sum of terms (h @ s would be one term of every unit)


Q, NQ = 3, 6
QPAIRS = np.array([(i, (i + 1) % NQ) for i in range(NQ)])
QTRIPLES = np.array([(0, 1, 2), (3, 4, 5)])
QFIELD = 0.5 * np.random.default_rng(8).normal(size=(NQ, Q))


def clock(x, p):
    """q = 3 labels: Potts bonds on a ring, a three-body clock term and a field per label."""
    same = (x[QPAIRS[:, 0]] == x[QPAIRS[:, 1]]).astype(p["J"].dtype)
    total = x[QTRIPLES[:, 0]] + x[QTRIPLES[:, 1]] - x[QTRIPLES[:, 2]]
    three = jnp.cos(2.0 * jnp.pi * total / Q)
    field = jnp.sum(jax.nn.one_hot(x, Q, dtype=p["h"].dtype) * p["h"])
    return -p["J"] * jnp.sum(same) - p["K"] * jnp.sum(three) - field


def lattice(s):
    """Nearest neighbours on a periodic lattice, written with jnp.roll."""
    return -jnp.sum(s * jnp.roll(s, 1, 0)) - jnp.sum(s * jnp.roll(s, 1, 1))


_DENSE = np.triu(np.random.default_rng(9).normal(size=(6, 6)), 1)
_DENSE = _DENSE + _DENSE.T


def dense(s):
    """All-to-all couplings through a matrix product (every pair shares the one term)."""
    return -0.5 * s @ jnp.asarray(_DENSE, s.dtype) @ s


def spins(blocks=None):
    return ebm.DiscreteEnergy(pair_triple, N, "spin", PARAMS, blocks=blocks)


def labels():
    return ebm.DiscreteEnergy(clock, NQ, Q, {"J": 0.8, "K": 0.7, "h": QFIELD})


def brute_probabilities(model, temperature):
    """Exact state probabilities by NumPy enumeration; state code = sum_i digit_i q^i."""
    values = model.unit_values
    digits = np.array(list(itertools.product(range(len(values)), repeat=model.num_units)))[:, ::-1]
    states = np.asarray(values)[digits].reshape((-1,) + model.event_shape)
    e = np.asarray(model.energy(jnp.asarray(states, jnp.int8)), np.float64)
    w = np.exp(-(e - e.min()) / temperature)
    return w / w.sum()


def codes_of(x, model):
    """State codes (base q digits, unit i the i-th digit) of states with trailing event axes."""
    values = np.asarray(model.unit_values)
    digits = np.searchsorted(values, np.asarray(x)).reshape(np.shape(x)[: np.ndim(x) - len(model.event_shape)] + (-1,))
    return digits @ (len(values) ** np.arange(model.num_units))


def run(kernel, *args, **kw):
    return run_mcmc(kernel, *args, **{"warmup": 100, "chains": 8, **kw})


# ----------------------------------------------------------------------------- structure
def test_colouring_from_the_program():
    """A jnp.roll lattice is the checkerboard; an all-to-all energy is swept unit by unit; the
    three-body model gets a proper colouring with fewer classes than units."""
    m = ebm.DiscreteEnergy(lattice, (4, 6))
    assert len(m.colour_classes) == 2 and not m.unit_blocks
    parity = (np.add.outer(np.arange(4), np.arange(6)) % 2).ravel()
    for c in m.colour_classes:
        assert len(set(parity[list(c)])) == 1
    assert ebm.DiscreteEnergy(dense, 6).unit_blocks
    assert ebm.DiscreteEnergy(lattice, (4, 6), blocks="single").unit_blocks
    s = spins()
    assert 1 < len(s.colour_classes) < N
    together = {frozenset(c) for c in s.colour_classes}
    for i, j in PAIRS.tolist() + [(a, b) for t in TRIPLES.tolist() for a, b in itertools.combinations(t, 2)]:
        assert not any({i, j} <= c for c in together), (i, j)
    user = ebm.DiscreteEnergy(lattice, (4, 6), blocks=[np.flatnonzero(parity == 0), np.flatnonzero(parity == 1)])
    assert len(user.colour_classes) == 2


@pytest.mark.parametrize("which", ["spins", "spins-single", "labels", "labels-single"])
def test_unit_energies_are_energy_differences(which):
    """unit_energies (by terms or unit by unit) equal brute-force energy differences (x64)."""
    with enable_x64():
        blocks = "single" if which.endswith("single") else None
        m = spins(blocks) if which.startswith("spins") else ebm.DiscreteEnergy(
            clock, NQ, Q, {"J": 0.8, "K": 0.7, "h": QFIELD}, blocks=blocks)
        assert m.unit_blocks == (blocks == "single")
        values = np.asarray(m.unit_values)
        x = jnp.asarray(values[np.random.default_rng(1).integers(0, len(values), (3, m.num_units))], jnp.int8)
        # unit by unit the block is a traced unit index (one compilation for every unit)
        unit_energies = jax.jit(m.unit_energies, static_argnums=() if m.unit_blocks else 1)
        for b in m.blocks[:3]:
            eps = np.asarray(unit_energies(x, b))  # (3, B, q)
            units = [b] if m.unit_blocks else list(m.colour_classes[b])
            assert eps.shape == (3, len(units), len(values)) and eps.dtype == np.float64
            for j, u in enumerate(units):
                e = np.stack([np.asarray(m.energy(x.at[:, u].set(jnp.int8(v)))) for v in values], -1)
                np.testing.assert_allclose(eps[:, j] - eps[:, j, :1], e - e[:, :1], atol=1e-12)
        if len(values) == 2:  # the local field of a binary unit: -(E(up) - E(down)) / (up - down)
            b = m.blocks[0]
            f = np.asarray(jax.jit(m.local_field, static_argnums=() if m.unit_blocks else 1)(x, b))
            eps = np.asarray(unit_energies(x, b))
            np.testing.assert_allclose(f, -(eps[..., 1] - eps[..., 0]) / 2.0, atol=1e-12)


def test_energy_batches_and_exact_log_partition():
    m = spins()
    x = np.where(np.random.default_rng(2).integers(0, 2, (2, 3, N)) == 1, 1, -1).astype(np.int8)
    assert m.energy(x).shape == (2, 3)
    states = ebm.distributions.all_states_of(m)
    w = np.exp(-np.asarray(m.energy(states), np.float64) / 1.7)
    np.testing.assert_allclose(float(ebm.exact.log_partition(m, 1.7)), np.log(w.sum()), rtol=1e-5)
    # the parameters are the model's leaves
    g = jax.grad(lambda mm: jnp.sum(mm.energy(x)))(m)
    assert set(g.params) == {"J", "K", "h"}
    np.testing.assert_allclose(np.asarray(g.params["h"]), -np.asarray(x, np.float64).sum((0, 1)), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["spins", "labels"])
def test_exact_moments(which):
    """ebm.exact.moments (derivatives of log Z of the model tilted by a field and couplings)
    against brute-force averages over all states."""
    m, t = (spins() if which == "spins" else labels()), 1.7
    states = ebm.distributions.all_states_of(m)
    energies = np.asarray(m.energy(states), np.float64)
    w = np.exp(-(energies - energies.min()) / t)
    p = w / w.sum()
    s = np.asarray(states, np.float64).reshape(len(p), -1)
    mom = ebm.exact.moments(m, t)
    np.testing.assert_allclose(np.asarray(mom.mean), p @ s, atol=1e-4)
    np.testing.assert_allclose(np.asarray(mom.correlation), s.T @ (p[:, None] * s), atol=1e-4)
    np.testing.assert_allclose(float(mom.mean_energy), p @ energies, rtol=1e-4)
    np.testing.assert_allclose(float(mom.heat_capacity), (p @ energies**2 - (p @ energies) ** 2) / t**2, rtol=1e-3)


def test_bad_input():
    with pytest.raises(ValueError, match="`shape`"):
        ebm.DiscreteEnergy(lattice, (4, 0))
    with pytest.raises(ValueError, match="`values`"):
        ebm.DiscreteEnergy(lattice, (4, 4), "ising")
    with pytest.raises(ValueError, match="`values`"):
        ebm.DiscreteEnergy(lattice, (4, 4), 1)
    with pytest.raises(ValueError, match="`fn`"):
        ebm.DiscreteEnergy(lambda s: s, (4, 4))  # not a scalar
    with pytest.raises(ValueError, match="`fn`"):
        ebm.DiscreteEnergy(lambda s: jnp.sum(s.reshape(3, 3)), (4,))  # fails on one state
    with pytest.raises(ValueError, match="`fn`"):
        ebm.DiscreteEnergy(lambda s: jnp.sum(s > 0), (4,))  # an integer
    with pytest.raises(ValueError, match="`blocks`"):
        ebm.DiscreteEnergy(lattice, (4, 4), blocks="checkerboard")
    with pytest.raises(ValueError, match="exactly once"):
        ebm.DiscreteEnergy(lattice, (2, 2), blocks=[[0, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="`blocks`"):
        ebm.DiscreteEnergy(lattice, (2, 2), blocks=[[0, 1, 2, 7]])
    with pytest.raises(ValueError, match=r"`blocks\[0\]` is not an independent set"):
        ebm.DiscreteEnergy(lattice, (4, 4), blocks=[[0, 1], list(range(2, 16))])
    with pytest.raises(ValueError, match="init_params"):
        mcmc = MCMC(ebm.TemperedGibbs(potential_fn=ebm.potential(labels())), num_warmup=1, num_samples=1,
                    progress_bar=False)
        mcmc.run(jax.random.key(0), init_params=np.full(NQ, 3, np.int8))


# ----------------------------------------------------------------------------- MCMC
def pair_triple_6(s, p):
    """Six spins: a ring with a three-body term."""
    return -jnp.sum(p["J"] * s * jnp.roll(s, 1)) - p["K"] * s[0] * s[2] * s[4]


def six_spins(blocks):
    return ebm.DiscreteEnergy(pair_triple_6, 6, "spin", {"J": np.linspace(-0.8, 0.9, 6), "K": 0.7}, blocks=blocks)


EXTRA = ("potential_energy", "physical_energy", "swap_accept", "x")


def run_six(m, method="vectorized"):
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(m), temperatures=[1.0, 2.0])
    return run_mcmc(kernel, warmup=5, samples=10, chains=2, method=method, extra=EXTRA)


@pytest.mark.arviz
def test_summaries_unit_by_unit():
    """The unit-by-unit sweep under MCMC: energies of the draws, print_summary, ArviZ."""
    m = six_spins("single")
    check_summaries(m, run_six(m))


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [None, "single"])
@pytest.mark.arviz
def test_chain_methods_identical(blocks):
    m = six_spins(blocks)
    ref = run_six(m)
    for method in ("sequential", "parallel"):
        other = run_six(m, method)
        for k, v in ref.get_samples().items():
            np.testing.assert_array_equal(np.asarray(other.get_samples()[k]), np.asarray(v), err_msg=f"{method}: {k}")
        np.testing.assert_array_equal(np.asarray(other.get_extra_fields()["x"]), np.asarray(ref.get_extra_fields()["x"]))
    check_summaries(m, ref)


def check_summaries(m, ref):
    spins_ = np.asarray(ref.get_samples()["spins"])
    np.testing.assert_allclose(np.asarray(ref.get_samples()["physical_energy"]), np.asarray(m.energy(spins_)),
                               rtol=1e-6)
    text = summary_text(ref)
    assert "physical_energy" in text and "spins[0]" in text
    idata = az.from_numpyro(ref)
    assert "spins" in idata.posterior.data_vars and "lp" in idata.sample_stats.data_vars


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [None, "single"])
def test_three_body_spins_every_rung_against_enumeration(blocks):
    """Every one of the 2^9 states' frequency on every rung of a ladder against enumeration."""
    m = spins(blocks)
    assert m.unit_blocks == (blocks == "single")
    ladder = np.array([1.0, 1.6, 2.5])
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(m), temperatures=ladder)
    mcmc = run(kernel, samples=4000, extra=("x", "swap_accept"))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])  # (chain, draw, slot, N)
    for k, t in enumerate(ladder):
        assert_state_frequencies(codes_of(x[:, :, k], m), brute_probabilities(m, t), f"blocks={blocks}, rung {k} (T = {t})")
    assert np.mean(np.asarray(mcmc.get_extra_fields()["swap_accept"])) > 0.2


@pytest.mark.slow
def test_three_body_labels_every_rung_against_enumeration():
    """q = 3 labels with a three-body clock term: all 3^6 states on both rungs."""
    m = labels()
    assert not m.unit_blocks
    ladder = np.array([1.0, 2.0])
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(m), temperatures=ladder)
    mcmc = run(kernel, samples=5000, extra=("x",))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])
    for k, t in enumerate(ladder):
        assert_state_frequencies(codes_of(x[:, :, k], m), brute_probabilities(m, t), f"q = 3, rung {k} (T = {t})")


Y = np.asarray(np.random.default_rng(10).normal(size=6), np.float32)


def regression(y, m):
    s = numpyro.sample("s", ebm.Boltzmann(m, 1.3))
    numpyro.sample("y", dist.Normal(0.8 * s, 1.0), obs=y)


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [None, "single"])
def test_boltzmann_site_against_enumeration(blocks):
    """A DiscreteEnergy prior inside a NumPyro model, under TemperedGibbs(model=...): the
    posterior of every state against enumeration."""
    m = ebm.DiscreteEnergy(pair_triple_6, 6, "spin", {"J": np.linspace(-0.8, 0.9, 6), "K": 0.7}, blocks=blocks)
    kernel = ebm.TemperedGibbs(model=regression, temperatures=[1.0, 2.0])
    mcmc = run(kernel, Y, m, samples=3000)
    kinds = {type(step).__name__ for step in kernel._plan.steps}
    assert kinds == ({"TermsStep"} if blocks == "single" else {"ModelStep"}), kinds
    s = np.asarray(mcmc.get_samples(group_by_chain=True)["s"])
    states = np.asarray(ebm.distributions.all_states_of(m), np.float64)
    lp = -np.asarray(m.energy(states), np.float64) / 1.3 - 0.5 * ((Y - 0.8 * states) ** 2).sum(1)
    p = np.exp(lp - lp.max())
    assert_state_frequencies(codes_of(s, m), p / p.sum(), f"Boltzmann site, blocks={blocks}")
