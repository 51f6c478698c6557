"""ArviZ diagnostics for the library's samplers, on ArviZ 0.23 and 1.x alike.

- :func:`to_inference_data` — ``numpyro.infer.MCMC`` run -> InferenceData / DataTree with
  named dims (``row``/``col``, ``spin``, ``unit``) and the temperature ladder as a coordinate;
- :func:`mixing` — bulk/tail ESS, R-hat and integrated autocorrelation time per quantity;
- :func:`tempering` — swap acceptance per ladder pair and replica round trips;
- :func:`compare_exact` — sampled vs exact ⟨E⟩, ⟨x_i⟩, ⟨x_i x_j⟩ with z-scores from the MCSE;
- :func:`compare_kaufman` — energy and heat capacity per spin along a ladder against Kaufman's
  exact periodic lattice (any size), with z-scores; :func:`plot_kaufman`, :func:`plot_swap_acceptance`,
  :func:`plot_trace` (trace and rank plots);
- :func:`weighted_marginals`, :func:`weighted_mean`, :func:`kish_ess` — estimates from the
  importance-weighted draws of ``ImportanceTemperedGibbs``, with MCSE and ESS;
- :func:`cd_bias_report`, :func:`plot_cd_bias` — the exact CD-k bias from ``learning.cd_bias``.

All ArviZ-version differences live in the private module ``_arviz_compat``.
"""

from ._arviz_compat import ARVIZ_MAJOR as ARVIZ_MAJOR
from ._arviz_compat import get_group as get_group
from .cd_report import cd_bias_report as cd_bias_report
from .cd_report import plot_cd_bias as plot_cd_bias
from .compare import compare_exact as compare_exact
from .compare import compare_kaufman as compare_kaufman
from .compare import max_abs_z as max_abs_z
from .compare import z_threshold as z_threshold
from .convert import from_samples as from_samples
from .convert import to_inference_data as to_inference_data
from .importance import kish_ess as kish_ess
from .importance import weighted_marginals as weighted_marginals
from .importance import weighted_mean as weighted_mean
from .mixing import autocorrelation as autocorrelation
from .mixing import mixing as mixing
from .plots import plot_kaufman as plot_kaufman
from .plots import plot_swap_acceptance as plot_swap_acceptance
from .plots import plot_trace as plot_trace
from .tempering import round_trips as round_trips
from .tempering import tempering as tempering

__all__ = [
    "ARVIZ_MAJOR",
    "autocorrelation",
    "cd_bias_report",
    "plot_cd_bias",
    "compare_exact",
    "compare_kaufman",
    "from_samples",
    "get_group",
    "kish_ess",
    "max_abs_z",
    "mixing",
    "plot_kaufman",
    "plot_swap_acceptance",
    "plot_trace",
    "round_trips",
    "tempering",
    "to_inference_data",
    "weighted_marginals",
    "weighted_mean",
    "z_threshold",
]
