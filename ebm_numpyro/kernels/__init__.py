"""MCMC kernels: ``numpyro.infer.mcmc.MCMCKernel`` subclasses over pure step functions."""

from .gibbs import TemperedGibbs as TemperedGibbs
from .gibbs import TemperedGibbsState as TemperedGibbsState
from .heat_bath import gibbs_sweep as gibbs_sweep
from .heat_bath import heat_bath as heat_bath
from .gibbs import replica_exchange as replica_exchange
from .gibbs import swap_acceptance as swap_acceptance
from .heat_bath import up_probability as up_probability
from .annealing import AnnealingState as AnnealingState
from .annealing import CyclicAnnealing as CyclicAnnealing
from .annealing import annealing_step as annealing_step
from .sgld import SGLD as SGLD
from .sgld import SGLDState as SGLDState
from .sgld import sgld_step as sgld_step
