"""TemperedGibbs(model=...) against NumPyro's DiscreteHMCGibbs on two NumPyro models with
discrete latent sites, side by side in one process.

(a) Ising-prior image denoising: pixels x in {0,1} (Bernoulli(1/2) plate), the Ising prior as
    a factor -E(2x - 1)/T on the periodic lattice, a Gaussian likelihood per pixel; also the
    same posterior written with an ebm.Boltzmann site and swept by the checkerboard
    (``blocks="model"``).
(b) Variable selection: 50 inclusion indicators with correlated predictors, the regression
    weights integrated out (y ~ N(0, s^2 I + t^2 X diag(g) X^T)).

DiscreteHMCGibbs needs at least one continuous site: its copy of each model has an extra
independent N(0, 1) site (it does not change the discrete posterior). Both samplers run the
same number of chains, vectorized (TemperedGibbs: ``chain_method="vectorized"``; NumPyro's
Gibbs kernels accept one key only, so ``chain_method=jax.vmap``; on the variable selection
``jax.vmap`` chains of DiscreteHMCGibbs hang in XLA's CPU runtime with JAX 0.10 (every thread
asleep after a few hundred steps), so there its chains, and MixedHMC's, run one after another:
with a 100×100 Cholesky per evaluation, batching chains gains little), all started at stationarity
(the last states of a reference run of TemperedGibbs, one per chain). Reported: unit updates
per second (a unit drawn once counts one: TemperedGibbs sweeps every unit once; a step of
NumPyro's DiscreteHMCGibbs is also one sweep over every discrete unit, in random order, each
from its exact conditional; MixedHMC updates ``num_discrete_updates`` units per step) and
the ESS per second of the pixel marginals / inclusion indicators: the median, over the
informative units (reference marginal in [0.05, 0.95]), of NumPyro's ESS over all chains;
compilation excluded (a run with another key compiles first).

TemperedGibbs runs with its defaults (``blocks=None``): on the denoising models it proves
the colour classes from the log joint's terms (the checkerboard, for the Boltzmann site and
for the factor-written Ising prior alike); on the variable selection every indicator is
coupled to every other through the covariance, so the sweep is unit by unit.

    python benchmarks/discrete_models.py [--quick] [--chains C] [--out DIR]
"""

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import HMC, MCMC, NUTS, DiscreteHMCGibbs, MixedHMC

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402
from _results import add_out_argument, write_results  # noqa: E402

import ebm_numpyro as ebm  # noqa: E402


# ----------------------------------------------------------------------------- models
def denoising(side, temperature=2.0, sigma=0.8, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.where(np.add.outer(np.arange(side), np.arange(side)) < side, 1, -1)
    y = jnp.asarray(truth + sigma * rng.normal(size=truth.shape), jnp.float32)
    lattice = ebm.Ising.square_lattice(side)

    def bernoulli_model(y, extra_continuous=False):
        if extra_continuous:
            numpyro.sample("u", dist.Normal(0.0, 1.0))
        with numpyro.plate("rows", side, dim=-2), numpyro.plate("cols", side, dim=-1):
            x = numpyro.sample("x", dist.Bernoulli(0.5))
        s = (2 * x - 1).astype(jnp.int8)
        numpyro.factor("ising", -lattice.energy(s) / temperature)
        numpyro.sample("y", dist.Normal(2.0 * x - 1.0, sigma).to_event(2), obs=y)

    def boltzmann_model(y):
        s = numpyro.sample("s", ebm.Boltzmann(lattice, temperature))
        numpyro.sample("y", dist.Normal(s, sigma).to_event(2), obs=y)

    return y, bernoulli_model, boltzmann_model


def variable_selection_data(p=50, n=100, seed=1, rho=0.6, sigma=1.0):
    """``(X, y)`` (NumPy): AR(1)-correlated predictors, four true effects."""
    rng = np.random.default_rng(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    beta = np.zeros(p)
    beta[[3, 10, 25, 40]] = [1.5, -1.0, 0.8, 1.2]
    return X, X @ beta + sigma * rng.normal(size=n)


def variable_selection(p=50, n=100, seed=1, rho=0.6, sigma=1.0, tau=1.0):
    X, y = variable_selection_data(p, n, seed, rho, sigma)
    y = jnp.asarray(y, jnp.float32)
    X = jnp.asarray(X, jnp.float32)

    def model(y, extra_continuous=False):
        if extra_continuous:
            numpyro.sample("u", dist.Normal(0.0, 1.0))
        with numpyro.plate("predictors", p):
            g = numpyro.sample("g", dist.Bernoulli(0.1))
        cov_y = sigma**2 * jnp.eye(n) + tau**2 * (X * g) @ X.T
        numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(n), covariance_matrix=cov_y), obs=y)

    return y, model


# ----------------------------------------------------------------------------- running
def run_mcmc(kernel, args, kwargs, warmup, samples, chains, method, init_params=None, key=0):
    """One ``MCMC.run``; returns the MCMC object and the seconds it took without compilation
    (a first run with another key compiles; the MCMC object keeps the compiled loop)."""
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains,
                chain_method=method, progress_bar=False)
    mcmc.run(jax.random.key(key + 1), *args, init_params=init_params, **kwargs)
    jax.block_until_ready(mcmc.get_samples())
    t0 = _timing.start()
    mcmc.run(jax.random.key(key), *args, init_params=init_params, **kwargs)
    jax.block_until_ready(mcmc.get_samples())
    return mcmc, _timing.stop(t0)


def as_binary(draws, site):
    """Pixel / indicator draws as {0, 1} floats, shape (chains, draws, units)."""
    draws = np.asarray(draws, np.float64)
    if site == "s":  # the Boltzmann site's spins
        draws = (draws + 1) / 2
    return draws.reshape(draws.shape[0], draws.shape[1], -1)


def reference(kernel, args, site, sweeps, chains):
    """A TemperedGibbs run: the posterior marginals ``p`` (to pick the informative units and
    to report each sampler's distance to them) and its last states, one per chain, to start
    every measured sampler at stationarity."""
    mcmc, _ = run_mcmc(kernel, args, {}, 100, sweeps, chains, "vectorized")
    draws = as_binary(mcmc.get_samples(group_by_chain=True)[site], site)
    return {"p": draws.mean(axis=(0, 1)),
            "last": np.asarray(mcmc.get_samples(group_by_chain=True)[site][:, -1])}


def measure(kernel, args, kwargs, site, warmup, samples, units_per_step, ref, init_params,
            chains=1, method="vectorized"):
    mcmc, seconds = run_mcmc(kernel, args, kwargs, warmup, samples, chains, method, init_params)
    draws = as_binary(mcmc.get_samples(group_by_chain=True)[site], site)
    # the informative units: reference marginal in [0.05, 0.95] (a unit that is almost always
    # 0 or 1 has no usable ESS in a finite run, for any sampler)
    informative = (ref["p"] >= 0.05) & (ref["p"] <= 0.95)
    ess = np.nan_to_num(np.asarray(effective_sample_size(draws[..., informative]), np.float64))
    marginals = draws.mean(axis=(0, 1))
    steps = chains * (warmup + samples)
    out = {"seconds": seconds, "updates_per_s": steps * units_per_step / seconds,
           "median_ess": float(np.median(ess)), "ess_per_s": float(np.median(ess)) / seconds,
           "rms_error_vs_reference": float(np.sqrt(np.mean((marginals - ref["p"])[informative] ** 2))),
           "informative_units": int(informative.sum()), "marginals": marginals.tolist()}
    print(f"    {type(kernel).__name__:18s} {site}: {out['updates_per_s']:10.4g} updates/s in {seconds:7.2f} s; "
          f"median ESS {out['median_ess']:8.1f} -> {out['ess_per_s']:10.4g}/s", flush=True)
    return out


def main():
    parser = add_out_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--quick", action="store_true", help="small sizes and few draws")
    parser.add_argument("--chains", type=int, default=8, help="vectorized chains of every sampler")
    args = parser.parse_args()
    side = 8 if args.quick else 32
    n_ours, n_peer = (200, 200) if args.quick else (2000, 1000)
    c = args.chains
    results = {"denoising": {"side": side, "chains": c}, "variable_selection": {"p": 50, "chains": c}}

    y, bern, boltz = denoising(side)
    units = side * side
    r = results["denoising"]
    ref = reference(ebm.TemperedGibbs(model=bern, temperature=1.0), (y,), "x", n_ours, c)
    x0 = ref["last"]
    r["ours_bernoulli_model"] = measure(ebm.TemperedGibbs(model=bern, temperature=1.0), (y,), {}, "x",
                                        50, n_ours, units, ref, {"x": x0}, c)
    r["ours_boltzmann_model"] = measure(ebm.TemperedGibbs(model=boltz, temperature=1.0), (y,), {}, "s",
                                        50, n_ours, units, ref, {"s": (2 * x0 - 1).astype(np.int8)}, c)
    r["numpyro_discrete_hmc_gibbs"] = measure(
        DiscreteHMCGibbs(NUTS(bern)), (y,), {"extra_continuous": True}, "x", 50, n_peer, units, ref,
        {"x": x0, "u": np.zeros(c, np.float32)}, c, jax.vmap)

    y, vs = variable_selection()
    r = results["variable_selection"]
    ref = reference(ebm.TemperedGibbs(model=vs, temperature=1.0), (y,), "g", n_ours // 2, c)
    g0 = ref["last"]
    r["ours"] = measure(ebm.TemperedGibbs(model=vs, temperature=1.0), (y,), {}, "g", 50, n_ours // 4, 50,
                        ref, {"g": g0}, c)
    r["numpyro_discrete_hmc_gibbs"] = measure(
        DiscreteHMCGibbs(NUTS(vs)), (y,), {"extra_continuous": True}, "g", 50, n_peer // 4, 50, ref,
        {"g": g0, "u": np.zeros(c, np.float32)}, c, "sequential")
    r["numpyro_mixed_hmc"] = measure(
        MixedHMC(HMC(vs, trajectory_length=1.2), num_discrete_updates=20), (y,), {"extra_continuous": True},
        "g", 50, n_peer // 4, 20, ref, {"g": g0, "u": np.zeros(c, np.float32)}, c, "sequential")
    for name, block in results.items():
        print(name)
        peer = block["numpyro_discrete_hmc_gibbs"]
        for k, v in block.items():
            if isinstance(v, dict):
                ratio = v["ess_per_s"] / peer["ess_per_s"] if peer["ess_per_s"] > 0 else float("inf")
                print(f"  {k:28s} {v['updates_per_s']:11.4g} updates/s  ESS/s {v['ess_per_s']:10.4g}  "
                      f"({v['seconds']:.2f} s, median ESS {v['median_ess']:.0f}, {ratio:.3g}x DiscreteHMCGibbs)")
    write_results(results, "discrete_models", args.out)


if __name__ == "__main__":
    main()
