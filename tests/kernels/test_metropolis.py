"""SingleFlipMetropolis: a sampler written against the seam (one ``_move``), tempered by the
ladder layer with no code of its own, exact against enumeration on every rung."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_every_state_on_every_rung, run_mcmc

import ebm_numpyro as ebm


def dense_with_three_body(n=8, seed=2):
    """{0,1}-free spins: random couplings and fields plus a three-body term (a DiscreteEnergy)."""
    rng = np.random.default_rng(seed)
    j = np.triu(rng.normal(size=(n, n)), 1)

    def energy(s, p):
        return -0.5 * s @ (p["j"] + p["j"].T) @ s - jnp.sum(p["h"] * s) - 0.6 * s[0] * s[3] * s[5]

    return ebm.DiscreteEnergy(energy, n, "spin", {"j": j, "h": 0.3 * rng.normal(size=n)})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dense-three-body", "potts"])
def test_every_state_on_every_rung(name):
    model = dense_with_three_body() if name == "dense-three-body" else ebm.Potts(
        3, 6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3)], np.linspace(-0.5, 1.2, 7),
        fields=np.random.default_rng(1).normal(size=(6, 3)) * 0.4)
    ladder = [1.0, 1.6, 2.5]
    kernel = ebm.SingleFlipMetropolis(potential_fn=ebm.potential(model), temperatures=ladder)
    assert assert_every_state_on_every_rung(kernel, model, ladder, name)[1] > 0.2


def test_quick_run_and_errors():
    lattice = ebm.Ising.square_lattice(4)
    mcmc = run_mcmc(ebm.SingleFlipMetropolis(potential_fn=ebm.potential(lattice), temperature=2.5), warmup=5,
                    samples=10, chains=2)
    e = np.asarray(mcmc.get_samples()["physical_energy"])
    np.testing.assert_allclose(e, np.asarray(lattice.energy(mcmc.get_samples()["spins"])), rtol=1e-6)
    with pytest.raises(ValueError, match="model="):
        ebm.SingleFlipMetropolis(model=lambda: None)
