"""The contract every kernel of the library keeps inside ``numpyro.infer.MCMC``.

One suite parametrized over every kernel configuration (NumPyro's ``test/infer/test_mcmc.py``
is the model): ``TemperedGibbs`` on every discrete model (a user's ``ebm.DiscreteEnergy`` too)
with and without a temperature ladder, ``SGLD`` with a NumPyro model and with a ``potential_fn``
+ data, and ``CyclicAnnealing`` with a continuous potential, a discrete potential and a NumPyro model.
Each configuration is run exactly as a user runs it and must

1. give identical draws (samples and extra fields) for the same key;
2. give identical draws under ``chain_method="vectorized"``, ``"sequential"`` and
   ``"parallel"`` (on one CPU device NumPyro falls back to sequential);
3. resume exactly from ``post_warmup_state``: W + 2S draws equal W + S, then S more;
4. pickle and unpickle, before and after a run, and the unpickled kernel draws the same;
5. work with ``print_summary``, ``az.from_numpyro`` and ``ebm.diagnostics.to_inference_data``
   (with the model's event dims);
6. reject bad input with a ``ValueError`` before anything is compiled;
7. report a finite ``potential_energy`` extra field.

Everything is small (4x4 lattice, 6 units, a handful of draws, 2 chains) and deterministic.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any, Callable

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import summary_text
from numpyro.infer import MCMC

import ebm_numpyro as ebm
from ebm_numpyro import schedules
from ebm_numpyro.diagnostics import to_inference_data

W, S = 3, 4  # warm-up steps, draws per half of the resumed run
CHAINS = 2
KEY = 0


# ----------------------------------------------------------------------------- models
def _couplings(seed, n):
    rng = np.random.default_rng(seed)
    j = np.triu(rng.normal(size=(n, n)), 1)
    return j + j.T, rng.normal(size=n) * 0.3


_J, _H = _couplings(1, 6)
_WB, _B = _couplings(2, 6)
_RING = np.array([(i, (i + 1) % 6) for i in range(6)] + [(0, 3)])

LATTICE = ebm.Ising.square_lattice(4)
DENSE = ebm.Ising(_J, _H)
SPARSE = ebm.Ising.from_edges(6, _RING, np.linspace(-1.0, 1.0, len(_RING)), fields=0.2 * np.ones(6))
BM = ebm.BoltzmannMachine(_WB, _B)
RBM = ebm.RBM(np.random.default_rng(3).normal(size=(4, 2)), np.full(4, 0.1), np.full(2, -0.2))


def three_body(x, p):
    """{0,1} units on a ring with a three-body term (an ebm.DiscreteEnergy, sampled by colour classes)."""
    return -jnp.sum(p["w"] * x * jnp.roll(x, 1)) - p["k"] * x[0] * x[2] * x[4] - jnp.sum(p["b"] * x)


USER = ebm.DiscreteEnergy(three_body, 6, "binary", {"w": np.linspace(-1.0, 1.0, 6), "k": 0.8, "b": _B})


def labels(x):
    """q = 3 labels on a ring, a Potts bond and a field on label 2 (a q-state ebm.DiscreteEnergy)."""
    return -jnp.sum((x == jnp.roll(x, 1)).astype(jnp.float32)) - 0.5 * jnp.sum((x == 2).astype(jnp.float32))


POTTS = ebm.Potts.square_lattice(2, 3, num_states=3, field=np.array([0.2, -0.1, 0.0]))
USER_LABELS = ebm.DiscreteEnergy(labels, 6, 3)
DISCRETE = {"lattice": LATTICE, "dense": DENSE, "sparse": SPARSE, "bm": BM, "rbm": RBM, "user": USER,
            "potts": POTTS, "user-labels": USER_LABELS}

DATA = np.asarray(1.0 + 2.0 * np.random.default_rng(4).normal(size=40), np.float32)
BATCH = 8


def sgld_model(x):
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(3.0))  # constrained: exercises postprocess_fn
    with numpyro.plate("data", x.shape[0], subsample_size=BATCH):
        numpyro.sample("obs", dist.Normal(mu, sigma), obs=numpyro.subsample(x, event_dim=0))


def sgld_potential(params, batch):
    """Unbiased minibatch estimate of -log p(mu | data) (Normal(0, 10) prior, unit noise)."""
    prior = 0.5 * jnp.sum(params["mu"] ** 2) / 100.0
    return prior + 0.5 * DATA.shape[0] / batch.shape[0] * jnp.sum((batch - params["mu"]) ** 2)


def annealing_model():
    numpyro.sample("loc", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    numpyro.sample("scale", dist.LogNormal(0.0, 0.5))


def discrete_model():
    """A NumPyro model with discrete latent sites: an Ising prior, Bernoulli and Categorical sites."""
    s = numpyro.sample("s", ebm.Boltzmann(SPARSE, 1.5))
    b = numpyro.sample("b", dist.Bernoulli(0.3).expand([2]).to_event(1))
    c = numpyro.sample("c", dist.Categorical(probs=jnp.array([0.2, 0.5, 0.3])))
    numpyro.sample("y", dist.Normal(0.5 * jnp.sum(s) + b.sum() + c, 1.0), obs=0.7)


def binary_model():
    """A NumPyro model with binary latent sites only (an Ising prior and Bernoulli sites): the
    gradient-informed kernels' model=."""
    s = numpyro.sample("s", ebm.Boltzmann(SPARSE, 1.5))
    b = numpyro.sample("b", dist.Bernoulli(0.3).expand([2]).to_event(1))
    numpyro.sample("y", dist.Normal(0.5 * jnp.sum(s) + b.sum(), 1.0), obs=0.7)


def units(model, seed, batch=()):
    """Random valid state(s) of a discrete model (any number of unit values), drawn with NumPy."""
    idx = np.random.default_rng(seed).integers(0, len(model.unit_values), size=tuple(batch) + tuple(model.event_shape))
    return np.asarray(model.unit_values, np.int8)[idx]


def wrong_units(model):
    """A state of the right shape with the other convention's values ({0,1} <-> ±1)."""
    bits = (np.arange(model.num_units) % 2).reshape(model.event_shape).astype(np.int8)  # 0, 1, 0, 1, ...
    return bits if tuple(model.unit_values) == (-1, 1) else 2 * bits - 1


# ----------------------------------------------------------------------------- configurations
@dataclasses.dataclass(frozen=True)
class Config:
    id: str
    make: Callable[[], Any]  # a fresh kernel
    init: Callable[[int], Any] | None = None  # num_chains -> init_params (None: not needed)
    args: tuple = ()
    extra: tuple = ("potential_energy",)
    discrete: bool = False  # TemperedGibbs: physical_energy / magnetization samples
    dims: dict = dataclasses.field(default_factory=dict)  # to_inference_data: var -> dims
    coords: dict = dataclasses.field(default_factory=dict)  # coordinate -> values

    def __repr__(self):
        return self.id


LADDER = (1.5, 3.0, 3)
TG_EXTRA = ("potential_energy", "physical_energy", "magnetization", "energies", "swap_accept",
            "replica_index", "x")


def _tg_config(name, model, ladder, kernel=None, prefix="gibbs"):
    kernel = kernel or ebm.TemperedGibbs
    temps = ebm.geometric_ladder(*LADDER) if ladder else None
    n = LADDER[2] if ladder else 1
    state = "spins" if tuple(model.unit_values) == (-1, 1) else "units"
    event = tuple(model.event_dims)

    def make():
        if ladder:
            return kernel(potential_fn=ebm.potential(model), temperatures=temps, store_states=True)
        return kernel(potential_fn=ebm.potential(model), temperature=2.0)

    # the ladder configurations start from given states (one per chain), the others at random
    init = (lambda c: units(model, 11, (c,) if c > 1 else ())) if ladder else None
    dims = {state: event, "x": ("temperature",) + event, "energies": ("temperature",),
            "replica_index": ("temperature",), "swap_accept": ("pair",)}
    coords = {"temperature": np.asarray(temps if ladder else [2.0], np.float64), "pair": np.arange(n - 1)}
    coords.update({d: np.arange(k) for d, k in zip(event, model.event_shape)})
    return Config(f"{prefix}-{name}{'-ladder' if ladder else ''}", make, init, (), TG_EXTRA, True, dims, coords)


def _chains(x, c):
    x = jnp.asarray(x)
    return jnp.broadcast_to(x, (c,) + x.shape) if c > 1 else x


CONFIGS = [_tg_config(name, m, ladder) for name, m in DISCRETE.items() for ladder in (False, True)] + [
    # a sampler written against the seam (one _move), tempered by the ladder layer with no code of its own
    _tg_config(name, DISCRETE[name], ladder, ebm.SingleFlipMetropolis, "metropolis")
    for name in ("lattice", "potts", "user") for ladder in (False, True)] + [
    _tg_config(name, DISCRETE[name], ladder, ebm.GibbsWithGradients, "gwg")
    for name in ("lattice", "potts", "dense", "user") for ladder in (False, True)] + [
    _tg_config(name, DISCRETE[name], ladder, ebm.ImportanceTemperedGibbs, "itg")
    for name in ("lattice", "potts", "dense", "user") for ladder in (False, True)] + [
    _tg_config(name, DISCRETE[name], ladder, ebm.DiscreteLangevin, "dla")
    for name in ("lattice", "potts", "dense", "user") for ladder in (False, True)] + [
    # cluster moves: ferromagnetic Ising and Potts models only
    _tg_config(name, DISCRETE[name], ladder, ebm.SwendsenWang, "sw")
    for name in ("lattice", "potts") for ladder in (False, True)] + [
    _tg_config("lattice", LATTICE, False, ebm.Wolff, "wolff"), _tg_config("potts", POTTS, True, ebm.Wolff, "wolff")] + [
    Config(
        f"{prefix}-numpyro-model-ladder",
        lambda kernel=kernel, model=model: kernel(model=model, temperatures=ebm.geometric_ladder(*LADDER)),
        None,
        (),
        ("potential_energy", "physical_energy", "energies", "swap_accept", "replica_index"),
        dims={"energies": ("temperature",), "replica_index": ("temperature",), "swap_accept": ("pair",)},
        coords={"temperature": np.asarray(ebm.geometric_ladder(*LADDER), np.float64), "pair": np.arange(2)},
    ) for prefix, kernel, model in (("gibbs", ebm.TemperedGibbs, discrete_model),
                                    ("itg", ebm.ImportanceTemperedGibbs, discrete_model),
                                    ("gwg", ebm.GibbsWithGradients, binary_model),
                                    ("dla", ebm.DiscreteLangevin, binary_model))] + [
    Config(
        "sgld-model",
        lambda: ebm.SGLD(sgld_model, step_size=1e-3, temperature=1.0),
        None,
        (DATA,),
        ("potential_energy", "step_size", "temperature", "diverging"),
    ),
    Config(
        "sgld-potential",
        lambda: ebm.SGLD(potential_fn=sgld_potential, data=DATA, batch_size=BATCH, step_size=1e-3),
        lambda c: {"mu": _chains(jnp.zeros(()), c)},
        (),
        ("potential_energy", "step_size", "temperature", "diverging"),
    ),
    Config(
        "annealing-continuous",
        lambda: ebm.CyclicAnnealing(potential_fn=ebm.potential(ebm.DoubleWell()),
                                    temperature=schedules.cyclic_cosine(0.1, 1.0, 20)),
        lambda c: _chains(jnp.array([0.5]), c),
        (),
        ("potential_energy", "physical_energy", "temperature", "best_energy", "best_z", "accept_prob", "at_base"),
        dims={"x": tuple(ebm.DoubleWell().event_dims), "best_z": tuple(ebm.DoubleWell().event_dims)},
    ),
    Config(
        "annealing-discrete",
        lambda: ebm.CyclicAnnealing(potential_fn=ebm.potential(LATTICE),
                                    temperature=schedules.exponential_cooling(0.1, 5.0, 50)),
        lambda c: units(LATTICE, 5, (c,) if c > 1 else ()),
        (),
        ("potential_energy", "physical_energy", "temperature", "best_energy", "best_z", "accept_prob", "at_base"),
        dims={"spins": ("row", "col"), "best_z": ("row", "col")},
        coords={"row": np.arange(4), "col": np.arange(4)},
    ),
    Config(
        "annealing-model",
        lambda: ebm.CyclicAnnealing(annealing_model, temperature=1.0, move="langevin", step_size=0.05),
        None,
        (),
        ("potential_energy", "physical_energy", "temperature", "accept_prob"),
    ),
]
#: one configuration per kernel runs by default; the whole matrix with `pytest --all` (CI)
FAST = ("gibbs-lattice-ladder", "metropolis-user-ladder", "sgld-potential", "annealing-continuous")


def configs(fast=FAST):
    """Parametrize over every configuration; those not in ``fast`` only run with ``--all``."""
    return pytest.mark.parametrize(
        "cfg", [pytest.param(c, id=c.id, marks=() if c.id in fast else pytest.mark.slow) for c in CONFIGS]
    )


CFG = configs()


# ----------------------------------------------------------------------------- running
def make_mcmc(cfg, kernel=None, *, chain_method="vectorized", num_warmup=W, num_samples=2 * S):
    return MCMC(kernel if kernel is not None else cfg.make(), num_warmup=num_warmup, num_samples=num_samples,
                num_chains=CHAINS, chain_method=chain_method, progress_bar=False)


def run(cfg, kernel=None, *, key=KEY, chain_method="vectorized", num_warmup=W, num_samples=2 * S):
    mcmc = make_mcmc(cfg, kernel, chain_method=chain_method, num_warmup=num_warmup, num_samples=num_samples)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "There are not enough devices", UserWarning)
        mcmc.run(jax.random.PRNGKey(key), *cfg.args, extra_fields=cfg.extra,
                 init_params=None if cfg.init is None else cfg.init(CHAINS))
    return mcmc


def draws(mcmc):
    """Samples and extra fields, grouped by chain, as NumPy arrays."""
    out = {}
    for group, tree in (("z", mcmc.get_samples(group_by_chain=True)),
                        ("extra", mcmc.get_extra_fields(group_by_chain=True))):
        if not isinstance(tree, dict):
            tree = {"": tree}
        for k, v in tree.items():
            out[f"{group}.{k}"] = np.asarray(v)
    return out


def assert_same_draws(a, b, what="", rtol=0.0):
    """Identical draws; ``rtol`` > 0 allows float rounding (vmapped vs per-chain XLA programs
    may fuse a reduction differently). Integer and boolean entries are always compared exactly."""
    assert sorted(a) == sorted(b), f"{what}: different fields {sorted(a)} vs {sorted(b)}"
    for k in a:
        assert a[k].shape == b[k].shape, f"{what}: {k} has shape {a[k].shape} vs {b[k].shape}"
        assert a[k].dtype == b[k].dtype, f"{what}: {k} has dtype {a[k].dtype} vs {b[k].dtype}"
        if rtol and np.issubdtype(a[k].dtype, np.floating):
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=rtol, err_msg=f"{what}: {k} differs")
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{what}: {k} differs")


def take(d, sl):
    """Slice the draw axis (axis 1) of every entry."""
    return {k: v[:, sl] for k, v in d.items()}


_REFERENCE: dict = {}


@pytest.fixture(autouse=True, scope="module")
def _drop_references():
    """The reference runs (and their compiled programs) live as long as this module."""
    yield
    _REFERENCE.clear()


@pytest.fixture(autouse=True)
def _release_compiled_programs_per_test():
    """Every test compiles its own MCMC runs: free them when it ends (see conftest.py)."""
    yield
    jax.clear_caches()


def reference(cfg):
    """The reference run (vectorized, key 0, W warm-up, 2S draws), computed once."""
    if cfg.id not in _REFERENCE:
        mcmc = run(cfg)
        _REFERENCE[cfg.id] = (mcmc, draws(mcmc))
    return _REFERENCE[cfg.id]


# ----------------------------------------------------------------------------- 1. determinism
@configs(fast=("gibbs-lattice-ladder",))
def test_same_key_same_draws(cfg):
    _, ref = reference(cfg)
    assert_same_draws(draws(run(cfg)), ref, "second run with the same key")
    # the equality is not vacuous: the chains (different keys) do differ
    assert any(not np.array_equal(v[0], v[1]) for k, v in ref.items() if k.startswith("z.")), (
        "both chains drew the same samples"
    )


# ----------------------------------------------------------------------------- 2. chain methods
@configs(fast=("sgld-potential",))
@pytest.mark.parametrize("chain_method", ["sequential", "parallel"])
def test_chain_methods_agree(cfg, chain_method):
    _, ref = reference(cfg)
    mcmc = run(cfg, chain_method=chain_method)
    assert_same_draws(draws(mcmc), ref, f"{chain_method} vs vectorized", rtol=0.0 if cfg.discrete else 1e-5)


_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    sys.path[:0] = {paths!r}  # this module and tests/helpers.py
    import jax, numpy as np
    assert jax.local_device_count() == 2, jax.devices()
    import test_kernel_contract as t
    for cid in {ids!r}:
        cfg = next(c for c in t.CONFIGS if c.id == cid)
        par, vec = t.draws(t.run(cfg, chain_method="parallel")), t.draws(t.run(cfg))
        t.assert_same_draws(par, vec, cid + ": parallel on 2 devices vs vectorized", rtol=0.0 if cfg.discrete else 1e-5)
    print("OK")
    """
)


@pytest.mark.slow
def test_parallel_on_two_host_devices():
    """True ``pmap`` over two (forced) CPU devices, for one configuration of each kernel."""
    ids = ["gibbs-lattice-ladder", "sgld-model", "annealing-continuous"]
    here = Path(__file__).resolve().parent  # tests/contract/
    script = _PARALLEL_SCRIPT.format(paths=[str(here), str(here.parent)], ids=ids)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=str(here.parents[1]))
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


# ----------------------------------------------------------------------------- 3. resume
def resume(mcmc, cfg):
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.run(mcmc.post_warmup_state.rng_key, *cfg.args, extra_fields=cfg.extra)
    return draws(mcmc)


@configs(fast=("annealing-continuous",))
def test_resume_from_post_warmup_state(cfg):
    _, ref = reference(cfg)
    first = run(cfg, num_samples=S)
    assert_same_draws(draws(first), take(ref, slice(0, S)), "first half")
    assert_same_draws(resume(first, cfg), take(ref, slice(S, 2 * S)), "resumed")


# ----------------------------------------------------------------------------- 4. pickling
@configs(fast=("sgld-potential",))
def test_pickle_kernel_before_and_after_run(cfg):
    mcmc, ref = reference(cfg)
    fresh = pickle.loads(pickle.dumps(cfg.make()))
    assert_same_draws(draws(run(cfg, fresh)), ref, "kernel unpickled before any run")
    used = pickle.loads(pickle.dumps(mcmc.sampler))
    assert type(used) is type(mcmc.sampler)
    assert_same_draws(draws(run(cfg, used)), ref, "kernel unpickled after a run")


@configs(fast=("annealing-continuous",))
def test_pickled_mcmc_resumes(cfg):
    _, ref = reference(cfg)
    first = run(cfg, num_samples=S)
    copy = pickle.loads(pickle.dumps(first))
    assert_same_draws(draws(copy), take(ref, slice(0, S)), "unpickled MCMC's draws")
    assert_same_draws(resume(copy, cfg), take(ref, slice(S, 2 * S)), "resumed after pickling the MCMC")


# ----------------------------------------------------------------------------- 5. summaries, ArviZ
@CFG
def test_print_summary(cfg):
    mcmc, _ = reference(cfg)
    text = summary_text(mcmc)
    rows = [line.split()[0] for line in text.splitlines() if line.strip() and line.split()[0] != "mean"]
    assert rows, text
    if cfg.discrete:
        name = mcmc.sampler.state_name
        first_state = min((i for i, r in enumerate(rows) if r.startswith(name + "[")), default=None)
        assert first_state is not None, f"no {name} rows in\n{text}"
        for scalar in ("physical_energy", "magnetization"):
            assert scalar in rows, f"{scalar} missing from\n{text}"
            assert rows.index(scalar) < first_state, f"{scalar} listed after the states in\n{text}"


@CFG
@pytest.mark.arviz
def test_arviz_from_numpyro(cfg):
    mcmc, ref = reference(cfg)
    idata = az.from_numpyro(mcmc)
    stats = idata.sample_stats
    assert "energy" not in stats.data_vars, "ArviZ reads sample_stats.energy as HMC's Hamiltonian"
    assert "lp" in stats.data_vars
    np.testing.assert_allclose(stats["lp"].values, -ref["extra.potential_energy"], rtol=1e-6)


@CFG
@pytest.mark.arviz
def test_to_inference_data(cfg):
    mcmc, ref = reference(cfg)
    idata = to_inference_data(mcmc)
    post, stats = idata.posterior, idata.sample_stats
    assert "energy" not in stats.data_vars and "energy" not in post.data_vars
    np.testing.assert_array_equal(stats["lp"].values, -ref["extra.potential_energy"])
    assert dict(post.sizes)["chain"] == CHAINS and dict(post.sizes)["draw"] == 2 * S
    for name, dims in cfg.dims.items():
        var = post[name] if name in post.data_vars else stats[name]
        assert var.dims == ("chain", "draw") + tuple(dims), f"{name}: {var.dims}"
    for name, values in cfg.coords.items():
        if name in idata.posterior.coords or name in stats.coords:
            coord = (post if name in post.coords else stats).coords[name].values
            np.testing.assert_allclose(coord, values, err_msg=name)
        else:
            assert len(values) == 0, f"coordinate {name} missing"
    if cfg.discrete:
        sampler = mcmc.sampler
        assert {"physical_energy", "magnetization", sampler.state_name} <= set(post.data_vars)
        np.testing.assert_allclose(post.attrs["temperature"], sampler.temperatures[0])
    # every sample entry and extra field is there
    samples = mcmc.get_samples()
    names = set(samples) if isinstance(samples, dict) else {mcmc.sampler.output_layout().sample_name}
    assert names <= set(post.data_vars)
    assert {"lp" if f == "potential_energy" else f for f in cfg.extra} <= set(stats.data_vars)


# ----------------------------------------------------------------------------- 7. potential energy
@CFG
def test_potential_energy_extra_field(cfg):
    _, ref = reference(cfg)
    pe = ref["extra.potential_energy"]
    assert pe.shape == (CHAINS, 2 * S)
    assert np.all(np.isfinite(pe)), pe
    if "extra.physical_energy" in ref and "extra.temperature" in ref:  # annealing: U = E / T
        np.testing.assert_allclose(pe, ref["extra.physical_energy"] / ref["extra.temperature"], rtol=1e-5)
    if cfg.discrete:  # Gibbs: U = E(x_0) / T_0, and E matches the stored state
        t0 = float(np.asarray(ref_temperatures(cfg))[0])
        np.testing.assert_allclose(pe, ref["extra.physical_energy"] / t0, rtol=1e-5)
        model = reference(cfg)[0].sampler.energy_model
        name = reference(cfg)[0].sampler.state_name
        np.testing.assert_allclose(ref["extra.physical_energy"], np.asarray(model.energy(ref[f"z.{name}"])),
                                   rtol=1e-5, atol=1e-5)


def ref_temperatures(cfg):
    return reference(cfg)[0].sampler.temperatures


# ----------------------------------------------------------------------------- 6. bad input
def no_step(kernel):
    """Make any step of ``kernel`` fail loudly: validation must come before the sampler is traced."""

    def step(*args, **kwargs):
        raise AssertionError("the kernel stepped (was compiled) before rejecting its input")

    kernel._step_chain = step
    return kernel


def run_bad(kernel, init_params=None, args=(), num_chains=1):
    mcmc = MCMC(no_step(kernel), num_warmup=2, num_samples=2, num_chains=num_chains,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), *args, init_params=init_params)


def pot(model=LATTICE):
    return ebm.potential(model)


BAD_TEMPERATURES = [0.0, -1.0, float("nan"), float("inf")]
NEGATIVE_SCHEDULE = schedules.Schedule(lambda t: 1.0 - 0.1 * jnp.asarray(t, jnp.float32))  # < 0 from t = 11
KERNELS = {
    "gibbs": lambda *a, **kw: ebm.TemperedGibbs(*a, **kw),
    "metropolis": lambda *a, **kw: ebm.SingleFlipMetropolis(*a, **kw),
    "gwg": lambda *a, **kw: ebm.GibbsWithGradients(*a, **kw),
    "itg": lambda *a, **kw: ebm.ImportanceTemperedGibbs(*a, **kw),
    "dla": lambda *a, **kw: ebm.DiscreteLangevin(*a, **kw),
    "sgld": lambda *a, **kw: ebm.SGLD(*a, **kw),
    "annealing": lambda *a, **kw: ebm.CyclicAnnealing(*a, temperature=1.0, **kw),
}


@pytest.mark.parametrize("t", BAD_TEMPERATURES)
@pytest.mark.parametrize(
    "build",
    [
        lambda t: ebm.TemperedGibbs(potential_fn=pot(), temperature=t),
        lambda t: ebm.TemperedGibbs(potential_fn=pot(), temperatures=[t, 2.0]),
        lambda t: ebm.TemperedGibbs(potential_fn=pot(), temperatures=[1.0, t]),
        lambda t: ebm.SGLD(sgld_model, temperature=t),
        lambda t: ebm.SGLD(potential_fn=sgld_potential, data=DATA, batch_size=BATCH, temperature=t),
        lambda t: ebm.CyclicAnnealing(potential_fn=pot(ebm.DoubleWell()), temperature=t),
        lambda t: ebm.CyclicAnnealing(potential_fn=pot(), temperature=t),
        lambda t: ebm.CyclicAnnealing(annealing_model, temperature=t, move="langevin"),
        lambda t: ebm.potential(LATTICE, t),
    ],
    ids=["gibbs", "gibbs-ladder-low", "gibbs-ladder-high", "sgld-model", "sgld-potential",
         "annealing-continuous", "annealing-discrete", "annealing-model", "potential"],
)
def test_bad_temperature(build, t):
    with pytest.raises(ValueError, match="temperature"):
        build(t)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ebm.TemperedGibbs(potential_fn=pot(), temperature=NEGATIVE_SCHEDULE),
        lambda: ebm.SGLD(sgld_model, temperature=NEGATIVE_SCHEDULE),
        lambda: ebm.SGLD(sgld_model, step_size=NEGATIVE_SCHEDULE),
        lambda: ebm.CyclicAnnealing(potential_fn=pot(ebm.DoubleWell()), temperature=NEGATIVE_SCHEDULE),
        lambda: ebm.CyclicAnnealing(potential_fn=pot(), temperature=lambda t: jnp.cos(0.3 * t)),  # plain callable
    ],
    ids=["gibbs", "sgld-temperature", "sgld-step-size", "annealing-continuous", "annealing-discrete"],
)
def test_negative_schedule(build):
    with pytest.raises(ValueError, match="step"):
        build()


@pytest.mark.parametrize("kind", sorted(KERNELS))
def test_model_xor_potential_fn(kind):
    make = KERNELS[kind]
    with pytest.raises(ValueError, match="exactly one"):
        make()
    with pytest.raises(ValueError, match="exactly one"):
        make(model=annealing_model, potential_fn=pot())


@pytest.mark.parametrize("kind", sorted(KERNELS))
@pytest.mark.parametrize("model", [LATTICE, BM, ebm.DoubleWell()], ids=["lattice", "bm", "double-well"])
def test_energy_model_as_model(kind, model):
    with pytest.raises(ValueError, match="potential"):
        KERNELS[kind](model=model)
    with pytest.raises(ValueError, match="potential"):
        KERNELS[kind](model)  # positionally, as NumPyro's kernels take `model`


@pytest.mark.parametrize(
    "build, init_params, num_chains, match",
    [
        # wrong shape
        (lambda: ebm.TemperedGibbs(potential_fn=pot()), units(ebm.Ising.square_lattice(3), 0), 1, "shape"),
        (lambda: ebm.TemperedGibbs(potential_fn=pot(), temperatures=[1.0, 2.0]), units(LATTICE, 0, (3,)), 1, "shape"),
        (lambda: ebm.TemperedGibbs(potential_fn=pot(DENSE)), units(DENSE, 0, (2, 2)), 2, "shape"),
        (lambda: ebm.CyclicAnnealing(potential_fn=pot(), temperature=1.0), units(ebm.Ising.square_lattice(3), 0), 1,
         "shape"),
        (lambda: ebm.CyclicAnnealing(potential_fn=pot(ebm.DoubleWell(dim=2)), temperature=1.0), jnp.zeros(3), 1, "shape"),
        (lambda: ebm.CyclicAnnealing(potential_fn=pot(ebm.DoubleWell(dim=2)), temperature=1.0), jnp.zeros((2, 3)), 2,
         "shape"),
        # wrong values
        (lambda: ebm.TemperedGibbs(potential_fn=pot()), wrong_units(LATTICE), 1, "spins"),
        (lambda: ebm.TemperedGibbs(potential_fn=pot(SPARSE)), wrong_units(SPARSE), 1, "spins"),
        (lambda: ebm.TemperedGibbs(potential_fn=pot(BM)), wrong_units(BM), 1, "units"),
        (lambda: ebm.TemperedGibbs(potential_fn=pot(RBM)), wrong_units(RBM), 1, "units"),
        (lambda: ebm.TemperedGibbs(potential_fn=pot()), 0.5 * units(LATTICE, 0), 1, "spins"),
        (lambda: ebm.CyclicAnnealing(potential_fn=pot(), temperature=1.0), wrong_units(LATTICE), 1, "spins"),
        (lambda: ebm.CyclicAnnealing(potential_fn=pot(BM), temperature=1.0), wrong_units(BM), 1, "units"),
        # non-finite start
        (lambda: ebm.CyclicAnnealing(potential_fn=pot(ebm.DoubleWell()), temperature=1.0), jnp.array([jnp.nan]), 1,
         "NaN"),
        (lambda: ebm.SGLD(potential_fn=sgld_potential, data=DATA, batch_size=BATCH), {"mu": jnp.array(jnp.inf)}, 1,
         "NaN"),
    ],
    ids=["gibbs-lattice-shape", "gibbs-ladder-shape", "gibbs-dense-chains-shape", "annealing-discrete-shape",
         "annealing-continuous-shape", "annealing-continuous-chains-shape", "gibbs-lattice-01",
         "gibbs-sparse-01", "gibbs-bm-pm1", "gibbs-rbm-pm1", "gibbs-lattice-half", "annealing-lattice-01",
         "annealing-bm-pm1", "annealing-nan", "sgld-inf"],
)
def test_bad_init_params(build, init_params, num_chains, match):
    with pytest.raises(ValueError, match=match):
        run_bad(build(), init_params, num_chains=num_chains)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ebm.SGLD(potential_fn=sgld_potential, data=DATA, batch_size=BATCH),
        lambda: ebm.CyclicAnnealing(potential_fn=pot(ebm.DoubleWell()), temperature=1.0),
        lambda: ebm.CyclicAnnealing(potential_fn=pot(), temperature=1.0),
    ],
    ids=["sgld", "annealing-continuous", "annealing-discrete"],
)
def test_potential_fn_needs_init_params(build):
    with pytest.raises(ValueError, match="init_params"):
        run_bad(build())


@pytest.mark.slow
def test_gibbs_needs_no_init_params():
    """The one kernel that starts from uniformly random states (no ``init_params``)."""
    mcmc = MCMC(ebm.TemperedGibbs(potential_fn=pot(RBM)), num_warmup=1, num_samples=2, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0))
    assert set(np.unique(np.asarray(mcmc.get_samples()["units"]))) <= {0, 1}


def test_sgld_model_without_subsample_plate():
    with pytest.raises(ValueError, match="subsample"):
        run_bad(ebm.SGLD(annealing_model))
