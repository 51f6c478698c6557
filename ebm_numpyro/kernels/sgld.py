"""Stochastic gradient Langevin dynamics (Welling & Teh 2011) as a NumPyro ``MCMCKernel``.

The functional core is :func:`sgld_step` (BlackJAX's shape: ``(key, state, gradient
estimator, params, preconditioner) -> (state, info)``); the preconditioner is an object
chosen when the kernel is built (:class:`Identity`, :class:`RMSProp`). :class:`SGLD` is a
thin adapter that builds the stochastic gradient either from a NumPyro model with a
subsample plate or from a user ``potential_fn(params, batch)``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro import handlers
from numpyro.infer.initialization import init_to_sample, init_to_uniform
from numpyro.infer.util import initialize_model
from numpyro.primitives import Messenger
from numpyro.util import is_prng_key

from .._checks import check_int, check_positive, check_temperature, is_concrete
from ..schedules import as_schedule, check_schedule
from ._base import EBMKernel
from ._moves import langevin_step, randint, split_keys

__all__ = ["SGLD", "SGLDState", "SGLDParams", "SGLDInfo", "Identity", "RMSProp", "sgld_step", "subsample_plates"]

_SUBSAMPLE_KWARG = "_ebm_subsample_indices"


class SGLDState(NamedTuple):
    """State of :class:`SGLD` (one chain; every field gains a leading chain axis when vectorized).

    - **i** - number of steps taken so far (warm-up included); schedules are evaluated at ``i``.
    - **z** - current position (a dict of unconstrained sites for a model, else the pytree of
      ``init_params``).
    - **potential_energy** - minibatch estimate of :math:`U(z)` at the position before the last move.
    - **step_size** - :math:`\\varepsilon` of the last move; **temperature** - its :math:`T`.
    - **sampling_phase** - whether the last move sampled (``False``: an exploration step of
      cyclical SG-MCMC, taken without noise).
    - **second_moment** - preconditioner state (RMSprop's running average of the squared
      gradient; ``()`` without preconditioning).
    - **diverging** - whether the last proposed move was non-finite (NaN or infinite
      gradient); the chain then stays where it was.
    - **rng_key** - random key for the next step.
    """

    i: Any
    z: Any
    potential_energy: Any
    step_size: Any
    temperature: Any
    sampling_phase: Any
    second_moment: Any
    diverging: Any
    rng_key: Any


class SGLDParams(NamedTuple):
    """Schedule values of one step: ``step_size`` :math:`\\varepsilon`, ``temperature`` T,
    ``sampling_phase`` (False: no noise)."""

    step_size: Any
    temperature: Any
    sampling_phase: Any


class SGLDInfo(NamedTuple):
    """Per-step output of :func:`sgld_step`: ``potential_energy`` (the minibatch estimate
    :math:`\\hat U` before the move) and ``finite`` (whether the proposed position is finite)."""

    potential_energy: Any
    finite: Any


class Identity(NamedTuple):
    """No preconditioning: :math:`G = I`."""

    def init(self, z):
        return ()

    def update(self, second_moment, grad):
        return (), None


class RMSProp(NamedTuple):
    """RMSprop preconditioner of pSGLD (Li et al. 2016):

    .. math::  V_t = \\alpha V_{t-1} + (1-\\alpha)\\,\\nabla\\hat U\\odot\\nabla\\hat U,\\qquad
               G_t = 1/(\\lambda + \\sqrt{V_t})

    (the :math:`\\Gamma` correction term is dropped, as in their experiments).
    """

    decay: float = 0.99
    epsilon: float = 1e-5

    def init(self, z):
        return jax.tree.map(jnp.zeros_like, z)

    def update(self, second_moment, grad):
        v = jax.tree.map(lambda v, g: self.decay * v + (1.0 - self.decay) * g * g, second_moment, grad)
        return v, jax.tree.map(lambda v: 1.0 / (self.epsilon + jnp.sqrt(v)), v)


# --------------------------------------------------------------------------- functional core


def sgld_step(key, state, grad_estimator, params: SGLDParams, preconditioner=Identity()):
    """One SGLD step (Welling & Teh 2011), optionally preconditioned (pSGLD, Li et al. 2016).

    With :math:`\\hat U` an unbiased minibatch estimate of the potential
    :math:`U(\\theta) = -\\log p(\\theta) - \\sum_{n=1}^N \\log p(x_n\\mid\\theta)`:

    .. math::
        \\theta_{t+1} = \\theta_t - \\frac{\\varepsilon_t}{2} G_t \\nabla\\hat U(\\theta_t)
                        + \\sqrt{\\varepsilon_t T_t}\\; G_t^{1/2}\\,\\xi_t,\\qquad \\xi_t\\sim N(0, I)

    i.e. :math:`\\theta + (\\varepsilon/2)\\nabla\\log\\tilde p + N(0, \\varepsilon T)` for ``G = I``.
    BlackJAX's ``sgld`` uses :math:`\\theta + \\epsilon\\nabla\\log\\tilde p + \\sqrt{2T\\epsilon}\\,\\xi`,
    so its :math:`\\epsilon` equals our :math:`\\varepsilon/2`. In the exploration phase of
    cSGLD (``params.sampling_phase`` False) the noise is switched off.
    ``grad_estimator(key, z) -> (U_hat, grad)`` draws its own minibatch.

    A non-finite proposal (a NaN or infinite gradient always shows up in the new position) is
    not taken: the chain stays at ``state.z`` and ``state.diverging`` is set.
    Returns ``(new_state, SGLDInfo)``.
    """
    key_batch, key_noise = split_keys(key)
    pe, grad = grad_estimator(key_batch, state.z)
    second_moment, precond = preconditioner.update(state.second_moment, grad)
    z = langevin_step(key_noise, state.z, grad, params.step_size, params.temperature,
                      preconditioner=precond, noise=params.sampling_phase)
    finite = jnp.isfinite(sum(jnp.sum(x) for x in jax.tree.leaves(z)))
    keep = functools.partial(jax.tree.map, lambda new, old: jnp.where(finite, new, old))
    z, second_moment = keep(z, state.z), keep(second_moment, state.second_moment)
    new_state = SGLDState(
        state.i + 1, z, jnp.asarray(pe, state.potential_energy.dtype), jnp.asarray(params.step_size),
        jnp.asarray(params.temperature), jnp.asarray(params.sampling_phase), second_moment, ~finite,
        state.rng_key,
    )
    return new_state, SGLDInfo(pe, finite)


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


def _always_sampling(t):
    return jnp.ones(jnp.shape(t), bool)


class _DivergenceWarning:
    """Host-side report of the first non-finite step of a run (called only on divergences)."""

    def __init__(self, num_warmup):
        self.num_warmup = num_warmup
        self.reported = False

    def __call__(self, step):
        if not self.reported:
            self.reported = True
            _warn_divergence(int(step), self.num_warmup)


def _warn_divergence(step, num_warmup):
    phase = f"warm-up step {step}" if step < num_warmup else f"sampling step {step - num_warmup}"
    warnings.warn(
        f"SGLD: the proposed position became NaN or infinite (non-finite gradient) at step {step} "
        f"({phase}); the chain stays at its last finite position and the step is flagged in "
        "the extra field 'diverging'. Reduce `step_size` or check the model/potential.",
        RuntimeWarning,
        stacklevel=2,
    )


class _fixed_plates(Messenger):
    """Every subsample plate (``subsample_size`` B < size N) gets fixed indices: all N rows
    (``full=True``: no subsampling, scale 1) or the first B (scale N / B), the size NumPyro's
    plate then also reads as its ``subsample_size`` (no "subsample_size does not match"
    warning, no random key needed). Plates already given indices by an inner handler are
    left alone. The names of the plates it fixed are in ``names``."""

    def __init__(self, fn=None, full=False):
        self.full = full
        self.names = set()
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "plate" or msg["value"] is not None:
            return
        size, subsample_size = msg["args"]
        if subsample_size is None or subsample_size >= size:
            return
        n = size if self.full else subsample_size
        msg["value"] = jnp.arange(n)
        msg["args"] = (size, n)
        self.names.add(msg["name"])


def _full_data_model(model, *args, **kwargs):
    """``model`` with every subsample plate covering all of its data (indices 0..N-1, scale 1)."""
    return _fixed_plates(model, full=True)(*args, **kwargs)


def _arviz_model(model, *args, **kwargs):
    """``model`` as ``az.from_numpyro`` reads it: subsample plates on their first B rows (as
    ``postprocess_fn`` reports deterministic sites) and the observed sites inside them hidden,
    so that ArviZ builds neither a pointwise log-likelihood nor ``observed_data`` for them
    (B arbitrary rows would pass for the data set)."""
    plates = _fixed_plates(model)

    def in_fixed_plate(msg):
        return (msg["type"] == "sample" and msg.get("is_observed", False)
                and any(frame.name in plates.names for frame in msg["cond_indep_stack"]))

    return handlers.block(plates, hide_fn=in_fixed_plate)(*args, **kwargs)


class SGLD(EBMKernel):
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
      replacement** by ``randint`` - O(B) per step, never O(N); the gradient stays unbiased.
      The kernel samples in NumPyro's unconstrained space; samples are returned constrained.
      ``az.from_numpyro(mcmc)`` holds the posterior and the sample stats, but no
      ``log_likelihood`` or ``observed_data`` group for the observations inside subsample
      plates (:attr:`model`): their pointwise log-likelihood is one full pass over the data
      per draw, chains x draws x N values (8 GB for 200,000 draws of N = 10,000 in float32),
      the very pass that SGLD avoids. To get it (LOO and WAIC read the draws as the posterior
      at T = 1)::

          ll = numpyro.infer.log_likelihood(mcmc.sampler.full_data_model,
                                            mcmc.get_samples(group_by_chain=True),
                                            *model_args, batch_ndims=2)
          idata = az.from_numpyro(mcmc)
          idata.add_groups(log_likelihood=ll)  # (chain, draw, N) per observed site; az.loo(idata)
    - ``potential_fn(params, batch)``: an unbiased estimate of the full-data potential
      :math:`U = -\\log p(\\theta) - \\sum_{n=1}^N \\log p(x_n\\mid\\theta)` from a minibatch
      (scale the batch term by ``N / B`` yourself), with ``data`` (a pytree of arrays with
      leading axis N) and ``batch_size``; rows are drawn with replacement as above. With
      ``batch_size=None`` the whole ``data`` is passed (full-batch Langevin), and with
      ``data=None`` the potential is called as ``potential_fn(params)``. Requires
      ``init_params`` in ``MCMC.run``.

    :param step_size: :math:`\\varepsilon` > 0, or a schedule ``t -> step size`` such as
        :func:`ebm_numpyro.schedules.polynomial_decay` or
        :func:`~ebm_numpyro.schedules.cyclical_step_size` (whose ``sampling_phase`` switches
        the noise off during cSGLD exploration).
    :param temperature: T > 0, or a schedule ``t -> T``.
    :param preconditioner: a preconditioner object, :class:`Identity` (default) or
        :class:`RMSProp` ``(decay, epsilon)`` (pSGLD), or any object with their ``init(z)`` and
        ``update(second_moment, grad) -> (second_moment, G)``.
    :param preconditioning: sugar for ``preconditioner``: ``"rmsprop"`` is
        ``RMSProp(rmsprop_decay, rmsprop_epsilon)``.
    :param require_subsample: with ``model=``, raise ``ValueError`` when the model has no
        subsample plate (set ``False`` to run full-batch Langevin on such a model).

    Extra fields for ``MCMC(..., extra_fields=...)``: ``"potential_energy"`` (the minibatch
    estimate, which ArviZ reports as ``lp``), ``"step_size"``, ``"temperature"``,
    ``"sampling_phase"``, and ``"diverging"`` (collected by default, as for NUTS, so that
    ``print_summary`` reports the number of divergences). Schedules run on the global step
    count ``i`` (warm-up included), which ``post_warmup_state`` carries, so resuming
    continues them. All three ``chain_method`` values are supported.

    **Non-finite gradients.** A step whose proposed position is NaN or infinite is not taken:
    the chain stays at its last finite position, ``diverging`` is ``True`` for that draw and
    the first such step of a run emits a ``RuntimeWarning`` naming it (warm-up or sampling
    index). A healthy run makes no host round trip. (A Python exception cannot leave a
    compiled NumPyro run with its own type: JAX re-raises it as ``JaxRuntimeError``.) The
    initial position is checked eagerly in ``init`` (``ValueError``).

    Example::

        def model(x):
            mu = numpyro.sample("mu", dist.Normal(0, 10))
            with numpyro.plate("data", x.shape[0], subsample_size=100):
                numpyro.sample("obs", dist.Normal(mu, 1), obs=numpyro.subsample(x, event_dim=0))

        mcmc = MCMC(ebm.SGLD(model, step_size=1e-4), num_warmup=1000, num_samples=5000)
        mcmc.run(random.key(0), x)
    """

    def __init__(self, model=None, potential_fn=None, *, step_size=1e-4, temperature=1.0,
                 data=None, batch_size=None, preconditioner=None, preconditioning=None, rmsprop_decay=0.99,
                 rmsprop_epsilon=1e-5, require_subsample=True, init_strategy=init_to_uniform):
        super().__init__(model, potential_fn, init_strategy=init_strategy)
        if model is not None and (data is not None or batch_size is not None):
            raise ValueError(
                "SGLD: `data` and `batch_size` go with `potential_fn`; a model subsamples "
                "through numpyro.plate(..., subsample_size=B)."
            )
        self._step_size_fn = as_schedule(step_size, "step_size", check_positive)
        self._temperature_fn = as_schedule(temperature, "temperature", check_temperature)
        check_schedule(self._step_size_fn, "step_size")
        check_schedule(self._temperature_fn, "temperature")
        self._phase_fn = self._step_size_fn.sampling_phase or _always_sampling
        if preconditioning not in (None, "rmsprop"):
            raise ValueError(f"`preconditioning` must be None or 'rmsprop'; got {preconditioning!r}")
        if preconditioner is not None:
            if preconditioning is not None:
                raise ValueError("pass either `preconditioner` (an object) or `preconditioning` (its name), not both")
            if not (callable(getattr(preconditioner, "init", None)) and callable(getattr(preconditioner, "update", None))):
                raise ValueError("`preconditioner` must be a preconditioner object (ebm.kernels.sgld.Identity(), "
                                 f"RMSProp(decay, epsilon)) with init and update; got {type(preconditioner).__name__}")
            if isinstance(preconditioner, RMSProp):
                if not 0.0 <= float(preconditioner.decay) < 1.0:
                    raise ValueError(f"`RMSProp.decay` must lie in [0, 1); got {preconditioner.decay!r}")
                check_positive(preconditioner.epsilon, "RMSProp.epsilon")
            self._preconditioner = preconditioner
        elif preconditioning == "rmsprop":
            if not 0.0 <= float(rmsprop_decay) < 1.0:
                raise ValueError(f"`rmsprop_decay` must lie in [0, 1); got {rmsprop_decay!r}")
            check_positive(rmsprop_epsilon, "rmsprop_epsilon")
            self._preconditioner = RMSProp(float(rmsprop_decay), float(rmsprop_epsilon))
        else:
            self._preconditioner = Identity()
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
        self._plates = None

    # ------------------------------------------------------------------ NumPyro interface

    @property
    def model(self):
        """The NumPyro model (``None`` with a ``potential_fn``). After ``init`` (once the model
        has subsample plates), the model as ``az.from_numpyro`` should read it: its subsample
        plates fixed to their first B rows and the observed sites inside them hidden, so that
        ArviZ reports the posterior and sample stats without a pointwise log-likelihood or
        ``observed_data`` of B arbitrary rows (see :attr:`full_data_model`). Before ``init``,
        the model as given (``numpyro.infer.Gibbs`` checks that its blocks share one model)."""
        if self._model is None or not self._plates:
            return self._model
        return functools.partial(_arviz_model, self._model)

    @property
    def full_data_model(self):
        """The model with every subsample plate covering all N rows (no subsampling, scale 1),
        for a full-data pass: ``numpyro.infer.log_likelihood(kernel.full_data_model, samples,
        *model_args)`` gives the pointwise log-likelihood of every datum, ``(draws, N)`` per
        observed site (``batch_ndims=2`` for samples grouped by chain), and
        ``numpyro.infer.Predictive(kernel.full_data_model, samples)`` predicts all N rows.
        ``None`` with a ``potential_fn``."""
        if self._model is None:
            return None
        return functools.partial(_full_data_model, self._model)

    @property
    def default_fields(self):
        return ("z", "diverging")

    def get_diagnostics_str(self, state):
        return f"step size {float(np.max(state.step_size)):.2e}, T {float(np.max(state.temperature)):.3g}"

    def postprocess_fn(self, args, kwargs):
        if self._postprocess_fn_gen is None:
            return super().postprocess_fn(args, kwargs)
        kwargs = dict(kwargs or {})
        kwargs[_SUBSAMPLE_KWARG] = self._fixed_indices()
        return self._postprocess_fn_gen(*args, **kwargs)

    def _fixed_indices(self):
        # deterministic sites inside a subsample plate are reported on its first B rows
        return {name: jnp.arange(b) for name, (_, b) in (self._plates or {}).items()}

    def _initialize_model(self, rng_key, model_args, model_kwargs):
        key_proto = rng_key if is_prng_key(rng_key) else rng_key[0]
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
        info, self._potential_fn_gen, self._postprocess_fn_gen, _ = initialize_model(
            rng_key, model, init_strategy=self._init_strategy, dynamic_args=True,
            model_args=model_args, model_kwargs=kwargs, validate_grad=False,
        )
        return info[0]

    def _grad_estimator(self, model_args, model_kwargs):
        """``(key, z) -> (U_hat(z), grad)`` on a fresh minibatch."""
        if self._model is not None:
            plates = self._plates
            kwargs = dict(model_kwargs or {})

            def fn(key, z):
                keys = split_keys(key, len(plates)) if len(plates) > 1 else [key]
                idx = {name: randint(k, (b,), 0, n) for k, (name, (n, b)) in zip(keys, plates.items())}
                pe_fn = self._potential_fn_gen(*model_args, **{**kwargs, _SUBSAMPLE_KWARG: idx})
                return jax.value_and_grad(pe_fn)(z)

            return fn
        potential_fn, data, b, n = self._potential_fn, self._data, self._batch_size, self._data_size
        if data is None:
            return lambda key, z: jax.value_and_grad(potential_fn)(z)
        if b is None:
            return lambda key, z: jax.value_and_grad(potential_fn)(z, data)

        def fn(key, z):
            idx = randint(key, (b,), 0, n)
            batch = jax.tree.map(lambda x: jnp.take(x, idx, axis=0), data)
            return jax.value_and_grad(potential_fn)(z, batch)

        return fn

    def _params(self, i):
        return SGLDParams(self._step_size_fn(i), self._temperature_fn(i), self._phase_fn(i))

    def _init_chain(self, rng_key, z, potential):
        dtype = jnp.result_type(*[jnp.result_type(x) for x in jax.tree.leaves(z)] or [float])
        i = jnp.zeros((), jnp.int32)
        p = self._params(i)
        return SGLDState(
            i, z, jnp.zeros((), dtype), jnp.asarray(p.step_size), jnp.asarray(p.temperature),
            jnp.asarray(p.sampling_phase), self._preconditioner.init(z), jnp.zeros((), bool), rng_key,
        )

    def _target(self, model_args, model_kwargs):
        return self._grad_estimator(model_args, model_kwargs)

    def _check_initial_state(self, state, grad_estimator, vectorized):
        # one compiled program, not an eager evaluation op by op (which compiled ~100 small
        # programs: most of a first run's start-up)
        pe, grad = jax.jit(jax.vmap(grad_estimator) if vectorized else grad_estimator)(state.rng_key, state.z)
        if is_concrete(pe):
            ok = bool(np.all(np.isfinite(np.asarray(pe)))) and all(
                bool(np.all(np.isfinite(np.asarray(g)))) for g in jax.tree.leaves(grad)
            )
            if not ok:
                raise ValueError(
                    "SGLD: the potential or its gradient is NaN or infinite at the initial "
                    "position; choose other `init_params` / `init_strategy`."
                )

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):
        self._divergence_warning = _DivergenceWarning(int(num_warmup))
        self._jitted = None  # the compiled step holds the previous run's warning
        return super().init(rng_key, num_warmup, init_params, model_args, model_kwargs)

    def _step_chain(self, state, grad_estimator):
        key, key_step = split_keys(state.rng_key)
        new, _ = sgld_step(key_step, state, grad_estimator, self._params(state.i), self._preconditioner)
        return new._replace(rng_key=key)

    def _sample(self, state, model_args, model_kwargs, vectorized):
        new = super()._sample(state, model_args, model_kwargs, vectorized)
        report = self._divergence_warning  # host-side, called only when a chain diverges
        lax.cond(jnp.any(new.diverging), lambda s: jax.debug.callback(report, s), lambda s: None, jnp.max(state.i))
        return new
