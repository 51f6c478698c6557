"""Densely coupled discrete models: the library's samplers for them (ImportanceTemperedGibbs,
GibbsWithGradients, DiscreteLangevin) against heat-bath TemperedGibbs, NumPyro's
DiscreteHMCGibbs and millipede-regression's weighted TGS, side by side in one process.

Every sampler runs ``--chains`` chains started at stationarity (the last states of a reference
run) for about ``--seconds`` seconds of sampling (the number of draws is found from shorter
runs), warm-up untimed; ``compile_s`` is the rest of the wall-clock time of the timed run.
Six sections (``--sections``), each written to the JSON as soon as it is done:

``vs``: variable selection with the regression weights integrated out (the model of
``discrete_models.py``: p = 50, n = 100, AR(1) correlation 0.6 between predictors), as
``ebm.VariableSelection`` (closed-form conditionals) and as a NumPyro model (``model=``).
``block``: the same with p = 200, n = 200, blocks of 5 predictors at correlation 0.95 and five
effects in five blocks (the closed-form samplers and DiscreteHMCGibbs). What is measured is the
efficiency of the posterior inclusion probability (PIP) estimates: each chain gives an estimate
of every PIP (the mean of its draws; the weighted Rao-Blackwellised estimate,
``ebm.diagnostics.weighted_marginals``, for TGS), and

    ESS/s = mean over the informative indicators of  p (1 - p) / (variance x seconds per chain)

where the variance is that of one chain's estimate across the independent chains and p the PIP
of a long weighted-TGS reference run of ``ebm.VariableSelection`` ("informative": reference PIP
in [0.02, 0.98]); the RMSE of one chain's estimates against the reference is reported too.
NumPyro's Gibbs kernels take one key, so DiscreteHMCGibbs runs its chains one after another
(see ``discrete_models.py``). ``millipede``: both designs with millipede's prior (ours matched to
it), weighted TGS against millipede-regression's (``pip install -e '.[bench]'`` then
``pip install --no-deps millipede-regression==0.1.7``; skipped when it is not installed).

``sk``: a Sherrington-Kirkpatrick spin glass (N = 256, couplings N(0, 1/N), fields N(0, 0.1^2))
at T = 0.7, below its spin-glass transition, as an energy model. ``ising``: the 50 x 50 periodic
Ising lattice at T_c. ``rbm``: an RBM of 64 visible and 64 hidden units trained on the binarised
8 x 8 digits (``ebm.learning.fit``, PCD-1, as ``rbm_digits.py`` trains it: 20 epochs, seed 0) at
T = 1, where the heat bath is block Gibbs (the two layers in turn); every sampler stores its states
and m is the visible mean. For these, ESS/s of the energy E and of the magnetisation m (|m| on the
lattice): the ESS of the 8 chains' draws (NumPyro's, pooled; for TGS the ESS of the weighted
estimate, ``ebm.diagnostics.weighted_mean``) per second of the vectorized run.

With JAX 0.10 on this CPU the vectorized ImportanceTemperedGibbs run of the ``vs`` model stalls
in XLA's CPU runtime (every thread idle, as ``discrete_models.py`` reports for vmapped
DiscreteHMCGibbs); run the script with JAX 0.12 (the Python 3.12 environment of ``.ci/run``).

    python benchmarks/dense_discrete.py [--quick] [--seconds S] [--sections vs block millipede sk ising rbm]
                                        [--chains C] [--out DIR]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS, DiscreteHMCGibbs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402
from _results import add_out_argument, write_results  # noqa: E402
from discrete_models import variable_selection_data  # noqa: E402

import ebm_numpyro as ebm  # noqa: E402


def run(kernel, args, warmup, samples, chains, method, init, extra_fields=(), key=0, **kwargs):
    """Warm-up (untimed, when asked for), then one timed ``MCMC.run`` of ``samples`` draws:
    ``(mcmc, seconds without compilation, wall seconds)``."""
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains, chain_method=method,
                progress_bar=False)
    rng_key = jax.random.key(key)
    if warmup:
        mcmc.warmup(rng_key, *args, init_params=init, extra_fields=(), **kwargs)
        jax.block_until_ready(mcmc.post_warmup_state)
        rng_key, init = mcmc.post_warmup_state.rng_key, None
    t0 = time.perf_counter()
    c0 = _timing.start()
    mcmc.run(rng_key, *args, init_params=init, extra_fields=extra_fields, **kwargs)
    jax.block_until_ready(mcmc.get_samples())
    return mcmc, _timing.stop(c0), time.perf_counter() - t0


def budgeted(kernel, args, warmup, chains, method, init, budget, lo, hi, extra_fields=(), **kwargs):
    """:func:`run` with as many draws as fit in ``budget`` seconds (from a pilot of ``lo`` draws,
    clipped to ``[lo, hi]``), so that every sampler gets about the same time."""
    samples = lo
    for _ in range(4):  # a short pilot overestimates the time per draw (fixed costs): grow until it fits
        _, seconds, _ = run(kernel, args, warmup, samples, chains, method, init, (), key=11, **kwargs)
        if seconds >= budget / 4 or samples >= hi:
            break
        samples = int(np.clip(budget / max(seconds, 1e-6) * samples, samples, hi))
    samples = int(np.clip(budget / max(seconds, 1e-6) * samples, lo, hi))
    return (*run(kernel, args, warmup, samples, chains, method, init, extra_fields, **kwargs), samples)


# ----------------------------------------------------------------------------- variable selection
def chain_estimates(mcmc, weighted):
    """Every chain's PIP estimates, (chains, p)."""
    if weighted:
        f = mcmc.get_extra_fields(group_by_chain=True)
        w = np.asarray(f["importance_weight"], np.float64)
        c = np.asarray(f["conditional"], np.float64)[..., 1]
        return (w[..., None] * c).sum(1) / w.sum(1)[:, None]
    s = mcmc.get_samples(group_by_chain=True)
    g = np.asarray(s["g"] if "g" in s else s["units"], np.float64)
    return g.mean(1)


def pip_efficiency(est, ref, informative, seconds_per_chain):
    """Mean over the informative indicators of p (1 - p) / (variance across chains x seconds per
    chain), its median, the RMSE against the reference and the sd across chains."""
    var = est.var(0, ddof=1)
    with np.errstate(divide="ignore"):  # a run too short to move an indicator: infinite "ESS" is not reported
        each = (ref * (1 - ref) / (var * seconds_per_chain))[informative]
    each = each[np.isfinite(each)]
    return {"ess_per_s": float(np.mean(each)) if each.size else float("nan"),
            "median_ess_per_s": float(np.median(each)) if each.size else float("nan"),
            "rmse_vs_reference": float(np.sqrt(((est - ref) ** 2).mean(0)[informative].mean())),
            "sd_across_chains": float(np.sqrt(var[informative].mean()))}


def reference_pips(vs_model, c, scale):
    """Stationary starting states (every chain's last) and reference PIPs: a long weighted-TGS run
    of the closed-form ``ebm.VariableSelection`` (weighted Rao-Blackwellised estimates)."""
    kernel = ebm.ImportanceTemperedGibbs(potential_fn=ebm.potential(vs_model), store_states=True)
    steps = int(100_000 * scale * min(1.0, (50 / vs_model.num_units) ** 2))  # a step costs O(p^3)
    mcmc, _, _ = run(kernel, (), 0, steps, c, "vectorized", None, ("importance_weight", "conditional"), key=7)
    g0 = np.asarray(mcmc.get_samples(group_by_chain=True)["units"][:, -1], np.int32)
    return g0, chain_estimates(mcmc, True).mean(0)


def report(name, r):
    print(f"  {name:28s} {r['draws_per_chain']:6d} draws/chain in {r['seconds']:7.2f} s (+{r['compile_s']:5.1f} s "
          f"compile): PIP sd/chain {r['sd_across_chains']:.4f} (RMSE vs reference {r['rmse_vs_reference']:.4f}), "
          f"ESS/s {r['ess_per_s']:10.4g}", flush=True)


def numpyro_vs_model(X, h=0.1, tau=1.0, sigma=1.0):
    """The NumPyro model of ``discrete_models.variable_selection`` for covariates ``X``: g_j ~
    Bernoulli(h), beta ~ N(0, sigma^2 / tau) integrated out, y ~ N(0, sigma^2 (I + X_g X_g^T / tau))."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    X = jnp.asarray(X, jnp.float32)
    n, p = X.shape

    def model(y, extra_continuous=False):
        if extra_continuous:
            numpyro.sample("u", dist.Normal(0.0, 1.0))
        with numpyro.plate("predictors", p):
            g = numpyro.sample("g", dist.Bernoulli(h))
        cov_y = sigma**2 * (jnp.eye(n) + (X * g) @ X.T / tau)
        numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(n), covariance_matrix=cov_y), obs=y)

    return model


def block_design(p=200, n=200, size=5, rho=0.95, seed=2):
    """``(X, y)``: ``p / size`` independent blocks of predictors correlated ``rho`` within, five
    true effects inside five blocks."""
    rng = np.random.default_rng(seed)
    cov = np.kron(np.eye(p // size), np.full((size, size), rho) + (1 - rho) * np.eye(size))
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    beta = np.zeros(p)
    beta[[2, 31, 77, 128, 184]] = [1.0, -1.0, 0.8, 1.2, -0.8]
    return X, X @ beta + rng.normal(size=n)


def section_vs(label, X, y, c, scale, budget, slow_kernels):
    """PIP efficiency of every sampler on the variable selection of ``(X, y)`` (h = 0.1, tau = 1,
    sigma = 1): ``ebm.VariableSelection`` (closed-form conditionals) and the same posterior as a
    NumPyro model; ``slow_kernels`` adds the model= runs of the gradient-informed kernels and TGS."""
    p, n = X.shape[1], X.shape[0]
    model = numpyro_vs_model(X)
    closed_form = ebm.VariableSelection(X, y, prior_inclusion=0.1)  # the same posterior
    y = np.asarray(y, np.float32)
    g0, ref = reference_pips(closed_form, c, scale)
    informative = (ref >= 0.02) & (ref <= 0.98)
    print(f"{label}: p = {p}, n = {n}; {int(informative.sum())} informative indicators; {c} chains; about "
          f"{budget:g} s of sampling each", flush=True)
    tgs_extra = ("importance_weight", "conditional")
    pot = ebm.potential(closed_form)
    # name: (kernel, warm-up, weighted, chain method, extra continuous site: None for the energy model)
    samplers = {
        "tgs_weighted_variable_selection_model": (ebm.ImportanceTemperedGibbs(potential_fn=pot, store_states=True),
                                                  0, True, "vectorized", None),
        "tgs_variable_selection_model": (ebm.ImportanceTemperedGibbs(potential_fn=pot, weighted=False,
                                                                     store_states=True), 0, True, "vectorized", None),
        "tempered_gibbs_variable_selection_model": (ebm.TemperedGibbs(potential_fn=pot, temperature=1.0,
                                                                      store_states=True), 0, False, "vectorized",
                                                    None),
    }
    if slow_kernels:
        samplers.update({
            "tgs_weighted": (ebm.ImportanceTemperedGibbs(model=model, weighted=True), 0, True, "vectorized", False),
            "gibbs_with_gradients": (ebm.GibbsWithGradients(model=model), 0, False, "vectorized", False),
            "discrete_langevin": (ebm.DiscreteLangevin(model=model), 500, False, "vectorized", False),
            "tempered_gibbs": (ebm.TemperedGibbs(model=model, temperature=1.0), 0, False, "vectorized", False),
        })
    samplers["numpyro_discrete_hmc_gibbs"] = (DiscreteHMCGibbs(NUTS(model)), 20, False, "sequential", True)
    results = {"p": p, "n": n, "chains": c, "informative": int(informative.sum()), "reference_pip": ref.tolist()}
    for name, (kernel, warmup, weighted, method, extra) in samplers.items():
        init = {"g": g0, "u": np.zeros(c, np.float32)} if extra else {"g": g0}
        kwargs = {"extra_continuous": True} if extra else {}
        args = (y,)
        if extra is None:  # the energy model: states, no model arguments
            init, args, kwargs = g0.astype(np.int8), (), {}
        mcmc, seconds, wall, samples = budgeted(kernel, args, int(warmup * scale), c, method, init, budget, 10,
                                                1_000_000, tgs_extra if weighted else (), **kwargs)
        r = {"seconds": seconds, "compile_s": max(wall - seconds, 0.0), "draws_per_chain": samples,
             **pip_efficiency(chain_estimates(mcmc, weighted), ref, informative, seconds / c)}
        results[name] = r
        report(name, r)
    peer = results["numpyro_discrete_hmc_gibbs"]
    for name in samplers:
        results[name]["vs_discrete_hmc_gibbs"] = results[name]["ess_per_s"] / peer["ess_per_s"]
        median = results[name]["median_ess_per_s"] / peer["median_ess_per_s"]
        print(f"  {name:40s} {results[name]['vs_discrete_hmc_gibbs']:10.4g}x DiscreteHMCGibbs (median over the "
              f"indicators: {median:.4g}x)", flush=True)
    return results


# ----------------------------------------------------------------------------- millipede
def millipede_prior_model(X, h, tau):
    """Variable selection with millipede's isotropic prior, as a NumPyro model: gamma_j ~
    Bernoulli(h), beta_gamma ~ N(0, sigma^2 / tau), y ~ N(X_gamma beta_gamma, sigma^2), p(sigma^2)
    proportional to 1 / sigma^2 (nu0 = lambda0 = 0), no intercept; beta and sigma^2 integrated out:

        log p(y | gamma) = -1/2 log det C - n/2 log(y^T C^-1 y) + const,  C = I + X_gamma X_gamma^T / tau
    """
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    n, p = X.shape

    def model(y):
        with numpyro.plate("predictors", p):
            g = numpyro.sample("g", dist.Bernoulli(h))
        cov = jnp.eye(n) + (X * g) @ X.T / tau
        chol = jnp.linalg.cholesky(cov)
        z = jax.scipy.linalg.solve_triangular(chol, y, lower=True)
        numpyro.factor("marginal_likelihood", -jnp.sum(jnp.log(jnp.diagonal(chol))) - 0.5 * n * jnp.log(z @ z))

    return model


def section_millipede(label, X, y, c, scale, budget, with_model):
    """ImportanceTemperedGibbs (weighted TGS) against millipede-regression's weighted TGS on the
    same data and millipede's prior (ours matched to its: isotropic, tau = 1, S = 0.1 p,
    nu0 = lambda0 = 0, no intercept): ``ebm.VariableSelection(..., noise_scale=None)`` and, with
    ``with_model``, the same prior as a NumPyro model (:func:`millipede_prior_model`); millipede
    runs its chains one after another (one process, PyTorch in double precision on the CPU, its
    own defaults otherwise: explore = 5)."""
    try:
        import torch
        from millipede import NormalLikelihoodSampler
    except ImportError:
        print("millipede-regression is not installed (pip install -e '.[bench]'): its rows are skipped", flush=True)
        return None
    import jax.numpy as jnp

    h, tau = 0.1, 1.0
    closed_form = ebm.VariableSelection(X, y, prior_inclusion=h, slab_precision=tau, noise_scale=None)
    g0, ref = reference_pips(closed_form, c, scale)
    informative = (ref >= 0.02) & (ref <= 0.98)
    print(f"{label} with millipede's prior; {int(informative.sum())} informative indicators; {c} chains", flush=True)
    results = {"chains": c, "informative": int(informative.sum()), "reference_pip": ref.tolist()}
    extra = ("importance_weight", "conditional")
    ours = {"tgs_weighted_variable_selection_model": (ebm.ImportanceTemperedGibbs(
        potential_fn=ebm.potential(closed_form), store_states=True), (), g0.astype(np.int8))}
    if with_model:
        model = millipede_prior_model(jnp.asarray(X, jnp.float32), h, tau)
        ours["tgs_weighted"] = (ebm.ImportanceTemperedGibbs(model=model), (jnp.asarray(y, jnp.float32),), {"g": g0})
    for name, (kernel, args, init) in ours.items():
        mcmc, seconds, wall, samples = budgeted(kernel, args, 0, c, "vectorized", init, budget, 10, 1_000_000, extra)
        results[name] = {"seconds": seconds, "compile_s": max(wall - seconds, 0.0), "draws_per_chain": samples,
                         **pip_efficiency(chain_estimates(mcmc, True), ref, informative, seconds / c)}
        report(name, results[name])

    Xt, yt = torch.tensor(np.asarray(X, np.float64)), torch.tensor(np.asarray(y, np.float64))

    def millipede_chain(seed, iterations):
        sampler = NormalLikelihoodSampler(Xt, yt, S=h * X.shape[1], prior="isotropic", include_intercept=False,
                                          tau=tau, nu0=0.0, lambda0=0.0, verbose_constructor=False)
        pip, weight = torch.zeros(X.shape[1], dtype=torch.float64), torch.zeros((), dtype=torch.float64)
        t0 = time.perf_counter()
        for burned, sample in sampler.mcmc_chain(T_burnin=200, T=iterations, seed=seed):
            if burned:  # its own estimate: the weighted mean of the Rao-Blackwellised pip (its containers')
                pip += sample.weight * sample.pip
                weight += sample.weight
            else:  # (timed from the first kept sample on)
                t0 = time.perf_counter()
        return (pip / weight).numpy(), time.perf_counter() - t0

    _, pilot = millipede_chain(99, 200)
    iterations = int(np.clip(budget / c / max(pilot, 1e-6) * 200, 200, 200_000))
    chains = [millipede_chain(seed, iterations) for seed in range(c)]
    est = np.stack([pip for pip, _ in chains])
    seconds = float(sum(t for _, t in chains))
    results["millipede"] = {"seconds": seconds, "compile_s": 0.0, "draws_per_chain": iterations,
                            **pip_efficiency(est, ref, informative, seconds / c),
                            "pip_max_abs_diff_vs_reference": float(np.abs(est.mean(0) - ref).max())}
    report("millipede weighted TGS", results["millipede"])
    for name in ours:
        ratio = results[name]["ess_per_s"] / results["millipede"]["ess_per_s"]
        results[name]["vs_millipede"] = ratio
        print(f"  {name:40s} {ratio:.3g}x millipede's ESS/s", flush=True)
    print(f"  millipede's mean PIPs differ from the reference by at most "
          f"{results['millipede']['pip_max_abs_diff_vs_reference']:.3f}", flush=True)
    return results


# ----------------------------------------------------------------------------- spin models
def sherrington_kirkpatrick(n=256, seed=0, field=0.1):
    rng = np.random.default_rng(seed)
    j = np.triu(rng.normal(size=(n, n)), 1) / np.sqrt(n)
    return ebm.Ising(j + j.T, field * rng.normal(size=n))


def spin_observables(mcmc, weighted, absolute, visible=None):
    """``{"E": ess, "m": ess}`` of the run's draws (chains, draws); with ``visible``, ``m`` is the
    mean of the first ``visible`` units of the stored states (an RBM's visible layer)."""
    s = mcmc.get_samples(group_by_chain=True)
    e = np.asarray(s["physical_energy"], np.float64)
    if visible is None:
        m = np.asarray(s["magnetization"], np.float64)
    else:
        m = np.asarray(s["units"])[..., :visible].mean(-1, dtype=np.float64)
    if absolute:
        m = np.abs(m)
    if weighted:
        w = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["importance_weight"], np.float64)
        return {k: float(ebm.diagnostics.weighted_mean(v, w)["ess"]) for k, v in (("E", e), ("m", m))}
    return {k: float(effective_sample_size(v)) for k, v in (("E", e), ("m", m))}


def digits_rbm(hidden=64, epochs=20, seed=0):  # rbm_digits.py's defaults
    """``(rbm, seconds)``: an RBM (64 visible, ``hidden`` hidden units) trained on the binarised
    digits' training split by ``ebm.learning.fit``, PCD-1, as ``benchmarks/rbm_digits.py`` trains it
    (plain SGD at 0.05, batch 10 and 10 persistent chains, N(0, 0.01^2) weights, zero biases)."""
    import optax

    x_train, _ = ebm.datasets.digits_binary(seed=seed)
    rng = np.random.default_rng(seed)
    init = ebm.RBM(rng.normal(0.0, 0.01, size=(x_train.shape[1], hidden)), np.zeros(x_train.shape[1]),
                   np.zeros(hidden))
    t0 = time.perf_counter()
    fit = ebm.learning.fit(init, x_train, method="pcd", k=1, optimizer=optax.sgd(0.05), epochs=epochs,
                           batch_size=10, key=jax.random.key(seed), num_chains=10, log_likelihood=None,
                           progress=False)
    jax.block_until_ready(fit.model)
    return fit.model, time.perf_counter() - t0


def section_rbm(c, scale, budget, epochs=20):
    """:func:`section_spins` on :func:`digits_rbm` at T = 1 (the heat bath is block Gibbs: the two
    layers in turn), ``m`` the mean of the visible units."""
    model, seconds = digits_rbm(epochs=epochs)
    print(f"digits RBM: {model.num_visible} visible x {model.num_hidden} hidden units, trained (PCD-1, {epochs} "
          f"epochs) in {seconds:.1f} s", flush=True)
    training = {"method": "pcd", "k": 1, "epochs": epochs, "optimizer": "sgd(0.05)", "batch_size": 10, "seed": 0,
                "seconds_with_compilation": seconds}
    return {"training": training, **section_spins("digits RBM", model, 1.0, c, scale, budget, False,
                                                  visible=model.num_visible)}


def section_spins(name, model, temperature, c, scale, budget, absolute, visible=None):
    """Heat-bath TemperedGibbs against the dense-model samplers on an energy model at one T;
    ``visible``: see :func:`spin_observables` (every sampler then stores its states)."""
    pot = ebm.potential(model)
    store = visible is not None  # (None, the kernels' default, stores none of these models' states: > 64 units)
    n = model.num_units
    start, _, _ = run(ebm.TemperedGibbs(potential_fn=pot, temperature=temperature, store_states=True), (),
                      int(2000 * scale), 10, c, "vectorized", None)
    x0 = np.asarray(start.get_samples(group_by_chain=True)[ebm.kernels.state_name(model)][:, -1])
    print(f"{name}: {n} units at T = {temperature}; {c} chains; about {budget:g} s of sampling each", flush=True)
    # name: (kernel, warm-up, weighted)
    samplers = {
        "tempered_gibbs": (ebm.TemperedGibbs(potential_fn=pot, temperature=temperature, store_states=store), 0,
                           False),
        "single_flip_metropolis": (ebm.SingleFlipMetropolis(potential_fn=pot, temperature=temperature,
                                                            store_states=store), 0, False),
        "gibbs_with_gradients": (ebm.GibbsWithGradients(potential_fn=pot, temperature=temperature,
                                                        store_states=store), 0, False),
        "discrete_langevin": (ebm.DiscreteLangevin(potential_fn=pot, temperature=temperature, store_states=store),
                              500, False),
        "tgs": (ebm.ImportanceTemperedGibbs(potential_fn=pot, temperature=temperature, weighted=False,
                                            store_states=store), 0, True),
    }
    results = {"units": n, "temperature": temperature, "chains": c}
    if visible is not None:
        results["m_is"] = f"the mean of the first {visible} units (the visible layer)"
    m_name = "|m|" if absolute else "m" if visible is None else "v"
    for key, (kernel, warmup, weighted) in samplers.items():
        mcmc, seconds, wall, samples = budgeted(kernel, (), int(warmup * scale), c, "vectorized", x0, budget, 10,
                                                1_000_000, ("importance_weight",) if weighted else ())
        ess = spin_observables(mcmc, weighted, absolute, visible)
        results[key] = {"seconds": seconds, "compile_s": max(wall - seconds, 0.0), "draws_per_chain": samples,
                        "ess": ess, "ess_per_s": {k: v / seconds for k, v in ess.items()}}
        print(f"  {key:24s} {samples:7d} draws/chain in {seconds:7.2f} s (+{wall - seconds:5.1f} s compile): "
              f"ESS E {ess['E']:8.1f}, {m_name} {ess['m']:8.1f}; ESS/s E "
              f"{ess['E'] / seconds:9.4g}, {m_name} {ess['m'] / seconds:9.4g}", flush=True)
    base = results["tempered_gibbs"]["ess_per_s"]
    for key in samplers:
        r = results[key]
        r["vs_heat_bath"] = {k: r["ess_per_s"][k] / base[k] for k in base}
        print(f"  {key:24s} vs heat bath: E {r['vs_heat_bath']['E']:7.3g}x, {m_name} {r['vs_heat_bath']['m']:7.3g}x",
              flush=True)
    return results


def main():
    parser = add_out_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke run)")
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=None,
                        help="sampling time per sampler (default 30, --quick 2)")
    parser.add_argument("--sections", nargs="+", default=["vs", "block", "millipede", "sk", "ising", "rbm"],
                        choices=["vs", "block", "millipede", "sk", "ising", "rbm"])
    args = parser.parse_args()
    c, scale = args.chains, 0.05 if args.quick else 1.0
    budget = args.seconds or (2.0 if args.quick else 30.0)
    results = {"jax": jax.__version__, "chains": c, "quick": args.quick, "seconds_per_sampler": budget}
    ar1, blocks = variable_selection_data(), block_design()
    sections = {
        "vs": ("variable_selection_ar1",
               lambda: section_vs("variable selection, AR(1) 0.6", *ar1, c, scale, budget, True)),
        "block": ("variable_selection_blocks",
                  lambda: section_vs("variable selection, blocks of 5 at 0.95", *blocks, c, scale, budget, False)),
        "millipede": ("millipede_prior",
                      lambda: {"ar1": section_millipede("AR(1) design", *ar1, c, scale, budget, True),
                               "blocks": section_millipede("block design", *blocks, c, scale, budget, False)}),
        "sk": ("sherrington_kirkpatrick",
               lambda: section_spins("SK spin glass", sherrington_kirkpatrick(), 0.7, c, scale, budget, False)),
        "ising": ("ising_50_critical",
                  lambda: section_spins("50 x 50 Ising", ebm.Ising.square_lattice(50), 2.269185, c, scale, budget,
                                        True)),
        "rbm": ("rbm_digits", lambda: section_rbm(c, scale, budget)),
    }
    for name in args.sections:  # written after every section, so that a long run keeps what it measured
        key, section = sections[name]
        results[key] = section()
        write_results(results, "dense_discrete", args.out)


if __name__ == "__main__":
    main()
