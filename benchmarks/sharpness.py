"""Sharpness of the minima that minibatch SGD and SGLD end in (two moons, a small tanh MLP).

Two moons (:func:`two_moons`), a 2-32-32-2 tanh MLP (:func:`mlp_init`, :func:`mlp_logits`),
potential :math:`U(\\theta) = N\\,\\hat L_B(\\theta) + \\lambda|\\theta|^2/2` with :math:`\\hat L_B`
the minibatch cross-entropy (:func:`cross_entropy`). Both methods run
:class:`ebm_numpyro.SGLD` through ``numpyro.infer.MCMC`` with the same step
:math:`\\varepsilon = 2\\eta/N` (so the gradient step is SGD's :math:`\\theta - \\eta\\nabla\\hat L_B`)
and the same starts: SGD is SGLD with the noise switched off (a step-size schedule whose
``sampling_phase`` is always false); SGLD adds :math:`N(0, \\varepsilon T)` for the first
``1 - polish_fraction`` of the steps and then also descends noise-free, so that both end at
(near) a minimum. The sharpness there is measured with the library's generic measures,
:func:`ebm_numpyro.landscape.hessian_trace` (Hutchinson) and
:func:`ebm_numpyro.landscape.top_hessian_eigenvalue` (power iteration), on the full-data
loss :math:`L = \\hat L_N + \\lambda|\\theta|^2/(2N)`.

    python benchmarks/sharpness.py            # 20,000 steps, 8 runs per method
    python benchmarks/sharpness.py --quick    # 2,000 steps, 4 runs (a minute or two on two CPU cores)
    python benchmarks/sharpness.py --out benchmarks/results   # update the recorded file

Writes ``sharpness.json`` under ``--out`` (default ``./ebm-numpyro-out/benchmarks/``, untracked).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import random
from numpyro.infer import MCMC

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _results, when imported from elsewhere

import ebm_numpyro as ebm  # noqa: E402
from ebm_numpyro._checks import check_int, check_positive, check_temperature  # noqa: E402
from ebm_numpyro.landscape import hessian_trace, top_hessian_eigenvalue  # noqa: E402
from ebm_numpyro.schedules import Schedule, constant  # noqa: E402

from _results import add_out_argument, write_results  # noqa: E402

__all__ = ["two_moons", "mlp_init", "mlp_logits", "cross_entropy", "sharpness_experiment", "main"]


def two_moons(rng_key, num_points=512, noise=0.15):
    """The two-moons toy classification set: ``(x, y)``, ``x`` of shape (n, 2), ``y`` in {0, 1}."""
    k1, k2, k3 = random.split(rng_key, 3)
    t = random.uniform(k1, (num_points,), minval=0.0, maxval=jnp.pi)
    y = random.bernoulli(k2, 0.5, (num_points,)).astype(jnp.int32)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], -1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], -1)
    x = jnp.where(y[:, None] == 0, upper, lower) + noise * random.normal(k3, (num_points, 2))
    return x, y


def mlp_init(rng_key, sizes=(2, 32, 32, 2)):
    """Parameters ``{"W0", "b0", ...}`` of a tanh MLP, LeCun-normal weights, zero biases."""
    params = {}
    keys = random.split(rng_key, len(sizes) - 1)
    for i, (k, m, n) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        params[f"W{i}"] = random.normal(k, (m, n)) / jnp.sqrt(m)
        params[f"b{i}"] = jnp.zeros((n,))
    return params


def mlp_logits(params, x):
    """Logits of the tanh MLP built by :func:`mlp_init`."""
    depth = len(params) // 2
    h = x
    for i in range(depth):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i < depth - 1:
            h = jnp.tanh(h)
    return h


def cross_entropy(params, x, y):
    """Mean softmax cross-entropy :math:`-\\frac1n\\sum_i \\log \\mathrm{softmax}(f_\\theta(x_i))_{y_i}`."""
    logp = jax.nn.log_softmax(mlp_logits(params, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))


def _never(t):
    return jnp.zeros(jnp.shape(t), bool)


def sharpness_experiment(temperature=1.0, *, num_steps=20_000, learning_rate=0.1, batch_size=32,
                         weight_decay=1e-3, polish_fraction=0.1, num_runs=8, num_points=512,
                         num_probes=64, rng_key=0):
    """Train the MLP with minibatch SGD and with SGLD; compare the sharpness of the minima
    they end in (see the module docstring).

    Returns ``{"sgd": {...}, "sgld": {...}, ...}`` where each method maps ``loss``,
    ``accuracy``, ``hessian_trace``, ``top_eigenvalue`` to per-run arrays and ``*_mean`` /
    ``*_se`` (standard error over runs) to floats.
    """
    check_temperature(temperature)
    num_steps = check_int(num_steps, "num_steps", 10)
    num_runs = check_int(num_runs, "num_runs", 2)
    batch_size = check_int(batch_size, "batch_size", 1)
    check_positive(learning_rate, "learning_rate")
    if not 0.0 <= float(polish_fraction) < 1.0:
        raise ValueError(f"`polish_fraction` must lie in [0, 1); got {polish_fraction!r}")
    key = random.PRNGKey(rng_key) if isinstance(rng_key, int) else rng_key
    k_data, k_init, k_sgd, k_sgld, k_probe = random.split(key, 5)
    x, y = two_moons(k_data, num_points)
    n = num_points
    init = jax.vmap(mlp_init)(random.split(k_init, num_runs))

    def potential(params, batch):
        xb, yb = batch
        sq = sum(jnp.sum(p**2) for p in jax.tree.leaves(params))
        return n * cross_entropy(params, xb, yb) + 0.5 * weight_decay * sq

    def full_loss(params):
        sq = sum(jnp.sum(p**2) for p in jax.tree.leaves(params))
        return cross_entropy(params, x, y) + 0.5 * weight_decay * sq / n

    @jax.jit
    def measure(final, probe_keys):
        """Full-data loss, accuracy, tr H and top eigenvalue of every run, in one compiled call."""
        loss = jax.vmap(full_loss)(final)
        acc = jax.vmap(lambda p: jnp.mean(jnp.argmax(mlp_logits(p, x), -1) == y))(final)
        trace = jax.vmap(lambda p, k: hessian_trace(full_loss, p, k, num_probes)[0])(final, probe_keys)
        top = jax.vmap(lambda p, k: top_hessian_eigenvalue(full_loss, p, k))(final, probe_keys)
        return loss, acc, trace, top

    step = 2.0 * float(learning_rate) / n
    noisy_until = int(round((1.0 - float(polish_fraction)) * num_steps))
    phases = {"sgd": _never, "sgld": lambda t: t < noisy_until}
    keys = {"sgd": k_sgd, "sgld": k_sgld}
    out = {"temperature": float(temperature), "learning_rate": float(learning_rate),
           "num_steps": num_steps, "batch_size": batch_size, "num_runs": num_runs}
    for name, phase in phases.items():
        # a constant step whose sampling_phase says when SGLD adds noise
        step_size = Schedule(constant(step).fn, sampling_phase=phase)
        kernel = ebm.SGLD(potential_fn=potential, step_size=step_size, temperature=temperature,
                          data=(x, y), batch_size=batch_size)
        mcmc = MCMC(kernel, num_warmup=0, num_samples=num_steps, num_chains=num_runs,
                    chain_method="vectorized", thinning=num_steps, progress_bar=False)
        mcmc.run(keys[name], init_params=init)
        loss, acc, trace, top = measure(mcmc.last_state.z, random.split(k_probe, num_runs))
        res = {}
        for field, values in (("loss", loss), ("accuracy", acc), ("hessian_trace", trace),
                              ("top_eigenvalue", top)):
            values = np.asarray(values, np.float64)
            res[field] = values
            res[f"{field}_mean"] = float(values.mean())
            res[f"{field}_se"] = float(values.std(ddof=1) / np.sqrt(values.size))
        out[name] = res
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 steps, 4 runs per method")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--probes", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    steps = args.steps or (2_000 if args.quick else 20_000)
    runs = args.runs or (4 if args.quick else 8)
    t0 = time.perf_counter()
    r = sharpness_experiment(args.temperature, num_steps=steps, num_runs=runs, num_probes=args.probes,
                             rng_key=args.seed)
    seconds = time.perf_counter() - t0
    print(f"two moons, MLP 2-32-32-2, T = {args.temperature}, {steps} steps, {runs} runs per method "
          f"({seconds:.1f} s); mean ± standard error over runs")
    print(f"{'method':8s} {'loss':>16s} {'accuracy':>16s} {'Hessian trace':>18s} {'top eigenvalue':>18s}")
    for method in ("sgd", "sgld"):
        res = r[method]
        cells = [f"{res[f + '_mean']:.4g} ± {res[f + '_se']:.2g}"
                 for f in ("loss", "accuracy", "hessian_trace", "top_eigenvalue")]
        print(f"{method:8s} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>18s} {cells[3]:>18s}")
    print(f"SGLD / SGD: Hessian trace {r['sgld']['hessian_trace_mean'] / r['sgd']['hessian_trace_mean']:.2f}, "
          f"top eigenvalue {r['sgld']['top_eigenvalue_mean'] / r['sgd']['top_eigenvalue_mean']:.2f}")
    payload = {k: ({f: (v.tolist() if isinstance(v, np.ndarray) else v) for f, v in val.items()}
                   if isinstance(val, dict) else val) for k, val in r.items()}
    payload.update(mode="quick" if args.quick else "full", seconds=seconds, probes=args.probes, seed=args.seed,
                   backend=jax.default_backend(), jax=jax.__version__, ebm_numpyro=ebm.__version__,
                   python=platform.python_version(), cpu_count=os.cpu_count(), load_average=list(os.getloadavg()))
    write_results(payload, "sharpness", args.out)
    return r


if __name__ == "__main__":
    main()
