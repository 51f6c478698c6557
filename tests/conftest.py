"""pytest hooks and fixtures; the helpers live in tests/helpers.py (``from helpers import ...``)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- the quick default run and the full one (CI) ------------------------------------------
def pytest_addoption(parser):
    parser.addoption(
        "--all",
        action="store_true",
        default=False,
        help="run everything, as CI does: the slow statistical tests and the tutorial notebooks",
    )


def pytest_configure(config):
    _persistent_compilation_cache(is_worker=hasattr(config, "workerinput"))
    if config.getoption("--all"):
        config.option.nbmake = True  # execute tutorials/*.ipynb (nbmake)


#: a notebook whose code reads this uses ArviZ (directly or through ebm_numpyro.diagnostics)
_ARVIZ_CODE = re.compile(r"\b(import arviz|from arviz|ebm\.diagnostics|ebm_numpyro\.diagnostics|ebm_numpyro import [^\n]*\bdiagnostics)\b")


def _notebook_uses_arviz(path):
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return any(_ARVIZ_CODE.search("".join(c["source"])) for c in cells if c["cell_type"] == "code")


#: the cache is dropped (at the start of a run) once it outgrows this
_CACHE_LIMIT_BYTES = 2 << 30


def _persistent_compilation_cache(is_worker):
    """Keep this run's compiled XLA programs on disk for the next run (and for the other
    pytest-xdist workers): JAX's persistent compilation cache, in the system temp dir, one
    folder per JAX version. Most of the suite's time is compilation; a run that finds its
    programs there compiles little (the quick suite in about half the time). A cached program
    is the same executable, so results do not change (the bit-for-bit tests of the contract
    suite compare fresh and cached programs alike). Only this process (and each worker) uses
    it, not the subprocesses and notebooks the tests start.
    """
    import shutil
    import tempfile

    import jax

    path = Path(tempfile.gettempdir()) / f"ebm_numpyro-tests-jax-cache-{jax.__version__}"
    if not is_worker and path.is_dir():
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        if size > _CACHE_LIMIT_BYTES:  # programs of old code pile up: start afresh
            shutil.rmtree(path, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # every program
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the notebooks' marks must be there
def pytest_collection_modifyitems(config, items):
    # the notebooks (collected by nbmake with --all only) are slow; those using ArviZ also `arviz`
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
            if _notebook_uses_arviz(item.path):
                item.add_marker(pytest.mark.arviz)
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
