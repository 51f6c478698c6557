"""Energy models as immutable JAX pytrees."""

from ._base import DiscreteModel as DiscreteModel
from ._base import EnergyModel as EnergyModel
from .boltzmann import RBM as RBM
from .boltzmann import BoltzmannMachine as BoltzmannMachine
from .discrete_energy import DiscreteEnergy as DiscreteEnergy
from .continuous import DoubleWell as DoubleWell
from .continuous import WideNarrowWells as WideNarrowWells
from .ising import Ising as Ising
from .ising import LatticeIsing as LatticeIsing
from .ising import SparseIsing as SparseIsing
from .potts import Potts as Potts
