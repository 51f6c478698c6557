"""The exact additive structure of a log density (ebm_numpyro.models.dependency): detected
interactions contain every true one (checked by brute force on small programs), colour
classes are conditionally independent, and the block conditionals from the terms equal the
brute-force conditionals; TemperedGibbs(model=...) uses them only where they are proved."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

import ebm_numpyro as ebm
from ebm_numpyro.kernels import model_gibbs
from ebm_numpyro.models import dependency
from helpers import chain_z_scores, z_crit

N = 6
_RNG = np.random.default_rng(3)
_M = jnp.asarray(_RNG.normal(size=(3, N)), jnp.float32)
_V = jnp.asarray(_RNG.normal(size=N), jnp.float32)
_PERM = np.array([2, 0, 5, 1, 3, 4])
_TABLE = jnp.asarray(_RNG.normal(size=(N, 2)), jnp.float32)
_PAIRS = jnp.asarray(_RNG.normal(size=(2, 2)), jnp.float32)
_TRIPLE = jnp.asarray(_RNG.normal(size=4), jnp.float32)

PROGRAMS = {
    # elementwise terms: no interaction
    "elementwise": lambda x: jnp.sum(jnp.log1p(jnp.exp(_V * x)) - 0.3 * x),
    # a ring written with roll: neighbours interact
    "ring": lambda x: -jnp.sum(x * jnp.roll(x, 1)) + 0.2 * jnp.sum(x),
    # constant-index gather: pairs (i, perm[i])
    "gather": lambda x: jnp.sum(jnp.cos(x * x[_PERM])),
    # broadcasting product, then a nonlinear reduction: everything interacts
    "broadcast": lambda x: jnp.log(jnp.sum(jnp.exp(_M * x[None, :]))),
    # a linear predictor through a matrix, then an elementwise likelihood: all pairs
    "dot": lambda x: -jnp.sum((_M @ x - 1.0) ** 2),
    # three-body term on a slice plus a scalar factor of one unit
    "three_body": lambda x: 1.5 * x[0] * x[2] * x[4] + jnp.where(x[1] > 0, 0.7, -0.2),
    # a table read at each unit's value (Categorical.log_prob's take_along_axis): no interaction
    "table": lambda x: jnp.sum(jnp.take_along_axis(_TABLE, x.astype(jnp.int32)[:, None], axis=1)),
    # a pair table indexed by two units (x_i, x_{i-1}): ring neighbours; and a table at a sum
    "pair_table": lambda x: jnp.sum(_PAIRS[x.astype(jnp.int32), jnp.roll(x, 1).astype(jnp.int32)])
    + _TRIPLE[(x[0] + x[3] + x[5]).astype(jnp.int32)],
}


def true_interactions(f):
    """u ~ w iff f(x) - f(x^u) - f(x^w) + f(x^{uw}) != 0 for some x (flips of 0/1 units)."""
    states = np.array(list(itertools.product((0, 1), repeat=N)), np.int32)
    fx = np.asarray(jax.vmap(f)(jnp.asarray(states, jnp.float32)), np.float64)
    code = {tuple(s): k for k, s in enumerate(states)}
    out = np.eye(N, dtype=bool)
    for u, w in itertools.combinations(range(N), 2):
        for s in states:
            a = s.copy(); a[u] ^= 1
            b = s.copy(); b[w] ^= 1
            c = a.copy(); c[w] ^= 1
            d = fx[code[tuple(s)]] - fx[code[tuple(a)]] - fx[code[tuple(b)]] + fx[code[tuple(c)]]
            if abs(d) > 1e-4:
                out[u, w] = out[w, u] = True
                break
    return out


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_detected_interactions_contain_the_true_ones(name):
    f = PROGRAMS[name]
    st = dependency.term_structure(lambda x: (f(x.astype(jnp.float32)),), jnp.zeros(N, jnp.int32))
    found = st.interactions().toarray() | np.eye(N, dtype=bool)  # a unit no term reads has no entry
    truth = true_interactions(f)
    assert np.all(found | ~truth), f"{name}: a true interaction was missed"
    expected_exact = {"elementwise": np.eye(N, dtype=bool), "table": np.eye(N, dtype=bool),
                      "broadcast": np.ones((N, N), bool),
                      "dot": np.ones((N, N), bool)}
    if name in expected_exact:
        assert np.array_equal(found, expected_exact[name])
    if name == "ring":
        assert found.sum() == N + 2 * N  # diagonal and the 2N ring neighbours, nothing else
    if name == "pair_table":  # the ring, and the triple (0, 3, 5) read through one index
        expected = np.eye(N, dtype=bool)
        for u, w in [(i, (i + 1) % N) for i in range(N)] + [(0, 3), (3, 5)]:
            expected[u, w] = expected[w, u] = True
        assert np.array_equal(found, expected)


@pytest.mark.parametrize("name", ["ring", "gather", "three_body", "table", "pair_table"])
def test_block_conditionals_from_terms_equal_brute_force(name):
    f = PROGRAMS[name]

    def fn(x):
        return (f(x.astype(jnp.float32)), jnp.zeros(()))

    st = dependency.term_structure(fn, jnp.zeros(N, jnp.int32))
    leaves = dependency.leaf_values(st, fn, N, jnp.int32)
    x = jnp.asarray(np.random.default_rng(0).integers(0, 2, N), jnp.int32)
    for block in dependency.colour_classes(st.interactions(), np.arange(N)):
        seg = dependency.block_segments(st, block)[0]
        by_terms = []
        for v in (0, 1):
            lt = leaves(x.at[jnp.asarray(block)].set(v))[0]
            by_terms.append(np.asarray(jax.ops.segment_sum(lt, jnp.asarray(seg), len(block) + 1))[:-1])
        brute = [np.array([float(f(x.at[u].set(v).astype(jnp.float32))) for u in block]) for v in (0, 1)]
        np.testing.assert_allclose(by_terms[1] - by_terms[0], brute[1] - brute[0], rtol=1e-5, atol=1e-5)


def test_a_term_on_two_block_units_is_refused():
    st = dependency.term_structure(lambda x: (PROGRAMS["ring"](x.astype(jnp.float32)),), jnp.zeros(N, jnp.int32))
    with pytest.raises(ValueError, match="two units"):
        dependency.block_segments(st, [0, 1])


# ----------------------------------------------------------------------------- through the kernel
SIDE = (3, 4)
_LAT = ebm.Ising.square_lattice(*SIDE, coupling=0.45)
_Y = np.asarray(np.random.default_rng(2).normal(size=SIDE), np.float32)


def pixel_model(y):
    """Bernoulli pixels, an Ising factor written with numpyro.factor, a Gaussian likelihood."""
    with numpyro.plate("rows", SIDE[0], dim=-2), numpyro.plate("cols", SIDE[1], dim=-1):
        x = numpyro.sample("x", dist.Bernoulli(0.4))
    numpyro.factor("ising", -_LAT.energy((2 * x - 1).astype(jnp.int8)))
    numpyro.sample("y", dist.Normal(1.2 * x - 0.6, 0.9).to_event(2), obs=y)


def pixel_marginals():
    n = SIDE[0] * SIDE[1]
    states = np.array(list(itertools.product((0, 1), repeat=n)))
    x = states.reshape((-1,) + SIDE)
    s = jnp.asarray(2 * x - 1, jnp.int8)
    lp = (np.where(states == 1, np.log(0.4), np.log(0.6)).sum(1) - np.asarray(_LAT.energy(s), np.float64)
          - 0.5 * (((_Y - (1.2 * x - 0.6)) / 0.9) ** 2).reshape(len(states), -1).sum(1))
    p = np.exp(lp - lp.max())
    p /= p.sum()
    return p @ states


@pytest.mark.slow
def test_factor_and_plate_model_is_swept_by_proved_colour_classes():
    kernel = ebm.TemperedGibbs(model=pixel_model, temperature=1.0)
    mcmc = numpyro.infer.MCMC(kernel, num_warmup=50, num_samples=3000, num_chains=4,
                              chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(1), _Y)
    steps = kernel._plan.steps
    assert {type(s).__name__ for s in steps} == {"TermsStep"} and len(steps) < SIDE[0] * SIDE[1]
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"]).reshape(4, 3000, -1)
    exact = pixel_marginals()
    z = chain_z_scores(x.mean(1), exact, np.sqrt(exact * (1 - exact) / x[..., 0].size))
    assert np.abs(z).max() < z_crit(exact.size), (z, exact)


@pytest.mark.slow
def test_coupled_likelihood_falls_back_to_single_site():
    X = jnp.asarray(np.random.default_rng(0).normal(size=(8, 5)), jnp.float32)

    def selection(y):
        with numpyro.plate("p", 5):
            g = numpyro.sample("g", dist.Bernoulli(0.3))
        cov = jnp.eye(8) + (X * g) @ X.T
        numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(8), covariance_matrix=cov), obs=y)

    y = jnp.ones(8)
    sites, tr = model_gibbs.find_sites(selection, (y,), {})
    plan = model_gibbs.make_plan(selection, (y,), {}, sites, tr)
    assert [type(s).__name__ for s in plan.steps] == ["SingleStep"]
