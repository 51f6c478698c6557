"""SGLD throughput: ebm_numpyro.SGLD through numpyro.infer.MCMC vs BlackJAX's sgld + lax.scan.

Bayesian logistic regression, N = 10,000 observations, D = 20 features, minibatch B = 100,
standard-normal prior. Both samplers run the same dynamics (BlackJAX's step size is half
of ours: it writes x + eps grad log p + sqrt(2 T eps) xi, we write x + (eps/2) grad log p +
N(0, eps T)), draw the minibatch indices with replacement by ``randint`` and keep every
position. The user of ebm_numpyro writes an ordinary NumPyro model with a subsample plate;
the BlackJAX user writes the log-prior, per-datum log-likelihood and the scan loop. A third
row, ``ours: own scan``, runs the same kernel's ``sample`` in a jitted ``lax.scan`` (collecting
the same positions) outside ``MCMC``: the wrapper-overhead baseline.

Steady-state throughput is measured the same way for every sampler, as a marginal rate
(L - L/5) / (t(L) - t(L/5)) over two run lengths, medians of ``--repeats`` interleaved
repeats; it excludes everything that does not grow with the number of steps (start-up,
and for ``MCMC.run`` the re-tracing of its sampling loop that numpyro performs on every
call: a persistent compilation cache, fresh per process, serves the XLA compilation, and the
tracing / lowering / compilation durations reported by ``jax.monitoring`` are subtracted
from each timed call). The end-to-end time of one realistic run is reported too: building the sampler,
compiling it and running L steps in a fresh subprocess without compilation cache (imports
and backend start-up excluded), as a user's first run pays it. Usage::

    python benchmarks/sgld_throughput.py [--quick] [--steps 200000]
    python benchmarks/sgld_throughput.py --out benchmarks/results   # update the recorded file

Requires ``blackjax`` (``pip install blackjax``; not a dependency of the project). Writes
``sgld_throughput.json`` under ``--out`` (default ``./ebm-numpyro-out/benchmarks/``, untracked).
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import lax, random
from numpyro.infer import MCMC

import ebm_numpyro as ebm_pkg
from ebm_numpyro import SGLD

from _timing import start, stop
from _results import add_out_argument, write_results

N, D, B = 10_000, 20, 100
STEP_SIZE = 1e-4  # ours; BlackJAX gets STEP_SIZE / 2
OURS = "ebm_numpyro SGLD via numpyro MCMC"
OURS_SCAN = "ebm_numpyro SGLD own lax.scan"


def make_data(key=0):
    k1, k2, k3 = random.split(random.PRNGKey(key), 3)
    X = random.normal(k1, (N, D))
    w_true = random.normal(k2, (D,))
    y = random.bernoulli(k3, jax.nn.sigmoid(X @ w_true)).astype(jnp.float32)
    return X, y


def logistic_model(X, y):
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0], subsample_size=B):
        logits = numpyro.subsample(X, event_dim=1) @ w
        numpyro.sample("y", dist.Bernoulli(logits=logits), obs=numpyro.subsample(y, event_dim=0))


def numpyro_runner(X, y, steps):
    """First-call wall time, and a function timing one further ``MCMC.run`` of ``steps``."""
    mcmc = MCMC(SGLD(logistic_model, step_size=STEP_SIZE, temperature=1.0), num_warmup=0,
                num_samples=steps, progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(random.PRNGKey(0), X, y)
    jax.block_until_ready(mcmc.get_samples())
    first = time.perf_counter() - t0

    def timed():
        mcmc.post_warmup_state = mcmc.last_state  # continue the chain: no re-initialisation
        t0 = start()
        mcmc.run(mcmc.post_warmup_state.rng_key, X, y)
        jax.block_until_ready(mcmc.get_samples())
        return stop(t0)

    return first, timed, lambda: np.asarray(mcmc.get_samples()["w"])


def scan_runner(X, y, steps):
    """The same kernel's ``sample`` in one jitted ``lax.scan`` (no ``MCMC``), collecting ``w``."""
    kernel = SGLD(logistic_model, step_size=STEP_SIZE, temperature=1.0)

    @jax.jit
    def run(state, X, y):
        def body(s, _):
            s = kernel.sample(s, (X, y), {})
            return s, s.z["w"]

        return lax.scan(body, state, None, length=steps)

    t0 = time.perf_counter()
    state = {"s": kernel.init(random.PRNGKey(0), 0, model_args=(X, y))}
    state["s"], state["draws"] = jax.block_until_ready(run(state["s"], X, y))
    first = time.perf_counter() - t0

    def timed():
        t0 = start()
        state["s"], state["draws"] = jax.block_until_ready(run(state["s"], X, y))
        return stop(t0)

    return first, timed, lambda: np.asarray(state["draws"])


def blackjax_runner(X, y, steps):
    import blackjax

    def logprior(w):
        return jnp.sum(dist.Normal(0.0, 1.0).log_prob(w))

    def loglik(w, datum):
        x, t = datum
        return dist.Bernoulli(logits=x @ w).log_prob(t)

    grad_fn = blackjax.sgmcmc.gradients.grad_estimator(logprior, loglik, N)
    sgld = blackjax.sgld(grad_fn)

    @jax.jit
    def run(key, w0):
        def step(w, key):
            k_batch, k_step = random.split(key)
            idx = random.randint(k_batch, (B,), 0, N)
            w = sgld.step(k_step, w, (X[idx], y[idx]), STEP_SIZE / 2)
            return w, w

        return lax.scan(step, sgld.init(w0), random.split(key, steps))

    state = {"w": jnp.zeros(D), "draws": None, "key": random.PRNGKey(0)}
    t0 = time.perf_counter()
    state["w"], state["draws"] = jax.block_until_ready(run(state["key"], state["w"]))
    first = time.perf_counter() - t0

    def timed():
        state["key"], key = random.split(state["key"])
        t0 = start()
        state["w"], state["draws"] = jax.block_until_ready(run(key, state["w"]))
        return stop(t0)

    return first, timed, lambda: np.asarray(state["draws"]), blackjax.__version__


def _e2e_child(which, steps):
    jax.block_until_ready(jnp.ones(2) + 1)  # backend start-up
    X, y = make_data()
    runner = {"mcmc": numpyro_runner, "scan": scan_runner, "blackjax": blackjax_runner}[which]
    print(runner(X, y, steps)[0])


def end_to_end(which, steps):
    """Seconds that a fresh process takes for its first run of ``steps`` steps (build the
    sampler, compile it without a compilation cache, run): the run a user makes first."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--e2e-child", which, str(steps)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 steps, 2 repeats")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--e2e-child", nargs=2, metavar=("WHICH", "STEPS"), help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.e2e_child:
        return _e2e_child(args.e2e_child[0], int(args.e2e_child[1]))
    steps = args.steps or (20_000 if args.quick else 200_000)
    repeats = args.repeats or (2 if args.quick else 5)

    short = max(steps // 5, 1)
    # numpyro's MCMC.run recompiles its loop on every call: a persistent compilation cache
    # (fresh per process, so that the first call still compiles cold) keeps that cheap
    cache_dir = tempfile.mkdtemp(prefix="ebm_numpyro_bench_cache_")
    atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    X, y = make_data()
    runners = {}
    first, timed, draws = numpyro_runner(X, y, steps)
    _, timed_short, _ = numpyro_runner(X, y, short)
    runners[OURS] = (first, timed, timed_short, draws)
    e2e = {OURS: end_to_end("mcmc", steps), OURS_SCAN: end_to_end("scan", steps)}
    first, timed, draws = scan_runner(X, y, steps)
    _, timed_short, _ = scan_runner(X, y, short)
    runners[OURS_SCAN] = (first, timed, timed_short, draws)
    bj_version = peer = None
    try:
        first, timed, draws, bj_version = blackjax_runner(X, y, steps)
        _, timed_short, _, _ = blackjax_runner(X, y, short)
        peer = f"BlackJAX {bj_version} sgld + lax.scan"
        runners[peer] = (first, timed, timed_short, draws)
        e2e[peer] = end_to_end("blackjax", steps)
    except ImportError:
        pass
    times = {name: ([], []) for name in runners}
    for _ in range(repeats):  # interleaved, so that machine load affects both alike
        for name, (_, timed, timed_short, _) in runners.items():
            times[name][0].append(timed())
            times[name][1].append(timed_short())

    print(f"Bayesian logistic regression N={N} D={D} B={B}; marginal rate between {short} and "
          f"{steps} steps, median of {repeats} (backend {jax.default_backend()}, "
          f"{jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    print(f"{'sampler':40s} {'steps/s':>10s} {'end to end, s':>14s} {'later call, s':>14s}")
    result = {"N": N, "D": D, "B": B, "steps": steps, "short_steps": short, "repeats": repeats,
              "method": "marginal rate (steps - short_steps) / (median t(steps) - median t(short_steps))",
              "backend": jax.default_backend(), "device": jax.devices()[0].device_kind,
              "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
              "jax": jax.__version__, "numpyro": numpyro.__version__, "ebm_numpyro": ebm_pkg.__version__,
              "blackjax": bj_version, "python": platform.python_version(), "samplers": {}}
    rates = {}
    for name, (first, _, _, _) in runners.items():
        t_long, t_short = statistics.median(times[name][0]), statistics.median(times[name][1])
        rates[name] = (steps - short) / max(t_long - t_short, 1e-9)
        print(f"{name:40s} {rates[name]:10,.0f} {e2e[name]:14.2f} {t_long:14.2f}")
        result["samplers"][name] = {"steps_per_s": rates[name], "first_call_in_process_s": first,
                                    "end_to_end_s": e2e[name],
                                    "times_s": times[name][0], "short_times_s": times[name][1]}
    result["mcmc_overhead_vs_own_scan"] = rates[OURS_SCAN] / rates[OURS] - 1.0
    print(f"MCMC overhead vs own scan: {result['mcmc_overhead_vs_own_scan']:+.1%}")
    if peer is not None:
        r1, r2 = rates[OURS], rates[peer]
        w1, w2 = runners[OURS][3](), runners[peer][3]()
        diff = float(np.max(np.abs(w1[len(w1) // 2:].mean(0) - w2[len(w2) // 2:].mean(0))))
        result["ratio_numpyro_over_blackjax"] = r1 / r2
        result["ratio_own_scan_over_blackjax"] = rates[OURS_SCAN] / r2
        # > 1: ours finishes its first run (build + compile + L steps) sooner
        result["end_to_end_speedup_numpyro_vs_blackjax"] = e2e[peer] / e2e[OURS]
        result["posterior_mean_max_abs_diff"] = diff
        print(f"ratio (ebm_numpyro / BlackJAX steps per second): MCMC {r1 / r2:.2f}, own scan "
              f"{rates[OURS_SCAN] / r2:.2f}; end to end (BlackJAX / ours seconds) "
              f"{result['end_to_end_speedup_numpyro_vs_blackjax']:.2f}; "
              f"max |posterior mean difference| over the last half = {diff:.3f}")
    else:
        print("blackjax is not installed (pip install blackjax): only the ebm_numpyro row")
    write_results(result, "sgld_throughput", args.out)


if __name__ == "__main__":
    main()
