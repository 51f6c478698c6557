"""Generalized cross-entropy vs cross-entropy under 40% symmetric label noise (digits).

Zhang & Sabuncu (2018): :math:`L_q = (1 - p_y^q)/q` down-weights the gradient of examples
with small :math:`p_y` by :math:`p_y^q`, so a network memorises mislabelled examples much
more slowly than with cross-entropy. Setup: scikit-learn digits (pixels / 16), a stratified
70/30 split per seed, training labels replaced with probability ``--noise`` by a uniformly
drawn *different* class (symmetric noise), an MLP 64-128-10 (ReLU) trained with Adam on
minibatches for a fixed number of epochs (no early stopping, no clean validation data).
Reported: clean test accuracy after the last epoch, mean ± sd over seeds, for CE, GCE (q=0.7)
and truncated GCE (q=0.7, k=0.5, after plain GCE for the first quarter of the epochs, as the
paper prunes only after a warm-up).

    python benchmarks/gce_noisy_labels.py [--quick] [--out DIR]

A full run writes gce_noisy_labels.json under --out (default ./ebm-numpyro-out/benchmarks/,
untracked; --out benchmarks/results updates the recorded file).
"""

from __future__ import annotations

import argparse
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ebm_numpyro import losses

from _results import add_out_argument, write_results


def make_data(seed, noise):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.3, random_state=seed, stratify=d.target)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y_tr)) < noise
    other = (y_tr + rng.integers(1, 10, size=len(y_tr))) % 10  # uniform over the 9 other classes
    y_noisy = np.where(flip, other, y_tr)
    return x_tr, y_noisy, x_te, y_te, float(flip.mean())


def init_mlp(key, sizes):
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append((jax.random.normal(k, (m, n)) * jnp.sqrt(2.0 / m), jnp.zeros(n)))
    return params


def mlp(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def loss_fn(name, logits, y, truncate):
    if name == "ce":
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    full = losses.generalized_cross_entropy(logits, y, q=0.7)
    if name == "gce":
        return full.mean()
    # truncated L_q: plain L_q during warm-up (at p_y ~ 1/10 < k every example would be cut)
    return jnp.where(truncate, losses.generalized_cross_entropy(logits, y, q=0.7, truncation=0.5), full).mean()


@functools.partial(jax.jit, static_argnames=("name", "epochs", "batch_size", "lr"))
def train(key, x, y, name, epochs, batch_size, lr):
    kinit, kdata = jax.random.split(key)
    params = init_mlp(kinit, (x.shape[1], 128, 10))
    opt = optax.adam(lr)
    state = opt.init(params)
    nb = x.shape[0] // batch_size

    warmup = epochs // 4

    def epoch(carry, inputs):
        k, e = inputs

        def step(carry, idx):
            params, state = carry
            g = jax.grad(lambda p: loss_fn(name, mlp(p, x[idx]), y[idx], e >= warmup))(params)
            upd, state = opt.update(g, state, params)
            return (optax.apply_updates(params, upd), state), None

        perm = jax.random.permutation(k, x.shape[0])[: nb * batch_size].reshape(nb, batch_size)
        return jax.lax.scan(step, carry, perm)[0], None

    (params, _), _ = jax.lax.scan(epoch, (params, state), (jax.random.split(kdata, epochs), jnp.arange(epochs)))
    return params


def run(args):
    names = ("ce", "gce", "gce_truncated")
    acc = {n: [] for n in names}
    train_fit = {n: [] for n in names}
    for seed in range(args.seeds):
        x_tr, y_noisy, x_te, y_te, rate = make_data(seed, args.noise)
        for n in names:
            params = train(jax.random.key(seed), jnp.asarray(x_tr), jnp.asarray(y_noisy), n, args.epochs,
                           args.batch_size, args.lr)
            acc[n].append(float((mlp(params, x_te).argmax(-1) == y_te).mean()))
            train_fit[n].append(float((mlp(params, x_tr).argmax(-1) == y_noisy).mean()))
        print(f"seed {seed} (noise {rate:.3f}): " + "  ".join(f"{n} {acc[n][-1]:.4f}" for n in names))
    summary = {
        n: dict(clean_test_accuracy_mean=float(np.mean(acc[n])), clean_test_accuracy_sd=float(np.std(acc[n], ddof=1)),
                per_seed=acc[n], noisy_train_label_fit_mean=float(np.mean(train_fit[n])))
        for n in names
    }
    for n in names:
        s = summary[n]
        print(f"{n:14s} clean test accuracy {s['clean_test_accuracy_mean']:.4f} ± {s['clean_test_accuracy_sd']:.4f}"
              f"   (fits noisy train labels {s['noisy_train_label_fit_mean']:.3f})")
    out = dict(config={k: v for k, v in vars(args).items() if k != "out"}, model="MLP 64-128-10 ReLU, Adam", results=summary)
    if not args.quick:
        write_results(out, "gce_noisy_labels", args.out)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 seeds, 20 epochs; does not write the JSON")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--noise", type=float, default=0.4)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    add_out_argument(p)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = 2, 20
    return run(args)


if __name__ == "__main__":
    main()
