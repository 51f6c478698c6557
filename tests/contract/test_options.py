"""Options are objects (optax's and BlackJAX's way); the strings are sugar for the same objects:
both give identical draws and results."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from numpyro.infer import MCMC

import ebm_numpyro as ebm
from ebm_numpyro.kernels.annealing import HeatBath, Langevin, Metropolis
from ebm_numpyro.kernels.sgld import RMSProp


def draws(kernel, init):
    mcmc = MCMC(kernel, num_warmup=3, num_samples=20, progress_bar=False)
    mcmc.run(jax.random.key(0), init_params=init)
    return {k: np.asarray(v) for k, v in mcmc.get_samples().items()}


def check_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_sgld_preconditioner_object_is_the_string():
    pot = lambda z: 0.5 * jnp.sum(z**2)  # noqa: E731
    check_same(draws(ebm.SGLD(potential_fn=pot, step_size=1e-2, preconditioning="rmsprop", rmsprop_decay=0.9), jnp.ones(3)),
         draws(ebm.SGLD(potential_fn=pot, step_size=1e-2, preconditioner=RMSProp(0.9, 1e-5)), jnp.ones(3)))
    with pytest.raises(ValueError, match="not both"):
        ebm.SGLD(potential_fn=pot, preconditioner=RMSProp(), preconditioning="rmsprop")
    with pytest.raises(ValueError, match="preconditioner"):
        ebm.SGLD(potential_fn=pot, preconditioner="rmsprop")


@pytest.mark.parametrize("name, move", [("metropolis", Metropolis(0.3)), ("langevin", Langevin(0.3))])
def test_annealing_move_object_is_the_string(name, move):
    pot = ebm.potential(ebm.DoubleWell())
    check_same(draws(ebm.CyclicAnnealing(potential_fn=pot, temperature=0.5, move=name, step_size=0.3), jnp.array([0.5])),
         draws(ebm.CyclicAnnealing(potential_fn=pot, temperature=0.5, move=move), jnp.array([0.5])))


def test_annealing_heat_bath_object_and_errors():
    lattice = ebm.Ising.square_lattice(4)
    init = jnp.ones((4, 4), jnp.int8)
    check_same(draws(ebm.CyclicAnnealing(potential_fn=ebm.potential(lattice), temperature=2.0), init),
         draws(ebm.CyclicAnnealing(potential_fn=ebm.potential(lattice), temperature=2.0, move=HeatBath()), init))
    with pytest.raises(ValueError, match="heat_bath"):
        ebm.CyclicAnnealing(potential_fn=ebm.potential(ebm.DoubleWell()), temperature=1.0, move=HeatBath())
    with pytest.raises(ValueError, match="move"):
        ebm.CyclicAnnealing(potential_fn=ebm.potential(ebm.DoubleWell()), temperature=1.0, move=3)


def test_negative_phase_objects_are_the_strings():
    rbm = ebm.RBM(np.random.default_rng(0).normal(size=(4, 2)) * 0.1)
    data = np.random.default_rng(1).integers(0, 2, size=(32, 4))
    kw = dict(optimizer=optax.sgd(0.1), epochs=2, batch_size=8, progress=False, log_likelihood=None)
    for sugar, phase in ((dict(method="cd", k=2), ebm.learning.CD(2)),
                         (dict(method="pcd", k=1, num_chains=5), ebm.learning.PCD(1, 5)),
                         (dict(method="exact"), ebm.learning.Exact())):
        a = ebm.learning.fit(rbm, data, **sugar, **kw).model
        b = ebm.learning.fit(rbm, data, negative_phase=phase, **kw).model
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="negative_phase"):
        ebm.learning.fit(rbm, data, negative_phase="cd", **kw)
