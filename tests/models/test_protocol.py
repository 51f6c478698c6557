"""The discrete-model protocol: a model implementing only the required methods works everywhere,
the declared methods' defaults agree with the built-in models' closed forms, and the defects of
issue 16 (recursion, q-state enumeration, overflow, strings accepted as numbers, ...) stay fixed."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_state_frequencies, run_mcmc

import ebm_numpyro as ebm
from ebm_numpyro.models import DiscreteModel, pytree_dataclass, set_fields, static_field


@pytree_dataclass
class Chain(DiscreteModel):
    """The minimal user model: ``event_shape`` and ``energy`` only (an open chain with a field)."""

    coupling: jnp.ndarray
    field: jnp.ndarray
    n: int = static_field()

    def __init__(self, n, coupling, field):
        set_fields(self, coupling=jnp.asarray(coupling, jnp.float32), field=jnp.asarray(field, jnp.float32), n=n)

    @property
    def event_shape(self):
        return (self.n,)

    def energy(self, x):
        s = jnp.asarray(x, jnp.float32)
        return -self.coupling * jnp.sum(s[..., 1:] * s[..., :-1], -1) - self.field * jnp.sum(s, -1)


@pytree_dataclass
class Ring(DiscreteModel):
    """The issue's subclass: exactly the documented block methods (``event_shape``, ``blocks``,
    ``local_field``, ``set_block``, ``energy``), {0,1} units on a ring."""

    weight: jnp.ndarray
    n: int = static_field()
    unit_values = (0, 1)

    def __init__(self, n, weight):
        set_fields(self, weight=jnp.asarray(weight, jnp.float32), n=n)

    @property
    def event_shape(self):
        return (self.n,)

    @property
    def blocks(self):
        return (tuple(range(0, self.n, 2)), tuple(range(1, self.n, 2)))

    def energy(self, x):
        x = jnp.asarray(x, jnp.float32)
        return -self.weight * jnp.sum(x * jnp.roll(x, 1, -1), -1) + 0.3 * jnp.sum(x, -1)

    def local_field(self, x, block):
        x = jnp.asarray(x, jnp.float32)
        idx = np.asarray(block)
        return self.weight * (jnp.roll(x, 1, -1) + jnp.roll(x, -1, -1))[..., idx] - 0.3

    def set_block(self, x, block, values):
        return jnp.asarray(x).at[..., np.asarray(block)].set(values.astype(jnp.asarray(x).dtype))


def brute_energies(model):
    values = model.unit_values
    states = np.array(list(itertools.product(values, repeat=model.num_units)), np.int8)[:, ::-1]
    states = states.reshape((-1,) + tuple(model.event_shape))
    return states, np.asarray(model.energy(states), np.float64)


def brute_log_partition(model, temperature):
    _, e = brute_energies(model)
    a = -e / temperature
    return a.max() + np.log(np.exp(a - a.max()).sum())


@pytest.mark.parametrize("model", [Chain(5, 0.7, 0.2), Ring(6, 0.9)], ids=["chain", "ring"])
def test_user_models_work_in_exact_and_boltzmann(model):
    t = 1.3
    np.testing.assert_allclose(ebm.exact.log_partition(model, t), brute_log_partition(model, t), rtol=1e-5)
    m = ebm.exact.moments(model, t)
    states, e = brute_energies(model)
    p = np.exp(-(e - e.min()) / t)
    p /= p.sum()
    np.testing.assert_allclose(m.mean_energy, p @ e, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.mean, p @ states.reshape(len(p), -1).astype(np.float64), rtol=1e-4, atol=1e-5)
    dist = ebm.Boltzmann(model, t)
    assert dist.normalized
    np.testing.assert_allclose(np.exp(np.asarray(dist.log_prob(states), np.float64)).sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("model", [Chain(5, 0.7, 0.2), Ring(6, 0.9)], ids=["chain", "ring"])
def test_user_models_energy_changes_and_unit_energies(model):
    x = np.asarray(model.random_state(jax.random.key(3), (4,)))
    got = np.asarray(model.energy_changes(x))
    e0 = np.asarray(model.energy(x))
    for i, v in itertools.product(range(model.num_units), range(model.num_values)):
        y = x.copy()
        y[:, i] = model.unit_values[v]
        np.testing.assert_allclose(got[:, i, v], np.asarray(model.energy(y)) - e0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("model", [Chain(5, 0.7, 0.2), Ring(6, 0.9)], ids=["chain", "ring"])
def test_user_models_sample_exactly_under_tempered_gibbs(model):
    """Every state's frequency on both rungs against enumeration (user models, default methods)."""
    temps = [1.2, 2.0]
    mcmc = run_mcmc(ebm.TemperedGibbs(potential_fn=ebm.potential(model), temperatures=temps), key=5,
                    warmup=50, samples=2000, chains=4, extra=("x",))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])  # (chains, draws, rungs, units)
    states, e = brute_energies(model)
    index = {tuple(s.reshape(-1)): k for k, s in enumerate(states)}
    for rung, t in enumerate(temps):
        codes = np.array([[index[tuple(s)] for s in chain[:, rung]] for chain in x])
        p = np.exp(-(e - e.min()) / t)
        assert_state_frequencies(codes, p / p.sum(), f"{type(model).__name__} at T = {t}")


def builtin_models():
    rng = np.random.default_rng(0)
    j = np.triu(rng.normal(size=(6, 6)), 1)
    j = j + j.T

    def three_body(x, p):
        return -p * jnp.sum(x * jnp.roll(x, 1)) - x[0] * x[2] * x[4]

    def labels(x):
        return -jnp.sum((x == jnp.roll(x, 1)).astype(jnp.float32)) - 0.4 * jnp.sum((x == 2).astype(jnp.float32))

    return {
        "ising": ebm.Ising(j, rng.normal(size=6)),
        "lattice": ebm.Ising.square_lattice(4, 2, coupling=0.8, field=0.3),
        "sparse": ebm.Ising.from_edges(5, [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)], np.linspace(-1, 1, 5),
                                       fields=0.2 * np.ones(5)),
        "bm": ebm.BoltzmannMachine(j, rng.normal(size=6)),
        "rbm": ebm.RBM(rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=2)),
        "potts": ebm.Potts.square_lattice(2, 3, num_states=3, field=np.array([0.1, -0.2, 0.3])),
        "energy-spins": ebm.DiscreteEnergy(three_body, 6, "spin", 0.7),
        "energy-labels": ebm.DiscreteEnergy(labels, 5, 3),
    }


@pytest.mark.parametrize("name", list(builtin_models()))
def test_energy_changes_of_builtin_models_are_energy_differences(name):
    model = builtin_models()[name]
    x = np.asarray(model.random_state(jax.random.key(1), (3,)))
    got = np.asarray(model.energy_changes(x)).reshape(3, model.num_units, model.num_values)
    e0 = np.asarray(model.energy(x))
    flat = x.reshape(3, -1)
    for i, v in itertools.product(range(model.num_units), range(model.num_values)):
        y = flat.copy()
        y[:, i] = model.unit_values[v]
        want = np.asarray(model.energy(y.reshape(x.shape))) - e0
        np.testing.assert_allclose(got[:, i, v], want, atol=1e-4, err_msg=f"unit {i}, value {v}")


def test_potts_enumeration_and_moments():
    potts = ebm.Potts.square_lattice(2, 2, num_states=3, field=np.array([0.2, 0.0, -0.1]))
    states = np.asarray(ebm.exact.enumerate_states(potts))
    assert states.shape == (81, 2, 2) and len({tuple(s.ravel()) for s in states}) == 81
    e = np.asarray(potts.energy(states), np.float64)
    t = 1.4
    p = np.exp(-(e - e.min()) / t)
    p /= p.sum()
    m = ebm.exact.moments(potts, t)
    np.testing.assert_allclose(m.mean_energy, p @ e, rtol=1e-5)
    np.testing.assert_allclose(m.heat_capacity, (p @ e**2 - (p @ e) ** 2) / t**2, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(m.mean).ravel(), p @ states.reshape(81, -1), rtol=1e-4, atol=1e-5)


def test_large_models_raise_value_error_not_overflow():
    with pytest.raises(ValueError, match="2\\^1024"):
        ebm.exact.moments(ebm.Ising.square_lattice(32), 2.0)
    with pytest.raises(ValueError, match="states"):
        ebm.exact.log_partition(ebm.Potts.square_lattice(40, num_states=4))


@pytest.mark.parametrize("call", [
    lambda: ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)), temperature="2.0"),
    lambda: ebm.exact.log_partition(ebm.Ising.square_lattice(2), "2"),
    lambda: ebm.potential(ebm.DoubleWell(), "0.5"),
    lambda: ebm.Boltzmann(ebm.Ising.square_lattice(2), "1.0"),
    lambda: ebm.SGLD(potential_fn=lambda z: jnp.sum(z**2), step_size="1e-3"),
], ids=["gibbs-temperature", "log-partition", "potential", "boltzmann", "sgld-step-size"])
def test_numbers_given_as_text_are_rejected(call):
    with pytest.raises(ValueError, match="not text"):
        call()


def test_ladder_given_as_text_names_the_argument():
    with pytest.raises(ValueError, match="`temperatures`"):
        ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)), temperatures="1,2,3")


def test_rbm_needs_units_in_both_layers():
    for shape in ((0, 3), (3, 0)):
        with pytest.raises(ValueError, match="at least one visible and one hidden"):
            ebm.RBM(np.zeros(shape))


def test_exact_namespace_lists_only_its_api():
    names = dir(ebm.exact)
    assert not {"jax", "jnp", "NamedTuple", "math"} & set(names)
    assert {"log_partition", "moments", "kaufman_log_partition"} <= set(names)


def test_kaufman_totals_match_moments_and_per_spin_is_explicit():
    lattice = ebm.Ising.square_lattice(4)
    m = ebm.exact.moments(lattice, 2.3)
    np.testing.assert_allclose(ebm.exact.kaufman_mean_energy(4, 4, 2.3), m.mean_energy, rtol=1e-4)
    np.testing.assert_allclose(ebm.exact.kaufman_heat_capacity(4, 4, 2.3), m.heat_capacity, rtol=1e-3)
    np.testing.assert_allclose(ebm.exact.kaufman_mean_energy(4, 4, 2.3, per_spin=True), m.mean_energy / 16, rtol=1e-4)


def test_errors_name_the_type_they_got():
    with pytest.raises(ValueError, match="got DoubleWell"):
        ebm.Boltzmann(ebm.DoubleWell())
    with pytest.raises(ValueError, match="got DoubleWell"):
        ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.DoubleWell()))
    with pytest.raises(ValueError, match="got DoubleWell"):
        ebm.learning.ais_log_partition(ebm.DoubleWell(), jax.random.key(0))


# ----------------------------------------------------------------------------- Boltzmann
def test_boltzmann_sample_memory_is_linear():
    """10^6 exact draws of a 4x4 lattice (65,536 states) compile to well under 100 MB (Gumbel
    sampling over every state of every draw needed about 195 GiB)."""
    dist = ebm.Boltzmann(ebm.Ising.square_lattice(4), 2.0)
    compiled = jax.jit(lambda k: dist.sample(k, (10**6,))).lower(jax.random.key(0)).compile()
    memory = compiled.memory_analysis()
    used = memory.temp_size_in_bytes + memory.output_size_in_bytes
    assert used < 100 * 2**20, f"{used / 2**20:.0f} MiB"


def test_boltzmann_sample_draws_the_tail_exactly():
    """States more than 18 nats below the ground state of a 4x4 lattice with h = 0.3 at T = 2.1
    (each of probability below 1.5e-8 relative to it): their drawn count against the expected one
    (a Poisson z-score; 79 expected in 10^6 draws; a float32 CDF drew a tenth of them)."""
    lattice = ebm.Ising.square_lattice(4, field=0.3)
    t = 2.1
    dist = ebm.Boltzmann(lattice, t)
    states = ebm.distributions.all_states_of(lattice)
    logw = -np.asarray(lattice.energy(states), np.float64) / t
    tail = logw < logw.max() - 18
    p = np.exp(logw - logw.max())
    p /= p.sum()
    n = 10**6
    expected = n * p[tail].sum()
    x = np.asarray(jax.jit(lambda k: dist.sample(k, (n,)))(jax.random.key(11)))
    logw_x = -np.asarray(lattice.energy(x), np.float64) / t
    count = int((logw_x < logw.max() - 18).sum())
    assert 50 < expected < 120
    z = (count - expected) / math.sqrt(expected)
    assert abs(z) < 3.3, f"{count} tail draws, {expected:.1f} expected (z = {z:.2f})"


def test_boltzmann_antiferromagnetic_lattices_beyond_enumeration():
    even = ebm.Boltzmann(ebm.Ising.square_lattice(6, coupling=-1.0), 2.0)  # 2^36 states
    assert even.normalized  # Kaufman with |J| (one sublattice flipped)
    ferro = ebm.Boltzmann(ebm.Ising.square_lattice(6, coupling=1.0), 2.0)
    np.testing.assert_allclose(even.log_z, ferro.log_z, rtol=1e-6)
    odd = ebm.Boltzmann(ebm.Ising.square_lattice(5, coupling=-1.0), 2.0)  # frustrated: no closed form
    assert not odd.normalized
    x = np.ones((5, 5), np.int8)
    np.testing.assert_allclose(odd.log_prob(x), -float(odd.energy_model.energy(x)) / 2.0, rtol=1e-6)


# ----------------------------------------------------------------------------- learning on a lattice
def test_contrastive_training_of_a_lattice():
    """CD and PCD on the periodic lattice (float data through the int8 lattice sweep)."""
    lattice = ebm.Ising.square_lattice(4, coupling=0.1)
    data = np.where(np.random.default_rng(0).random((64, 4, 4)) < 0.8, 1, -1).astype(np.int8)
    g = ebm.learning.cd_gradient(lattice, data, jax.random.key(0), k=2)
    assert np.isfinite(float(g.coupling)) and np.isfinite(float(g.field))
    for method in ("cd", "pcd"):
        fit = ebm.learning.fit(lattice, data, method=method, epochs=3, batch_size=16, progress=False)
        assert float(fit.model.field) > 0.0  # mostly-up data pull the field up
