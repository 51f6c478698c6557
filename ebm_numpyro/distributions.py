"""Energy models as NumPyro distributions: ``numpyro.sample("s", ebm.Boltzmann(model, T))``.

:class:`Boltzmann` is the Boltzmann distribution of a discrete energy model,

.. math::  p(x) = \\frac{e^{-E(x)/T}}{Z(T)}, \\qquad Z(T) = \\sum_x e^{-E(x)/T},

over the model's states (``event_shape = model.event_shape``). It puts an Ising, Boltzmann
machine, RBM, Potts or user-written discrete energy as a prior into any NumPyro model; the
library's :class:`~ebm_numpyro.TemperedGibbs` recognises such a site and draws it with the
model's own conditionals (local fields) instead of re-evaluating the whole log density.
"""

from __future__ import annotations

import math
import weakref

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import Distribution, constraints

from ._checks import check_temperature, format_count, is_concrete
from ._lattice_exact import kaufman_log_partition
from .models import LatticeIsing, check_discrete_model, enumerate_states

__all__ = ["Boltzmann", "UnitValues", "MAX_ENUMERATED_STATES", "num_states", "all_states_of"]

#: Models with at most this many states are normalised and sampled by enumeration.
MAX_ENUMERATED_STATES = 2**20


class UnitValues(constraints.Constraint):
    """Support of a discrete energy model: every unit takes one of ``values`` (e.g. ``(-1, 1)``
    for spins, ``(0, 1)`` for Boltzmann-machine units, ``(0, ..., q-1)`` for Potts labels);
    ``event_dim`` axes form one state."""

    is_discrete = True

    def __init__(self, values, event_dim=0):
        self.values = tuple(int(v) for v in values)
        self.event_dim = int(event_dim)

    def __call__(self, x):
        x = jnp.asarray(x)
        ok = jnp.isin(x, jnp.asarray(self.values, x.dtype))
        return jnp.all(ok, axis=tuple(range(-self.event_dim, 0))) if self.event_dim else ok

    def feasible_like(self, prototype):
        return jnp.full(jnp.shape(prototype), self.values[0], jnp.result_type(prototype))

    def tree_flatten(self):
        return (), ((), {"values": self.values, "event_dim": self.event_dim})

    def eq(self, other, static=False):
        return isinstance(other, UnitValues) and (self.values, self.event_dim) == (other.values, other.event_dim)

    def __repr__(self):
        return f"UnitValues(values={self.values}, event_dim={self.event_dim})"


def num_states(model) -> float:
    """Number of states of a discrete model, :math:`q^n` (``q`` unit values, ``n`` units)."""
    q, n = len(model.unit_values), model.num_units
    return float(q**n) if n * math.log2(q) < 1000 else math.inf


def _states_text(model) -> str:
    q, n = len(model.unit_values), model.num_units
    count = num_states(model)
    return f"{q}^{n}" + (f" = {count:.3g}" if count < math.inf else "")


def all_states_of(model, max_states: int = MAX_ENUMERATED_STATES):
    """All :math:`q^n` states of a small discrete model, shape ``(q^n,) + event_shape``: state
    ``i`` has unit ``k`` equal to ``unit_values[d_k]``, :math:`d_k` the k-th base-q digit of i
    (for binary units the order of :func:`ebm_numpyro.exact.all_states`)."""
    if num_states(model) > max_states:
        raise ValueError(
            f"enumerating the states of this {type(model).__name__} needs {_states_text(model)} states, "
            f"more than the limit of {format_count(max_states)}"
        )
    return enumerate_states(model)


def _kaufman_coupling(model):
    """The ferromagnetic coupling :math:`|J|` for which Kaufman's formula gives this lattice's
    :math:`\\log Z`, or ``None``: a periodic lattice without field and with :math:`J > 0`, or
    :math:`J < 0` with even sides (flipping one sublattice maps it to :math:`|J|`)."""
    if not (isinstance(model, LatticeIsing) and is_concrete(model.field) and is_concrete(model.coupling)):
        return None
    if float(model.field) != 0.0 or float(model.coupling) == 0.0:
        return None
    if float(model.coupling) > 0 or (model.rows % 2 == 0 and model.cols % 2 == 0):
        return abs(float(model.coupling))
    return None


def _closed_form_log_partition(model, temperature):
    """:math:`\\log Z(T)` by enumeration (at most ``MAX_ENUMERATED_STATES`` states) or Kaufman's
    formula (periodic lattice without field, see :func:`_kaufman_coupling`); ``None`` when neither
    applies."""
    if num_states(model) <= MAX_ENUMERATED_STATES:
        beta = 1.0 / jnp.asarray(temperature, model.dtype)
        return model.log_partition_enumerated(beta)
    coupling = _kaufman_coupling(model)
    if coupling is not None:
        return kaufman_log_partition(model.rows, model.cols, temperature, coupling).astype(model.dtype)
    return None


# log Z of concrete models, computed once per (model, temperature)
_LOG_Z_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cached_log_partition(model, temperature):
    concrete = is_concrete(temperature) and all(is_concrete(v) for v in jax.tree_util.tree_leaves(model))
    if not concrete:
        return _closed_form_log_partition(model, temperature)
    key = (float(temperature), jax.config.jax_enable_x64)
    per_model = _LOG_Z_CACHE.setdefault(model, {})
    if key not in per_model:
        per_model[key] = _closed_form_log_partition(model, temperature)
    return per_model[key]


class Boltzmann(Distribution):
    """The Boltzmann distribution of a discrete energy model as a NumPyro distribution:

    .. math::  \\log p(x) = -E(x)/T - \\log Z(T), \\qquad Z(T) = \\sum_x e^{-E(x)/T}

    :param energy_model: a discrete model (an :class:`~ebm_numpyro.DiscreteModel`:
        ``ebm.Ising``, ``ebm.Ising.square_lattice``, ``ebm.BoltzmannMachine``, ``ebm.RBM`` (joint
        states ``[v, h]``), ``ebm.Potts``, ``ebm.DiscreteEnergy`` or your own).
    :param temperature: :math:`T > 0` (k_B = 1).
    :param normalized: whether :meth:`log_prob` includes :math:`-\\log Z`. ``None`` (default):
        yes when :math:`\\log Z` is exact, i.e. the model has at most
        ``MAX_ENUMERATED_STATES`` (2^20) states (streaming enumeration) or is a periodic square
        lattice without field (Kaufman 1949, any size); otherwise ``log_prob`` is the
        unnormalised :math:`-E(x)/T` (read :attr:`normalized`). That is all MCMC needs:
        :math:`\\log Z` does not depend on ``x``. ``True`` raises ``ValueError`` when no exact
        :math:`\\log Z` exists; ``False`` always gives :math:`-E(x)/T`.

    ``sample`` draws exactly by enumeration (models with at most 2^20 states) and raises
    ``ValueError`` otherwise: sample larger models with :class:`~ebm_numpyro.TemperedGibbs`.
    The support is :class:`UnitValues` (the model's unit values on every unit); ``event_shape``
    is ``energy_model.event_shape``.

    Example::

        def denoise(y, sigma=0.5):
            s = numpyro.sample("s", ebm.Boltzmann(ebm.Ising.square_lattice(32), temperature=2.5))
            numpyro.sample("y", dist.Normal(s, sigma).to_event(2), obs=y)
    """

    arg_constraints = {}
    pytree_data_fields = ("energy_model", "temperature", "log_z")
    pytree_aux_fields = ("normalized",)

    def __init__(self, energy_model, temperature=1.0, *, normalized: bool | None = None, validate_args=None):
        check_discrete_model(energy_model, "energy_model", "Boltzmann")
        check_temperature(temperature)
        if np.ndim(temperature) != 0:
            raise ValueError(f"Boltzmann: `temperature` must be a scalar; got shape {np.shape(temperature)}")
        if normalized not in (None, True, False):
            raise ValueError(f"Boltzmann: `normalized` must be None (automatic), True or False; got {normalized!r}")
        exact_z = num_states(energy_model) <= MAX_ENUMERATED_STATES or _kaufman_coupling(energy_model) is not None
        if normalized is True and not exact_z:
            raise ValueError(
                f"Boltzmann(normalized=True): no exact log Z for this {type(energy_model).__name__} "
                f"({_states_text(energy_model)} states, more than the enumeration limit "
                f"{format_count(MAX_ENUMERATED_STATES)}, and no closed form); use normalized=False "
                "(log_prob = -E/T, enough for MCMC)"
            )
        self.energy_model = energy_model
        self.temperature = jnp.asarray(temperature, energy_model.dtype)
        self.normalized = bool(exact_z if normalized is None else normalized)
        self.log_z = _cached_log_partition(energy_model, temperature) if self.normalized else None
        super().__init__(batch_shape=(), event_shape=tuple(energy_model.event_shape), validate_args=validate_args)

    @property
    def support(self):
        return UnitValues(self.energy_model.unit_values, len(self.energy_model.event_shape))

    @property
    def unit_values(self) -> tuple:
        return tuple(self.energy_model.unit_values)

    def log_prob(self, value):
        """:math:`-E(x)/T - \\log Z` (normalised) or :math:`-E(x)/T`, batched over leading axes."""
        lp = -self.energy_model.energy(value) / self.temperature
        return lp - self.log_z if self.normalized else lp

    def sample(self, key, sample_shape=()):
        """Exact draws by enumeration: :math:`P(x) = e^{-E(x)/T}/Z` over all states.

        Inverse-CDF sampling on a binary tree of log-masses
        (:func:`ebm_numpyro.kernels.decisions.tree_categorical_from_words`): memory
        :math:`O(\\text{samples} + \\text{states})`, and every state drawn with its exact
        probability, however far in the tail (one exact decision per tree level)."""
        model = self.energy_model
        if num_states(model) > MAX_ENUMERATED_STATES:
            raise ValueError(
                f"Boltzmann.sample draws exactly by enumerating all states, at most "
                f"{format_count(MAX_ENUMERATED_STATES)}; this {type(model).__name__} has "
                f"{_states_text(model)}. Sample it with ebm.TemperedGibbs (inside a "
                "NumPyro model: TemperedGibbs(model=...)), or give init_params to other kernels."
            )
        # the exact decisions live in the sampling core (kernels import this module, so the
        # import is made when sampling, not when the module loads)
        from .kernels.decisions import tree_categorical_from_words
        from .kernels.streams import key_words

        states = all_states_of(model)
        log_w = -model.energy(states) / self.temperature
        shape = tuple(sample_shape) + self.batch_shape
        idx = tree_categorical_from_words(key_words(key), 0, log_w, math.prod(shape))
        return states[idx.reshape(shape)]

    def __repr__(self):
        return f"Boltzmann({self.energy_model!r}, temperature={float(self.temperature) if is_concrete(self.temperature) else self.temperature})"
