"""Helpers shared by the tests, in one module (``from helpers import ...``); tests/conftest.py
holds only the pytest hooks and fixtures.

Brute-force references (:func:`brute_states`, :func:`brute_logsumexp`), random models and
states (:func:`random_couplings`, :func:`np_state`), MCMC runs and what they print
(:func:`run_mcmc`, :func:`summary_text`), 64-bit JAX (:func:`enable_x64`), and the statistics
of the statistical tests: MCSE, Bonferroni bounds, z-scores.

Every statistical test uses fixed keys and a tolerance derived from the Monte Carlo standard
error, with a family-wise false-alarm rate of ``ALPHA`` per test (Bonferroni over the
quantities it checks), so that tests neither flake nor pass vacuously.
"""

import itertools
from statistics import NormalDist

import numpy as np
from numpyro.diagnostics import effective_sample_size


# --- brute force, random models and states, MCMC runs -----------------------------------
def brute_states(n, values=(-1, 1)):
    """All 2^n states as a numpy array (independent of the library's enumeration)."""
    return np.array(list(itertools.product(values, repeat=n)), dtype=np.float64)


def brute_logsumexp(a):
    a = np.asarray(a, dtype=np.float64)
    m = a.max()
    return m + np.log(np.exp(a - m).sum())


def random_couplings(rng, n, scale=1.0, pm_one=False):
    if pm_one:
        J = rng.choice([-1.0, 1.0], size=(n, n))
    else:
        J = rng.normal(size=(n, n))
    J = np.triu(J, 1) * scale
    return J + J.T


def np_state(model, seed, batch=()):
    """Uniform random state of a discrete model drawn with NumPy (no per-shape compilation)."""
    down, up = model.unit_values
    bits = np.random.default_rng(seed).integers(0, 2, size=tuple(batch) + tuple(model.event_shape))
    return np.where(bits == 1, up, down).astype(np.int8)


def run_mcmc(kernel, *args, key=0, warmup=50, samples=1000, chains=4, method="vectorized", extra=()):
    """``MCMC(kernel, ...).run`` without a progress bar (NumPyro's warning about too few devices
    for ``chain_method="parallel"`` silenced: it then draws the chains sequentially)."""
    import warnings

    import jax
    from numpyro.infer import MCMC

    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains, chain_method=method,
                progress_bar=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "There are not enough devices", UserWarning)
        mcmc.run(jax.random.key(key), *args, extra_fields=extra)
    return mcmc


def summary_text(mcmc):
    """What ``mcmc.print_summary()`` prints (its RuntimeWarnings about the R-hat and ESS of
    constant entries silenced)."""
    import contextlib
    import io
    import warnings

    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mcmc.print_summary()
    return out.getvalue()


def enable_x64():
    """Context manager turning on 64-bit JAX (its home moved between JAX versions)."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # pragma: no cover - older JAX

    return legacy()


# --- statistics: MCSE, Bonferroni bounds, z-scores -------------------------------------
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


def state_codes(x, values):
    """State index of every state ``x`` (shaped ``(chains, draws, slots) + event``; unit ``k`` is
    digit ``k`` of the index, base ``q``), shaped ``(chains, draws, slots)``."""
    q = len(values)
    digits = np.searchsorted(np.asarray(values), np.asarray(x).reshape(x.shape[:3] + (-1,)))
    return (digits * q ** np.arange(digits.shape[-1])).sum(-1)


def exact_state_probabilities(model, t):
    """Boltzmann probability at temperature ``t`` of every state of a small discrete model, in the
    order of :func:`state_codes` (float64, by enumeration)."""
    states = np.array(list(itertools.product(range(model.num_values), repeat=model.num_units)))[:, ::-1]
    e = np.asarray(model.energy(np.asarray(model.unit_values)[states].reshape((-1,) + tuple(model.event_shape))),
                   np.float64)
    p = np.exp(-(e - e.min()) / t)
    return p / p.sum()


def assert_every_state_on_every_rung(kernel, model, ladder, label, key=3, chains=512, samples=60, law=None,
                                     warmup=20):
    """Run a tempered discrete kernel (``store_states`` in ``x``) and test every state's frequency
    on every rung of ``ladder`` against enumeration (``law(t)``: the chain's stationary state
    probabilities at ``t``; default :func:`exact_state_probabilities`); returns the run and the
    mean swap acceptance."""
    assert np.all(np.argsort(np.asarray(model.unit_values)) == np.arange(model.num_values))
    mcmc = run_mcmc(kernel, key=key, warmup=warmup, samples=samples, chains=chains, extra=("x", "swap_accept"))
    x = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"])  # (chain, draw, rung) + event
    codes = state_codes(x, model.unit_values)
    for k, t in enumerate(ladder):
        p = exact_state_probabilities(model, t) if law is None else law(t)
        assert_state_frequencies(codes[:, :, k], p, f"{label}, rung {k} (T = {t})")
    return mcmc, float(np.mean(mcmc.get_extra_fields()["swap_accept"]))
