"""Simulated annealing with a cyclic (or monotone) temperature schedule, as an ``MCMCKernel``.

The functional core is :func:`annealing_step` (``(key, state, energy_fn, move, temperature)
-> state``) with the move chosen once, when the kernel is built: :class:`Metropolis`
(random walk) and :class:`Langevin` for continuous states (both from :mod:`._moves`),
:class:`HeatBath` (one sweep of :mod:`.heat_bath`) for discrete models.
:class:`CyclicAnnealing` adapts it to ``numpyro.infer.MCMC``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer.initialization import init_to_uniform

from .._checks import check_event_shape, check_positive, is_concrete
from ..models import DiscreteModel
from ..schedules import as_schedule, check_schedule
from ._base import EBMKernel, float_params
from ._moves import langevin_step, random_walk_metropolis, split_keys
from .heat_bath import gibbs_sweep

__all__ = ["CyclicAnnealing", "AnnealingState", "annealing_step", "Metropolis", "Langevin", "HeatBath", "MOVES"]

MOVES = ("metropolis", "langevin", "heat_bath")


class AnnealingState(NamedTuple):
    """State of :class:`CyclicAnnealing` (a leading chain axis is added when vectorized).

    - **i** - moves taken so far; the schedule is evaluated at ``i``.
    - **z** - current state.
    - **physical_energy** - :math:`E(z)`, the potential at temperature 1 (for a NumPyro
      model :math:`-\\log p(z)` in unconstrained space).
    - **potential_energy** - :math:`E(z)/T` at the temperature of the last move.
    - **best_energy** - lowest energy visited so far; **best_z** - where.
    - **temperature** - the temperature :math:`T(i-1)` of the last move.
    - **accept_prob** - Metropolis acceptance probability of the last move (1 otherwise).
    - **at_base** - whether the last move was at the base (target) temperature.
    - **rng_key** - random key for the next step.
    """

    i: Any
    z: Any
    physical_energy: Any
    potential_energy: Any
    best_energy: Any
    best_z: Any
    temperature: Any
    accept_prob: Any
    at_base: Any
    rng_key: Any


class Metropolis(NamedTuple):
    """Random-walk Metropolis: proposal :math:`z' = z + \\sigma\\sqrt{T}\\,\\xi` (``step_size``
    :math:`\\sigma`, so the acceptance rate stays similar along the schedule), accepted with
    probability :math:`\\min(1, e^{-(E(z') - E(z))/T})`."""

    step_size: float

    def __call__(self, key, z, energy, energy_fn, temperature):
        scale = self.step_size * jnp.sqrt(temperature)
        return random_walk_metropolis(key, z, energy, energy_fn, scale, temperature)


class Langevin(NamedTuple):
    """Unadjusted Langevin in the SGLD convention,
    :math:`z' = z - \\frac{\\varepsilon}{2}\\nabla E(z) + \\sqrt{\\varepsilon T}\\,\\xi`."""

    step_size: float

    def __call__(self, key, z, energy, energy_fn, temperature):
        z = langevin_step(key, z, jax.grad(energy_fn)(z), self.step_size, temperature)
        return z, energy_fn(z), jnp.ones((), energy.dtype)


class HeatBath(NamedTuple):
    """One systematic heat-bath sweep of a discrete ``model`` at :math:`\\beta = 1/(T_U T)`,
    with :math:`T_U` the potential's own temperature (:func:`~ebm_numpyro.kernels.heat_bath.gibbs_sweep`).
    ``HeatBath()`` is completed with the potential's model and temperature by the kernel."""

    model: Any = None
    potential_temperature: float = 1.0

    def __call__(self, key, z, energy, energy_fn, temperature):
        z = gibbs_sweep(key, self.model, z, 1.0 / (self.potential_temperature * temperature))
        return z, energy_fn(z), jnp.ones((), energy.dtype)


def annealing_step(key, state, energy_fn, move, temperature, at_base):
    """One ``move`` at temperature ``temperature`` :math:`T_t` targeting :math:`e^{-E(z)/T_t}`.

    Tracks the best (lowest) energy visited; ``at_base`` says whether :math:`T_t` is the
    base temperature. Returns the new state (``rng_key`` unchanged).
    """
    dtype = state.physical_energy.dtype
    z, energy, prob = move(key, state.z, state.physical_energy, energy_fn, temperature)
    energy, prob = jnp.asarray(energy, dtype), jnp.asarray(prob, dtype)
    temperature = jnp.asarray(temperature, dtype)
    better = energy < state.best_energy
    best_z = jax.tree.map(lambda a, b: jnp.where(better, a, b), z, state.best_z)
    return AnnealingState(
        state.i + 1, z, energy, energy / temperature, jnp.where(better, energy, state.best_energy),
        best_z, temperature, prob, at_base, state.rng_key,
    )


def _make_move(move, step_size, discrete, energy_model, potential_temperature, what):
    """The move object of ``CyclicAnnealing(move=...)``: an object (:class:`Metropolis`,
    :class:`Langevin`, :class:`HeatBath`, or any callable ``(key, z, energy, energy_fn, T) ->
    (z, energy, accept_prob)``), or a name as sugar (``"metropolis"``, ``"langevin"``,
    ``"heat_bath"``, with ``step_size``); ``None`` picks the heat bath for a discrete model and
    Metropolis otherwise."""
    if move is None:
        move = "heat_bath" if discrete else "metropolis"
    if isinstance(move, str):
        if move not in MOVES:
            raise ValueError(f"`move` must be a move object (Metropolis, Langevin, HeatBath) or one of {MOVES}; "
                             f"got {move!r}")
        check_positive(step_size, "step_size")
        move = {"metropolis": Metropolis, "langevin": Langevin}.get(move, lambda _: HeatBath())(float(step_size))
    elif not callable(move):
        raise ValueError(f"`move` must be a move object (Metropolis, Langevin, HeatBath) or one of {MOVES}; "
                         f"got {type(move).__name__}")
    if isinstance(move, (Metropolis, Langevin)):
        check_positive(move.step_size, "step_size")
    if isinstance(move, HeatBath) != discrete and isinstance(move, (Metropolis, Langevin, HeatBath)):
        raise ValueError(
            "CyclicAnnealing: the heat-bath move (move='heat_bath' or HeatBath()) is for discrete models "
            "(potential_fn=ebm.potential(model) of an "
            f"ebm_numpyro.DiscreteModel) and they need it; got move={type(move).__name__} with "
            f"{type(energy_model or what).__name__}"
        )
    if isinstance(move, HeatBath) and move.model is None:
        move = HeatBath(energy_model, potential_temperature)
    return move


class CyclicAnnealing(EBMKernel):
    """Simulated annealing whose temperature follows a schedule :math:`T(t)`:

    .. math::  z_{t+1} \\sim K_{T(t)}(z_t, \\cdot), \\qquad K_T \\text{ leaves } p_T(z) \\propto e^{-U(z)/T} \\text{ invariant}

    With a cyclic schedule (:func:`ebm_numpyro.schedules.cyclic_cosine`,
    :func:`~ebm_numpyro.schedules.sawtooth`) the hot phases cross energy barriers and the
    cold phases settle into minima; with a monotone one
    (:func:`~ebm_numpyro.schedules.exponential_cooling`) it is classical annealing towards
    the ground state.

    Give exactly one of ``model`` (a NumPyro model: :math:`U = -\\log p` in unconstrained
    space, draws returned constrained) or ``potential_fn`` (``z -> U(z)``, e.g.
    ``ebm.potential(ebm.DoubleWell())``, or ``ebm.potential(ising)`` for a discrete model,
    whose ``init_params`` are ``±1`` spins / ``{0,1}`` units); ``potential_fn`` needs
    ``init_params`` in ``MCMC.run``.

    :param temperature: temperature schedule ``t -> T`` (> 0 on every step), or a number.
    :param move: a move object: :class:`Metropolis` ``(step_size)`` (random walk, proposal sd
        ``step_size * sqrt(T)``) or :class:`Langevin` ``(step_size)`` (unadjusted) for continuous
        states, :class:`HeatBath` ``()`` (one Gibbs sweep per step) for discrete models, or your
        own callable ``(key, z, energy, energy_fn, T) -> (z, energy, accept_prob)``; the names
        ``"metropolis"``, ``"langevin"``, ``"heat_bath"`` are sugar (with ``step_size``). ``None``
        picks the heat bath for a discrete model and Metropolis otherwise.
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
        ``base_temperature``, else its minimum over the first 10,000 steps.
    :param base_rtol: a move counts as "at base" when :math:`T \\le T_{base}(1 + \\text{rtol})`.

    Extra fields: ``"potential_energy"``, ``"physical_energy"``, ``"temperature"``,
    ``"best_energy"``, ``"best_z"``, ``"accept_prob"``, ``"at_base"``.
    """

    _state_fields = ("best_z",)

    def __init__(self, model=None, potential_fn=None, *, temperature, move=None, step_size=0.5,
                 base_only=False, base_temperature=None, base_rtol=1e-3, init_strategy=init_to_uniform):
        super().__init__(model, potential_fn, init_strategy=init_strategy)
        discrete = isinstance(self.energy_model, DiscreteModel)
        self._move = _make_move(move, step_size, discrete, self.energy_model, self.potential_temperature,
                                model or potential_fn)
        check_positive(base_rtol, "base_rtol")
        self._schedule = as_schedule(temperature, "temperature")
        temps = check_schedule(self._schedule, "temperature")
        if base_temperature is None:
            base_temperature = self._schedule.base_temperature
        if base_temperature is None:
            base_temperature = float(temps.min())
        check_positive(base_temperature, "base_temperature")
        if base_only and not np.any(temps <= base_temperature * (1 + base_rtol)):
            raise ValueError(
                f"`base_only=True` but the schedule does not reach base_temperature="
                f"{base_temperature} within {temps.size} steps"
            )
        self._base_only = bool(base_only)
        self._base_temperature = float(base_temperature)
        self._base_rtol = float(base_rtol)

    @property
    def default_fields(self):
        return ("z",)

    def get_diagnostics_str(self, state):
        return f"T {float(np.max(state.temperature)):.3g}, best E {float(np.min(state.best_energy)):.4g}"

    def _prepare_init_params(self, init_params, vectorized):
        model = self.energy_model
        if isinstance(model, DiscreteModel):
            model.validate_state(init_params, "init_params")
            return jnp.asarray(init_params).astype(model.state_dtype)
        init_params = float_params(init_params)
        if model is not None and tuple(model.event_shape) != (1,):  # 1-D models also take scalars
            check_event_shape(init_params, model.event_shape, "init_params")
        return init_params

    def _at_base(self, temperature):
        return temperature <= self._base_temperature * (1.0 + self._base_rtol)

    def _init_chain(self, rng_key, z, potential):
        energy = jnp.asarray(potential(z), jnp.result_type(float))
        t0 = jnp.asarray(self._schedule(jnp.zeros((), jnp.int32)), energy.dtype)
        return AnnealingState(
            jnp.zeros((), jnp.int32), z, energy, energy / t0, energy, z, t0,
            jnp.ones((), energy.dtype), self._at_base(t0), rng_key,
        )

    def _refresh_chain(self, state, potential):
        """The energy of the current state under the new conditioning (``numpyro.infer.Gibbs``)."""
        energy = jnp.asarray(potential(state.z), state.physical_energy.dtype)
        return state._replace(physical_energy=energy, potential_energy=energy / state.temperature)

    def _check_initial_state(self, state, potential, vectorized):
        if is_concrete(state.physical_energy) and not np.all(np.isfinite(np.asarray(state.physical_energy))):
            raise ValueError("CyclicAnnealing: the energy is NaN or infinite at `init_params`.")

    def _move_once(self, state, potential):
        key, key_step = split_keys(state.rng_key)
        temperature = self._schedule(state.i)
        new = annealing_step(key_step, state, potential, self._move, temperature, self._at_base(temperature))
        return new._replace(rng_key=key)

    def _step_chain(self, state, potential):
        state = self._move_once(state, potential)
        if not self._base_only:
            return state
        return lax.while_loop(lambda s: ~s.at_base, lambda s: self._move_once(s, potential), state)
