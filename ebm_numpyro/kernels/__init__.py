"""MCMC kernels: ``numpyro.infer.mcmc.MCMCKernel`` subclasses over pure step functions.

Every kernel takes NumPyro's head ``(model=None, potential_fn=None, *, temperature=..., ...)``
(:mod:`._base`); the heat-bath update shared with the learning code is :mod:`.heat_bath`.
"""

from . import heat_bath as heat_bath
from ._base import EBMKernel as EBMKernel
from ._base import OutputLayout as OutputLayout
from .annealing import AnnealingState as AnnealingState
from .annealing import CyclicAnnealing as CyclicAnnealing
from .annealing import annealing_step as annealing_step
from .gibbs import ReplicaInfo as ReplicaInfo
from .gibbs import ReplicaState as ReplicaState
from .gibbs import TemperedGibbs as TemperedGibbs
from .gibbs import TemperedGibbsState as TemperedGibbsState
from .gibbs import replica_exchange as replica_exchange
from .gibbs import swap_acceptance as swap_acceptance
from .gibbs import tempered_gibbs_step as tempered_gibbs_step
from .heat_bath import gibbs_sweep as gibbs_sweep
from .model_gibbs import gibbs_fn as gibbs_fn
from .heat_bath import up_probability as up_probability
from .sgld import SGLD as SGLD
from .sgld import SGLDState as SGLDState
from .sgld import sgld_step as sgld_step
