"""Training loop: minibatch gradient ascent on the log-likelihood with any optax optimizer.

One epoch is one jit-compiled ``lax.scan`` over shuffled minibatches; each step computes
the positive-minus-negative-phase gradient (exact, CD-k or PCD, see
:mod:`ebm_numpyro.learning.gradients`) and applies ``optimizer.update(-g, ...)`` (optax
minimises, we ascend the log-likelihood). Python only loops over epochs (progress bar,
evaluation, checkpoints).
"""

from __future__ import annotations

import functools
import os
import pickle
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import exact
from .._checks import check_int
from .ais import ais_log_likelihood
from .gradients import validate_data
from .negative import Exact, Langevin, NegativePhase, negative_phase as make_negative_phase

__all__ = ["FitResult", "fit", "save_checkpoint", "load_checkpoint"]
#: One default optimizer object: the compiled epoch is cached on it (a new ``optax.sgd`` per
#: call would recompile every call to :func:`fit`).
_DEFAULT_OPTIMIZER = optax.sgd(0.1)


class FitResult(NamedTuple):
    """Everything needed to continue training.

    ``model`` trained model; ``opt_state`` optax state; ``chains`` persistent chains (PCD, else
    None); ``epoch`` number of completed epochs; ``key`` the base key (epoch e uses
    ``fold_in(key, e)``); ``history`` dict of lists: ``epoch``, ``log_likelihood``,
    ``log_likelihood_se`` (0 when exact) at the evaluated epochs, and ``seconds``: the training
    time of every epoch (the first one includes compilation).
    """

    model: Any
    opt_state: Any
    chains: Any
    epoch: int
    key: Any
    history: dict


def _to_numpy(tree):
    return jax.tree.map(lambda x: np.asarray(x) if isinstance(x, (jax.Array, np.ndarray)) else x, tree)


def save_checkpoint(path, result: FitResult) -> None:
    """Pickle a :class:`FitResult` (parameters, optimizer state, chains, key, history) atomically."""
    typed = jnp.issubdtype(result.key.dtype, jax.dtypes.prng_key)
    key_data = np.asarray(jax.random.key_data(result.key) if typed else result.key)
    payload = dict(
        model=_to_numpy(result.model),
        opt_state=_to_numpy(result.opt_state),
        chains=None if result.chains is None else np.asarray(result.chains),
        epoch=int(result.epoch),
        key_data=key_data,
        typed_key=bool(typed),
        history={k: list(v) for k, v in result.history.items()},
    )
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(payload, f)
    os.replace(tmp, path)


def load_checkpoint(path) -> FitResult:
    """Load a checkpoint written by :func:`save_checkpoint` (leaves become JAX arrays)."""
    with open(path, "rb") as f:
        p = pickle.load(f)
    to_jax = lambda t: jax.tree.map(jnp.asarray, t)  # noqa: E731
    return FitResult(
        model=to_jax(p["model"]),
        opt_state=to_jax(p["opt_state"]),
        chains=None if p["chains"] is None else jnp.asarray(p["chains"]),
        epoch=p["epoch"],
        key=jax.random.wrap_key_data(jnp.asarray(p["key_data"])) if p["typed_key"] else jnp.asarray(p["key_data"]),
        history=p["history"],
    )


@functools.partial(jax.jit, static_argnames=("optimizer", "phase", "batch_size"))
def _train_epoch(model, opt_state, chains, data, key, optimizer, phase, batch_size):
    n = data.shape[0]
    num_batches = n // batch_size
    kperm, kstep = jax.random.split(key)
    perm = jax.random.permutation(kperm, n)[: num_batches * batch_size]
    batches = data[perm].reshape((num_batches, batch_size) + data.shape[1:])
    keys = jax.random.split(kstep, num_batches)

    def step(carry, inputs):
        model, opt_state, chains = carry
        batch, key = inputs
        grad, chains = phase.gradient(model, batch, chains, key)
        updates, opt_state = optimizer.update(jax.tree.map(jnp.negative, grad), opt_state, model)
        model = optax.apply_updates(model, updates)
        finite = jnp.all(jnp.array([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves((model, grad))]))
        return (model, opt_state, chains), finite

    (model, opt_state, chains), finite = jax.lax.scan(step, (model, opt_state, chains), (batches, keys))
    return model, opt_state, chains, finite


def _evaluation(how, model, max_exact_units):
    """The log-likelihood evaluation that ``how`` means for ``model``: "exact", "ais" or None.
    A continuous model is evaluated exactly when it has a closed-form ``log_partition``."""
    if not model.is_discrete:
        closed = bool(getattr(model, "has_log_partition", False))
        if how in ("exact", "ais") and not closed:
            raise ValueError(f"`log_likelihood={how!r}` needs a continuous model with a log_partition "
                             f"(ebm.GaussianEnergy, or ebm.ParametricEnergy with a `support` box); {type(model).__name__} "
                             "has none: pass None")
        if how == "ais":
            raise ValueError("`log_likelihood='ais'` applies to discrete models; use 'exact' or None")
        return "exact" if how == "auto" and closed else (None if how == "auto" else how)
    if how == "auto":
        return "exact" if model.enumerated_units <= max_exact_units else None
    return how


def _exact_log_likelihood(model, data):
    """Mean exact log-likelihood: enumeration for discrete models, the closed-form
    :math:`-\\langle E\\rangle - \\log Z` for continuous ones."""
    if model.is_discrete:
        return exact.log_likelihood(model, data)
    return -jnp.mean(model.energy(data)) - model.log_partition()


def _evaluate(model, data, key, how, ais_kwargs):
    if how == "exact":
        return float(_exact_log_likelihood(model, data)), 0.0
    est, se = ais_log_likelihood(model, data, key, **ais_kwargs)
    return float(est), float(se)


def fit(
    model,
    data,
    method="cd",
    k: int = 1,
    optimizer: optax.GradientTransformation | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    key=None,
    *,
    negative_phase: NegativePhase | None = None,
    num_chains: int | None = None,
    eval_data=None,
    eval_every: int = 1,
    log_likelihood: str | None = "auto",
    max_exact_units: int = 20,
    ais_kwargs: dict | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
) -> FitResult:
    """Fit an EBM by gradient ascent on the mean log-likelihood.

    .. math::
        g = \\langle -\\nabla_\\theta F\\rangle_{\\text{batch}} - \\langle -\\nabla_\\theta F\\rangle_{\\text{neg}},
        \\qquad \\theta \\leftarrow \\theta + \\text{optimizer}(g)

    (:math:`F` = ``model.data_energy``: the energy, or an RBM's free energy) with the negative
    phase ``negative_phase``: an object (:class:`~ebm_numpyro.learning.CD` ``(k)``,
    :class:`~ebm_numpyro.learning.PCD` ``(k, num_chains)``, :class:`~ebm_numpyro.learning.Exact`
    ``()``, :mod:`ebm_numpyro.learning.negative`), or, as sugar, ``method`` with ``k`` and
    ``num_chains``: ``"exact"`` (enumeration), ``"cd"`` (CD-k, k Gibbs steps from the batch) or
    ``"pcd"`` (``num_chains`` persistent chains, default ``batch_size``, started at random data
    rows, advanced k steps per update; it wants a smaller learning rate than CD, its chains
    lagging behind a fast-moving model).

    Args:
        model: any discrete model: RBM (visible data), BoltzmannMachine, Ising, lattice or sparse
            Ising (fully visible data); or a continuous energy model (``ebm.GaussianEnergy``)
            with a :class:`~ebm_numpyro.learning.Langevin` negative phase (its exact
            log-likelihood, from the closed-form ``log_partition``, is the history).
        data: training examples, shape ``(N,) + model.data_shape`` with {0,1} (±1 for Ising) values.
        optimizer: any optax ``GradientTransformation`` (default ``optax.sgd(0.1)``).
        epochs: total number of epochs; with a checkpoint, training resumes from the saved epoch.
        batch_size: minibatch size (the last incomplete minibatch of each shuffle is dropped).
        key: PRNG key (default ``jax.random.key(0)``); epoch e uses ``fold_in(key, e)``.
        eval_data: examples for the log-likelihood history (default: ``data``).
        eval_every: evaluate every this many epochs (and after the last one).
        log_likelihood: the history's evaluation. ``"auto"`` (default): exact when the model
            enumerates at most ``max_exact_units`` units (cheap), otherwise none, so that
            training runs at full speed; ``"exact"``; ``"ais"`` (an AIS estimate of log Z at every
            evaluation, e.g. about 90 ms for a 64×64 RBM with the default ``ais_kwargs``,
            more than an epoch of training: raise ``eval_every``); None (no history).
        ais_kwargs: options for :func:`ais_log_partition` (default 100 chains, 1000 temperatures).
        checkpoint: path of a pickle written after every epoch; if it exists and ``resume``,
            parameters, optimizer state, chains, key and history are restored from it.
        progress: show a tqdm progress bar over epochs.

    Returns:
        :class:`FitResult`.

    Raises:
        FloatingPointError: a gradient or a parameter became non-finite; it names the epoch and
            the minibatch, and no non-finite parameters are returned or checkpointed (the last
            checkpoint is that of the last good epoch).
    """
    if negative_phase is not None and not isinstance(negative_phase, NegativePhase):
        raise ValueError("`negative_phase` must be a negative-phase object (ebm.learning.CD(k), PCD(k, num_chains), "
                         f"Exact()); got {type(negative_phase).__name__}")
    phase: NegativePhase = negative_phase or make_negative_phase(method, k, num_chains)
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    eval_every = check_int(eval_every, "eval_every", 1)
    if log_likelihood not in ("auto", "exact", "ais", None):
        raise ValueError(f"`log_likelihood` must be 'auto', 'exact', 'ais' or None; got {log_likelihood!r}")
    data = validate_data(model, data)
    if model.is_discrete == isinstance(phase, Langevin):
        raise ValueError(f"the {type(phase).__name__} negative phase does not apply to a "
                         f"{'discrete' if model.is_discrete else 'continuous'} model: use "
                         + ("CD(k), PCD(k) or Exact()" if model.is_discrete else "ebm.learning.Langevin(...)"))
    if isinstance(phase, Exact) and model.enumerated_units > exact.MAX_ENUMERATED_UNITS:
        exact.log_partition(model)  # raises the enumeration error (state count, time) before compiling
    evaluation = _evaluation(log_likelihood, model, max_exact_units)
    eval_data = data if eval_data is None else validate_data(model, eval_data, "eval_data")
    batch_size = min(batch_size, data.shape[0])
    optimizer = _DEFAULT_OPTIMIZER if optimizer is None else optimizer
    key = jax.random.key(0) if key is None else key
    ais_kwargs = dict(dict(num_chains=100, num_temperatures=1000), **(ais_kwargs or {}))

    if checkpoint is not None and resume and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint)
    else:
        chains = None
        if phase.persistent:
            chains = phase.init(model, data, jax.random.fold_in(key, 2**31 - 1), batch_size)
        history = dict(epoch=[], log_likelihood=[], log_likelihood_se=[], seconds=[])
        state = FitResult(model, optimizer.init(model), chains, 0, key, history)

    bar = None
    if progress:  # never touch tqdm otherwise: tqdm.auto warns in notebooks without ipywidgets
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, initial=min(state.epoch, epochs), desc=f"fit[{type(phase).__name__}]")
        except ImportError:  # pragma: no cover
            pass
    model, opt_state, chains, key, history = state.model, state.opt_state, state.chains, state.key, state.history
    chains_arg = chains if chains is not None else jnp.zeros((0,) + data.shape[1:], data.dtype)
    for epoch in range(state.epoch, epochs):
        t0 = time.perf_counter()
        new = _train_epoch(model, opt_state, chains_arg, data, jax.random.fold_in(key, epoch), optimizer, phase,
                           batch_size)
        finite = np.asarray(new[3])
        if not finite.all():
            step = int(np.argmin(finite))
            if bar is not None:
                bar.close()
            raise FloatingPointError(
                f"fit: the gradient or the parameters became non-finite (NaN or inf) at epoch {epoch + 1}, "
                f"minibatch {step + 1} of {finite.size}; the parameters of epoch {epoch} are kept"
                + (f" in the checkpoint {os.fspath(checkpoint)!r}" if checkpoint is not None else "")
                + ". Lower the learning rate or the sampler's step size, clip the gradients "
                "(optax.clip_by_global_norm), or regularise the energy.")
        model, opt_state, chains_arg = new[:3]
        seconds = time.perf_counter() - t0
        history["seconds"].append(seconds)
        if evaluation is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            ll, se = _evaluate(model, eval_data, jax.random.fold_in(key, 10**6 + epoch), evaluation, ais_kwargs)
            history["epoch"].append(epoch + 1)
            history["log_likelihood"].append(ll)
            history["log_likelihood_se"].append(se)
            if bar is not None:
                bar.set_postfix(log_likelihood=f"{ll:.4f}")
        state = FitResult(model, opt_state, chains_arg if phase.persistent else None, epoch + 1, key, history)
        if checkpoint is not None:
            save_checkpoint(checkpoint, state)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return state
