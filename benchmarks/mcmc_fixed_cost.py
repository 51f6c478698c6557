"""The fixed cost of one ``MCMC.run`` with TemperedGibbs, with and without JAX's persistent
compilation cache.

``numpyro.infer.MCMC.run`` traces and compiles its sampling loop on every call, whatever the
number of draws. The kernel's own ``init`` and ``sample`` are jitted once per kernel and
reused, so a repeated run re-traces nothing of the model; what is left is XLA compiling
NumPyro's loop, which the persistent compilation cache turns into a disk read for a loop it
has seen (same shapes, same number of draws). For each setting a fresh process makes
``--runs`` calls of ``MCMC.run`` with ``--samples`` draws on an L x L lattice (8 chains,
vectorized, ``store_states=False``) and reports the seconds of every call: the first pays
for compilation, the others are the fixed cost a user pays for every further run (the
sweeps themselves take a few milliseconds here).

    python benchmarks/mcmc_fixed_cost.py                # L = 32, 10 draws, 4 runs

Writes ``mcmc_fixed_cost.json`` under ``--out`` (default ``./ebm-numpyro-out/benchmarks/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from _results import add_out_argument, write_results


def _child(L, samples, runs, cache_dir):
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)
    import jax

    if cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    from numpyro.infer import MCMC

    import ebm_numpyro as ebm

    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(L)), temperature=2.269,
                               store_states=False)
    seconds = []
    for i in range(runs):
        mcmc = MCMC(kernel, num_warmup=0, num_samples=samples, num_chains=8, chain_method="vectorized",
                    progress_bar=False)
        t0 = time.perf_counter()
        mcmc.run(jax.random.key(i))
        jax.block_until_ready(mcmc.get_samples())
        seconds.append(time.perf_counter() - t0)
    print(json.dumps(seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        L, samples, runs, cache = args.child
        return _child(int(L), int(samples), int(runs), cache if cache != "-" else None)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="ebm_numpyro_jax_cache_") as cache_dir:
        for name, cache in (("no cache", "-"), ("persistent cache", cache_dir)):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(args.size),
                                  str(args.samples), str(args.runs), cache], capture_output=True, text=True, check=True)
            rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
            s = rows[name]
            print(f"{name:>16s}: first run {s[0]:.2f} s, further runs " + ", ".join(f"{t:.2f}" for t in s[1:]) + " s",
                  flush=True)
    result = {"description": "seconds per MCMC.run (TemperedGibbs, 8 vectorized chains), fresh process per setting",
              "size": args.size, "samples": args.samples, "seconds": rows, "load_average": list(os.getloadavg()),
              "python": platform.python_version(), "platform": platform.platform()}
    write_results(result, "mcmc_fixed_cost", args.out)
    return result


if __name__ == "__main__":
    main()
