"""RBM on scikit-learn's digits: ebm_numpyro (CD-1, PCD-1) vs scikit-learn's BernoulliRBM.

Digits binarised (pixel > 8 of 16), 80/20 held-out split, 64 visible x 64 hidden units,
the same learning rate, batch size, epochs and initialisation scale (N(0, 0.01²) weights,
zero biases) for every method. scikit-learn's BernoulliRBM is itself PCD-1 with
``batch_size`` persistent chains and plain SGD; ours uses ``optax.sgd(lr)`` (identical update).

Also ``fit`` with its defaults (only the batch size set; its default history is free for a
model this size) against ``BernoulliRBM`` with its defaults (only ``n_components`` and
``batch_size`` set), wall-clock seconds per epoch.

Over ``--seeds`` seeds (data split, initialisation, training randomness). Reported: seconds
per epoch (ours: mean over epochs 2..E of the jit-compiled epoch, compilation reported
separately; scikit-learn: total ``fit`` time / epochs) and held-out mean log-likelihood with
log Z by AIS (base-rate model, ``--ais-temperatures`` betas, ``--ais-chains`` chains) for all
models, scikit-learn's converted to an ``ebm.RBM``.

    python benchmarks/rbm_digits.py            # full run (writes benchmarks/results/rbm_digits.json)
    python benchmarks/rbm_digits.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np
import optax

import ebm_numpyro as ebm
from ebm_numpyro import learning

from _results import write_results


def heldout(model, x_test, x_train, key, chains, temps):
    """Held-out and train mean log-likelihood with one AIS estimate of log Z."""
    res = learning.ais_log_partition(model, key, num_chains=chains, num_temperatures=temps, data=x_train)
    logz = float(res.log_partition)
    ll = lambda x: float(np.mean(-np.asarray(model.data_energy(np.asarray(x, np.float32))))) - logz  # noqa: E731
    return ll(x_test), ll(x_train), logz, float(res.stderr)


def run_seed(args, seed):
    x_train, x_test = ebm.datasets.digits_binary(seed=seed)
    nv, nh = x_train.shape[1], args.hidden
    rng = np.random.default_rng(seed)
    init = ebm.RBM(rng.normal(0.0, 0.01, size=(nv, nh)), np.zeros(nv), np.zeros(nh))
    models, secs = {}, {}
    for method in ("cd", "pcd"):
        res = learning.fit(
            init, x_train, method=method, k=1, optimizer=optax.sgd(args.lr), epochs=args.epochs,
            batch_size=args.batch_size, key=jax.random.key(seed), num_chains=args.batch_size,
            log_likelihood=None, progress=not args.no_progress,
        )
        s = np.asarray(res.history["seconds"])
        name = f"ebm_numpyro_{method}1"
        models[name] = res.model
        steady = s[1:] if len(s) > 1 else s
        secs[name] = (float(np.mean(steady)), float(s[0]), float(np.median(steady)))

    from sklearn.neural_network import BernoulliRBM

    # defaults against defaults: wall-clock seconds per epoch of `fit` with only the batch size
    # set, history included (epochs 2..E), and BernoulliRBM with only n_components and batch_size set
    fit_defaults = lambda epochs: learning.fit(init, x_train, batch_size=args.batch_size, epochs=epochs,  # noqa: E731
                                               key=jax.random.key(seed), progress=False)
    fit_defaults(1)
    t0 = time.perf_counter()
    fit_defaults(args.epochs)
    defaults_ours = (time.perf_counter() - t0) / args.epochs
    sk_default = BernoulliRBM(n_components=nh, batch_size=args.batch_size, n_iter=args.epochs, random_state=seed)
    t0 = time.perf_counter()
    sk_default.fit(x_train.astype(np.float64))
    defaults_sk = (time.perf_counter() - t0) / args.epochs
    print(f"seed {seed} defaults: ebm.learning.fit {defaults_ours * 1e3:.2f} ms/epoch (with its default history), "
          f"sklearn BernoulliRBM {defaults_sk * 1e3:.2f} ms/epoch, speed-up {defaults_sk / defaults_ours:.1f}x")

    sk = BernoulliRBM(n_components=nh, learning_rate=args.lr, batch_size=args.batch_size,
                      n_iter=args.epochs, random_state=seed, verbose=False)
    t0 = time.perf_counter()
    sk.fit(x_train.astype(np.float64))
    models["sklearn_bernoulli_rbm_pcd1"] = ebm.RBM(sk.components_.T, sk.intercept_visible_, sk.intercept_hidden_)
    secs["sklearn_bernoulli_rbm_pcd1"] = ((time.perf_counter() - t0) / args.epochs, None, None)

    out = {}
    for i, (name, model) in enumerate(models.items()):
        test, train, logz, se = heldout(model, x_test, x_train, jax.random.key(1000 * seed + i),
                                        args.ais_chains, args.ais_temperatures)
        out[name] = dict(seconds_per_epoch=secs[name][0], first_epoch_seconds_incl_compile=secs[name][1],
                         median_seconds_per_epoch=secs[name][2],
                         heldout_log_likelihood=test, train_log_likelihood=train, log_partition=logz,
                         log_partition_se=se)
        print(f"seed {seed} {name:28s} {secs[name][0] * 1e3:7.2f} ms/epoch  held-out LL {test:8.3f} "
              f"(AIS se {se:.3f})  train {train:8.3f}")
    out["defaults"] = dict(ebm_numpyro_fit_seconds_per_epoch=defaults_ours, sklearn_seconds_per_epoch=defaults_sk)
    return out, len(x_train), len(x_test)


def run(args):
    per_seed = []
    for seed in range(args.seed, args.seed + args.seeds):
        res, n_train, n_test = run_seed(args, seed)
        per_seed.append(res)
    names = [n for n in per_seed[0] if n != "defaults"]
    sk = "sklearn_bernoulli_rbm_pcd1"
    summary = {}
    for name in names:
        sec = np.array([r[name]["seconds_per_epoch"] for r in per_seed])
        ll = np.array([r[name]["heldout_log_likelihood"] for r in per_seed])
        sk_sec = np.array([r[sk]["seconds_per_epoch"] for r in per_seed])
        sk_ll = np.array([r[sk]["heldout_log_likelihood"] for r in per_seed])
        summary[name] = dict(
            seconds_per_epoch_mean=float(sec.mean()),
            speedup_vs_sklearn_mean=float((sk_sec / sec).mean()),
            heldout_log_likelihood_mean=float(ll.mean()),
            heldout_log_likelihood_sd=float(ll.std(ddof=1)) if len(ll) > 1 else 0.0,
            heldout_minus_sklearn_mean=float((ll - sk_ll).mean()),
        )
        s = summary[name]
        print(f"{name:28s} {s['seconds_per_epoch_mean'] * 1e3:7.2f} ms/epoch  speed-up {s['speedup_vs_sklearn_mean']:5.1f}x  "
              f"held-out LL {s['heldout_log_likelihood_mean']:8.3f} ± {s['heldout_log_likelihood_sd']:.3f} (sd over seeds)"
              f"  vs sklearn {s['heldout_minus_sklearn_mean']:+.3f}")
    out = dict(
        config=dict(vars(args), n_train=n_train, n_test=n_test, n_visible=64, n_hidden=args.hidden,
                    binarisation="pixel > 8 (of 16)", optimizer="sgd", init="N(0, 0.01^2) weights, zero biases",
                    timing="ours: mean of epochs 2..E (jit-compiled; the first epoch, with compilation, reported separately); sklearn: fit time / epochs"),
        environment=dict(jax=jax.__version__, backend=jax.default_backend(), machine=platform.machine(),
                         cpu_count=os.cpu_count()),
        summary=summary,
        per_seed=per_seed,
    )
    if not args.quick:
        write_results(out, "rbm_digits")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few epochs, small AIS; does not write the JSON")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="first seed (split, init, training)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds")
    p.add_argument("--ais-chains", type=int, default=200)
    p.add_argument("--ais-temperatures", type=int, default=20000)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds, args.ais_chains, args.ais_temperatures = 3, 1, 50, 1000
    return run(args)


if __name__ == "__main__":
    main()
