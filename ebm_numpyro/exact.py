"""Exact ground truth: streaming enumeration with a stable log-sum-exp, and closed forms.

Every discrete model enumerates itself through the protocol's hooks
(``model.log_partition_enumerated(beta)``, ``model.moments_model()``; see
:class:`ebm_numpyro.DiscreteModel`): by default a stream over all :math:`q^n` states of its
energy; quadratic models stream with a low/high split of the units, a restricted Boltzmann
machine enumerates only its smaller layer and sums the other analytically. Memory stays flat in the number of states, and
reverse-mode derivatives (the moments) also need flat memory.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._checks import check_event_shape, check_int, check_temperature, check_units, format_power_of_two
from ._lattice_exact import (
    kaufman_heat_capacity,
    kaufman_log_partition,
    kaufman_mean_energy,
    onsager_critical_temperature,
    onsager_free_energy,
    onsager_magnetization,
    onsager_mean_energy,
)
from .models import DiscreteModel, check_discrete_model, enumerate_states as _enumerate_states
from .models import digit_states as _digit_states
from .models.continuous import Quadrature, quadrature_log_partition

__all__ = [
    "MAX_ENUMERATED_UNITS",
    "Moments",
    "all_states",
    "log_partition",
    "moments",
    "log_likelihood",
    "enumerate_states",
    "kaufman_log_partition",
    "kaufman_mean_energy",
    "kaufman_heat_capacity",
    "onsager_critical_temperature",
    "onsager_free_energy",
    "onsager_mean_energy",
    "onsager_magnetization",
    "Quadrature",
    "quadrature_log_partition",
]

#: Default limit on the number of enumerated units (2^32 ≈ 4.3e9 states).
MAX_ENUMERATED_UNITS = 32
_ASSUMED_RATE = 1e8  # states per second on a 2-core CPU, for the error message only


class Moments(NamedTuple):
    """Exact thermodynamic moments at one temperature (k_B = 1).

    ``log_partition`` log Z; ``mean_energy`` ⟨E⟩; ``heat_capacity`` C = Var(E)/T²;
    ``mean`` ⟨x_i⟩ in the model's state layout; ``correlation`` ⟨x_i x_j⟩ over the flattened
    units (for an RBM: the visible-hidden moments ⟨v_i h_j⟩, the statistics it couples).
    """

    log_partition: jnp.ndarray
    mean_energy: jnp.ndarray
    heat_capacity: jnp.ndarray
    mean: jnp.ndarray
    correlation: jnp.ndarray


def all_states(num_units: int, unit_values=(0, 1), dtype=jnp.int8):
    """All ``2^n`` states of ``n`` units, shape ``(2^n, n)``, in the library's enumeration order:

    .. math::  x^{(k)}_i = \\text{down} + (\\text{up} - \\text{down})\\,\\lfloor k / 2^i \\rfloor \\bmod 2

    (unit i is up where bit i of k is set). ``unit_values`` is ``(down, up)``.
    """
    return _digit_states(jnp.arange(2**num_units, dtype=jnp.int32), num_units, tuple(unit_values), dtype)


def enumerate_states(model, max_units: int = 20):
    """All :math:`q^n` states of a small discrete model, shape ``(q^n,) + event_shape``, in its
    ``state_dtype``: state k has unit i equal to ``unit_values[d_i]``, :math:`d_i` the i-th base-q
    digit of k (for two values: ``up`` where bit i of k is set, see :func:`all_states`). For an
    RBM these are joint states ``[v, h]``. ``max_units`` bounds :math:`\\lceil n \\log_2 q\\rceil`.
    """
    _check_enumerable(model, _state_bits(model), max_units)
    return _enumerate_states(model)


# --- validation ------------------------------------------------------------------------
def _state_bits(model) -> int:
    q = len(model.unit_values)
    return model.num_units if q == 2 else math.ceil(model.num_units * math.log2(q))


def _check_enumerable(model, n: int, max_units: int) -> int:
    check_discrete_model(model, "model", "exact enumeration")
    max_units = check_int(max_units, "max_units", 1)
    if n > max_units:
        raise ValueError(
            f"exact enumeration of this {type(model).__name__} needs {format_power_of_two(n)} states "
            f"(about {format_power_of_two(n, scale=1 / _ASSUMED_RATE)} s at ~{_ASSUMED_RATE:.0e} states/s; "
            f"memory stays flat), more than the limit of 2^{max_units} states (max_units={max_units}). Use "
            f"ebm.exact.kaufman_log_partition for periodic lattices or an AIS estimate instead."
        )
    return n


def _beta(model, temperature):
    check_temperature(temperature)
    if jnp.ndim(temperature) != 0:
        raise ValueError(f"`temperature` must be a scalar; got shape {jnp.shape(temperature)}")
    return jnp.asarray(1.0 / jnp.asarray(temperature, model.dtype), model.dtype)


def _check_model(model, max_units):
    n = model.enumerated_units if isinstance(model, DiscreteModel) else 0
    return _check_enumerable(model, n, max_units)


# --- public API --------------------------------------------------------------------------
def log_partition(model, temperature=1.0, *, max_units: int = MAX_ENUMERATED_UNITS):
    """Exact log partition function by streaming enumeration:

    .. math::  \\log Z(T) = \\log \\sum_x e^{-E(x)/T}
               = m + \\log \\sum_x e^{-E(x)/T - m},\\quad m = \\max_x(-E(x)/T)

    Stable for every T > 0: at low T it tends to :math:`-E_{min}/T + \\log g` (g the
    ground-state degeneracy), at high T to :math:`n \\log 2`. Memory is flat in n; an RBM
    enumerates only its smaller layer. Raises ``ValueError`` for models with more than
    ``max_units`` enumerated units (stating the state count and time it would need).
    """
    _check_model(model, max_units)
    return model.log_partition_enumerated(_beta(model, temperature))


def moments(model, temperature=1.0, *, max_units: int = MAX_ENUMERATED_UNITS) -> Moments:
    """Exact moments as derivatives of log Z (one streaming pass per derivative):

    .. math::
        \\langle E\\rangle = -\\partial_\\beta \\log Z,\\quad
        C = \\beta^2\\,\\partial^2_\\beta \\log Z = \\mathrm{Var}(E)/T^2,\\quad
        \\langle x_i\\rangle = T\\,\\partial_{h_i}\\log Z,\\quad
        \\langle x_i x_j\\rangle = T\\,(\\partial_{J_{ij}} + \\partial_{J_{ji}})\\log Z

    For an RBM ``mean`` is ⟨[v, h]⟩ and ``correlation`` is ⟨v_i h_j⟩ = T ∂log Z/∂W_ij.
    """
    _check_model(model, max_units)
    beta = _beta(model, temperature)
    temperature = 1.0 / beta
    target = model.moments_model()

    def f(m, b):
        return m.log_partition_enumerated(b)

    logz, (grad, dlogz_dbeta) = jax.value_and_grad(f, argnums=(0, 1))(target, beta)
    _, d2 = jax.jvp(lambda b: jax.grad(f, argnums=1)(target, b), (beta,), (jnp.ones_like(beta),))
    heat_capacity = jnp.maximum(beta**2 * d2, 0.0)  # Var(E) >= 0; clamp float round-off
    mean, correlation = target.unit_moments(grad, temperature)
    return Moments(logz, -dlogz_dbeta, heat_capacity, mean.reshape(model.event_shape), correlation)


def log_likelihood(model, data, temperature=1.0, *, max_units: int = MAX_ENUMERATED_UNITS):
    """Mean exact log-likelihood of ``data`` (leading axis = examples, shape ``model.data_shape``):

    .. math::  \\frac1B\\sum_b \\log p(x_b) = \\frac1B\\sum_b \\big(-F(x_b)/T\\big) - \\log Z

    with :math:`F` = ``model.data_energy``: the energy, or for an RBM (data = visible vectors)
    the free energy with the hidden units summed out.
    """
    _check_model(model, max_units)
    check_event_shape(data, model.data_shape, "data")
    check_units(data, model.unit_values, "data")
    neg = -model.data_energy(data, temperature) / temperature
    return jnp.mean(neg) - log_partition(model, temperature, max_units=max_units)



def __dir__():
    return sorted(__all__)
