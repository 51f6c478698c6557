"""ebm_numpyro: statistical mechanics for energy-based models in NumPyro.

Energies become NumPyro potentials, physics samplers become ``numpyro.infer.MCMC``
kernels, and exact enumeration gives ground truth on small models.
"""

from . import datasets as datasets
from . import distributions as distributions
from . import exact as exact
from . import kernels as kernels
from . import learning as learning
from . import landscape as landscape
from . import losses as losses
from . import parallel as parallel
from . import schedules as schedules
from .distributions import Boltzmann as Boltzmann
from .kernels import SGLD as SGLD
from .kernels import CyclicAnnealing as CyclicAnnealing
from .kernels import DiscreteLangevin as DiscreteLangevin
from .kernels import GibbsWithGradients as GibbsWithGradients
from .kernels import ImportanceTemperedGibbs as ImportanceTemperedGibbs
from .kernels import SingleFlipMetropolis as SingleFlipMetropolis
from .kernels import SwendsenWang as SwendsenWang
from .kernels import Wolff as Wolff
from .kernels import TemperedGibbs as TemperedGibbs
from .kernels import gibbs_fn as gibbs_fn
from .models import RBM as RBM
from .models import Potts as Potts
from .models import VariableSelection as VariableSelection
from .models import BoltzmannMachine as BoltzmannMachine
from .models import DiscreteEnergy as DiscreteEnergy
from .models import DiscreteModel as DiscreteModel
from .models import DoubleWell as DoubleWell
from .models import GaussianEnergy as GaussianEnergy
from .models import ParametricEnergy as ParametricEnergy
from .models import EnergyModel as EnergyModel
from .models import Ising as Ising
from .models import LatticeIsing as LatticeIsing
from .models import SparseIsing as SparseIsing
from .models import WideNarrowWells as WideNarrowWells
from .potentials import Potential as Potential
from .potentials import energy_factor as energy_factor
from .potentials import potential as potential
from .schedules import geometric_ladder as geometric_ladder

__version__ = "0.1.0"


def __getattr__(name):
    # ArviZ takes seconds to import: load the diagnostics layer on first use only.
    if name == "diagnostics":
        import importlib

        return importlib.import_module(".diagnostics", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
