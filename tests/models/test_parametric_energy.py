"""ParametricEnergy (a user's energy_fn(x, params)) and quadrature log Z: the quadrature against
closed forms (and its error estimate against the actual error), NUTS on the potential, and fit with
Langevin negative chains reaching the maximum of the exact (quadrature) log-likelihood."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import mcse_mean, z_crit

import ebm_numpyro as ebm


def quartic(x, p):
    """E(x) = a x^2 + b x^4 + c x: a double well for a < 0 < b."""
    return jnp.sum(p["a"] * x**2 + p["b"] * x**4 + p["c"] * x)


@pytest.mark.parametrize("d", [1, 2])
def test_quadrature_against_the_gaussian(d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(d, d))
    g = ebm.GaussianEnergy(rng.normal(size=d) * 0.5, a @ a.T + np.eye(d))
    box = [(-8.0, 8.0)] * d
    exact = float(g.log_partition())
    for n in (40, 80, 200, 600):
        q = ebm.exact.quadrature_log_partition(g, bounds=box, num_points=n)
        # on a grid that resolves the density the estimate bounds the actual error (float32 floor 2e-6)
        assert abs(float(q.log_partition) - exact) <= float(q.error_estimate) + 2e-6, (n, q, exact)
        assert float(q.edge_density) < 1e-6
    coarse = ebm.exact.quadrature_log_partition(g, bounds=box, num_points=16)  # one cell per unit length
    assert float(coarse.error_estimate) > 1e-3  # an unresolved grid says so
    cut = ebm.exact.quadrature_log_partition(g, bounds=[(-0.5, 0.5)] * d)
    assert float(cut.edge_density) > 0.1  # a box too small says so
    assert float(cut.log_partition) < exact - 0.1


def test_parametric_energy_is_a_potential():
    from numpyro.infer import MCMC, NUTS

    model = ebm.ParametricEnergy(quartic, {"a": -1.0, "b": 0.5, "c": 0.3}, 1, support=((-4.0, 4.0),))
    np.testing.assert_allclose(np.asarray(model.energy(jnp.array([[0.0], [1.0], [-1.0]]))), [0.0, -0.2, -0.8],
                               rtol=1e-6)
    grid = np.linspace(-4, 4, 20001)
    w = np.exp(-np.asarray(model.energy(grid[:, None]), np.float64))
    exact_mean = float((grid * w).sum() / w.sum())
    np.testing.assert_allclose(float(model.log_partition()), np.log(w.sum() * (grid[1] - grid[0])), atol=1e-4)
    mcmc = MCMC(NUTS(potential_fn=ebm.potential(model)), num_warmup=500, num_samples=3000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(0), init_params=jnp.zeros((2, 1)))
    mean, se = mcse_mean(np.asarray(mcmc.get_samples(group_by_chain=True))[..., 0])
    assert abs(mean - exact_mean) / se < z_crit(1), (mean, exact_mean, se)


def test_fit_reaches_the_exact_maximum_likelihood():
    """Data from a tilted double well; fit a ParametricEnergy with persistent MALA chains: the
    exact (quadrature) log-likelihood climbs to within 0.02 nats of its maximum, found by ascending
    the quadrature log-likelihood itself."""
    truth = ebm.ParametricEnergy(quartic, {"a": -1.5, "b": 0.5, "c": 0.4}, 1, support=((-5.0, 5.0),))
    grid = np.linspace(-5, 5, 40001)
    p = np.exp(-np.asarray(truth.energy(grid[:, None]), np.float64))
    x = np.random.default_rng(0).choice(grid, size=1000, p=p / p.sum())[:, None]
    start = ebm.ParametricEnergy(quartic, {"a": 0.5, "b": 0.2, "c": 0.0}, 1, support=((-5.0, 5.0),))

    def ll(params):
        m = ebm.ParametricEnergy(quartic, params, 1, support=((-5.0, 5.0),))
        return -jnp.mean(m.energy(jnp.asarray(x))) - m.log_partition()

    opt, params = optax.adam(0.05), start.params
    state = opt.init(params)
    step = jax.jit(lambda p, s: (lambda g: (optax.apply_updates(p, opt.update(jax.tree.map(jnp.negative, g), s)[0]),
                                            opt.update(jax.tree.map(jnp.negative, g), s)[1]))(jax.grad(ll)(p)))
    for _ in range(1500):
        params, state = step(params, state)
    best = float(ll(params))
    phase = ebm.learning.Langevin(k=10, step_size=0.02, metropolis=True, persistent=True, num_chains=500)
    result = ebm.learning.fit(start, x, negative_phase=phase, optimizer=optax.adam(optax.cosine_decay_schedule(0.05, 600)),
                              epochs=60, batch_size=100, key=jax.random.key(2), progress=False)
    hist = result.history["log_likelihood"]
    assert hist[0] < best - 0.1 and abs(hist[-1] - best) < 0.02, (hist[0], hist[-1], best)


def test_errors():
    with pytest.raises(ValueError, match="scalar"):
        ebm.ParametricEnergy(lambda x, p: x * p, 1.0, 2)
    with pytest.raises(ValueError, match="support"):
        ebm.ParametricEnergy(quartic, {"a": 1.0, "b": 1.0, "c": 0.0}, 3, support=((-1, 1),) * 3)
    with pytest.raises(ValueError, match="support"):
        ebm.ParametricEnergy(quartic, {"a": 1.0, "b": 1.0, "c": 0.0}, 1).log_partition()
    model = ebm.ParametricEnergy(quartic, {"a": 1.0, "b": 1.0, "c": 0.0}, 1)
    with pytest.raises(ValueError, match="log_partition"):
        ebm.learning.fit(model, np.zeros((10, 1)), negative_phase=ebm.learning.Langevin(), log_likelihood="exact",
                         progress=False)
    with pytest.raises(ValueError, match="finite"):
        ebm.learning.fit(model, np.full((10, 1), np.nan), negative_phase=ebm.learning.Langevin(), progress=False)
    with pytest.raises(ValueError, match="1 or 2 coordinates"):
        ebm.exact.quadrature_log_partition(ebm.GaussianEnergy(np.zeros(3), np.eye(3)), bounds=((-1, 1),) * 3)


def test_divergence_stops_with_a_clear_error(tmp_path):
    """A learning rate that blows the energy up: FloatingPointError naming the epoch and minibatch,
    and the checkpoint holds the last finite parameters."""
    x = np.random.default_rng(0).normal(size=(200, 1))
    model = ebm.ParametricEnergy(quartic, {"a": 0.5, "b": 0.1, "c": 0.0}, 1)
    phase = ebm.learning.Langevin(k=5, step_size=0.05)
    path = tmp_path / "ckpt.pkl"
    ebm.learning.fit(model, x, negative_phase=phase, optimizer=optax.sgd(0.01), epochs=3, batch_size=50,
                     checkpoint=path, progress=False)
    with pytest.raises(FloatingPointError, match=r"epoch 4, minibatch \d+ of 4") as err:  # resumes at epoch 4
        ebm.learning.fit(model, x, negative_phase=phase, optimizer=optax.sgd(50.0), epochs=20, batch_size=50,
                         checkpoint=path, progress=False)
    saved = ebm.learning.load_checkpoint(path)
    assert saved.epoch == 3 and "ckpt.pkl" in str(err.value)
    assert all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree_util.tree_leaves(saved.model))
