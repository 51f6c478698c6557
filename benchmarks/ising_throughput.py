"""Spin updates per second on the periodic 2D Ising lattice: TemperedGibbs vs its peers.

Side by side in one process, every sampler on an L x L torus (J = 1, h = 0, T = 2.269),
``--chains`` chains (default 8), heat-bath (Glauber) dynamics:

* ``ours: MCMC``        ``ebm_numpyro.TemperedGibbs(potential_fn=ebm.potential(lattice),
                        temperature=T, store_states=False)`` through ``numpyro.infer.MCMC``
                        (``chain_method="vectorized"``, ``progress_bar=False``), collecting
                        its samples ``physical_energy`` and ``magnetization`` every sweep;
* ``ours: own scan``    the same kernel's ``scan`` (a jitted ``lax.scan`` over ``sample``,
                        collecting the same two fields): the wrapper overhead baseline;
* ``plain JAX``         the strongest plain-JAX checkerboard we could write: two half-lattice
                        arrays, rolls for the neighbour sums, one ``jax.random.bits`` word per
                        spin against an integer acceptance table, ``lax.scan`` over sweeps,
                        ``vmap`` over chains, energy and magnetization every sweep;
* ``thrml``             thrml 0.1.4's fast path, ``jax.jit(jax.vmap(sample_states))`` over an
                        ``IsingSamplingProgram`` with the two checkerboard blocks (the whole
                        run is warm-up sweeps, so nothing but the final state is observed);
* ``DiscreteHMCGibbs``  numpyro's sampler for discrete sites (L <= 16 only): one
                        Metropolised Gibbs sweep of the L^2 spins per step (plus a NUTS step
                        on a dummy continuous site that the kernel requires), chains
                        vectorized with ``chain_method=jax.vmap``.

Two figures per sampler:

* **steady-state rate**: wall clock of one call with the sampler's compilation (tracing,
  lowering and XLA compilation, as reported by ``jax.monitoring``) subtracted, best of
  ``--repeats`` calls made in turn for all samplers (so that machine load hits them alike).
  numpyro's ``MCMC.run`` recompiles its loop on every call; a persistent compilation cache
  (a fresh directory per process) keeps that cheap, and the subtraction removes it. What
  remains of ``MCMC.run``'s fixed cost (about 7 ms of Python per call: initialisation,
  buffers, reshaping) is kept: runs are long enough (0.2-2 s) for it to matter little.
  Throughput = L^2 * chains * sweeps / time.
* **end-to-end time** of one realistic run (``--e2e-sweeps``, default 1000 sweeps): building
  the sampler (for thrml its graph), compiling it and running the sweeps, as a user's first
  run pays it, each sampler in a fresh subprocess without compilation cache (imports and
  backend start-up excluded). DiscreteHMCGibbs is left out of it.

    python benchmarks/ising_throughput.py            # L = 16, 32, 128, 512
    python benchmarks/ising_throughput.py --quick    # L = 16, 32, 64, shorter runs (< 2 min)
    python benchmarks/ising_throughput.py --out benchmarks/results   # update the recorded file

thrml (``pip install thrml==0.1.4``) is optional: without it its rows are skipped. Writes
``ising_throughput.json`` under ``--out`` (default ``./ebm-numpyro-out/benchmarks/``, untracked).
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import jax
import jax.numpy as jnp
import numpyro
from jax import lax

import ebm_numpyro

from _peers import plain_jax_sweep, thrml_ising
from _results import add_out_argument, write_results
from _timing import timed

TEMPERATURE = 2.269

# ----------------------------------------------------------------------------- timing
# ----------------------------------------------------------------------------- samplers
def _kernel(L):
    lattice = ebm_numpyro.Ising.square_lattice(L)
    return ebm_numpyro.TemperedGibbs(potential_fn=ebm_numpyro.potential(lattice), temperature=TEMPERATURE,
                                     store_states=False)


def ours_mcmc(L, chains, sweeps):
    from numpyro.infer import MCMC

    mcmc = MCMC(_kernel(L), num_warmup=0, num_samples=sweeps, num_chains=chains,
                chain_method="vectorized", progress_bar=False)

    def run():
        mcmc.run(jax.random.key(1))
        return mcmc.get_samples()  # {"physical_energy", "magnetization"}: (chains * sweeps,) each

    return run


def ours_scan(L, chains, sweeps):
    kernel = _kernel(L)
    state = kernel.init(jax.random.split(jax.random.key(1), chains), 0)
    return lambda: kernel.scan(state, sweeps, fields=("physical_energy", "magnetization"))[1]


def plain_jax(L, chains, sweeps):
    """The strongest plain-JAX checkerboard we could write (``_peers.plain_jax_sweep``),
    ``lax.scan`` over sweeps, ``vmap`` over chains."""
    sweep = plain_jax_sweep(L, TEMPERATURE)

    def chain(key, a, b):
        return lax.scan(sweep, (a, b), jax.random.split(key, sweeps))[1]

    fn = jax.jit(jax.vmap(chain))
    keys = jax.random.split(jax.random.key(1), chains)
    s0 = jnp.where(jax.random.bernoulli(jax.random.key(2), 0.5, (2, chains, L, L // 2)), 1, -1).astype(jnp.int8)
    return lambda: fn(keys, s0[0], s0[1])


def thrml_fast_path(L, chains, sweeps):
    from thrml import Block, SamplingSchedule, sample_states
    from thrml.models import hinton_init

    program, blocks, nodes, model = thrml_ising(L, TEMPERATURE)
    schedule = SamplingSchedule(n_warmup=sweeps, n_samples=1, steps_per_sample=1)
    keys = jax.random.split(jax.random.key(1), chains)
    init = jax.vmap(lambda k: hinton_init(k, model, blocks, ()))(keys)
    fn = jax.jit(jax.vmap(lambda k, x: sample_states(k, program, schedule, x, [], [Block(nodes[:1])])))
    return lambda: fn(keys, init)


def discrete_hmc_gibbs(L, chains, sweeps):
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS, DiscreteHMCGibbs

    lattice = ebm_numpyro.Ising.square_lattice(L)

    def model():
        with numpyro.plate("rows", L, dim=-2), numpyro.plate("cols", L, dim=-1):
            s = numpyro.sample("s", dist.Bernoulli(0.5))
        numpyro.factor("boltzmann", -lattice.energy(2.0 * s - 1.0) / TEMPERATURE)
        numpyro.sample("dummy", dist.Normal(0.0, 1.0))  # the inner NUTS kernel needs a continuous site

    kernel = DiscreteHMCGibbs(NUTS(model), modified=False)
    # Gibbs kernels take one key per call: chains are vectorized with a callable chain method
    mcmc = MCMC(kernel, num_warmup=0, num_samples=sweeps, num_chains=chains,
                chain_method=jax.vmap, progress_bar=False)

    def run():
        mcmc.run(jax.random.key(1))
        return mcmc.get_samples()["s"]

    return run


# name: (factory, largest L or None, spin updates per timed call in quick / full mode,
# whether it takes part in the end-to-end run); budgets are sized so that one call takes
# roughly 0.2-2 s for each sampler
SAMPLERS = {
    "ours: MCMC": (ours_mcmc, None, (4e7, 3e8), True),
    "ours: own scan": (ours_scan, None, (4e7, 3e8), True),
    "plain JAX": (plain_jax, None, (1e7, 5e7), True),
    "thrml 0.1.4": (thrml_fast_path, None, (1.5e7, 1e8), True),
    "DiscreteHMCGibbs": (discrete_hmc_gibbs, 16, (2e4, 2e5), False),
}


def end_to_end(name, L, chains, sweeps):
    """Seconds that a fresh process takes to build sampler ``name``, compile it (no
    compilation cache) and run ``sweeps`` sweeps: the first run a user makes (imports and
    backend start-up excluded). Measured in a subprocess, so that no sampler inherits
    another's warm caches."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--e2e-child", name, str(L), str(chains),
                          str(sweeps)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _e2e_child(name, L, chains, sweeps):
    warnings.filterwarnings("ignore", category=UserWarning)
    jax.block_until_ready(jnp.ones(2) + 1)  # backend start-up
    t0 = time.perf_counter()
    jax.block_until_ready(SAMPLERS[name][0](L, chains, sweeps)())
    print(time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L = 16, 32, 64 and short runs (< 2 min)")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--e2e-sweeps", type=int, default=None,
                        help="sweeps of the end-to-end run (default 1000, --quick 200)")
    parser.add_argument("--e2e-child", nargs=4, metavar=("NAME", "L", "CHAINS", "SWEEPS"), help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.e2e_child:
        name, L, chains, sweeps = args.e2e_child
        return _e2e_child(name, int(L), int(chains), int(sweeps))
    mode = "quick" if args.quick else "full"
    sizes = args.sizes or ([16, 32, 64] if args.quick else [16, 32, 128, 512])
    repeats = args.repeats or (2 if args.quick else 5)
    e2e_sweeps = args.e2e_sweeps or (200 if args.quick else 1000)
    # a persistent compilation cache, fresh per process and removed at exit: MCMC.run's
    # recompilation on every timed call hits it (the end-to-end children run without one)
    cache_dir = tempfile.mkdtemp(prefix="ebm_numpyro_bench_cache_")
    atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    warnings.filterwarnings("ignore", category=UserWarning)

    try:
        import thrml

        thrml_version = thrml.__version__
    except ImportError:
        thrml_version = None
    jax.block_until_ready(jnp.ones(2) + 1)  # start the backend before any timing
    rows = []
    for L in sizes:
        runners, e2e = {}, {}
        active = {name: spec for name, spec in SAMPLERS.items()
                  if not ((spec[1] is not None and L > spec[1]) or (name.startswith("thrml") and thrml_version is None))}
        # one realistic run of e2e_sweeps per sampler, each in a fresh process
        for name, (_, _, _, in_e2e) in active.items():
            if in_e2e:
                e2e[name] = end_to_end(name, L, args.chains, e2e_sweeps)
        for name, (factory, max_L, budgets, _) in active.items():
            sweeps = int(max(10, budgets[mode == "full"] // (L * L * args.chains)))
            t0 = time.perf_counter()
            run = factory(L, args.chains, sweeps)
            jax.block_until_ready(run())  # compile and warm up
            runners[name] = (run, sweeps, time.perf_counter() - t0)
        times = {name: [] for name in runners}
        for _ in range(repeats):
            for name, (run, _, _) in runners.items():
                times[name].append(timed(run))
        for name, (run, sweeps, first) in runners.items():
            best = min(times[name])
            rows.append({"L": L, "sampler": name, "chains": args.chains, "sweeps": sweeps,
                         "seconds": best, "all_seconds": times[name], "first_call_s": first,
                         "end_to_end_sweeps": e2e_sweeps if name in e2e else None,
                         "end_to_end_s": e2e.get(name), "updates_per_s": L * L * args.chains * sweeps / best})
        by = {r["sampler"]: r for r in rows if r["L"] == L}
        print(f"L = {L}: " + ", ".join(
            f"{k} {r['updates_per_s'] / 1e6:.3g}M/s" + (f" ({r['end_to_end_s']:.2f} s end to end)" if r["end_to_end_s"] else "")
            for k, r in by.items()), flush=True)

    ratios = {}
    for L in sizes:
        by = {r["sampler"]: r["updates_per_s"] for r in rows if r["L"] == L}
        ours = by["ours: MCMC"]
        ratios[L] = {f"ours/{k}": ours / v for k, v in by.items() if k != "ours: MCMC"}
        ratios[L]["MCMC overhead vs own scan"] = by["ours: own scan"] / ours - 1.0
        e2e = {r["sampler"]: r["end_to_end_s"] for r in rows if r["L"] == L and r["end_to_end_s"]}
        # > 1: ours finishes a first run (build + compile + sweeps) sooner
        ratios[L].update({f"end-to-end speed-up ours vs {k}": v / e2e["ours: MCMC"]
                          for k, v in e2e.items() if k != "ours: MCMC"})

    print(f"\nSpin updates per second, periodic L x L Ising, T = {TEMPERATURE}, {args.chains} chains "
          f"({jax.default_backend()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}); best of {repeats}")
    names = list(SAMPLERS)
    print(f"{'L':>5s} " + " ".join(f"{n:>17s}" for n in names) + f" {'vs thrml':>9s} {'vs plain':>9s} {'MCMC ovh.':>9s}")
    for L in sizes:
        by = {r["sampler"]: r["updates_per_s"] for r in rows if r["L"] == L}
        cells = " ".join(f"{by[n] / 1e6:>16.3g}M" if n in by else f"{'-':>17s}" for n in names)
        r = ratios[L]
        vs_thrml = f"{r['ours/thrml 0.1.4']:9.1f}" if "ours/thrml 0.1.4" in r else f"{'-':>9s}"
        print(f"{L:5d} {cells} {vs_thrml} {r['ours/plain JAX']:9.1f} {r['MCMC overhead vs own scan']:+9.1%}")
        if "ours/DiscreteHMCGibbs" in r:
            print(f"{'':5s} ours / DiscreteHMCGibbs = {r['ours/DiscreteHMCGibbs']:,.0f}")
    print(f"\nEnd to end: one run of {e2e_sweeps} sweeps x {args.chains} chains in a fresh process "
          "(build + compile + sweeps), seconds")
    print(f"{'L':>5s} " + " ".join(f"{n:>17s}" for n in names) + f" {'thrml/ours':>10s}")
    for L in sizes:
        by = {r["sampler"]: r["end_to_end_s"] for r in rows if r["L"] == L and r["end_to_end_s"]}
        cells = " ".join(f"{by[n]:>17.2f}" if n in by else f"{'-':>17s}" for n in names)
        key = "end-to-end speed-up ours vs thrml 0.1.4"
        sp = f"{ratios[L][key]:10.2f}" if key in ratios[L] else f"{'-':>10s}"
        print(f"{L:5d} {cells} {sp}")

    result = {
        "description": "spin updates per second, periodic 2D Ising lattice, heat-bath dynamics",
        "temperature": TEMPERATURE, "chains": args.chains, "mode": mode, "repeats": repeats,
        "timing": "best of repeats; wall clock minus jax.monitoring compile durations",
        "end_to_end": "fresh subprocess per sampler and L: build the sampler, compile (no cache), "
                      "run end_to_end_sweeps sweeps; imports and backend start-up excluded",
        "end_to_end_sweeps": e2e_sweeps,
        "rows": rows, "ratios": {str(k): v for k, v in ratios.items()},
        "backend": jax.default_backend(), "device": jax.devices()[0].device_kind,
        "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
        "jax": jax.__version__, "numpyro": numpyro.__version__, "ebm_numpyro": ebm_numpyro.__version__,
        "thrml": thrml_version, "python": platform.python_version(), "platform": platform.platform(),
    }
    write_results(result, "ising_throughput", args.out)
    return result


if __name__ == "__main__":
    main()
