"""Energy models as immutable JAX pytrees, and what a user needs to write one.

Every discrete model implements the protocol of :class:`DiscreteModel` (unit values, blocks,
energies, per-unit conditional energies, whole-state energy changes, enumeration hooks, each
with a working default); :func:`pytree_dataclass`, :func:`static_field` and :class:`StaticArray`
make a new model an immutable pytree like the built-in ones.
"""

from .base import DiscreteModel as DiscreteModel
from .base import EnergyModel as EnergyModel
from .base import StaticArray as StaticArray
from .base import Tilted as Tilted
from .base import changes_from_unit_energies as changes_from_unit_energies
from .base import check_discrete_model as check_discrete_model
from .base import greedy_colouring as greedy_colouring
from .base import pytree_dataclass as pytree_dataclass
from .base import replace_leaves as replace_leaves
from .base import set_fields as set_fields
from .base import static_field as static_field
from ._enumeration import digit_states as digit_states
from ._enumeration import enumerate_states as enumerate_states
from .boltzmann import RBM as RBM
from .boltzmann import BoltzmannMachine as BoltzmannMachine
from .continuous import DoubleWell as DoubleWell
from .continuous import GaussianEnergy as GaussianEnergy
from .continuous import ParametricEnergy as ParametricEnergy
from .continuous import WideNarrowWells as WideNarrowWells
from .discrete_energy import DiscreteEnergy as DiscreteEnergy
from .ising import Ising as Ising
from .ising import LatticeIsing as LatticeIsing
from .ising import SparseIsing as SparseIsing
from .potts import Potts as Potts
from .variable_selection import VariableSelection as VariableSelection
