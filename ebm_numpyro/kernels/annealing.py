"""Simulated annealing with a cyclic (or monotone) temperature schedule, as an ``MCMCKernel``.

The functional core is :func:`annealing_step`; :class:`CyclicAnnealing` adapts it to
``numpyro.infer.MCMC``. The moves are the shared ones: random-walk Metropolis and
Langevin from :mod:`._moves` for continuous states, the heat-bath sweep
(:func:`ebm_numpyro.kernels.gibbs.gibbs_sweep`) for discrete models.
"""

from __future__ import annotations

import functools
from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax, random
from numpyro.infer.initialization import init_to_uniform
from numpyro.infer.util import initialize_model
from numpyro.util import identity

from .._checks import check_event_shape, check_positive, is_concrete
from ..models._base import DiscreteModel, EnergyModel
from ._common import CachedFnKernel, float_params, split_init_key
from ._moves import langevin_step, random_walk_metropolis
from .gibbs import gibbs_sweep

__all__ = ["CyclicAnnealing", "AnnealingState", "annealing_step"]

AnnealingState = namedtuple(
    "AnnealingState",
    ["i", "z", "energy", "best_energy", "best_z", "temperature", "accept_prob", "at_base", "rng_key"],
)
"""State of :class:`CyclicAnnealing` (a leading chain axis is added when vectorized).

- **i** - steps taken so far; the schedule is evaluated at ``i``.
- **z** - current state.
- **energy** - :math:`E(z)` (the potential at temperature 1).
- **best_energy** - lowest energy visited so far; **best_z** - where.
- **temperature** - the temperature :math:`T(i-1)` of the last move.
- **accept_prob** - Metropolis acceptance probability of the last move (1 for Langevin).
- **at_base** - whether the last move was at the base (target) temperature.
- **rng_key** - random key for the next step.
"""

_SCHEDULE_CHECK_STEPS = 10_000
MOVES = ("metropolis", "langevin", "heat_bath")


def annealing_step(state, rng_key, energy_fn, schedule, move, step_size, base_temperature, base_rtol,
                   model=None):
    """One move at temperature :math:`T_t` = ``schedule(t)`` targeting :math:`e^{-E(z)/T_t}`.

    - ``"metropolis"``: proposal :math:`z' = z + \\sigma\\sqrt{T_t}\\,\\xi` (``sigma`` =
      ``step_size``, so the acceptance rate stays similar along the schedule), accepted with
      probability :math:`\\min(1, e^{-(E(z') - E(z))/T_t})`.
    - ``"langevin"``: unadjusted Langevin in the SGLD convention,
      :math:`z' = z - \\frac{\\varepsilon}{2}\\nabla E(z) + \\sqrt{\\varepsilon T_t}\\,\\xi`.
    - ``"heat_bath"`` (discrete ``model``): one systematic heat-bath sweep over the model's
      blocks at :math:`\\beta = 1/T_t` (:func:`~ebm_numpyro.kernels.gibbs.gibbs_sweep`).

    Tracks the best (lowest) energy visited. Returns the new state.
    """
    temperature = schedule(state.i)
    if move == "metropolis":
        scale = step_size * jnp.sqrt(temperature)
        z, energy, prob = random_walk_metropolis(rng_key, state.z, state.energy, energy_fn, scale, temperature)
    elif move == "langevin":
        grad = jax.grad(energy_fn)(state.z)
        z = langevin_step(rng_key, state.z, grad, step_size, temperature)
        energy, prob = energy_fn(z), jnp.ones((), state.energy.dtype)
    elif move == "heat_bath":
        z = gibbs_sweep(rng_key, model, state.z, 1.0 / temperature)
        energy, prob = energy_fn(z), jnp.ones((), state.energy.dtype)
    else:  # pragma: no cover - validated in the class
        raise ValueError(move)
    energy = jnp.asarray(energy, state.energy.dtype)
    prob = jnp.asarray(prob, state.energy.dtype)
    better = energy < state.best_energy
    best_z = jax.tree.map(lambda a, b: jnp.where(better, a, b), z, state.best_z)
    at_base = temperature <= base_temperature * (1.0 + base_rtol)
    return AnnealingState(
        state.i + 1, z, energy, jnp.where(better, energy, state.best_energy), best_z,
        jnp.asarray(temperature, state.energy.dtype), prob, at_base, state.rng_key,
    )


def _sum_energy(model, z):
    return jnp.sum(model.energy(z))


class CyclicAnnealing(CachedFnKernel):
    """Simulated annealing whose temperature follows a schedule :math:`T(t)`:

    .. math::  z_{t+1} \\sim K_{T(t)}(z_t, \\cdot), \\qquad K_T \\text{ leaves } p_T(z) \\propto e^{-E(z)/T} \\text{ invariant}

    With a cyclic schedule (:func:`ebm_numpyro.schedules.cyclic_cosine`,
    :func:`~ebm_numpyro.schedules.sawtooth`) the hot phases cross energy barriers and the
    cold phases settle into minima; with a monotone one
    (:func:`~ebm_numpyro.schedules.exponential_cooling`) it is classical annealing towards
    the ground state. ``energy`` is :math:`E` at temperature 1.

    Give exactly one of

    - ``potential_fn``: ``z -> E(z)`` (a scalar); needs ``init_params`` in ``MCMC.run``.
    - ``model``: an ebm_numpyro energy model - continuous (:class:`~ebm_numpyro.DoubleWell`,
      ...; energy summed over the batch axes of ``z``) or discrete (:class:`~ebm_numpyro.Ising`,
      Boltzmann machines; ``move="heat_bath"``, the default for them) - which needs
      ``init_params`` (``±1`` spins / ``{0,1}`` units for a discrete model), or an ordinary
      NumPyro model, whose potential :math:`-\\log p` (unconstrained space) is used as
      :math:`E`; draws are returned constrained.

    :param schedule: temperature schedule ``t -> T`` (> 0 on every step).
    :param move: ``"metropolis"`` (random walk, proposal sd ``step_size * sqrt(T)``) or
        ``"langevin"`` (unadjusted, step ``step_size``) for continuous states;
        ``"heat_bath"`` (one Gibbs sweep per step) for discrete models. ``None`` picks
        ``"heat_bath"`` for a discrete model and ``"metropolis"`` otherwise.
    :param base_only: when ``True`` every ``MCMC`` draw is the state right after the next
        move taken at the base temperature: the kernel runs the schedule forward (a
        ``lax.while_loop``) until it reaches one; ``i`` counts the individual moves. Read
        these draws as samples of :math:`p_{T_{base}}` when the chain equilibrates at the
        base temperature: give the schedule a plateau there (``base_fraction`` of
        :func:`~ebm_numpyro.schedules.cyclic_cosine` / :func:`~ebm_numpyro.schedules.sawtooth`).
        Without a plateau each cycle yields one draw whose choice of basin is made while
        cooling (exactly right for basins related by symmetry, such as the double well's)
        but whose shape within the basin is still hotter than the target.
    :param base_temperature: the target temperature; defaults to the schedule's
        ``base_temperature`` attribute, else its minimum over the first 10,000 steps.
    :param base_rtol: a move counts as "at base" when :math:`T \\le T_{base}(1 + \\text{rtol})`.

    Extra fields: ``"temperature"``, ``"energy"``, ``"best_energy"``, ``"best_z"``,
    ``"accept_prob"``, ``"at_base"``.
    """

    sample_field = "z"

    def __init__(self, potential_fn=None, model=None, schedule=None, move=None,
                 step_size=0.5, *, base_only=False, base_temperature=None, base_rtol=1e-3,
                 init_strategy=init_to_uniform):
        if (model is None) == (potential_fn is None):
            raise ValueError("CyclicAnnealing: give exactly one of `potential_fn` or `model`.")
        discrete = isinstance(model, DiscreteModel)
        if move is None:
            move = "heat_bath" if discrete else "metropolis"
        if move not in MOVES:
            raise ValueError(f"`move` must be one of {MOVES}; got {move!r}")
        if discrete != (move == "heat_bath"):
            raise ValueError(
                "CyclicAnnealing: `move='heat_bath'` is for discrete models (Ising, Boltzmann "
                f"machines) and they need it; got move={move!r} with model "
                f"{type(model).__name__ if model is not None else None}"
            )
        if schedule is None or not callable(schedule):
            raise ValueError(f"`schedule` must be a function t -> temperature; got {schedule!r}")
        check_positive(step_size, "step_size")
        check_positive(base_rtol, "base_rtol")
        temps = self._check_schedule(schedule)
        if base_temperature is None:
            base_temperature = getattr(schedule, "base_temperature", None)
        if base_temperature is None:
            base_temperature = float(temps.min())
        check_positive(base_temperature, "base_temperature")
        if base_only and not np.any(temps <= base_temperature * (1 + base_rtol)):
            raise ValueError(
                f"`base_only=True` but the schedule does not reach base_temperature="
                f"{base_temperature} within {_SCHEDULE_CHECK_STEPS} steps"
            )
        self._model = None
        self._discrete = discrete
        self._energy_model = None
        if model is not None and isinstance(model, EnergyModel):
            self._energy_model = model
            potential_fn = functools.partial(_sum_energy, model)
        elif model is not None:
            self._model = model
        self._energy_fn = potential_fn
        self._schedule = schedule
        self._move = move
        self._step_size = float(step_size)
        self._base_only = bool(base_only)
        self._base_temperature = float(base_temperature)
        self._base_rtol = float(base_rtol)
        self._init_strategy = init_strategy
        self._potential_fn_gen = None
        self._postprocess_fn_gen = None
        self._sample_fn = None

    @staticmethod
    def _check_schedule(schedule):
        t = np.arange(_SCHEDULE_CHECK_STEPS)
        temps = np.broadcast_to(np.asarray(jax.device_get(schedule(jnp.asarray(t))), np.float64), t.shape)
        bad = ~(np.isfinite(temps) & (temps > 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                f"`schedule` must return a finite temperature > 0 on every step; "
                f"step {k} gives {temps[k]!r}"
            )
        return temps

    @property
    def model(self):
        return self._model

    @property
    def default_fields(self):
        return ("z",)

    def get_diagnostics_str(self, state):
        return f"T {float(state.temperature):.3g}, best E {float(state.best_energy):.4g}"

    def postprocess_fn(self, args, kwargs):
        if self._postprocess_fn_gen is None:
            return identity
        return self._postprocess_fn_gen(*args, **(kwargs or {}))

    def _energy(self, model_args, model_kwargs):
        if self._model is None:
            return self._energy_fn
        return self._potential_fn_gen(*model_args, **(model_kwargs or {}))

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):
        vectorized, rng_key, key_init = split_init_key(rng_key)
        if self._model is not None:
            info, self._potential_fn_gen, self._postprocess_fn_gen, _ = initialize_model(
                key_init, self._model, init_strategy=self._init_strategy, dynamic_args=True,
                model_args=model_args, model_kwargs=model_kwargs, validate_grad=False,
            )
            if init_params is None:
                init_params = info[0]
        elif init_params is None:
            raise ValueError("CyclicAnnealing(potential_fn=... or an energy model) needs `init_params` in MCMC.run.")
        if self._discrete:
            self._energy_model.validate_state(init_params, "init_params")
            init_params = jnp.asarray(init_params).astype(self._energy_model.state_dtype)
        else:
            init_params = float_params(init_params)
        if self._energy_model is not None and not vectorized:
            check_event_shape(init_params, self._energy_model.event_shape, "init_params")
        energy_fn = self._energy(model_args, model_kwargs)
        schedule = self._schedule

        def init_one(z, key):
            energy = jnp.asarray(energy_fn(z), jnp.result_type(float))
            t0 = jnp.asarray(schedule(jnp.zeros((), jnp.int32)), energy.dtype)
            return AnnealingState(
                jnp.zeros((), jnp.int32), z, energy, energy, z, t0, jnp.ones((), energy.dtype),
                t0 <= self._base_temperature * (1 + self._base_rtol), key,
            )

        state = jax.vmap(init_one)(init_params, rng_key) if vectorized else init_one(init_params, rng_key)
        if is_concrete(state.energy) and not np.all(np.isfinite(np.asarray(state.energy))):
            raise ValueError("CyclicAnnealing: the energy is NaN or infinite at `init_params`.")
        self._sample_fn = self._make_sample_fn(vectorized)
        return state

    def _step(self, state, model_args, model_kwargs):
        key, key_step = random.split(state.rng_key)
        new = annealing_step(
            state, key_step, self._energy(model_args, model_kwargs), self._schedule, self._move,
            self._step_size, self._base_temperature, self._base_rtol, self._energy_model,
        )
        return new._replace(rng_key=key)

    def _sample_one(self, state, model_args, model_kwargs):
        state = self._step(state, model_args, model_kwargs)
        if not self._base_only:
            return state
        return lax.while_loop(
            lambda s: ~s.at_base, lambda s: self._step(s, model_args, model_kwargs), state
        )

    def _make_sample_fn(self, vectorized):
        if vectorized:
            return jax.vmap(self._sample_one, in_axes=(0, None, None))
        return self._sample_one

    def sample(self, state, model_args, model_kwargs):
        """Advance by one move (or, with ``base_only``, to just after the next base-temperature move)."""
        return self._sample_fn(state, model_args, model_kwargs)
