"""Schedules: functions of the step count ``t`` (optax style), for temperatures and step sizes.

A schedule is any function ``t -> value`` written in ``jax.numpy`` (it must work on Python
ints, concrete arrays and tracers, so that a kernel can call it inside ``jit``). The ones
built here are :class:`Schedule` objects: callables that also carry their metadata in typed
fields, ``base_temperature`` (the target temperature of a temperature schedule: the lowest
it reaches, where draws are read as samples) and ``sampling_phase`` (for cyclical SG-MCMC,
the schedule of booleans that says which steps sample and which explore).

Every temperature schedule and ladder takes its temperatures in one order, ``(t_min, t_max,
...)``. Kernels turn a number into :func:`constant` and validate every schedule with
:func:`check_schedule` before anything is compiled.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_int, check_positive, check_temperature, float_dtype

__all__ = [
    "Schedule",
    "as_schedule",
    "check_schedule",
    "geometric_ladder",
    "constant",
    "polynomial_decay",
    "cyclical_step_size",
    "cyclical_sampling_phase",
    "cyclic_cosine",
    "sawtooth",
    "exponential_cooling",
]


def _as_t(t):
    return jnp.asarray(t, float_dtype())


def _check_number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ValueError(f"`{name}` must be a number; got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be finite; got {value!r}")
    return v


#: Steps on which :func:`check_schedule` evaluates a schedule before compiling.
CHECK_STEPS = 10_000


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A schedule ``t -> value`` with its metadata.

    - **fn** - the function of the step count (``jax.numpy``, works on tracers);
    - **base_temperature** - for temperature schedules, the target temperature (the lowest
      one reached); ``None`` for step sizes;
    - **sampling_phase** - ``t -> bool`` for cyclical SG-MCMC (``False`` on exploration
      steps, taken without noise); ``None`` means every step samples.
    """

    fn: Callable
    base_temperature: float | None = None
    sampling_phase: Callable | None = None

    def __call__(self, t):
        return self.fn(t)


def as_schedule(value, name: str, check=check_positive) -> Schedule:
    """A number (validated by ``check(value, name)``) becomes :func:`constant`; a
    :class:`Schedule` is returned as it is; any other callable is wrapped in one."""
    if isinstance(value, Schedule):
        return value
    if callable(value):
        return Schedule(value)
    if np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a number or a schedule t -> value; got shape {np.shape(value)}")
    check(value, name)
    return constant(_check_number(value, name))


def check_schedule(schedule, name: str, num_steps: int = CHECK_STEPS) -> np.ndarray:
    """Evaluate ``schedule`` on steps ``0..num_steps-1`` (concretely, before compiling) and
    raise ``ValueError`` naming the first step whose value is not finite and > 0.

    Returns the values (float64) for callers that need, e.g., the minimum temperature.
    """
    t = np.arange(num_steps)
    values = np.asarray(jax.device_get(schedule(jnp.asarray(t))), dtype=np.float64)
    values = np.broadcast_to(values, t.shape)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"`{name}` schedule must return finite values > 0; step {k} gives {values[k]!r}")
    return values


# ----------------------------------------------------------------------------- step sizes


def constant(value):
    """Constant schedule :math:`s(t) = \\text{value}` (value finite and > 0).

    Used for a fixed step size or a fixed temperature; as a temperature schedule its
    ``base_temperature`` is ``value``.
    """
    check_positive(value, "value")
    value = _check_number(value, "value")

    return Schedule(functools.partial(_constant, value=value), base_temperature=value)


def _constant(t, value):
    return jnp.full(jnp.shape(t), value, float_dtype())


def polynomial_decay(a, b, gamma):
    """Polynomially decaying step size of Welling & Teh (2011):

    .. math::  \\varepsilon_t = a\\,(b + t)^{-\\gamma}

    ``a > 0``, ``b > 0`` and ``gamma >= 0``.  For SGLD to converge to the posterior
    (Robbins-Monro: :math:`\\sum \\varepsilon_t = \\infty`, :math:`\\sum \\varepsilon_t^2 < \\infty`)
    choose :math:`0.5 < \\gamma \\le 1`; ``gamma = 0`` is a constant step size.
    """
    check_positive(a, "a")
    check_positive(b, "b")
    gamma = _check_number(gamma, "gamma")
    if gamma < 0:
        raise ValueError(f"`gamma` must be >= 0 (0.5 < gamma <= 1 for convergence); got {gamma!r}")
    a, b = float(a), float(b)

    return Schedule(functools.partial(_polynomial_decay, a=a, b=b, gamma=gamma))


def _polynomial_decay(t, a, b, gamma):
    return a * (b + _as_t(t)) ** (-gamma)


def _cycle_position(num_steps, num_cycles):
    num_steps = check_int(num_steps, "num_steps", 1)
    num_cycles = check_int(num_cycles, "num_cycles", 1)
    if num_cycles > num_steps:
        raise ValueError(
            f"`num_cycles` must be <= `num_steps` ({num_steps}); got {num_cycles!r}"
        )
    return math.ceil(num_steps / num_cycles)


def _position(t, length):
    """Fraction r in [0, 1) of the way through the current cycle of ``length`` steps."""
    return jnp.mod(_as_t(t), length) / length


def _check_fraction(exploration_fraction):
    f = _check_number(exploration_fraction, "exploration_fraction")
    if not 0.0 <= f < 1.0:
        raise ValueError(f"`exploration_fraction` must lie in [0, 1); got {exploration_fraction!r}")
    return f


def cyclical_sampling_phase(num_steps, num_cycles, exploration_fraction):
    """Whether step ``t`` of cyclical SG-MCMC (Zhang et al. 2020) is in the sampling phase.

    With cycle length :math:`L = \\lceil K/M \\rceil` (``K = num_steps``, ``M = num_cycles``)
    and :math:`r_t = (t \\bmod L)/L`, the first ``exploration_fraction`` (:math:`\\beta`) of
    every cycle explores (:math:`r_t < \\beta`: optimisation, no noise) and the rest samples.
    """
    length = _cycle_position(num_steps, num_cycles)
    beta = _check_fraction(exploration_fraction)
    return Schedule(functools.partial(_sampling_phase, length=length, beta=beta))


def _sampling_phase(t, length, beta):
    return _position(t, length) >= beta


def cyclical_step_size(initial, num_steps, num_cycles, exploration_fraction=0.0):
    """Cyclical cosine step size of cSGLD (Zhang et al. 2020, eq. 1), with ``t`` from 0:

    .. math::  \\varepsilon_t = \\frac{\\varepsilon_0}{2}\\Big[\\cos\\big(\\pi r_t\\big) + 1\\Big],
               \\qquad r_t = \\frac{t \\bmod L}{L}, \\quad L = \\lceil K / M \\rceil

    Each of the ``num_cycles`` (M) cycles of ``num_steps / num_cycles`` steps starts at the
    large ``initial`` step (exploration, :math:`r_t < \\beta`) and decays towards 0 (sampling).
    The returned :class:`Schedule` has ``sampling_phase`` set to
    :func:`cyclical_sampling_phase`; :class:`~ebm_numpyro.SGLD` reads it and switches the
    Langevin noise off during exploration. Past ``num_steps`` the cycles repeat.
    """
    check_positive(initial, "initial")
    initial = float(initial)
    length = _cycle_position(num_steps, num_cycles)
    phase = cyclical_sampling_phase(num_steps, num_cycles, exploration_fraction)
    return Schedule(functools.partial(_cyclical_cosine, initial=initial, length=length), sampling_phase=phase)


def _cyclical_cosine(t, initial, length):
    return 0.5 * initial * (jnp.cos(jnp.pi * _position(t, length)) + 1.0)


# ----------------------------------------------------------------------------- temperatures


def _check_range(t_min, t_max):
    check_temperature(t_min, "t_min")
    check_temperature(t_max, "t_max")
    t_min, t_max = _check_number(t_min, "t_min"), _check_number(t_max, "t_max")
    if t_min > t_max:
        raise ValueError(f"`t_min` ({t_min}) must be <= `t_max` ({t_max})")
    return t_min, t_max


def _plateau_steps(base_fraction, period, most):
    f = _check_number(base_fraction, "base_fraction")
    if not 0.0 <= f < 1.0:
        raise ValueError(f"`base_fraction` must lie in [0, 1); got {base_fraction!r}")
    return min(int(math.floor(f * period)), most)


def cyclic_cosine(t_min, t_max, period, base_fraction=0.0):
    """Cyclic cosine temperature for simulated annealing, period ``P`` steps:

    .. math::  T(t) = T_{min} + \\frac{T_{max} - T_{min}}{2}\\Big[1 + \\cos\\Big(\\frac{2\\pi q_t}{P - H}\\Big)\\Big]

    where :math:`q_t = p` while cooling (:math:`p = t \\bmod P < (P-H)/2`), then the phase is
    held for :math:`H = \\lfloor\\text{base\\_fraction}\\cdot P\\rfloor` steps at
    :math:`T_{min}` (a plateau at the base temperature, where the chain equilibrates before
    its draws are read as samples), then :math:`q_t = p - H` while reheating. With
    ``base_fraction=0``: hot (:math:`T_{max}`) at ``t = kP``, cold (:math:`T_{min}`, the
    ``base_temperature``) at ``t = P/2 + kP``; use an even integer ``period`` so that the
    base temperature is hit exactly on a step.
    """
    t_min, t_max = _check_range(t_min, t_max)
    check_positive(period, "period")
    period = float(period)
    hold = _plateau_steps(base_fraction, period, max(int(period) - 2, 0))
    fn = functools.partial(_cyclic_cosine, t_min=t_min, t_max=t_max, period=period, hold=hold)
    return Schedule(fn, base_temperature=t_min)


def _cyclic_cosine(t, t_min, t_max, period, hold):
    n = period - hold
    p = jnp.mod(_as_t(t), period)
    q = jnp.where(p < n / 2, p, jnp.maximum(p - hold, n / 2))
    c = jnp.cos(2.0 * jnp.pi * q / n)
    return t_min + 0.5 * (t_max - t_min) * (1.0 + c)


def sawtooth(t_min, t_max, period, base_fraction=0.0):
    """Sawtooth temperature: a linear cool-down from :math:`T_{max}` to :math:`T_{min}`,
    an optional plateau at :math:`T_{min}`, then a jump back up; period ``P`` steps:

    .. math::  T(t) = T_{max} - (T_{max} - T_{min})\\,\\min\\Big(\\frac{t \\bmod P}{P - 1 - H}, 1\\Big)

    with :math:`H = \\lfloor\\text{base\\_fraction}\\cdot P\\rfloor` extra steps held at
    :math:`T_{min}` (the ``base_temperature``). The last ``H + 1`` steps of every period are
    at :math:`T_{min}`. ``period`` is an integer >= 2.
    """
    t_min, t_max = _check_range(t_min, t_max)
    period = check_int(period, "period", 2)
    hold = _plateau_steps(base_fraction, period, period - 2)
    fn = functools.partial(_sawtooth, t_min=t_min, t_max=t_max, period=period, n_cool=period - 1 - hold)
    return Schedule(fn, base_temperature=t_min)


def _sawtooth(t, t_min, t_max, period, n_cool):
    frac = jnp.minimum(jnp.mod(_as_t(t), period) / n_cool, 1.0)
    return t_max - (t_max - t_min) * frac


def exponential_cooling(t_min, t_max, num_steps):
    """Monotone geometric cooling from ``t_max`` down to ``t_min`` over ``num_steps`` steps,
    then constant at ``t_min`` (the ``base_temperature``):

    .. math::  T(t) = T_{max}\\,\\big(T_{min}/T_{max}\\big)^{\\min(t, K-1)/(K-1)}
    """
    t_min, t_max = _check_range(t_min, t_max)
    num_steps = check_int(num_steps, "num_steps", 2)
    fn = functools.partial(_exponential_cooling, t_max=t_max, log_ratio=math.log(t_min / t_max), num_steps=num_steps)
    return Schedule(fn, base_temperature=t_min)


def _exponential_cooling(t, t_max, log_ratio, num_steps):
    frac = jnp.minimum(_as_t(t), num_steps - 1) / (num_steps - 1)
    return t_max * jnp.exp(log_ratio * frac)


# ----------------------------------------------------------------------------- ladders


def geometric_ladder(t_min, t_max, n):
    """Temperature ladder for replica exchange, geometric between ``t_min`` and ``t_max``:

    .. math::  T_k = T_{min}\\,\\big(T_{max}/T_{min}\\big)^{k/(n-1)}, \\qquad k = 0, \\dots, n-1

    so neighbouring temperatures have a constant ratio (for a roughly constant heat capacity
    this gives roughly equal swap acceptance along the ladder). ``t_min`` comes first: it is
    the target temperature whose states :class:`~ebm_numpyro.TemperedGibbs` returns. Requires
    ``0 < t_min < t_max`` (finite) and an integer ``n >= 2``; returns ``n`` floats with
    ``T_0 = t_min`` and ``T_{n-1} = t_max`` exactly.
    """
    for name, value in (("t_min", t_min), ("t_max", t_max)):
        if np.ndim(value) != 0:
            raise ValueError(f"`{name}` must be a scalar temperature; got shape {np.shape(value)}")
        check_temperature(value, name)
    t_min, t_max = float(t_min), float(t_max)
    if not t_max > t_min:
        raise ValueError(f"`t_max` ({t_max}) must be > `t_min` ({t_min})")
    n = check_int(n, "n", 2)
    ladder = t_min * (t_max / t_min) ** (np.arange(n) / (n - 1))
    ladder[0], ladder[-1] = t_min, t_max
    return jnp.asarray(ladder, float_dtype())
