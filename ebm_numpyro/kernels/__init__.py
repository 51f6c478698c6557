"""MCMC kernels: ``numpyro.infer.mcmc.MCMCKernel`` subclasses over pure step functions.

The sampling core, bottom to top (each layer imports only the ones below it):

* :mod:`.streams` - counter-based random bits and the key/stream schedule;
* :mod:`.decisions` - exact Bernoulli, Metropolis and categorical decisions (the leaf);
* :mod:`.sweep_binary`, :mod:`.sweep_categorical`, :mod:`.sweep_lattice` - heat-bath sweeps,
  and :mod:`.sweeps`, the registry that picks a model's sweep and owns its layout;
  :mod:`.heat_bath` is their public face (also used by the learning code);
* :mod:`.tempering` - temperature ladders (fixed, scheduled, adaptive) and the tempered step;
* :mod:`.model_target`, :mod:`.model_gibbs` - a NumPyro model's discrete sites as a target, and
  the heat-bath plan read from its program;
* :mod:`.tempered` - :class:`TemperedKernel`, the base of the discrete kernels (targets, ladder,
  state, ArviZ layout, per-slot step-size adaptation), and :mod:`._base`, :class:`EBMKernel`,
  the base of every kernel;
* :mod:`.relaxed` - a discrete target extended to real-valued units: the first-order energy
  changes the gradient-informed moves propose from;
* the kernels: :class:`TemperedGibbs`, :class:`SingleFlipMetropolis`, :class:`GibbsWithGradients`,
  :class:`DiscreteLangevin`, :class:`ImportanceTemperedGibbs`, :class:`SwendsenWang`, :class:`Wolff`, :class:`SGLD`,
  :class:`CyclicAnnealing`, each with NumPyro's head ``(model=None, potential_fn=None, *, ...)``.

A new discrete sampler is one module with a :class:`TemperedKernel` subclass that implements
``_move`` (see :mod:`.metropolis`), plus one entry in the contract suite's configurations.
"""

from . import heat_bath as heat_bath
from . import sweeps as sweeps
from . import tempering as tempering
from ._base import EBMKernel as EBMKernel
from ._base import OutputLayout as OutputLayout
from ._base import state_name as state_name
from .annealing import AnnealingState as AnnealingState
from .annealing import CyclicAnnealing as CyclicAnnealing
from .annealing import annealing_step as annealing_step
from .gibbs import TemperedGibbs as TemperedGibbs
from .gibbs import TemperedGibbsState as TemperedGibbsState
from .heat_bath import gibbs_sweep as gibbs_sweep
from .heat_bath import up_probability as up_probability
from .cluster import SwendsenWang as SwendsenWang
from .cluster import Wolff as Wolff
from .discrete_langevin import DiscreteLangevin as DiscreteLangevin
from .gradient_flip import GibbsWithGradients as GibbsWithGradients
from .importance import ImportanceTemperedGibbs as ImportanceTemperedGibbs
from .metropolis import SingleFlipMetropolis as SingleFlipMetropolis
from .model_gibbs import gibbs_fn as gibbs_fn
from .sgld import SGLD as SGLD
from .sgld import SGLDState as SGLDState
from .sgld import sgld_step as sgld_step
from .tempered import Move as Move
from .tempered import StepSizeAdaptation as StepSizeAdaptation
from .tempered import TemperedKernel as TemperedKernel
from .tempered import TemperedState as TemperedState
from .tempering import AdaptiveLadder as AdaptiveLadder
from .tempering import FixedLadder as FixedLadder
from .tempering import Ladder as Ladder
from .tempering import ReplicaState as ReplicaState
from .tempering import ScheduledTemperature as ScheduledTemperature
from .tempering import replica_exchange as replica_exchange
from .tempering import swap_acceptance as swap_acceptance
from .tempering import tempered_step as tempered_step
