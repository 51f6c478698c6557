"""Heat-bath spin updates per nanosecond on a GPU: the library's kernel, a plain-JAX
checkerboard and thrml side by side in one process, plus a correctness line.

Rows (single chain, periodic L×L lattice, J = 1, h = 0, T = 2.269 unless stated):

* ``ours (scan)``   ``TemperedGibbs(potential_fn=ebm.potential(lattice), store_states=False)``
                    stepped by its own jitted ``lax.scan`` (``kernel.scan``);
* ``ours (MCMC)``   the same kernel through ``numpyro.infer.MCMC`` (sizes up to 4096);
* ``plain JAX``     a checkerboard on two half-lattice ``int8`` arrays, one ``jax.random.bits``
                    word per spin against an integer acceptance table, energy and
                    magnetization every sweep, in ``lax.scan`` (``_peers.plain_jax_sweep``):
                    the strongest loop a JAX user writes in an afternoon;
* ``thrml``         thrml 0.1.4's ``sample_states`` on the same lattice (where it fits in
                    memory and time; skipped when thrml is not installed).

Steady-state rate = L² × (n₂ − n₁) / (t₂ − t₁) from two run lengths, so the fixed cost of a
call is left out; ``first call`` is the end-to-end time of the first (compiling) call.
Correctness: energy per spin at T = 1.5 from a cold (all up) start against the infinite
lattice's exact value (Onsager: −1.95111 at T = 1.5).

    python benchmarks/gpu_ising.py                       # GPU: L = 1024, 4096, 16384
    python benchmarks/gpu_ising.py --sizes 64 128 --quick # smoke test on a CPU
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import ebm_numpyro as ebm

from _peers import plain_jax_sweep, thrml_ising
from _results import add_out_argument, write_results

T_C = 2.269


def _block(x):
    return jax.block_until_ready(x)


def rate(run, sweeps, L):
    """(updates per ns at steady state, seconds of the first call) for ``run(n)``."""
    t0 = time.perf_counter()
    _block(run(sweeps[0]))
    first = time.perf_counter() - t0
    times = []
    for n in sweeps:
        _block(run(n))  # compiled for this length
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            _block(run(n))
            best = min(best, time.perf_counter() - t0)
        times.append(best)
    dt = times[1] - times[0]
    updates = L * L * (sweeps[1] - sweeps[0])
    return updates / max(dt, 1e-9) / 1e9, first


def ours(L, temperature=T_C, init=None):
    lattice = ebm.Ising.square_lattice(L)
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperature=temperature, store_states=False)
    state = kernel.init(jax.random.key(0), 0, init)
    return kernel, state


def ours_scan(L):
    kernel, state = ours(L)
    return lambda n: kernel.scan(state, n, ("physical_energy",))[1]["physical_energy"]


def ours_mcmc(L):
    from numpyro.infer import MCMC

    kernel, _ = ours(L)

    def run(n):
        mcmc = MCMC(kernel, num_warmup=0, num_samples=n, progress_bar=False)
        mcmc.run(jax.random.key(1))
        return mcmc.get_samples()["physical_energy"]

    return run


def plain_jax(L, temperature=T_C):
    """The plain-JAX checkerboard of ``_peers.plain_jax_sweep`` (energy and magnetization
    every sweep, like ours), ``lax.scan`` over sweeps."""
    sweep = plain_jax_sweep(L, temperature)
    run_fixed = jax.jit(lambda a, b, keys: lax.scan(sweep, (a, b), keys)[1][0])
    a = jnp.ones((L, L // 2), jnp.int8)
    b = jnp.ones((L, L // 2), jnp.int8)
    return lambda n: run_fixed(a, b, jax.random.split(jax.random.key(3), n))


def thrml_run(L, temperature=T_C):
    from thrml import Block, SamplingSchedule, sample_states
    from thrml.models import hinton_init

    program, blocks, nodes, model = thrml_ising(L, temperature)
    init = hinton_init(jax.random.key(0), model, blocks, ())

    def run(n):
        schedule = SamplingSchedule(n_warmup=n, n_samples=1, steps_per_sample=1)
        return sample_states(jax.random.key(1), program, schedule, init, [], [Block(nodes[:1])])

    return run


def correctness(L, sweeps):
    """Energy per spin at T = 1.5 from the all-up state, second half of the run."""
    kernel, state = ours(L, 1.5, jnp.ones((L, L), jnp.int8))
    _, traces = kernel.scan(state, sweeps, ("physical_energy",))
    e = np.asarray(traces["physical_energy"], np.float64)[sweeps // 2:] / L**2
    exact = float(ebm.exact.onsager_mean_energy(1.5))
    return float(e.mean()), float(e.std() / np.sqrt(len(e))), exact


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--quick", action="store_true", help="few sweeps (smoke test)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    device = jax.devices()[0]
    print(f"device: {device.device_kind} ({jax.default_backend()}), jax {jax.__version__}")
    rows = []
    for L in args.sizes:
        base = max(8, int(2e10 / L**2)) if not args.quick else 20
        sweeps = (base, 3 * base)
        samplers = {"ours (scan)": ours_scan, "plain JAX": plain_jax}
        if L <= 4096:
            samplers["ours (MCMC)"] = ours_mcmc
        if L <= 1024:
            samplers["thrml 0.1.4"] = thrml_run
        for name, make in samplers.items():
            try:
                r, first = rate(make(L), sweeps, L)
            except ImportError as e:
                print(f"L={L:6d} {name:12s} skipped ({e})")
                continue
            rows.append(dict(L=L, sampler=name, updates_per_ns=r, first_call_s=first, sweeps=sweeps))
            print(f"L={L:6d} {name:12s} {r:9.2f} updates/ns   first call {first:6.2f} s   sweeps {sweeps}")
        stats = device.memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            print(f"L={L:6d} peak device memory so far: {stats['peak_bytes_in_use'] / 2**30:.2f} GiB")
    L = args.sizes[min(1, len(args.sizes) - 1)]
    e, se, exact = correctness(L, 200 if args.quick else 2000)
    print(f"correctness: L={L}, T=1.5, cold start: E/N = {e:.5f} ± {se:.5f} (Onsager, infinite lattice: {exact:.5f})")
    write_results(dict(device=device.device_kind, backend=jax.default_backend(), rows=rows,
                       correctness=dict(L=L, energy_per_spin=e, stderr=se, exact=exact)), "gpu_ising", args.out)
    print("| L | sampler | updates/ns | first call (s) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['L']} | {r['sampler']} | {r['updates_per_ns']:.1f} | {r['first_call_s']:.2f} |")


if __name__ == "__main__":
    main()
