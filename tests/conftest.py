import itertools

import numpy as np
import pytest


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


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


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


# --- the quick default run and the full one (CI) ------------------------------------------
def pytest_addoption(parser):
    parser.addoption(
        "--all",
        action="store_true",
        default=False,
        help="run everything, as CI does: the slow statistical tests and the tutorial notebooks",
    )


def pytest_configure(config):
    if config.getoption("--all"):
        config.option.nbmake = True  # execute tutorials/*.ipynb (nbmake)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--all"):
        return
    skip = pytest.mark.skip(reason="slow: run with `pytest --all`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free the compiled programs of a test module when it ends.

    XLA's CPU backend maps memory for every executable, and JAX and NumPyro keep executables
    alive in their caches. A long run (``pytest --all``) that keeps thousands of them exceeds
    the kernel's limit on memory mappings (``vm.max_map_count``, 65530 on the CI machine),
    and the next compilation then crashes the process (seen as a segfault in
    ``backend_compile_and_load``).
    """
    yield
    import gc

    import jax

    jax.clear_caches()
    gc.collect()
