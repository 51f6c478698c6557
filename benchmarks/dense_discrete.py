"""Densely coupled discrete models: ImportanceTemperedGibbs (TGS, weighted TGS) against heat-bath
TemperedGibbs(model=...) and NumPyro's DiscreteHMCGibbs, side by side in one process.

Variable selection with the regression weights integrated out (the model of
``discrete_models.py``: 50 indicators, AR(1) correlation 0.6 between predictors, n = 100).
Every sampler runs ``--chains`` chains started at stationarity (the last states of a reference
run of TemperedGibbs), compilation excluded (a first run with another key compiles; its time is
reported apart as ``compile_s``). What is measured is the efficiency of the posterior inclusion
probability (PIP) estimates: each chain gives an estimate of every PIP (the mean of the draws
for DiscreteHMCGibbs and TemperedGibbs; the weighted Rao-Blackwellised estimate,
``ebm.diagnostics.weighted_marginals``, for TGS), and

    ESS/s = mean over the informative indicators of  p (1 - p) / (variance x seconds per chain)

where the variance is that of one chain's estimate across the independent chains, p the PIP of
a reference run (TemperedGibbs, to pick the "informative" indicators, reference PIP in
[0.02, 0.98]); the RMSE of one chain's estimates against the reference is reported too (it
includes the reference's own error, about its per-chain RMSE over sqrt(chains)). Chains are vectorized for the library's kernels; NumPyro's Gibbs kernels take
one key, so DiscreteHMCGibbs runs its chains one after another (see ``discrete_models.py``).
With JAX 0.10 on this CPU the vectorized ImportanceTemperedGibbs run of this model stalls in
XLA's CPU runtime (every thread idle, as ``discrete_models.py`` reports for vmapped
DiscreteHMCGibbs); run the script with JAX 0.12 (the Python 3.12 environment of ``.ci/run``).

    python benchmarks/dense_discrete.py [--quick] [--chains C] [--out DIR]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np
from numpyro.infer import MCMC, NUTS, DiscreteHMCGibbs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402
from _results import add_out_argument, write_results  # noqa: E402
from discrete_models import variable_selection  # noqa: E402

import ebm_numpyro as ebm  # noqa: E402


def run(kernel, y, warmup, samples, chains, method, init, extra_continuous=False, key=0):
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains, chain_method=method,
                progress_bar=False)
    kwargs = {"extra_continuous": True} if extra_continuous else {}
    t0 = time.perf_counter()
    mcmc.run(jax.random.key(key + 1), y, init_params=init, **kwargs)
    jax.block_until_ready(mcmc.get_samples())
    first = time.perf_counter() - t0
    t0 = _timing.start()
    mcmc.run(jax.random.key(key), y, init_params=init, **kwargs)
    jax.block_until_ready(mcmc.get_samples())
    seconds = _timing.stop(t0)
    return mcmc, seconds, first


def chain_estimates(mcmc, weighted):
    """Every chain's PIP estimates, (chains, p)."""
    if weighted:
        f = mcmc.get_extra_fields(group_by_chain=True)
        w = np.asarray(f["importance_weight"], np.float64)
        c = np.asarray(f["conditional"], np.float64)[..., 1]
        return (w[..., None] * c).sum(1) / w.sum(1)[:, None]
    g = np.asarray(mcmc.get_samples(group_by_chain=True)["g"], np.float64)
    return g.mean(1)


def main():
    parser = add_out_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--quick", action="store_true", help="few draws (a smoke run)")
    parser.add_argument("--chains", type=int, default=8)
    args = parser.parse_args()
    c = args.chains
    scale = 0.05 if args.quick else 1.0
    y, model = variable_selection()

    start, _, _ = run(ebm.TemperedGibbs(model=model, temperature=1.0), y, 100, 200, c, "vectorized", None)
    g0 = np.asarray(start.get_samples(group_by_chain=True)["g"][:, -1])
    ref_mcmc, _, _ = run(ebm.TemperedGibbs(model=model, temperature=1.0), y, 0, int(4000 * scale), c, "vectorized",
                         {"g": g0}, key=7)
    ref_chains = chain_estimates(ref_mcmc, False)
    ref = ref_chains.mean(0)
    informative = (ref >= 0.02) & (ref <= 0.98)
    print(f"variable selection, p = 50, n = 100; {int(informative.sum())} informative indicators; "
          f"{c} chains", flush=True)

    samplers = {
        "tgs_weighted": (ebm.ImportanceTemperedGibbs(model=model, weighted=True), int(20000 * scale), True,
                         "vectorized", False),
        "tgs": (ebm.ImportanceTemperedGibbs(model=model, weighted=False), int(20000 * scale), True, "vectorized",
                False),
        "tempered_gibbs": (ebm.TemperedGibbs(model=model, temperature=1.0), int(1000 * scale), False, "vectorized",
                           False),
        "numpyro_discrete_hmc_gibbs": (DiscreteHMCGibbs(NUTS(model)), int(500 * scale), False, "sequential", True),
    }
    results = {"p": 50, "n": 100, "chains": c, "informative": int(informative.sum()),
               "reference_pip": ref.tolist()}
    for name, (kernel, samples, weighted, method, extra) in samplers.items():
        init = {"g": g0, "u": np.zeros(c, np.float32)} if extra else {"g": g0}
        mcmc, seconds, first = run(kernel, y, 0 if not extra else 20, samples, c, method, init, extra)
        est = chain_estimates(mcmc, weighted)
        mse = ((est - ref) ** 2).mean(0)
        var = est.var(0, ddof=1)
        per_chain_s = seconds / c
        with np.errstate(divide="ignore"):  # a run too short to move an indicator: infinite "ESS" is not reported
            each = (ref * (1 - ref) / (var * per_chain_s))[informative]
        each = each[np.isfinite(each)]
        ess_s = float(np.mean(each)) if each.size else float("nan")
        results[name] = {"seconds": seconds, "compile_s": max(first - seconds, 0.0), "draws_per_chain": samples,
                         "ess_per_s": ess_s, "rmse_vs_reference": float(np.sqrt(mse[informative].mean())),
                         "sd_across_chains": float(np.sqrt(var[informative].mean())),
                         "median_ess_per_s": float(np.median(each)) if each.size else float("nan")}
        print(f"  {name:28s} {samples:6d} draws/chain in {seconds:7.2f} s (+{first - seconds:5.1f} s compile): "
              f"PIP sd/chain {results[name]['sd_across_chains']:.4f} (RMSE vs reference "
              f"{results[name]['rmse_vs_reference']:.4f}), ESS/s {ess_s:10.4g}", flush=True)
    peer = results["numpyro_discrete_hmc_gibbs"]["ess_per_s"]
    for name in samplers:
        results[name]["vs_discrete_hmc_gibbs"] = results[name]["ess_per_s"] / peer
        median = results[name]["median_ess_per_s"] / results["numpyro_discrete_hmc_gibbs"]["median_ess_per_s"]
        print(f"  {name:28s} {results[name]['vs_discrete_hmc_gibbs']:8.3g}x DiscreteHMCGibbs (median over the "
              f"indicators: {median:.3g}x)")
    write_results({"variable_selection_ar1": results}, "dense_discrete", args.out)


if __name__ == "__main__":
    main()
