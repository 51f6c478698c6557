"""Sampling at the critical point: ESS per second of E and |m| on the 2-D Ising model at T_c.

Every sampler runs 8 chains (``--chains``) on the periodic L x L lattice (J = 1, h = 0) at
T_c = 2 / ln(1 + sqrt 2), in one process, side by side:

* ``heat-bath``      - ``ebm.TemperedGibbs`` at one temperature (the checkerboard sweep);
* ``swendsen-wang``  - ``ebm.SwendsenWang``;
* ``mixed``          - ``ebm.SwendsenWang(heat_bath_sweeps=K)``: one cluster move then K sweeps;
* ``wolff``          - ``ebm.Wolff`` (one cluster per step);
* ``thrml``          - thrml 0.1.4's two-block Gibbs (``sample_with_observation`` with an observer
  that records E and m every sweep; skipped when thrml is not installed).

All chains start at stationarity: from the states of a Swendsen-Wang run of ``--equilibrate``
steps (every sampler gets the same starts). Each sampler then runs for about ``--seconds`` of
sampling (the number of steps from a pilot run), or longer, up to ``--max-seconds``, where 60
autocorrelation times predicted from the previous size need it, and the script reports, per
sampler and L:

* the integrated autocorrelation times tau of E and |m| in steps (one step: a sweep, a cluster
  move, or a cluster move plus K sweeps), tau = chains * steps / ESS with NumPyro's multi-chain
  ESS (tau = 1 + 2 sum_t rho_t, twice Sokal's tau_int), and a flag where a chain is shorter than 50 tau (its tau is then a rough estimate);
* ESS per second of sampling (compilation excluded) and the end-to-end seconds of the first run
  (compilation included);
* the dynamic exponent z from a weighted least-squares fit of log tau(|m|) against log L, with
  the error of tau from Madras & Sokal's formula (var tau / tau^2 = 2 (2 W + 1) / n with window
  W = 5 tau, n the total draws), over the sizes whose runs are long enough;
* the physics check: E/N against Kaufman's exact finite-lattice value (z-score from the MCSE)
  and the Binder cumulant U4 = 1 - <m^4> / (3 <m^2>^2).

``--potts`` adds the q = 3 and q = 4 Potts models at their critical temperatures
T_c = 1 / ln(1 + sqrt q) (heat bath and Swendsen-Wang; tau and ESS/s of E), with E/N against the exact infinite-
lattice value -(1 + 1/sqrt q) (Baxter; the finite-L energy approaches it as L^(-(1 - alpha)/nu)).

Run: ``python benchmarks/critical_ising.py`` (about 15 min on 2 cores; ``--quick`` for a smoke
run, ``--sizes 32 64 128 256`` to add L = 256). Results go to ``ebm-numpyro-out/benchmarks/``;
``--out benchmarks/results`` updates the recorded figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from _results import add_out_argument, write_results
from _timing import start, stop
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC

import ebm_numpyro as ebm

TC = 2.0 / math.log(1.0 + math.sqrt(2.0))
U4_STAR = 0.61069  # Binder cumulant of the periodic square lattice at T_c, L -> infinity (Salas & Sokal 2000)


# ----------------------------------------------------------------------------- samplers
def ours(kernel_fn):
    """A sampler of the library: ``(model, temperature, chains, steps, init, key) -> (E, m, seconds,
    wall_seconds)`` (``seconds`` without compilation, ``wall_seconds`` with it)."""

    def run(model, temperature, chains, steps, init, key):
        kernel = kernel_fn(model, temperature)
        mcmc = MCMC(kernel, num_warmup=0, num_samples=steps, num_chains=chains, chain_method="vectorized",
                    progress_bar=False)
        t0 = start()
        wall = time.perf_counter()
        mcmc.run(jax.random.key(key), init_params=init)
        s = mcmc.get_samples(group_by_chain=True)
        e, m = np.asarray(s["physical_energy"], np.float64), np.asarray(s["magnetization"], np.float64)
        return e, m, stop(t0), time.perf_counter() - wall

    return run


SAMPLERS = {
    "heat-bath": ours(lambda m, t: ebm.TemperedGibbs(potential_fn=ebm.potential(m), temperature=t)),
    "swendsen-wang": ours(lambda m, t: ebm.SwendsenWang(potential_fn=ebm.potential(m), temperature=t)),
    "wolff": ours(lambda m, t: ebm.Wolff(potential_fn=ebm.potential(m), temperature=t)),
}


def mixed(k):
    return ours(lambda m, t: ebm.SwendsenWang(potential_fn=ebm.potential(m), temperature=t, heat_bath_sweeps=k))


def thrml_sampler(model, temperature, chains, steps, init, key):
    """thrml 0.1.4's checkerboard Gibbs (its fast path, ``_peers.thrml_ising``), E and m recorded
    every sweep by an observer, ``jit(vmap(...))`` over chains, started from ``init``."""
    import equinox as eqx
    from _peers import thrml_ising
    from thrml import Block, SamplingSchedule, sample_with_observation
    from thrml.block_management import block_state_to_global, from_global_state
    from thrml.observers import AbstractObserver

    L = model.rows
    program, blocks, nodes, _ = thrml_ising(L, temperature)
    everything = [Block(nodes)]

    class EnergyMagnetization(AbstractObserver):
        def init(self):
            return None

        def __call__(self, program, state_free, state_clamped, carry, iteration):
            state = block_state_to_global(state_free + state_clamped, program.gibbs_spec)
            spins = from_global_state(state, program.gibbs_spec, everything)[0]
            s = (2 * spins.astype(jnp.int32) - 1).reshape(L, L).astype(jnp.float32)
            energy = -jnp.sum(s * (jnp.roll(s, -1, 0) + jnp.roll(s, -1, 1)))
            return carry, (energy, jnp.mean(s))

    observer = EnergyMagnetization()
    schedule = SamplingSchedule(n_warmup=0, n_samples=steps, steps_per_sample=1)
    spins = np.asarray(init).reshape(chains, L * L) > 0
    even = np.array([(i + j) % 2 == 0 for i in range(L) for j in range(L)])
    starts = [jnp.asarray(spins[:, even]), jnp.asarray(spins[:, ~even])]
    fn = eqx.filter_jit(jax.vmap(lambda k, a, b: sample_with_observation(k, program, schedule, [a, b], [], None,
                                                                        observer)[1]))
    keys = jax.random.split(jax.random.key(key), chains)
    t0 = start()
    wall = time.perf_counter()
    e, m = jax.block_until_ready(fn(keys, *starts))
    return np.asarray(e, np.float64), np.asarray(m, np.float64), stop(t0), time.perf_counter() - wall


# ----------------------------------------------------------------------------- statistics
def tau_of(x):
    """Integrated autocorrelation time (in steps) of draws ``(chains, steps)``: chains * steps / ESS."""
    ess = float(effective_sample_size(np.asarray(x, np.float64)))
    return x.size / ess, ess


def tau_error(tau, n):
    """Madras & Sokal: sd(tau) = tau sqrt(2 (2 W + 1) / n), window W = 5 tau, n draws in all."""
    return tau * math.sqrt(2.0 * (10.0 * tau + 1.0) / n)


def fit_z(sizes, taus, errors):
    """Weighted least squares of log tau = c + z log L: ``(z, sd(z))``; ``None`` with < 2 sizes."""
    if len(sizes) < 2:
        return None
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(taus, float))
    w = (np.asarray(taus) / np.asarray(errors)) ** 2  # 1 / var(log tau)
    a = np.stack([np.ones_like(x), x], 1)
    cov = np.linalg.inv(a.T @ (w[:, None] * a))
    coef = cov @ (a.T @ (w * y))
    return float(coef[1]), float(math.sqrt(cov[1, 1]))


def binder(m):
    m = np.asarray(m, np.float64)
    return 1.0 - np.mean(m**4) / (3.0 * np.mean(m**2) ** 2)


def stationary_starts(model, temperature, chains, steps, key):
    """States of ``chains`` Swendsen-Wang chains after ``steps`` steps from random starts."""
    kernel = ebm.SwendsenWang(potential_fn=ebm.potential(model), temperature=temperature)
    mcmc = MCMC(kernel, num_warmup=steps, num_samples=1, num_chains=chains, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.key(key))
    return np.asarray(mcmc.last_state.x)[:, 0]


def measure(name, run, model, temperature, init, chains, seconds, max_steps, key, per_site, min_steps=0,
            max_seconds=150.0, observables=("E", "|m|")):
    """Pilot run (end-to-end time with compilation), then a run of about ``seconds``, lengthened to
    ``min_steps`` (60 predicted tau) where that takes at most ``max_seconds``."""
    pilot = 50
    _, _, t_pilot, first = run(model, temperature, chains, pilot, init, key)  # t_pilot: compilation excluded
    rate_steps = int(min(20_000, max(pilot, pilot / max(t_pilot, 1e-9))))  # about a second: the rate
    _, _, t_rate, _ = run(model, temperature, chains, rate_steps, init, key)
    per_step = max(t_rate / rate_steps, 1e-9)
    steps = int(min(max_steps, max(200, seconds / per_step, min(min_steps, max_seconds / per_step))))
    e, m, secs, _ = run(model, temperature, chains, steps, init, key + 1)
    r = {"steps": steps, "seconds": secs, "ms_per_step": 1e3 * secs / steps, "first_run_seconds": first,
         "first_run_steps": pilot}
    for obs, x in (("E", e), ("|m|", np.abs(m))):
        if obs not in observables:
            continue
        tau, ess = tau_of(x)
        r[obs] = {"tau": tau, "tau_sd": tau_error(tau, x.size), "ess": ess, "ess_per_s": ess / secs,
                  "long_enough": bool(steps >= 50 * tau)}
    r["E_per_site"] = float(np.mean(e)) / per_site
    r["E_per_site_mcse"] = float(np.std(e) / math.sqrt(r["E"]["ess"])) / per_site
    cells = "  ".join(f"tau_{o} {r[o]['tau']:9.2f}{'' if r[o]['long_enough'] else '*'}  ESS/s {r[o]['ess_per_s']:9.2f}"
                      for o in observables)
    print(f"  {name:14s} {steps:8d} steps {r['ms_per_step']:9.3f} ms/step  {cells}  E/N {r['E_per_site']:.5f} +- "
          f"{r['E_per_site_mcse']:.5f}  first run {first:6.1f} s", flush=True)
    if "|m|" in observables:
        r["binder"] = float(binder(m))
    return r


def main():
    parser = add_out_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--samplers", nargs="+", default=["heat-bath", "swendsen-wang", "mixed", "wolff", "thrml"])
    parser.add_argument("--mixed-sweeps", type=int, default=5, help="heat-bath sweeps per cluster move in 'mixed'")
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=25.0, help="sampling seconds per sampler and size")
    parser.add_argument("--max-steps", type=int, default=400_000)
    parser.add_argument("--max-seconds", type=float, default=150.0,
                        help="longest run when 60 predicted tau need more than --seconds")
    parser.add_argument("--equilibrate", type=int, default=500, help="Swendsen-Wang steps to the starts")
    parser.add_argument("--potts", action="store_true", help="add q = 3, 4 Potts models at T_c")
    parser.add_argument("--quick", action="store_true", help="a smoke run (L = 16, 32; 2 s each)")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.seconds, args.equilibrate = [16, 32], 2.0, 50
    samplers = {**SAMPLERS, "mixed": mixed(args.mixed_sweeps), "thrml": thrml_sampler}
    names = [n for n in args.samplers if n != "thrml"]
    if "thrml" in args.samplers:
        if importlib.util.find_spec("thrml") is not None:
            names.append("thrml")
        else:
            print("thrml not installed (pip install thrml==0.1.4): its rows are skipped")

    results = {"ising": {}, "potts": {}}
    previous = None
    for L in args.sizes:
        model = ebm.Ising.square_lattice(L)
        init = stationary_starts(model, TC, args.chains, args.equilibrate, key=L)
        exact = float(ebm.exact.kaufman_mean_energy(L, L, TC, per_spin=True))
        print(f"L = {L}: Kaufman E/N = {exact:.5f}", flush=True)
        row = {}
        for name in names:
            # 60 tau, tau predicted from the previous size as L^2.2 (the heat bath's growth)
            prev = results["ising"].get(previous, {}).get(name)
            min_steps = 0 if prev is None else 60 * max(prev["E"]["tau"], prev["|m|"]["tau"]) * (L / previous) ** 2.2
            r = measure(name, samplers[name], model, TC, init, args.chains, args.seconds, args.max_steps, L,
                        L * L, min_steps, args.max_seconds)
            r["E_z_vs_kaufman"] = (r["E_per_site"] - exact) / r["E_per_site_mcse"]
            row[name] = r
        for name in names:
            if name != "heat-bath" and "heat-bath" in row:
                row[name]["ess_per_s_ratio_vs_heat_bath"] = {
                    obs: row[name][obs]["ess_per_s"] / row["heat-bath"][obs]["ess_per_s"] for obs in ("E", "|m|")}
        results["ising"][L] = row
        previous = L

    print("\nESS/s over heat bath (|m|, E); tau in steps; * run shorter than 50 tau")
    for L, row in results["ising"].items():
        cells = [f"{n}: {r['ess_per_s_ratio_vs_heat_bath']['|m|']:.3g}x, {r['ess_per_s_ratio_vs_heat_bath']['E']:.3g}x"
                 for n, r in row.items() if "ess_per_s_ratio_vs_heat_bath" in r]
        print(f"L = {L:4d}  " + "  ".join(cells))
    fits = {}
    for name in names:
        for obs in ("|m|", "E"):
            pts = [(L, row[name][obs]["tau"], row[name][obs]["tau_sd"]) for L, row in results["ising"].items()
                   if row[name][obs]["long_enough"]]
            fit = fit_z(*zip(*pts)) if len(pts) >= 2 else None
            fits.setdefault(name, {})[obs] = None if fit is None else {"z": fit[0], "sd": fit[1],
                                                                        "sizes": [p[0] for p in pts]}
            if fit is not None:
                print(f"z({obs}) {name:14s} = {fit[0]:.2f} +- {fit[1]:.2f} (L = {', '.join(str(p[0]) for p in pts)})")
    results["z"] = fits

    if args.potts:
        for q in (3, 4):
            tc = 1.0 / math.log(1.0 + math.sqrt(q))
            exact = -(1.0 + 1.0 / math.sqrt(q))
            for L in [s for s in args.sizes if s <= 64]:
                model = ebm.Potts.square_lattice(L, num_states=q)
                init = stationary_starts(model, tc, args.chains, args.equilibrate, key=100 + L)
                print(f"Potts q = {q}, L = {L}, T_c = {tc:.5f}: exact E/N (infinite lattice) = {exact:.5f}")
                row = {}
                for name in ("heat-bath", "swendsen-wang"):
                    row[name] = measure(name, samplers[name], model, tc, init, args.chains, args.seconds,
                                        args.max_steps, L, L * L, observables=("E",))
                row["swendsen-wang"]["ess_per_s_ratio_vs_heat_bath"] = {
                    "E": row["swendsen-wang"]["E"]["ess_per_s"] / row["heat-bath"]["E"]["ess_per_s"]}
                print(f"  Swendsen-Wang / heat bath, ESS/s of E: {row['swendsen-wang']['ess_per_s_ratio_vs_heat_bath']['E']:.3g}x")
                results["potts"][f"q={q},L={L}"] = {"temperature": tc, "exact_E_per_site_infinite": exact, **row}

    results["meta"] = {"chains": args.chains, "seconds": args.seconds, "mixed_sweeps": args.mixed_sweeps,
                       "temperature": TC, "jax": jax.__version__, "python": platform.python_version(),
                       "platform": platform.platform()}
    print("written to", write_results(results, "critical_ising", args.out))


if __name__ == "__main__":
    main()
