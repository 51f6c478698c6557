"""A fixed against an adaptive temperature ladder on a deliberately poor ladder across T_c.

The periodic L x L Ising lattice (default 32 x 32) with ``ebm.TemperedGibbs`` on a geometric
ladder of ``--rungs`` temperatures from ``--t-min`` to ``--t-max`` (default 8 from 1.5 to 4.0:
far too few rungs near T_c = 2.269, so the middle pairs almost never swap), once as given and
once with ``adapt_ladder=True`` (Syed et al. 2021: the interior temperatures move during warm-up
to equalise the swap rates, then stay). For each, over the draws after warm-up: the swap
acceptance of every pair and their max/min ratio, the round trips per 1,000 steps and chain,
the communication barrier Lambda and the round-trip rate bound 1/(2 + 2 Lambda)
(``ebm.diagnostics.tempering``), the final ladder, and the target rung's energy per spin
against Kaufman's exact value (z-score from the MCSE). Several keys (``--keys``), since the
adaptation's last round and the acceptance estimates are Monte Carlo quantities.

    python benchmarks/adaptive_ladder.py                   # W = 20,000, S = 8,000, 8 chains, keys 0 1 2
    python benchmarks/adaptive_ladder.py --quick           # W = 4,000, S = 2,000, one key

Writes ``adaptive_ladder.json`` under ``--out`` (default ``./ebm-numpyro-out/benchmarks/``).
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC

import ebm_numpyro as ebm
from _results import add_out_argument, write_results


def run(lattice, ladder, adapt, key, warmup, samples, chains):
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperatures=ladder, adapt_ladder=adapt,
                               store_states=False)
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains, chain_method="vectorized",
                progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.key(key), extra_fields=("swap_accept", "replica_index"))
    seconds = time.perf_counter() - t0
    tempering = ebm.diagnostics.tempering(ebm.diagnostics.to_inference_data(mcmc))
    acc = np.asarray(tempering["swap_accept"], np.float64)
    n = lattice.num_units
    e = np.asarray(mcmc.get_samples(group_by_chain=True)["physical_energy"], np.float64) / n
    exact = float(ebm.exact.kaufman_mean_energy(lattice.rows, lattice.cols, float(ladder[0]), per_spin=True))
    mcse = e.std() / np.sqrt(effective_sample_size(e))
    return {
        "adapt_ladder": adapt, "key": key, "seconds_with_compilation": seconds,
        "swap_accept": acc.tolist(), "max_over_min": float(acc.max() / acc.min()),
        "round_trips_per_1000_steps_per_chain": 1000 * int(tempering["round_trips_total"]) / (chains * samples),
        "round_trips_total": int(tempering["round_trips_total"]),
        "communication_barrier": float(tempering["communication_barrier"]),
        "round_trip_rate_bound": float(tempering["round_trip_rate_bound"]),
        "final_ladder_chain0": np.asarray(mcmc.last_state.ladder.temperatures)[0].tolist(),
        "energy_per_spin": float(e.mean()), "mcse": float(mcse), "kaufman": exact,
        "z": float((e.mean() - exact) / mcse),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--rungs", type=int, default=8)
    parser.add_argument("--t-min", type=float, default=1.5)
    parser.add_argument("--t-max", type=float, default=4.0)
    parser.add_argument("--warmup", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--keys", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="W = 4,000, S = 2,000, key 0")
    add_out_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.samples, args.keys = 4000, 2000, [0]
    lattice = ebm.Ising.square_lattice(args.size)
    ladder = np.asarray(ebm.geometric_ladder(args.t_min, args.t_max, args.rungs), np.float64)
    rows = []
    for key in args.keys:
        for adapt in (False, True):
            r = run(lattice, ladder, adapt, key, args.warmup, args.samples, args.chains)
            rows.append(r)
            print(f"key {key} {'adaptive' if adapt else 'fixed   '}: swap acceptance "
                  f"{np.round(r['swap_accept'], 3).tolist()} (max/min {r['max_over_min']:.2f}), "
                  f"{r['round_trips_per_1000_steps_per_chain']:.2f} round trips per 1000 steps and chain, "
                  f"Lambda {r['communication_barrier']:.2f}, E/N {r['energy_per_spin']:.5f} +- {r['mcse']:.5f} "
                  f"(Kaufman {r['kaufman']:.5f}, z = {r['z']:+.2f})")
    write_results({"config": vars(args), "machine": platform.machine(), "jax": jax.__version__, "rows": rows},
                  "adaptive_ladder", args.out)


if __name__ == "__main__":
    main()
