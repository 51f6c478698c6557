"""Statistics shared by the statistical tests (one place): MCSE, Bonferroni bounds, z-scores.

Every statistical test uses fixed keys and a tolerance derived from the Monte Carlo standard
error, with a family-wise false-alarm rate of ``ALPHA`` per test (Bonferroni over the
quantities it checks), so that tests neither flake nor pass vacuously.
"""

from statistics import NormalDist

import numpy as np
from numpyro.diagnostics import effective_sample_size

ALPHA = 1e-3  # family-wise false-alarm rate of every statistical test


def z_crit(num_tests: int = 1, alpha: float = ALPHA) -> float:
    """Two-sided Bonferroni bound: P(max |z| > z_crit) <= alpha for ``num_tests`` normal z's."""
    return NormalDist().inv_cdf(1.0 - alpha / (2.0 * num_tests))


def mcse_mean(draws):
    """``(mean, MCSE)`` of draws shaped (chains, draws): MCSE = sd / sqrt(ESS) (NumPyro's ESS)."""
    draws = np.asarray(draws, np.float64)
    ess = effective_sample_size(draws)
    return draws.mean(), draws.std() / np.sqrt(ess)


def chain_z_scores(per_chain_means, exact, iid_se):
    """z-scores of the grand mean of independent chains' means against ``exact``.

    Standard error: std of the chain means / sqrt(#chains) (which accounts for the
    autocorrelation inside each chain), floored by the i.i.d. error ``iid_se``.
    """
    m = np.asarray(per_chain_means, np.float64)
    se = np.maximum(m.std(axis=0, ddof=1) / np.sqrt(m.shape[0]), iid_se)
    return (m.mean(axis=0) - np.asarray(exact)) / se


def count_z_scores(counts, probabilities, total):
    """z-scores of observed counts of independent draws against exact probabilities
    (binomial variance ``total p (1 - p)``)."""
    counts, p = np.asarray(counts, np.float64), np.asarray(probabilities, np.float64)
    expected = total * p
    sd = np.sqrt(np.maximum(total * p * (1 - p), 1e-300))
    return (counts - expected) / sd
