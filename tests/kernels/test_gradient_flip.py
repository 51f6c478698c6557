"""GibbsWithGradients: gradient-informed one-flip proposals, Metropolis-Hastings corrected, on
the seam (one ``_move``), tempered by the ladder layer; exact against enumeration on every rung."""

import numpy as np
import pytest
from helpers import assert_every_state_on_every_rung, run_mcmc
from test_discrete_langevin import POTTS
from test_metropolis import dense_with_three_body

import ebm_numpyro as ebm


@pytest.mark.parametrize("values", ["spin", "binary", pytest.param("potts", marks=pytest.mark.slow)])
def test_every_state_on_every_rung(values):
    model = dense_with_three_body()
    if values == "binary":  # the same energy written for {0, 1} units
        spin = model
        model = ebm.DiscreteEnergy(lambda x, p: spin.energy(2 * x - 1), spin.num_units, "binary", {})
    if values == "potts":  # q = 3: (unit, value) proposals from the exact single-unit changes
        model = POTTS
    ladder = [1.0, 1.6, 2.5]
    kernel = ebm.GibbsWithGradients(potential_fn=ebm.potential(model), temperatures=ladder, num_proposals=4)
    assert assert_every_state_on_every_rung(kernel, model, ladder, values)[1] > 0.2


def test_errors_and_a_quick_run():
    with pytest.raises(ValueError, match="num_proposals"):
        ebm.GibbsWithGradients(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)), num_proposals=0)
    lattice = ebm.Ising.square_lattice(4)
    mcmc = run_mcmc(ebm.GibbsWithGradients(potential_fn=ebm.potential(lattice), temperature=2.5), warmup=5,
                    samples=10, chains=2)
    s = mcmc.get_samples()
    np.testing.assert_allclose(np.asarray(s["physical_energy"]), np.asarray(lattice.energy(s["spins"])), rtol=1e-6)
