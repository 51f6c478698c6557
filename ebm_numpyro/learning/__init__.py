"""Learning energy-based models: positive/negative-phase gradients, fit loops, exact CD bias, AIS.

* :mod:`~ebm_numpyro.learning.gradients`: positive and negative phases;
* :mod:`~ebm_numpyro.learning.negative`: negative phases as objects (:class:`Exact`, :class:`CD`,
  :class:`PCD`, :class:`Langevin` for continuous models) and the exact, CD-k and PCD gradients;
* :func:`fit`: minibatch training with any optax optimizer, log-likelihood history,
  checkpoints to stop and resume;
* :func:`cd_bias`: the exact expected CD-k gradient minus the exact gradient (small RBMs);
* :func:`gaussian_cd_bias`: the same, exactly, for Langevin (ULA) negative chains on a
  :class:`~ebm_numpyro.GaussianEnergy`;
* :func:`ais_log_partition`: annealed importance sampling estimates of log Z.
"""

from .ais import AISResult as AISResult
from .ais import ais_log_likelihood as ais_log_likelihood
from .ais import ais_log_partition as ais_log_partition
from .ais import base_rate_bias as base_rate_bias
from .exact_cd import cd_bias as cd_bias
from .exact_cd import expected_cd_gradient as expected_cd_gradient
from .fit import FitResult as FitResult
from .gaussian_cd import gaussian_cd_bias as gaussian_cd_bias
from .gaussian_cd import gaussian_cd_gradient as gaussian_cd_gradient
from .gaussian_cd import langevin_moments as langevin_moments
from .fit import fit as fit
from .fit import load_checkpoint as load_checkpoint
from .fit import save_checkpoint as save_checkpoint
from .gradients import contrastive_gradient as contrastive_gradient
from .gradients import energy_gradient as energy_gradient
from .gradients import exact_negative_phase as exact_negative_phase
from .gradients import gibbs_chain as gibbs_chain
from .gradients import positive_phase as positive_phase
from .negative import CD as CD
from .negative import PCD as PCD
from .negative import Exact as Exact
from .negative import Langevin as Langevin
from .negative import langevin_step as langevin_step
from .negative import NegativePhase as NegativePhase
from .negative import cd_gradient as cd_gradient
from .negative import exact_gradient as exact_gradient
from .negative import init_chains as init_chains
from .negative import pcd_gradient as pcd_gradient
