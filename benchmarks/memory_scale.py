"""Peak memory of sampling one large periodic Ising lattice through ``numpyro.infer.MCMC``.

For every ``--sizes`` L (default 1024, 2048, 4096 on CPU; add 16384 on a GPU), a fresh
subprocess runs ``TemperedGibbs(potential_fn=ebm.potential(Ising.square_lattice(L)),
temperature=2.269, store_states=False)`` for ``--sweeps`` sweeps (one chain) through ``MCMC``,
collecting ``physical_energy`` and ``magnetization`` per sweep (no configuration per draw), and
reports

* the process's peak resident memory (``ru_maxrss``: host memory, including JAX and XLA
  themselves; a bare ``import jax`` process is reported as the baseline),
* on an accelerator, the device's peak bytes in use (``memory_stats()["peak_bytes_in_use"]``),
* the bytes of one configuration (int8 spins: L^2) for scale, and the sweep rate.

    python benchmarks/memory_scale.py                       # CPU: L = 1024, 2048, 4096
    python benchmarks/memory_scale.py --sizes 16384 --sweeps 20   # on a GPU

Writes ``memory_scale.json`` under ``--out`` (default ``./ebm-numpyro-out/benchmarks/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

from _results import add_out_argument, write_results


def _child(L, sweeps):
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)
    import jax
    import jax.numpy as jnp

    jax.block_until_ready(jnp.ones(2) + 1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if L == 0:  # the baseline: a process that only started JAX
        print(json.dumps({"L": 0, "peak_rss_bytes": base}))
        return
    from numpyro.infer import MCMC

    import ebm_numpyro as ebm

    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(L)), temperature=2.269,
                               store_states=False)
    mcmc = MCMC(kernel, num_warmup=0, num_samples=sweeps, num_chains=1, progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.key(0))
    energy = jax.block_until_ready(mcmc.get_samples()["physical_energy"])
    seconds = time.perf_counter() - t0
    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    print(json.dumps({
        "L": L, "sweeps": sweeps, "seconds_with_compile": seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_after_jax_start_bytes": base,
        "device_peak_bytes": None if stats is None else stats.get("peak_bytes_in_use"),
        "configuration_bytes": L * L, "samples_shape": list(energy.shape),
        "energy_per_spin_last": float(energy[-1]) / (L * L), "device": device.device_kind,
    }))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1024, 2048, 4096])
    parser.add_argument("--sweeps", type=int, default=50)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)
    rows = []
    for L in [0] + list(args.sizes):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(L), str(args.sweeps)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        if L == 0:
            print(f"baseline (JAX started, nothing sampled): peak RSS {row['peak_rss_bytes'] / 2**20:.0f} MiB")
            continue
        dev = row["device_peak_bytes"]
        print(f"L = {L:6d}: {args.sweeps} sweeps in {row['seconds_with_compile']:.1f} s (compile included), "
              f"peak RSS {row['peak_rss_bytes'] / 2**20:.0f} MiB"
              + (f", device peak {dev / 2**20:.0f} MiB" if dev else "")
              + f"; one configuration = {row['configuration_bytes'] / 2**20:.0f} MiB; "
              f"E/N after the last sweep {row['energy_per_spin_last']:.4f}", flush=True)
    result = {"description": "peak memory of MCMC(TemperedGibbs(store_states=False)) on one L x L lattice",
              "rows": rows, "python": platform.python_version(), "platform": platform.platform()}
    write_results(result, "memory_scale", args.out)
    return result


if __name__ == "__main__":
    main()
