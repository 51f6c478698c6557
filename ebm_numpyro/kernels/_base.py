"""What every kernel of the library shares: NumPyro's head, model resolution, vectorization,
pickling and the description of its output (one place each).

A kernel subclasses :class:`EBMKernel` and supplies two pure per-chain functions,
``_init_chain(rng_key, z, target) -> state`` and ``_step_chain(state, target) -> state``. The
*target* is whatever the kernel's step reads about the distribution at the current model
arguments, built by one hook, :meth:`EBMKernel._target`: by default the potential
``z -> U(z)``; a gradient estimator for SGLD; a discrete target object for the tempered kernels.
The base class

* takes ``model=None, potential_fn=None`` exactly as NumPyro's kernels do (``model`` is a
  NumPyro model callable, ``potential_fn`` a potential; an :class:`~ebm_numpyro.Potential`
  from :func:`ebm_numpyro.potential` also carries its energy model);
* with ``model=`` runs NumPyro's ``initialize_model`` (unconstrained space, ``postprocess_fn``
  returning constrained values); with ``potential_fn=`` requires ``init_params``;
* decides once in ``init`` whether the chains are vectorized (``chain_method="vectorized"``
  passes a batch of keys) and builds ``sample`` accordingly;
* starts a chain without ``init_params`` only where the kernel says how (:meth:`_default_init_params`);
* runs ``num_steps`` steps outside ``MCMC`` in one jitted ``lax.scan`` (:meth:`scan`), which
  :func:`ebm_numpyro.parallel.sample` uses for any kernel;
* implements NumPyro's ``refresh`` and ``wrap_model``, so that a kernel built on a ``model=`` is
  a block of ``numpyro.infer.Gibbs`` (kernels that cache values of the target in their state
  recompute them in :meth:`_refresh_chain`);
* drops compiled functions when pickled;
* describes the dims of its samples and extra fields in :meth:`output_layout`, which
  :func:`ebm_numpyro.diagnostics.to_inference_data` reads.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.initialization import init_to_uniform
from numpyro.infer.mcmc import MCMCKernel
from numpyro.infer.util import initialize_model
from jax import lax
from numpyro.util import identity, is_prng_key

from ..models import DiscreteModel, EnergyModel
from ..potentials import Potential
from . import streams

__all__ = ["EBMKernel", "OutputLayout", "float_params", "state_name"]


@dataclasses.dataclass(frozen=True)
class OutputLayout:
    """Dims of a kernel's outputs after the leading ``(chain, draw)`` axes.

    - **dims** - variable name (a key of the sample dict or an extra field) -> dim names;
    - **coords** - dim name -> coordinate values (or ``(dim, values)`` for a coordinate
      along another dim, as xarray takes them);
    - **attrs** - attributes of the posterior (e.g. the target ``temperature``);
    - **sample_name** - the name of the samples when they are one array, not a dict.
    """

    dims: dict = dataclasses.field(default_factory=dict)
    coords: dict = dataclasses.field(default_factory=dict)
    attrs: dict = dataclasses.field(default_factory=dict)
    sample_name: str = "x"


def state_name(model) -> str:
    """Name of an energy model's states: ``spins`` (±1 units), ``units`` ({0,1}) or ``x``."""
    if not isinstance(model, DiscreteModel):
        return "x"
    return "spins" if tuple(model.unit_values) == (-1, 1) else "units"


def float_params(params):
    """Cast integer leaves of ``params`` to the default float dtype (continuous positions)."""
    return jax.tree.map(
        lambda x: jnp.asarray(x, jnp.result_type(float))
        if jnp.issubdtype(jnp.result_type(x), jnp.integer)
        else jnp.asarray(x),
        params,
    )


class EBMKernel(MCMCKernel):
    """Base of the library's kernels (see the module docstring)."""

    sample_field = "z"
    #: attributes holding compiled functions, dropped on pickling
    _cached_fns: tuple[str, ...] = ("_sample_fn", "_jitted", "_scan_fn")
    #: whether the kernel accepts a NumPyro ``model=`` (else only ``potential_fn=``)
    _accepts_model: bool = True

    def __init__(self, model=None, potential_fn=None, *, init_strategy=init_to_uniform):
        name = type(self).__name__
        if (model is None) == (potential_fn is None):
            raise ValueError(f"{name}: give exactly one of `model` (a NumPyro model) or `potential_fn`.")
        if isinstance(model, EnergyModel):
            raise ValueError(
                f"{name}: `model` is a NumPyro model callable; pass an energy model as "
                f"`potential_fn=ebm.potential({type(model).__name__}(...))`."
            )
        if model is not None and not callable(model):
            raise ValueError(f"{name}: `model` must be a NumPyro model (a callable); got {model!r}")
        if potential_fn is not None and not callable(potential_fn):
            raise ValueError(f"{name}: `potential_fn` must be callable z -> U(z); got {potential_fn!r}")
        if model is not None and not self._accepts_model:
            raise ValueError(f"{name} does not take `model=` yet; pass `potential_fn=`.")
        self._model = model
        self._potential_fn = potential_fn
        self._init_strategy = init_strategy
        self._potential_fn_gen = None
        self._postprocess_fn_gen = None
        self._sample_fn = None
        self._jitted = None
        self._scan_fn = None
        self._num_warmup = 0
        self._namer = None

    # -- what NumPyro and ArviZ read ----------------------------------------------------
    @property
    def model(self):
        """The NumPyro model (``None`` when the kernel was given a ``potential_fn``)."""
        return self._model

    @property
    def potential_fn(self):
        return self._potential_fn

    @property
    def energy_model(self) -> EnergyModel | None:
        """The energy model carried by an :class:`~ebm_numpyro.Potential`, else ``None``."""
        return self._potential_fn.model if isinstance(self._potential_fn, Potential) else None

    @property
    def potential_temperature(self) -> float:
        """Temperature of the :class:`~ebm_numpyro.Potential` (1 for other potentials)."""
        return self._potential_fn.temperature if isinstance(self._potential_fn, Potential) else 1.0

    def postprocess_fn(self, args, kwargs):
        """NumPyro's ``postprocess_fn``: with ``model=`` the model's constrained sites; with a
        ``potential_fn`` the samples under a name (a position that is one array becomes
        ``{name: array}``, ``name`` the energy model's state name or ``x``), so that ArviZ reads
        them by name rather than as ``Param:0``."""
        if self._postprocess_fn_gen is None:
            if self._model is not None:
                return identity
            if self._namer is None:  # one function per kernel: NumPyro caches its collection by it
                self._namer = functools.partial(named_sample, self.output_layout().sample_name)
            return self._namer
        return self._postprocess_fn_gen(*args, **(kwargs or {}))

    def output_layout(self, state=None) -> OutputLayout:
        """Dims and coordinates of the samples and extra fields (see :class:`OutputLayout`);
        ``state`` is the run's last state (``mcmc.last_state``), for kernels whose layout depends
        on it.

        By default: with a NumPyro model nothing (sites keep NumPyro's names); with an energy
        model's potential, the samples are its states (``spins``, ``units`` or ``x``) with the
        model's event dims, and so are the extra fields in ``_state_fields``.
        """
        model = self.energy_model
        if model is None or self._model is not None:
            return OutputLayout()
        name, event = state_name(model), tuple(model.event_dims)
        dims = {name: event, **{f: event for f in self._state_fields}}
        coords = {d: np.arange(n) for d, n in zip(event, model.event_shape)}
        return OutputLayout(dims, coords, sample_name=name)

    #: extra fields that hold a state of the energy model (named by its event dims)
    _state_fields: tuple[str, ...] = ()

    def __getstate__(self):
        # Compiled functions are dropped. With a NumPyro model the functions built from it go
        # too (``MCMC`` re-runs ``init`` when ``_sample_fn`` is None); with a potential the
        # sample function is kept, so a pickled ``MCMC`` resumes from ``post_warmup_state``
        # without ``init_params``.
        state = self.__dict__.copy()
        drop = set(self._cached_fns)
        if self._model is None:
            drop.discard("_sample_fn")
        else:
            drop.update(self._model_fns)
        for name in drop:
            state[name] = None
        return state

    # -- init and sample ----------------------------------------------------------------
    def _initialize_model(self, rng_key, model_args, model_kwargs):
        """``initialize_model`` on ``self.model``; returns the initial unconstrained values."""
        info, self._potential_fn_gen, self._postprocess_fn_gen, _ = initialize_model(
            rng_key, self._model, init_strategy=self._init_strategy, dynamic_args=True,
            model_args=model_args, model_kwargs=model_kwargs, validate_grad=False,
        )
        return info[0]

    def _target(self, model_args, model_kwargs):
        """What the kernel's ``_init_chain`` / ``_step_chain`` read about the distribution at
        these model arguments (opaque to the base class). Default: the potential ``z -> U(z)``."""
        if self._model is None:
            return self._potential_fn
        return self._potential_fn_gen(*model_args, **(model_kwargs or {}))

    def _prepare_init_params(self, init_params, vectorized):
        """Validate / cast ``init_params`` (continuous positions by default)."""
        return float_params(init_params)

    def _default_init_params(self, vectorized):
        """``init_params`` when ``MCMC.run`` gives none with ``potential_fn=`` (``None`` is passed on
        to ``_init_chain``, which then starts the chain itself). Default: an error."""
        raise ValueError(f"{type(self).__name__}(potential_fn=...) needs `init_params` in MCMC.run.")

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):
        vectorized = not is_prng_key(rng_key)
        rng_key, key_init = streams.chain_keys(rng_key)
        self._num_warmup = int(num_warmup)
        if self._model is not None:
            z = self._initialize_model(key_init, model_args, model_kwargs)
            if init_params is None:
                init_params = z
        elif init_params is None:
            init_params = self._default_init_params(vectorized)
        if init_params is not None:
            init_params = self._prepare_init_params(init_params, vectorized)
        state = self._jit("init", vectorized, model_args, model_kwargs)(rng_key, init_params, model_args, model_kwargs)
        self._check_initial_state(state, self._target(model_args, model_kwargs), vectorized)
        self._sample_fn = self._make_sample_fn(vectorized)
        return state

    def _check_initial_state(self, state, target, vectorized) -> None:
        """Raise ``ValueError`` for an unusable initial state (e.g. a non-finite potential)."""

    def _make_sample_fn(self, vectorized):
        """The sample function, vectorized over chains or not (a picklable partial)."""
        return functools.partial(_sample, self, bool(vectorized))

    def _sample(self, state, model_args, model_kwargs, vectorized):
        """One step of every chain in ``state``."""
        target = self._target(model_args, model_kwargs)

        def step(s):
            return self._step_chain(s, target)

        return jax.vmap(step)(state) if vectorized else step(state)

    def _init_chains(self, rng_key, init_params, model_args, model_kwargs, vectorized):
        """The initial state of every chain (one chain, or a batch under ``vectorized``)."""
        target = self._target(model_args, model_kwargs)

        def init_chain(key, z):
            return self._init_chain(key, z, target)

        return jax.vmap(init_chain)(rng_key, init_params) if vectorized else init_chain(rng_key, init_params)

    def _jit(self, which, vectorized, model_args, model_kwargs):
        """The kernel's jitted ``init`` or ``sample``, built once per kernel and reused.

        ``MCMC.run`` re-traces its whole loop on every call; with the step already a jitted
        function of the same kernel, that trace reuses the step's cached jaxpr instead of
        re-tracing the model (and ``init`` runs as one compiled call instead of op by op).
        Model arguments that are not arrays (a Python object, a string) cannot be traced, and
        Python numbers must not be: a model may use them as shapes, e.g.
        ``plate(..., subsample_size=batch_size)``, which NumPyro (``jit_model_args=False``)
        passes as constants. Then the plain function runs; so it does for a NumPyro model
        with arguments.
        """
        fn = (functools.partial(_init, self, bool(vectorized)) if which == "init"
              else self._sample_fn)
        leaves = jax.tree_util.tree_leaves((model_args, model_kwargs))
        if not all(isinstance(v, (jax.Array, np.ndarray)) for v in leaves):
            return fn
        if self._model is not None and leaves:
            # a NumPyro model's arguments stay concrete, as NumPyro passes them: a kernel may
            # have planned its sweep from the model's program with these values (model_gibbs)
            return fn
        if self._jitted is None:
            self._jitted = {}
        key = (which, bool(vectorized)) + ((self._num_warmup,) if which == "init" else ())
        if key not in self._jitted:
            self._jitted[key] = jax.jit(fn)
        return self._jitted[key]

    def sample(self, state, model_args=(), model_kwargs=None):
        vectorized = self._sample_fn.args[1]
        return self._jit("sample", vectorized, model_args, model_kwargs)(state, model_args, model_kwargs)

    # -- the kernel's own loop ----------------------------------------------------------
    def scan(self, state, num_steps: int, fields=("potential_energy",)):
        """Run ``num_steps`` steps from ``state`` in one jitted ``lax.scan``, outside ``MCMC``.

        Returns ``(last_state, traces)`` with ``traces[f]`` of shape ``(num_steps,) + shape`` of
        state field ``f`` (after the chain axis of a vectorized state). Call ``init`` first. The
        steps take no model arguments: a kernel with ``model=`` whose model takes arguments runs
        under ``MCMC`` instead.
        """
        if self._scan_fn is None:
            self._scan_fn = jax.jit(functools.partial(_scan, self), static_argnums=(1, 2))
        return self._scan_fn(state, int(num_steps), tuple(fields))

    # -- composition: blocks of numpyro.infer.Gibbs ---------------------------------------
    def refresh(self, state, model_args=(), model_kwargs=None):
        """The state with every cached value of the target recomputed at ``(model_args,
        model_kwargs)``, the chain not advanced (``numpyro.infer.Gibbs`` calls it when the sites
        this block is conditioned on have moved). See :meth:`_refresh_chain`."""
        target = self._target(model_args, model_kwargs)
        vectorized = self._sample_fn.args[1] if self._sample_fn is not None else False
        if vectorized:
            return jax.vmap(lambda s: self._refresh_chain(s, target))(state)
        return self._refresh_chain(state, target)

    def _refresh_chain(self, state, target):
        """One chain's :meth:`refresh`; kernels that cache nothing of the target return ``state``."""
        return state

    def wrap_model(self, wrapper):
        """A copy of this kernel on ``wrapper(model)`` (``numpyro.infer.Gibbs`` conditions its
        blocks' models this way), with everything built from the old model reset."""
        if self._model is None:
            return self
        kernel = copy.copy(self)
        kernel._model = wrapper(self._model)
        for name in set(self._cached_fns) | set(self._model_fns):
            setattr(kernel, name, None)
        return kernel

    #: attributes built from the NumPyro model at ``init`` (reset by :meth:`wrap_model`)
    _model_fns: tuple[str, ...] = ("_potential_fn_gen", "_postprocess_fn_gen")

    # -- supplied by subclasses ---------------------------------------------------------
    def _init_chain(self, rng_key, z, target) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step_chain(self, state, target) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _scan(kernel, state, num_steps, fields):
    def body(s, _):
        s = kernel.sample(s)
        return s, tuple(getattr(s, f) for f in fields)

    last, traces = lax.scan(body, state, None, length=num_steps)
    return last, dict(zip(fields, traces))


def named_sample(name, z):
    """``z`` itself when it is a dict of sites, else ``{name: z}``."""
    return z if isinstance(z, dict) else {name: z}


def _sample(kernel, vectorized, state, model_args=(), model_kwargs=None):
    return kernel._sample(state, model_args, model_kwargs, vectorized)


def _init(kernel, vectorized, rng_key, init_params, model_args=(), model_kwargs=None):
    return kernel._init_chains(rng_key, init_params, model_args, model_kwargs, vectorized)
