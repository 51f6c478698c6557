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


def state_frequencies(codes, num_states):
    """Frequency of every state code ``0..num_states-1`` in each chain: codes shaped
    (chains, ...), result (chains, num_states)."""
    codes = np.asarray(codes)
    chains = codes.shape[0]
    flat = codes.reshape(chains, -1) + num_states * np.arange(chains)[:, None]
    counts = np.bincount(flat.ravel(), minlength=chains * num_states).reshape(chains, num_states)
    return counts / codes.reshape(chains, -1).shape[1]


def assert_state_frequencies(codes, p, label):
    """Every state's frequency (codes shaped (chains, ...)) against its exact probability ``p``:
    z-scores of the mean of the chains' frequencies (:func:`chain_z_scores`: per-chain spread,
    i.i.d. floor), Bonferroni over the states."""
    p = np.asarray(p, np.float64)
    freq = state_frequencies(codes, p.size)
    z = chain_z_scores(freq, p, np.sqrt(p * (1 - p) / np.asarray(codes).size))
    bound = z_crit(p.size)
    worst = int(np.argmax(np.abs(z)))
    assert np.abs(z).max() < bound, (
        f"{label}: state {worst} sampled {freq.mean(0)[worst]:.5f} vs exact {p[worst]:.5f}, "
        f"|z| = {abs(z[worst]):.2f} > {bound:.2f}"
    )
