"""Benchmark: exact log Z of a dense Ising model with random couplings by enumeration.

Side by side in one process: ebm_numpyro.exact.log_partition (streaming, split low/high
enumeration, jit) and a straightforward vectorised NumPy enumeration (chunks of states,
energies by matrix products, stable log-sum-exp). Peak memory of ours is measured in a
fresh subprocess per N to show it stays flat as N grows.

    python benchmarks/exact_enumeration.py            # N = 24 timings, memory at N = 20, 24, 28
    python benchmarks/exact_enumeration.py --quick    # N = 20 timings, memory at N = 16, 20

A full run writes exact_enumeration.json under --out (default ./ebm-numpyro-out/benchmarks/,
untracked; --out benchmarks/results updates the recorded file).
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

import numpy as np

from _results import add_out_argument, write_results

HERE = os.path.dirname(os.path.abspath(__file__))


def random_model(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(size=(n, n)), 1) / np.sqrt(n)
    return J + J.T, rng.normal(size=n) * 0.1


def numpy_log_partition(J, h, temperature, chunk_bits=16):
    """Plain NumPy: all 2^n states in chunks, E = -½ sᵀJs - hᵀs, running log-sum-exp."""
    n = J.shape[0]
    beta = 1.0 / temperature
    m, s = -np.inf, 0.0
    bits = np.arange(n)
    chunk = 2 ** min(n, chunk_bits)
    for start in range(0, 2**n, chunk):
        idx = np.arange(start, start + chunk, dtype=np.int64)
        spins = (((idx[:, None] >> bits) & 1) * 2 - 1).astype(np.float32)
        e = -0.5 * np.einsum("bi,bi->b", spins @ J.astype(np.float32), spins) - spins @ h.astype(np.float32)
        lw = -beta * e.astype(np.float64)
        new_m = max(m, lw.max())
        s = s * np.exp(m - new_m) + np.exp(lw - new_m).sum()
        m = new_m
    return m + np.log(s)


def ours(J, h, temperature):
    import ebm_numpyro as ebm

    return ebm.exact.log_partition(ebm.Ising(J, h), temperature)


def time_ours(n, temperatures):
    J, h = random_model(n)
    ours(J, h, 1.0).block_until_ready()  # compile once
    times, values = [], []
    for T in temperatures:
        t0 = time.perf_counter()
        values.append(float(ours(J, h, T).block_until_ready()))
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), values


def memory_child(n: int) -> None:
    J, h = random_model(n)
    t0 = time.perf_counter()
    value = float(ours(J, h, 1.0))
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "log_z": value, "seconds_incl_compile": seconds, "peak_rss_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    n = 20 if args.quick else 24
    temperatures = [0.05, 0.5, 1.0, 2.0, 100.0]
    J, h = random_model(n)
    ours_s, ours_vals = time_ours(n, temperatures)
    t0 = time.perf_counter()
    np_val = numpy_log_partition(J, h, 1.0)
    np_s = time.perf_counter() - t0
    rate_ours, rate_np = 2**n / ours_s, 2**n / np_s
    print(f"dense Ising, N = {n} spins ({2**n:,} states), {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'method':<34}{'s / temperature':>16}{'states / s':>14}")
    print(f"{'ebm_numpyro.exact.log_partition':<34}{ours_s:>16.3f}{rate_ours:>14.3g}")
    print(f"{'vectorised NumPy enumeration':<34}{np_s:>16.3f}{rate_np:>14.3g}")
    print(f"speed-up: {rate_ours / rate_np:.1f}x; |log Z difference| at T=1: {abs(ours_vals[2] - np_val):.2e}")
    print("log Z over T =", dict(zip(temperatures, [round(v, 4) for v in ours_vals])))

    memory = []
    for m in ([16, 20] if args.quick else [20, 24, 28]):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(m)], capture_output=True, text=True, check=True
        )
        memory.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = memory[-1]
        print(f"N = {m}: peak RSS {r['peak_rss_mb']:.0f} MB, {r['seconds_incl_compile']:.2f} s incl. compilation")

    result = {
        "n": n,
        "temperatures": temperatures,
        "ours_seconds_per_temperature": ours_s,
        "numpy_seconds": np_s,
        "ours_states_per_second": rate_ours,
        "numpy_states_per_second": rate_np,
        "speedup": rate_ours / rate_np,
        "log_z_ours": ours_vals,
        "log_z_numpy_T1": np_val,
        "memory": memory,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
    }
    if not args.quick:  # the quick run is a smoke test: keep the recorded full figures
        write_results(result, "exact_enumeration", args.out)


if __name__ == "__main__":
    main()
