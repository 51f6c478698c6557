"""SwendsenWang and Wolff: every state's frequency against enumeration on every rung (lattices and
graphs, with and without fields, q = 2, 3, 4), the cluster labelling against a reference, the
refusals, and the physics at and below T_c (Kaufman's energy, the Binder cumulant,
Onsager-Yang's magnetization)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_every_state_on_every_rung, mcse_mean, run_mcmc, z_crit

import ebm_numpyro as ebm
from ebm_numpyro.kernels import cluster

LADDER = [1.0, 1.7, 3.0]
RING8 = [(i, (i + 1) % 8) for i in range(8)] + [(0, 4), (2, 6), (1, 5)]
GRAPH6 = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3)]


def models():
    rng = np.random.default_rng(7)
    j = np.triu(np.abs(rng.normal(size=(7, 7))) * (rng.random((7, 7)) < 0.6), 1)
    return {
        "lattice-3x3": ebm.Ising.square_lattice(3, coupling=0.5),
        "lattice-2x4-field": ebm.Ising.square_lattice(2, 4, coupling=0.6, field=0.3),
        "graph-fields": ebm.Ising.from_edges(8, RING8, np.linspace(0.0, 1.2, len(RING8)), 0.5 * rng.normal(size=8)),
        "dense-fields": ebm.Ising(j + j.T, 0.4 * rng.normal(size=7)),
        "potts3-graph-fields": ebm.Potts(3, 6, GRAPH6, np.linspace(0.2, 1.4, len(GRAPH6)),
                                         fields=0.5 * rng.normal(size=(6, 3))),
        "potts4-lattice": ebm.Potts.square_lattice(2, 3, num_states=4, coupling=0.8),
        "potts4-graph-field": ebm.Potts(4, 5, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)], 1.0,
                                        fields=np.tile([0.4, 0.0, -0.2, 0.1], (5, 1))),
    }


QUICK = {"lattice-2x4-field", "potts3-graph-fields"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in QUICK else pytest.mark.slow)
                                  for n in models()])
@pytest.mark.parametrize("kernel", ["sw", "wolff"])
def test_every_state_on_every_rung(name, kernel):
    model = models()[name]
    cls = ebm.SwendsenWang if kernel == "sw" else ebm.Wolff
    k = cls(potential_fn=ebm.potential(model), temperatures=LADDER, store_states=True)
    assert_every_state_on_every_rung(k, model, LADDER, f"{kernel} {name}", samples=40 if kernel == "sw" else 60)


@pytest.mark.slow
def test_mixed_schedule_every_state():
    """One cluster move then two heat-bath sweeps (the checkerboard of an even lattice, packed
    layout) on a lattice with a field."""
    model = ebm.Ising.square_lattice(2, 4, coupling=0.6, field=-0.2)
    k = ebm.SwendsenWang(potential_fn=ebm.potential(model), temperatures=LADDER, heat_bath_sweeps=2)
    assert_every_state_on_every_rung(k, model, LADDER, "sw + 2 heat-bath sweeps", samples=30)


def reference_components(n, edges, is_open):
    """Union-find in Python: the smallest unit of every unit's component."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for (i, j), o in zip(edges, is_open):
        if o:
            a, b = find(i), find(j)
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)])


@pytest.mark.parametrize("p_open", [0.3, 0.5, 0.7, 1.0])
def test_cluster_roots_are_the_components(p_open):
    """The labelling partitions the units exactly as union-find does, on a 24 x 24 periodic lattice
    and on a random graph, including a long snake whose indices run against the propagation."""
    rng = np.random.default_rng(int(10 * p_open))
    from ebm_numpyro.models.potts import lattice_edges
    from ebm_numpyro.models.base import neighbour_table

    cases = [(576, lattice_edges(24, 24)), (300, rng.integers(0, 300, size=(500, 2)))]
    snake = rng.permutation(200)
    cases.append((200, np.stack([snake[:-1], snake[1:]], 1)))
    for n, edges in cases:
        edges = edges[edges[:, 0] != edges[:, 1]]
        is_open = rng.random(len(edges)) < p_open
        nbr, nbr_edge = neighbour_table(n, edges)
        open_nb = np.concatenate([is_open, [False]])[nbr_edge]
        roots = np.asarray(jax.jit(cluster.cluster_roots)(jnp.asarray(open_nb), nbr))
        ref = reference_components(n, edges, is_open)
        # same partition: the map root -> reference root is a bijection
        pairs = set(zip(roots.tolist(), ref.tolist()))
        assert len(pairs) == len(set(roots.tolist())) == len(set(ref.tolist()))
        assert np.all(ref[roots] == ref)  # every representative is in its unit's component


def test_refusals_and_quick_run():
    anti = ebm.Ising.square_lattice(4, coupling=-1.0)
    with pytest.raises(ValueError, match="ferromagnetic.*TemperedGibbs"):
        ebm.SwendsenWang(potential_fn=ebm.potential(anti), temperature=2.0)
    glass = ebm.Ising.from_edges(3, [(0, 1), (1, 2)], [1.0, -0.5])
    with pytest.raises(ValueError, match="ferromagnetic"):
        ebm.Wolff(potential_fn=ebm.potential(glass), temperature=2.0)
    with pytest.raises(ValueError, match="Potts"):
        ebm.SwendsenWang(potential_fn=ebm.potential(ebm.RBM(np.zeros((3, 2)))), temperature=1.0)
    with pytest.raises(ValueError, match="heat_bath_sweeps"):
        ebm.SwendsenWang(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)), temperature=2.0, heat_bath_sweeps=-1)
    with pytest.raises(ValueError, match="model="):
        ebm.SwendsenWang(model=lambda: None)
    lattice = ebm.Ising.square_lattice(6)
    mcmc = run_mcmc(ebm.SwendsenWang(potential_fn=ebm.potential(lattice), temperature=2.5), warmup=5, samples=10,
                    chains=2)
    s = mcmc.get_samples()
    np.testing.assert_allclose(np.asarray(s["physical_energy"]), np.asarray(lattice.energy(s["spins"])), rtol=1e-6)


def binder(m):
    """Binder cumulant :math:`U_4 = 1 - \\langle m^4\\rangle / (3 \\langle m^2\\rangle^2)` from draws of m."""
    m = np.asarray(m, np.float64)
    return 1.0 - np.mean(m**4) / (3.0 * np.mean(m**2) ** 2)


@pytest.mark.slow
def test_critical_point_physics():
    """At T_c on periodic L x L lattices (L = 4, 16): E/N against Kaufman within MCSE; the Binder
    cumulant against enumeration (L = 4) and the infinite-lattice value U* = 0.61069 (Salas &
    Sokal 2000; the periodic lattice's finite-size correction at L = 16 is below 0.003), with the
    error of U4 from the spread of independent chains. Below T_c (T = 2.0, L = 32) |m| against
    Onsager-Yang's spontaneous magnetization (finite-size excess at L = 32 below 0.002). Wolff's
    E/N at T_c, L = 16, against Kaufman."""
    tc = 2.0 / np.log(1.0 + np.sqrt(2.0))
    checks = []
    # L = 4: exact Binder cumulant by enumeration of the 65,536 states
    states = np.array(list(itertools.product((-1, 1), repeat=16)), np.int8).reshape(-1, 4, 4)
    lat4 = ebm.Ising.square_lattice(4)
    e = np.asarray(lat4.energy(states), np.float64)
    w = np.exp(-(e - e.min()) / tc)
    w /= w.sum()
    m = states.reshape(-1, 16).mean(1)
    u4_exact = 1.0 - (w @ m**4) / (3.0 * (w @ m**2) ** 2)
    for L, u4_ref, tol in ((4, u4_exact, 0.0), (16, 0.61069, 0.003)):
        lat = ebm.Ising.square_lattice(L)
        mcmc = run_mcmc(ebm.SwendsenWang(potential_fn=ebm.potential(lat), temperature=tc), key=L, warmup=200,
                        samples=2000, chains=16)
        s = mcmc.get_samples(group_by_chain=True)
        mean, se = mcse_mean(np.asarray(s["physical_energy"]) / L**2)
        checks.append((f"E/N L={L}", (mean - float(ebm.exact.kaufman_mean_energy(L, L, tc, per_spin=True))) / se))
        mags = np.asarray(s["magnetization"], np.float64)
        per_chain = np.array([binder(c) for c in mags])
        u4, u4_se = binder(mags), per_chain.std(ddof=1) / np.sqrt(len(per_chain))
        checks.append((f"U4 L={L}", np.sign(u4 - u4_ref) * max(abs(u4 - u4_ref) - tol, 0.0) / u4_se))
    # Wolff's E/N at L = 16 (single clusters of a lattice larger than the enumerated ones)
    lat = ebm.Ising.square_lattice(16)
    mcmc = run_mcmc(ebm.Wolff(potential_fn=ebm.potential(lat), temperature=tc), key=9, warmup=200, samples=2000,
                    chains=16)
    mean, se = mcse_mean(np.asarray(mcmc.get_samples(group_by_chain=True)["physical_energy"]) / 256)
    checks.append(("Wolff E/N L=16", (mean - float(ebm.exact.kaufman_mean_energy(16, 16, tc, per_spin=True))) / se))
    lat = ebm.Ising.square_lattice(32)
    mcmc = run_mcmc(ebm.SwendsenWang(potential_fn=ebm.potential(lat), temperature=2.0), key=5, warmup=100,
                    samples=500, chains=8)
    mean, se = mcse_mean(np.abs(np.asarray(mcmc.get_samples(group_by_chain=True)["magnetization"])))
    excess = mean - float(ebm.exact.onsager_magnetization(2.0))
    checks.append(("|m| L=32 T=2", np.sign(excess) * max(abs(excess) - 0.002, 0.0) / se))
    bound = z_crit(len(checks))
    assert all(abs(z) < bound for _, z in checks), checks
