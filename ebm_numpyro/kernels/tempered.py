"""The base of the discrete kernels: any inner move on any discrete target, tempered by
:mod:`.tempering`, inside ``numpyro.infer.MCMC``.

A discrete sampler is a :class:`TemperedKernel` subclass that supplies one method,
``_move(target) -> Move``: what one step does to the states of every temperature slot (a
heat-bath sweep for :class:`~ebm_numpyro.TemperedGibbs`, a Metropolis sweep for
:class:`~ebm_numpyro.kernels.SingleFlipMetropolis`). Everything else is here, once:

* the two targets behind NumPyro's head: :class:`EnergyTarget` (``potential_fn=ebm.potential(m)``
  of a :class:`~ebm_numpyro.DiscreteModel`) and :class:`ModelTarget` (``model=``, the discrete
  latent sites of a NumPyro model at the current model arguments);
* the temperature arguments (``temperature``, ``temperatures``, ``adapt_ladder``) as a
  :class:`.tempering.Ladder`, and the tempered step (:func:`.tempering.tempered_step`);
* the state (:class:`TemperedState`), its samples and extra fields, their ArviZ dims, the
  uniformly random start, ``init_params`` validation, ``refresh`` (a block of
  ``numpyro.infer.Gibbs``).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from numpyro.util import identity

from ..models import DiscreteModel
from ..potentials import Potential
from . import model_target as mt
from . import streams, sweeps
from ._base import EBMKernel, OutputLayout, state_name
from .tempering import Ladder, ReplicaState, make_ladder, tempered_step

__all__ = ["Move", "StepSizeAdaptation", "StepSizeState", "EnergyTarget", "observables", "TemperedState", "LatticeGibbsState", "TemperedKernel",
           "AUTO_STORE_UNITS"]

#: With ``store_states=None`` the states are kept per draw only up to this many units.
AUTO_STORE_UNITS = 64


class Move(NamedTuple):
    """An inner move of a :class:`TemperedKernel`.

    - **step** - ``(words, x, betas) -> (x, energies, observables)``: advance the states ``x`` of
      every slot (leading axis ``n``, in this move's layout) leaving every
      :math:`p_k \\propto e^{-\\beta_k E_t} e^{-E_u}` invariant, keyed by the two Threefry
      ``words``; return the new tempered energies :math:`E_t` (``(n,)``) and the observables of
      every slot (a dict with ``magnetization`` and ``rest`` (:math:`E_u`), each ``(n,)``: see
      :func:`observables`, :meth:`EnergyTarget.evaluate`, :meth:`.model_target.ModelTarget.evaluate`).
    - **to_layout** / **from_layout** - natural states to this move's layout and back.
    - **log_extension** - for a move whose chain at :math:`\\beta` is invariant for an extended law
      :math:`p_\\beta(x)\\, g_\\beta(x)` (importance tempering): ``(x, betas) -> log g`` slot by slot,
      in this layout; the swaps then keep :math:`\\prod_k p_k g_k` invariant
      (:func:`.tempering.extension_log_ratio`). ``None``: :math:`g = 1`.
    - **info** - ``(x, betas) -> dict`` of per-slot arrays (leading axis ``n``) kept for the
      target slot in the state's ``info`` (extra fields such as importance weights); ``None``: none.
    - **adaptation** - for a move with a tuning parameter per temperature slot (a step size):
      an object with ``init(n, num_warmup, dtype) -> params`` and ``update(params, i, move_accept)
      -> params`` (:class:`StepSizeAdaptation`). The move's step then takes the slots' current
      parameters, ``step(words, x, betas, params)``, and its observables carry ``move_accept``,
      the move's own acceptance probability at every slot, which stays with the slot (the
      swaps do not permute it). The parameters are part of the kernel state
      (``state.adaptation``) and change during warm-up only, so the chain after warm-up is a
      fixed Markov kernel. ``None``: no parameters.
    """

    step: Callable
    to_layout: Callable = sweeps.BINARY.to_layout
    from_layout: Callable = sweeps.BINARY.from_layout
    log_extension: Callable | None = None
    info: Callable | None = None
    adaptation: Any = None


_LOG_STEP_RANGE = (math.log(1e-6), math.log(1e6))


class StepSizeState(NamedTuple):
    """Per-slot step sizes of a :class:`StepSizeAdaptation` and NumPyro's dual-averaging state
    (``numpyro.infer.hmc_util.dual_averaging``: log step, its average, the averaged statistic,
    the count, the prox centre), each with leading axis ``n``."""

    step_size: Any
    dual_averaging: Any


class StepSizeAdaptation(NamedTuple):
    """Dual-averaging adaptation of a per-slot step size towards a target acceptance probability,
    as NumPyro adapts HMC's step size (Hoffman & Gelman 2014, Algorithm 5; NumPyro's
    ``dual_averaging`` with its defaults, prox centre :math:`\\log(10\\,\\epsilon_0)`):

    .. math::  \\bar H_t = (1 - \\tfrac{1}{t + t_0})\\bar H_{t-1} + \\tfrac{\\delta - a_t}{t + t_0},
               \\quad \\log\\epsilon_t = \\mu - \\tfrac{\\sqrt t}{\\gamma}\\bar H_t,
               \\quad \\log\\bar\\epsilon_t = t^{-\\kappa}\\log\\epsilon_t + (1 - t^{-\\kappa})\\log\\bar\\epsilon_{t-1}

    with :math:`a_t` the move's acceptance probability at the slot and :math:`\\delta` =
    ``target_accept_prob``. During warm-up the step :math:`i` uses :math:`\\epsilon_t`; the last
    warm-up step sets every slot to its average :math:`\\bar\\epsilon`, which then stays (with
    ``num_warmup = 0``, or ``adapt=False``, the initial ``step_size`` stays throughout). The step
    sizes are kept within :math:`[10^{-6}, 10^{6}]`: a move that accepts more often than the
    target at any step size (a small or a hot system) ends at the upper bound, not at infinity."""

    step_size: float
    target_accept_prob: float
    adapt: bool = True

    def init(self, n, num_warmup, dtype):
        from numpyro.infer.hmc_util import dual_averaging

        init_fn, _ = dual_averaging()
        log_step = jnp.full((n,), math.log(self.step_size), dtype)
        da = jax.vmap(init_fn)(log_step + math.log(10.0))
        da = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a), (n,)).astype(
            dtype if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else jnp.asarray(a).dtype), da)
        return StepSizeState(jnp.exp(log_step), (jnp.asarray(num_warmup, jnp.int32),) + tuple(da))

    def update(self, params, i, move_accept):
        if not self.adapt:
            return params
        from numpyro.infer.hmc_util import dual_averaging

        _, update_fn = dual_averaging()
        num_warmup, *da = params.dual_averaging
        new = jax.vmap(update_fn)((self.target_accept_prob - move_accept).astype(params.step_size.dtype), tuple(da))
        during = i + 1 < num_warmup
        last = i + 1 == num_warmup
        clip = lambda log_step: jnp.exp(jnp.clip(log_step, *_LOG_STEP_RANGE))  # noqa: E731
        step = jnp.where(during, clip(new[0]), jnp.where(last, clip(new[1]), params.step_size))
        da = jax.tree.map(lambda a, b: jnp.where(i < num_warmup, a, b), tuple(new), tuple(da))
        return StepSizeState(step.astype(params.step_size.dtype), (num_warmup,) + tuple(da))


# ----------------------------------------------------------------------------- targets
class EnergyTarget:
    """The Boltzmann distribution :math:`e^{-\\beta E(x)}` of a discrete energy model (every unit of
    the state is sampled; there is no untempered part). States are arrays ``(n,) + event_shape``."""


    def __init__(self, model: DiscreteModel):
        self.model = model

    def start(self, words, n):
        """Uniformly random states of ``n`` slots (:func:`.streams.uniform_start`, stream 0)."""
        m = self.model
        return streams.uniform_start(words, (n,) + tuple(m.event_shape), tuple(m.unit_values), m.state_dtype)

    def prepare(self, init_params, n, vectorized):
        """``init_params`` validated and broadcast to ``chains + (n,) + event_shape``."""
        model = self.model
        x = jnp.asarray(init_params)
        model.validate_state(x, "init_params")
        event = tuple(model.event_shape)
        lead = tuple(x.shape[: x.ndim - len(event)])
        chains = lead[:1] if vectorized else ()
        if lead not in (chains, chains + (n,)):
            where = "a leading chain axis, then " if vectorized else ""
            raise ValueError(
                f"`init_params` must have shape {chains + event} (one start for every "
                f"temperature) or {chains + (n,) + event} (one per temperature), i.e. {where}"
                f"the optional temperature axis and the state shape {event}; got {tuple(x.shape)}"
            )
        if lead == chains:
            x = jnp.expand_dims(x, len(chains))
        return jnp.broadcast_to(x, chains + (n,) + event).astype(model.state_dtype)

    def evaluate(self, x):
        """``(energies, observables)`` of natural states ``x``: :math:`E(x_k)` and
        ``{"magnetization": mean unit value, "rest": 0}`` of every slot."""
        energies = self.model.energy(x)
        return energies, observables(energies, jnp.mean(x.reshape(x.shape[0], -1).astype(energies.dtype), axis=-1))


def observables(energies, magnetization, rest=None):
    """The per-slot observables a :class:`Move` returns: ``magnetization`` and the untempered
    ``rest`` (zero for energy models)."""
    return {"magnetization": magnetization, "rest": jnp.zeros_like(energies) if rest is None else rest}


# ----------------------------------------------------------------------------- the state
class TemperedState(NamedTuple):
    """State of a :class:`TemperedKernel` for one chain (a leading chain axis is added to every
    field under ``chain_method="vectorized"``). ``n`` is the number of temperatures.

    - **i** - iteration counter; the swap round after move ``i`` tries the pairs
      ``(k, k+1)`` with ``k ≡ i (mod 2)``; a temperature schedule is evaluated at ``i``.
    - **x** - states of every temperature slot (``x[0]`` at the target), as the move carries them.
    - **z** - the sample (``sample_field``): with ``potential_fn=`` a dict with ``physical_energy``
      and ``magnetization`` of the target state, plus the state itself under ``spins`` (±1) or
      ``units`` (other unit values) when states are stored; with ``model=`` the values of the
      latent sites.
    - **potential_energy** - NumPyro's :math:`U` of the target state, :math:`\\beta_0 E_t(x_0) +
      E_u(x_0)` (:math:`E(x_0)/T_0` for an energy model; ArviZ reports ``lp = -potential_energy``).
    - **physical_energy** - :math:`E(x_0)` (:math:`-\\log p(x_0, y)` with ``model=``);
      **magnetization** - mean unit value of ``x[0]``.
    - **energies** - tempered energies :math:`E_t(x_k)` of every slot; **replica_index** - replica
      id of every slot.
    - **swap_accept** - swap acceptance of every pair after the last move, shape ``(n - 1,)``.
    - **mean_swap_accept** - running mean of ``swap_accept`` (progress bar).
    - **ladder** - the :class:`.tempering.LadderState` (``ladder.temperatures``: the ladder of
      the last step, adapted during warm-up with ``adapt_ladder=True``).
    - **rng_key** - random key; replaced when resuming from ``post_warmup_state``.
    - **info** - what the move reports of the target slot (:attr:`Move.info`; empty for most moves).
    - **adaptation** - the move's per-slot parameters (:attr:`Move.adaptation`, e.g. a
      :class:`StepSizeState`; empty for most moves).
    """

    i: Any
    x: Any
    z: Any
    potential_energy: Any
    physical_energy: Any
    magnetization: Any
    energies: Any
    replica_index: Any
    swap_accept: Any
    mean_swap_accept: Any
    ladder: Any
    rng_key: Any
    info: Any = {}
    adaptation: Any = ()

    @property
    def carried_x(self):
        """The states as the move carries them (``x``; packed on lattices)."""
        return tuple.__getitem__(self, 1)

    @property
    def temperatures(self):
        """The ladder of the last step (kernel temperatures, target first)."""
        return self.ladder.temperatures


class LatticeGibbsState(TemperedState):
    """:class:`TemperedState` on a periodic lattice with even sides, where the kernel carries
    the units in the checkerboard layout of its sweep (``(n, 2, rows, cols/2)``,
    :data:`.sweeps.LATTICE`) so that no sweep re-arranges them. The field ``x`` (an extra field,
    ``last_state.x``) reads them back in the natural ``(n, rows, cols)`` layout;
    :attr:`packed_x` is what the kernel carries."""

    __slots__ = ()

    @property
    def x(self):
        return sweeps.LATTICE.from_layout(self.packed_x)

    @property
    def packed_x(self):
        return tuple.__getitem__(self, 1)


# ----------------------------------------------------------------------------- the kernel
class TemperedKernel(EBMKernel):
    """Base of the discrete kernels (see the module doc): NumPyro's head ``(model=None,
    potential_fn=None, *, temperature=None, temperatures=None, adapt_ladder=False,
    store_states=None)``; subclasses implement ``_move(target) -> Move``."""

    #: attributes built from the NumPyro model at ``init`` (reset by ``wrap_model``)
    _model_fns = EBMKernel._model_fns + ("_sites", "_plan", "_deterministic")

    def __init__(self, model=None, potential_fn=None, *, temperature=None, temperatures=None,
                 adapt_ladder: bool = False, store_states: bool | None = None, temper: str = "all"):
        super().__init__(model, potential_fn)
        self._ladder: Ladder = make_ladder(temperature, temperatures, adapt_ladder)
        self._target_cache = None
        self._sites, self._plan, self._deterministic = None, None, ()
        if temper not in ("all", "prior"):
            raise ValueError(f"`temper` must be 'all' (the whole log joint) or 'prior' (the latent sites only); "
                             f"got {temper!r}")
        if model is None and temper != "all":
            raise ValueError("`temper` applies to model= only (an energy model's potential is tempered whole)")
        self._temper = temper
        if model is not None:
            self._store_states = True
            return
        energy_model = self.energy_model
        if not isinstance(energy_model, DiscreteModel):
            got = energy_model if isinstance(potential_fn, Potential) else potential_fn
            raise ValueError(
                f"{type(self).__name__}: `potential_fn` must be `ebm.potential(model)` of a discrete energy "
                f"model (an ebm_numpyro.DiscreteModel, including your own subclasses); got {type(got).__name__}. "
                "Continuous models are sampled with SGLD, CyclicAnnealing or NumPyro's NUTS."
            )
        if store_states not in (None, True, False):
            raise ValueError(f"`store_states` must be True, False or None (automatic); got {store_states!r}")
        if store_states is None:
            store_states = energy_model.num_units <= AUTO_STORE_UNITS
        self._store_states = bool(store_states)

    # -- properties read by MCMC and the diagnostics ------------------------------------
    @property
    def ladder(self) -> Ladder:
        return self._ladder

    @property
    def temperatures(self) -> np.ndarray:
        """The initial ladder (float64), target temperature first; one entry without a ladder
        (the schedule's ``base_temperature`` for a schedule)."""
        return self._ladder.temperatures

    @property
    def num_temperatures(self) -> int:
        return self._ladder.num_temperatures

    @property
    def store_states(self) -> bool:
        return self._store_states

    @property
    def state_name(self) -> str | None:
        """Name of the state in the samples: ``spins`` (±1 units) or ``units`` (any other unit
        values); ``None`` with ``model=`` (the samples are the model's sites)."""
        return None if self._model is not None else state_name(self.energy_model)

    @property
    def default_fields(self):
        return ("z",)

    def get_diagnostics_str(self, state):
        msg = f"E {float(np.mean(np.asarray(state.physical_energy))):.5g}"
        if self.num_temperatures > 1:
            msg += f", swap acc. {float(np.mean(np.asarray(state.mean_swap_accept))):.2f}"
        return msg

    def output_layout(self, state=None) -> OutputLayout:
        """Dims and coordinates of the samples and extra fields. With an adaptive ladder and the
        run's last ``state`` (as :func:`ebm_numpyro.diagnostics.to_inference_data` passes it), the
        coordinate ``temperature_value`` (chain, temperature) holds every chain's final ladder."""
        base = super().output_layout()
        event = base.dims[self.state_name] if self._model is None else None
        scale = self.potential_temperature
        temps = self.temperatures * scale
        dims = {
            **base.dims,
            **({"x": ("temperature",) + event} if event is not None else {}),
            "energies": ("temperature",),
            "replica_index": ("temperature",),
            "swap_accept": ("pair",),
        }
        coords = {**base.coords, "pair": np.arange(temps.size - 1)}
        if self._ladder.adapts and state is not None:
            final = np.asarray(state.ladder.temperatures, np.float64).reshape(-1, temps.size) * scale
            coords["temperature"] = np.arange(temps.size)
            coords["temperature_value"] = (("chain", "temperature"), final)
            coords["temperature_low"] = ("pair", final.mean(0)[:-1])
            coords["temperature_high"] = ("pair", final.mean(0)[1:])
        else:
            coords["temperature"] = temps
            coords["temperature_low"] = ("pair", temps[:-1])
            coords["temperature_high"] = ("pair", temps[1:])
        return OutputLayout(dims, coords, {"temperature": float(temps[0])}, base.sample_name)

    # -- targets ------------------------------------------------------------------------
    def _target(self, model_args, model_kwargs):
        """The :class:`EnergyTarget` of the potential's model, or the :class:`ModelTarget` of
        the NumPyro model at these arguments (:meth:`_model_target`)."""
        if self._model is None:
            if self._target_cache is None:
                self._target_cache = EnergyTarget(self.energy_model)
            return self._target_cache
        return self._model_target(model_args, model_kwargs)

    def _model_target(self, model_args, model_kwargs) -> mt.ModelTarget:
        return mt.model_target(self._model, model_args, model_kwargs, self._sites, None, self._temper, self._plan)

    def _initialize_model(self, rng_key, model_args, model_kwargs):
        """With ``model=``: find the discrete sites (and the kernel's plan, :meth:`_make_plan`)
        once per ``init``; every slot then starts uniformly at random."""
        typed = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        key = rng_key[0] if rng_key.ndim > (0 if typed else 1) else rng_key  # one key of a batch
        self._sites, trace = mt.find_sites(self._model, model_args, model_kwargs, key=key, who=type(self).__name__)
        self._plan = self._make_plan(self._sites, trace, model_args, model_kwargs)
        self._deterministic = mt.deterministic_sites(trace)
        return None

    def _make_plan(self, sites, trace, model_args, model_kwargs):
        """What the kernel's move needs to know of the model's structure (``ModelTarget.plan``)."""
        return None

    def postprocess_fn(self, args, kwargs):
        """With ``model=``: the samples plus the model's ``numpyro.deterministic`` sites."""
        if self._model is None or not self._deterministic:
            return super().postprocess_fn(args, kwargs)
        return mt.deterministic_fn(self._model, args, kwargs, self._deterministic)

    def get_constrain_fn(self, model_args, model_kwargs):
        """Discrete site values are constrained values already (``numpyro.infer.Gibbs``)."""
        return identity

    def _move(self, target) -> Move:  # pragma: no cover - abstract
        raise NotImplementedError

    def _default_init_params(self, vectorized):
        return None  # every slot starts uniformly at random (_init_chain)

    def _prepare_init_params(self, init_params, vectorized):
        target = self._target(None, None) if self._model is None else mt.ModelTarget(self._sites, None, None)
        return target.prepare(init_params, self.num_temperatures, vectorized)

    # -- init and step ------------------------------------------------------------------
    def _state_class(self, move):
        return LatticeGibbsState if move.to_layout is sweeps.LATTICE.to_layout else TemperedState

    def _observe(self, cls, i, replicas, obs, accept, mean_accept, ladder, target, move, rng_key, adaptation=()):
        """The kernel state around a :class:`.tempering.ReplicaState`: samples from slot 0."""
        e0, r0, m0 = replicas.energies[0], obs["rest"][0], obs["magnetization"][0]
        beta0 = 1.0 / (self.potential_temperature * ladder.temperatures[0].astype(e0.dtype))
        if isinstance(target, EnergyTarget):
            z = {"physical_energy": e0, "magnetization": m0}
            if self._store_states:
                z[self.state_name] = move.from_layout(replicas.x)[0]
        else:
            z = jax.tree.map(lambda a: a[0], move.from_layout(replicas.x))
        info = {}
        if move.info is not None:
            info = jax.tree.map(lambda a: a[0], move.info(jax.tree.map(lambda a: a[:1], replicas.x), beta0[None]))
        return cls(i, replicas.x, z, e0 * beta0 + r0, e0 + r0, m0, replicas.energies, replicas.replica_index,
                   accept, mean_accept, ladder, rng_key, info, adaptation)

    def _init_chain(self, rng_key, x, target):
        n = self.num_temperatures
        if x is None:  # uniformly random units, from a stream the steps never use
            x = target.start(streams.start_words(rng_key), n)
        move = self._move(target)
        energies, obs = target.evaluate(x)
        ladder = self._ladder.init(self._num_warmup, energies.dtype)
        replicas = ReplicaState(move.to_layout(x), energies, jnp.arange(n, dtype=jnp.int32))
        zeros = jnp.zeros((n - 1,), energies.dtype)
        adaptation = () if move.adaptation is None else move.adaptation.init(n, self._num_warmup, energies.dtype)
        return self._observe(self._state_class(move), jnp.zeros((), jnp.int32), replicas, obs, zeros, zeros,
                             ladder, target, move, rng_key, adaptation)

    def _step_chain(self, state, target):
        rng_key, words = streams.step_words(state.rng_key)
        move = self._move(target)
        dtype = state.energies.dtype
        temperatures = self._ladder.temperatures_at(state.ladder, state.i).astype(dtype)
        betas = 1.0 / (self.potential_temperature * temperatures)
        carried = ReplicaState(state.carried_x, state.energies, state.replica_index)
        step, adaptation = move.step, state.adaptation
        if move.adaptation is not None:
            step = functools.partial(move.step, params=adaptation)
        replicas, obs, accept = tempered_step(words, carried, betas, state.i % 2, step, move.log_extension)
        if move.adaptation is not None:
            adaptation = move.adaptation.update(adaptation, state.i, obs["move_accept"])
        ladder = self._ladder.update(state.ladder, state.i, accept)
        count = (state.i + 1).astype(dtype)
        mean_accept = state.mean_swap_accept + (accept - state.mean_swap_accept) / count
        return self._observe(type(state), state.i + 1, replicas, obs, accept, mean_accept, ladder,
                             target, move, rng_key, adaptation)

    def _refresh_chain(self, state, target):
        """Recompute the energies (which depend on the values this block is conditioned on) and
        the layout (which may hold quantities that do)."""
        move = self._move(target)
        x = move.from_layout(state.carried_x)
        energies, obs = target.evaluate(x)
        replicas = ReplicaState(move.to_layout(x), energies.astype(state.energies.dtype), state.replica_index)
        return self._observe(type(state), state.i, replicas, obs, state.swap_accept, state.mean_swap_accept,
                             state.ladder, target, move, state.rng_key, state.adaptation)
