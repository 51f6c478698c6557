"""Stochastic gradient Langevin dynamics (Welling & Teh 2011) as a NumPyro ``MCMCKernel``.

The functional core is :func:`sgld_step` (one step on a carried :class:`SGLDState`); the
class :class:`SGLD` is a thin adapter that builds the stochastic gradient either from a
NumPyro model with a subsample plate or from a user ``potential_fn(params, batch)``.
"""

from __future__ import annotations

import functools
from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax, random
from numpyro import handlers
from numpyro.infer.initialization import init_to_sample, init_to_uniform
from numpyro.infer.util import initialize_model
from numpyro.util import identity, is_prng_key

from .._checks import check_int, check_positive, check_temperature, is_concrete
from ..schedules import constant
from ._common import CachedFnKernel, float_params, split_init_key
from ._moves import langevin_step

__all__ = ["SGLD", "SGLDState", "sgld_step", "subsample_plates"]

SGLDState = namedtuple(
    "SGLDState",
    ["i", "z", "potential_energy", "step_size", "temperature", "sampling_phase", "second_moment", "rng_key"],
)
"""State of :class:`SGLD` (one chain; every field gains a leading chain axis when vectorized).

- **i** - number of steps taken so far (warm-up included); schedules are evaluated at ``i``.
- **z** - current position (a dict of unconstrained sites for a model, else the pytree of
  ``init_params``).
- **potential_energy** - minibatch estimate of :math:`U(z)` evaluated before the last move.
- **step_size** - :math:`\\varepsilon` used by the last move.
- **temperature** - :math:`T` used by the last move.
- **sampling_phase** - whether the last move was a sampling step (``False``: an exploration
  step of cyclical SG-MCMC, taken without noise).
- **second_moment** - RMSprop running average :math:`V` of the squared stochastic gradient
  (pSGLD); ``()`` without preconditioning.
- **rng_key** - random key for the next step.
"""

_SUBSAMPLE_KWARG = "_ebm_subsample_indices"
_SCHEDULE_CHECK_STEPS = 10_000


# --------------------------------------------------------------------------- functional core


def sgld_step(state, key_batch, key_noise, potential_and_grad, step_size_fn, temperature_fn,
              phase_fn, preconditioning=None, rmsprop_decay=0.99, rmsprop_epsilon=1e-5):
    """One SGLD step (Welling & Teh 2011), optionally RMSprop-preconditioned (pSGLD, Li et al. 2016).

    With :math:`\\hat U` an unbiased minibatch estimate of the potential
    :math:`U(\\theta) = -\\log p(\\theta) - \\sum_{n=1}^N \\log p(x_n\\mid\\theta)`:

    .. math::
        \\theta_{t+1} = \\theta_t - \\frac{\\varepsilon_t}{2} G_t \\nabla\\hat U(\\theta_t)
                        + \\sqrt{\\varepsilon_t T_t}\\; G_t^{1/2}\\,\\xi_t,\\qquad \\xi_t\\sim N(0, I)

    i.e. :math:`\\theta + (\\varepsilon/2)\\nabla\\log\\tilde p + N(0, \\varepsilon T)` for ``G = I``.
    BlackJAX's ``sgld`` uses :math:`\\theta + \\epsilon\\nabla\\log\\tilde p + \\sqrt{2T\\epsilon}\\,\\xi`,
    so its :math:`\\epsilon` equals our :math:`\\varepsilon/2`. With RMSprop,
    :math:`V_t = \\alpha V_{t-1} + (1-\\alpha)\\nabla\\hat U\\odot\\nabla\\hat U` and
    :math:`G_t = 1/(\\lambda + \\sqrt{V_t})` (the :math:`\\Gamma` correction term of Li et al.
    is dropped, as in their experiments). In the exploration phase of cSGLD the noise is
    switched off. ``potential_and_grad(key, z) -> (U_hat, grad)`` draws its own minibatch
    with ``key_batch``; ``key_noise`` drives the Langevin noise.

    Returns ``(new_state, finite)`` where ``finite`` says whether the new position is finite
    (a NaN or infinite gradient always shows up there in the same step).
    """
    pe, grad = potential_and_grad(key_batch, state.z)
    eps = step_size_fn(state.i)
    temp = temperature_fn(state.i)
    phase = phase_fn(state.i)
    second_moment = state.second_moment
    precond = None
    if preconditioning == "rmsprop":
        second_moment = jax.tree.map(
            lambda v, g: rmsprop_decay * v + (1.0 - rmsprop_decay) * g * g, second_moment, grad
        )
        precond = jax.tree.map(lambda v: 1.0 / (rmsprop_epsilon + jnp.sqrt(v)), second_moment)
    z = langevin_step(key_noise, state.z, grad, eps, temp, preconditioner=precond, noise=phase)
    finite = jnp.isfinite(sum(jnp.sum(x) for x in jax.tree.leaves(z)))
    new_state = SGLDState(
        state.i + 1, z, jnp.asarray(pe, state.potential_energy.dtype), jnp.asarray(eps), jnp.asarray(temp), jnp.asarray(phase),
        second_moment, state.rng_key,
    )
    return new_state, finite


# --------------------------------------------------------------------------- model plumbing


def _subsampled_model(model, *args, **kwargs):
    """Run ``model`` with the indices of its subsample plates substituted (plate name -> indices).

    NumPyro's ``plate`` sends its indices through the effect-handler stack as a ``"plate"``
    message, so ``handlers.substitute`` fixes them, exactly as HMCECS does; the plate then
    slices ``numpyro.subsample`` data and scales the likelihood by ``N / B`` as usual.
    """
    indices = kwargs.pop(_SUBSAMPLE_KWARG, None) or {}
    with handlers.substitute(data=indices):
        return model(*args, **kwargs)


def _prototype_value(msg):
    """Prototype values: the first ``B`` indices for a subsample plate (no O(N) shuffle),
    ``init_to_sample`` for sample sites."""
    if msg["type"] == "plate":
        size, subsample_size = msg["args"]
        return None if subsample_size is None else jnp.arange(subsample_size)
    return init_to_sample(msg)


def subsample_plates(model, rng_key, model_args=(), model_kwargs=None):
    """``{plate_name: (size, subsample_size)}`` for the subsample plates of a NumPyro model.

    Found from one prototype run of the model (latent values from ``init_to_sample``,
    plate indices ``0..B-1``); only plates with ``subsample_size < size`` are listed.
    """
    model_kwargs = {} if model_kwargs is None else model_kwargs
    tr = handlers.trace(
        handlers.substitute(handlers.seed(model, rng_key), substitute_fn=_prototype_value)
    ).get_trace(*model_args, **model_kwargs)
    return {
        name: tuple(int(v) for v in site["args"])
        for name, site in tr.items()
        if site["type"] == "plate" and site["args"][1] is not None and site["args"][0] > site["args"][1]
    }


def _as_schedule(value, name, check):
    """A constant or a callable schedule -> callable; constants are validated now."""
    if callable(value):
        return value
    check(value, name)
    return constant(float(value))


def _always_sampling(t):
    return jnp.ones(jnp.shape(t), bool)


def _check_schedule(fn, name):
    """Evaluate a schedule on its first steps (concretely, before compiling) and check > 0."""
    t = np.arange(_SCHEDULE_CHECK_STEPS)
    vals = np.asarray(jax.device_get(fn(jnp.asarray(t))), dtype=np.float64)
    vals = np.broadcast_to(vals, t.shape)
    bad = ~(np.isfinite(vals) & (vals > 0))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"`{name}` schedule must return finite values > 0; step {k} gives {vals[k]!r}"
        )


def _raise_non_finite(step, num_warmup):
    step = int(step)
    phase = (
        f"warm-up step {step}" if step < num_warmup else f"sampling step {step - num_warmup}"
    )
    raise FloatingPointError(
        f"SGLD: the position became NaN or infinite (non-finite gradient) at step {step} "
        f"({phase}); reduce `step_size` or check the model/potential."
    )


class SGLD(CachedFnKernel):
    """Stochastic gradient Langevin dynamics (Welling & Teh 2011) inside ``numpyro.infer.MCMC``.

    .. math::
        \\theta_{t+1} = \\theta_t + \\frac{\\varepsilon_t}{2}\\nabla\\log\\tilde p(\\theta_t)
                        + \\eta_t,\\qquad \\eta_t \\sim N(0, \\varepsilon_t T)

    where :math:`\\nabla\\log\\tilde p` is the minibatch estimate
    :math:`\\nabla\\log p(\\theta) + \\frac{N}{B}\\sum_{b}\\nabla\\log p(x_b\\mid\\theta)`. The
    temperature ``T`` is the noise level: the chain targets :math:`p(\\theta\\mid x)^{1/T}`
    (up to the discretisation error of order :math:`\\varepsilon`). BlackJAX's ``sgld`` writes
    :math:`\\theta + \\epsilon\\nabla\\log\\tilde p + \\sqrt{2T\\epsilon}\\,\\xi`: its
    :math:`\\epsilon` is our :math:`\\varepsilon/2`.

    Give exactly one of

    - ``model``: an ordinary NumPyro model whose likelihood sits in
      ``numpyro.plate(name, N, subsample_size=B)``. Each step draws fresh plate indices and
      substitutes them into the plate (NumPyro's own subsample machinery, as HMCECS uses);
      the plate scales the minibatch log-likelihood by ``N / B``. Indices are drawn **with
      replacement** by ``randint`` - O(B) per step, never O(N) (a without-replacement draw
      needs a permutation of N); the gradient stays unbiased. The kernel samples in
      NumPyro's unconstrained space; samples are returned constrained.
    - ``potential_fn(params, batch)``: an unbiased estimate of the full-data potential
      :math:`U = -\\log p(\\theta) - \\sum_{n=1}^N \\log p(x_n\\mid\\theta)` from a minibatch
      (scale the batch term by ``N / B`` yourself), with ``data`` (a pytree of arrays with
      leading axis N) and ``batch_size``; rows are drawn with replacement as above. With
      ``batch_size=None`` the whole ``data`` is passed (full-batch Langevin), and with
      ``data=None`` the potential is called as ``potential_fn(params)``. Requires
      ``init_params`` in ``MCMC.run``.

    :param step_size: :math:`\\varepsilon` > 0, or a schedule ``t -> step size`` such as
        :func:`ebm_numpyro.schedules.polynomial_decay` or
        :func:`~ebm_numpyro.schedules.cyclical_step_size` (whose ``sampling_phase`` attribute
        switches the noise off during cSGLD exploration).
    :param temperature: T > 0, or a schedule ``t -> T``.
    :param sampling_phase: optional schedule ``t -> bool`` (overrides the step size's).
    :param preconditioning: ``None`` or ``"rmsprop"`` (pSGLD, Li et al. 2016).
    :param require_subsample: with ``model=``, raise ``ValueError`` when the model has no
        subsample plate (set ``False`` to run full-batch Langevin on such a model).
    :param check_finite: stop the run with an error naming the step when the stochastic
        potential or its gradient is NaN/inf.

    Extra fields for ``MCMC(..., extra_fields=...)``: ``"step_size"``, ``"temperature"``,
    ``"sampling_phase"``, ``"potential_energy"``. Schedules run on the global step count
    ``i`` (warm-up included), which ``post_warmup_state`` carries, so resuming continues
    them. Vectorized chains (``chain_method="vectorized"``) are supported.

    **Non-finite gradients.** Each step computes a finite flag per chain (is the new
    position finite? a NaN/inf gradient always shows up there in the same step); the kernel
    reduces it over chains and, in a ``lax.cond`` whose failure branch holds a
    ``jax.debug.callback``, raises ``FloatingPointError`` naming the step (global index,
    and warm-up or sampling index). A healthy run makes no host round trip (the callback
    branch never executes); a failed run aborts at that step and ``MCMC.run`` raises a
    ``JaxRuntimeError`` carrying the message. Alternatives were rejected: ``checkify`` would
    need ``MCMC``'s own ``jit`` to be wrapped, and a flag carried in the state and checked
    after the run would let the run continue on NaNs. ``check_finite=False`` removes the
    check. The initial position is checked eagerly in ``init`` (``ValueError``).

    Example::

        def model(x):
            mu = numpyro.sample("mu", dist.Normal(0, 10))
            with numpyro.plate("data", x.shape[0], subsample_size=100):
                numpyro.sample("obs", dist.Normal(mu, 1), obs=numpyro.subsample(x, event_dim=0))

        mcmc = MCMC(ebm.SGLD(model, step_size=1e-4), num_warmup=1000, num_samples=5000)
        mcmc.run(random.PRNGKey(0), x)
    """

    sample_field = "z"

    def __init__(self, model=None, potential_fn=None, step_size=1e-4, temperature=1.0, *,
                 data=None, batch_size=None, sampling_phase=None, preconditioning=None,
                 rmsprop_decay=0.99, rmsprop_epsilon=1e-5, require_subsample=True,
                 check_finite=True, init_strategy=init_to_uniform):
        if (model is None) == (potential_fn is None):
            raise ValueError("SGLD: give exactly one of `model` or `potential_fn`.")
        if model is not None and (data is not None or batch_size is not None):
            raise ValueError(
                "SGLD: `data` and `batch_size` go with `potential_fn`; a model subsamples "
                "through numpyro.plate(..., subsample_size=B)."
            )
        self._model = model
        self._potential_fn = potential_fn
        self._step_size_fn = _as_schedule(step_size, "step_size", check_positive)
        self._temperature_fn = _as_schedule(temperature, "temperature", check_temperature)
        _check_schedule(self._step_size_fn, "step_size")
        _check_schedule(self._temperature_fn, "temperature")
        if sampling_phase is None:
            sampling_phase = getattr(step_size, "sampling_phase", None)
        if sampling_phase is not None and not callable(sampling_phase):
            raise ValueError(f"`sampling_phase` must be a schedule t -> bool; got {sampling_phase!r}")
        self._phase_fn = sampling_phase or _always_sampling
        if preconditioning not in (None, "rmsprop"):
            raise ValueError(f"`preconditioning` must be None or 'rmsprop'; got {preconditioning!r}")
        self._preconditioning = preconditioning
        if not 0.0 <= float(rmsprop_decay) < 1.0:
            raise ValueError(f"`rmsprop_decay` must lie in [0, 1); got {rmsprop_decay!r}")
        check_positive(rmsprop_epsilon, "rmsprop_epsilon")
        self._rmsprop = (float(rmsprop_decay), float(rmsprop_epsilon))
        self._data = data
        self._data_size = None
        if data is not None:
            leaves = jax.tree.leaves(data)
            sizes = {int(jnp.shape(x)[0]) if jnp.ndim(x) else None for x in leaves}
            if not leaves or len(sizes) != 1 or None in sizes:
                raise ValueError(
                    "SGLD: `data` must be a pytree of arrays sharing their leading (data) axis; "
                    f"got leading sizes {sorted(map(str, sizes))}"
                )
            self._data_size = sizes.pop()
        if batch_size is not None:
            if data is None:
                raise ValueError("SGLD: `batch_size` needs `data`.")
            batch_size = check_int(batch_size, "batch_size", 1)
            if batch_size > self._data_size:
                raise ValueError(
                    f"`batch_size` must be <= the number of data rows ({self._data_size}); got {batch_size}"
                )
        self._batch_size = batch_size
        self._require_subsample = bool(require_subsample)
        self._check_finite = bool(check_finite)
        self._init_strategy = init_strategy
        self._plates = None
        self._potential_fn_gen = None
        self._postprocess_fn_gen = None
        self._num_warmup = 0
        self._sample_fn = None

    # ------------------------------------------------------------------ NumPyro interface

    @property
    def model(self):
        return self._model

    @property
    def default_fields(self):
        return ("z",)

    def get_diagnostics_str(self, state):
        return f"step size {float(state.step_size):.2e}, T {float(state.temperature):.3g}"

    def postprocess_fn(self, args, kwargs):
        if self._postprocess_fn_gen is None:
            return identity
        kwargs = dict(kwargs or {})
        kwargs[_SUBSAMPLE_KWARG] = self._fixed_indices()
        return self._postprocess_fn_gen(*args, **kwargs)

    def _fixed_indices(self):
        # deterministic sites inside a subsample plate are reported on its first B rows
        return {name: jnp.arange(b) for name, (_, b) in (self._plates or {}).items()}

    def _init_model(self, rng_key, model_args, model_kwargs, init_params):
        vectorized = not is_prng_key(rng_key)
        key_proto = rng_key[0] if vectorized else rng_key
        model_kwargs = dict(model_kwargs or {})
        self._plates = subsample_plates(self._model, key_proto, model_args, model_kwargs)
        if not self._plates and self._require_subsample:
            raise ValueError(
                "SGLD(model=...) needs a subsample plate: put the likelihood in "
                "numpyro.plate(name, N, subsample_size=B) with B < N (or pass "
                "require_subsample=False for full-batch Langevin)."
            )
        model = functools.partial(_subsampled_model, self._model)
        kwargs = {**model_kwargs, _SUBSAMPLE_KWARG: self._fixed_indices()}
        info, potential_fn_gen, postprocess_fn_gen, _ = initialize_model(
            rng_key, model, init_strategy=self._init_strategy, dynamic_args=True,
            model_args=model_args, model_kwargs=kwargs, validate_grad=False,
        )
        self._potential_fn_gen = potential_fn_gen
        self._postprocess_fn_gen = postprocess_fn_gen
        return info[0] if init_params is None else init_params

    def _potential_and_grad(self, model_args, model_kwargs):
        """``(key, z) -> (U_hat(z), grad)`` on a fresh minibatch."""
        if self._model is not None:
            plates = self._plates
            kwargs = dict(model_kwargs or {})

            def fn(key, z):
                keys = random.split(key, len(plates)) if len(plates) > 1 else [key]
                idx = {
                    name: random.randint(k, (b,), 0, n)
                    for k, (name, (n, b)) in zip(keys, plates.items())
                }
                pe_fn = self._potential_fn_gen(*model_args, **{**kwargs, _SUBSAMPLE_KWARG: idx})
                return jax.value_and_grad(pe_fn)(z)

            return fn
        potential_fn, data, b, n = self._potential_fn, self._data, self._batch_size, self._data_size
        if data is None:
            return lambda key, z: jax.value_and_grad(potential_fn)(z)
        if b is None:
            return lambda key, z: jax.value_and_grad(potential_fn)(z, data)

        def fn(key, z):
            idx = random.randint(key, (b,), 0, n)
            batch = jax.tree.map(lambda x: jnp.take(x, idx, axis=0), data)
            return jax.value_and_grad(potential_fn)(z, batch)

        return fn

    def _step(self, state, model_args, model_kwargs):
        key, key_batch, key_noise = random.split(state.rng_key, 3)
        new, finite = sgld_step(
            state, key_batch, key_noise, self._potential_and_grad(model_args, model_kwargs),
            self._step_size_fn, self._temperature_fn, self._phase_fn,
            self._preconditioning, *self._rmsprop,
        )
        return new._replace(rng_key=key), finite

    def _init_one(self, z, rng_key):
        second = jax.tree.map(jnp.zeros_like, z) if self._preconditioning else ()
        dtype = jnp.result_type(*[jnp.result_type(x) for x in jax.tree.leaves(z)] or [float])
        i = jnp.zeros((), jnp.int32)
        return SGLDState(
            i, z, jnp.zeros((), dtype), jnp.asarray(self._step_size_fn(i)),
            jnp.asarray(self._temperature_fn(i)), jnp.asarray(self._phase_fn(i)), second, rng_key,
        )

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):
        vectorized, rng_key, key_init = split_init_key(rng_key)
        if self._model is not None:
            init_params = self._init_model(key_init, model_args, model_kwargs, init_params)
        elif init_params is None:
            raise ValueError("SGLD(potential_fn=...) needs `init_params` in MCMC.run.")
        init_params = float_params(init_params)
        self._num_warmup = int(num_warmup)
        if vectorized:
            state = jax.vmap(self._init_one)(init_params, rng_key)
        else:
            state = self._init_one(init_params, rng_key)
        self._check_init(state, model_args, model_kwargs, vectorized)
        self._sample_fn = self._make_sample_fn(vectorized)
        return state

    def _check_init(self, state, model_args, model_kwargs, vectorized):
        fn = self._potential_and_grad(model_args, model_kwargs)
        f = jax.vmap(fn) if vectorized else fn
        pe, grad = f(state.rng_key, state.z)
        if is_concrete(pe):
            ok = bool(np.all(np.isfinite(np.asarray(pe)))) and all(
                bool(np.all(np.isfinite(np.asarray(g)))) for g in jax.tree.leaves(grad)
            )
            if not ok:
                raise ValueError(
                    "SGLD: the potential or its gradient is NaN or infinite at the initial "
                    "position; choose other `init_params` / `init_strategy`."
                )

    def _make_sample_fn(self, vectorized):
        step = jax.vmap(self._step, in_axes=(0, None, None)) if vectorized else self._step
        check, num_warmup = self._check_finite, self._num_warmup

        def sample_fn(state, model_args, model_kwargs):
            new, finite = step(state, model_args, model_kwargs)
            if check:
                step_index = jnp.max(state.i) if vectorized else state.i
                lax.cond(
                    jnp.all(finite),
                    lambda s: None,
                    lambda s: jax.debug.callback(functools.partial(_raise_non_finite, num_warmup=num_warmup), s),
                    step_index,
                )
            return new

        return sample_fn

    def sample(self, state, model_args, model_kwargs):
        """One SGLD step from ``state`` (see :func:`sgld_step`)."""
        return self._sample_fn(state, model_args, model_kwargs)
