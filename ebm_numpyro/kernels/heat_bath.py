"""The heat-bath (Glauber) update, the public face of the sampling core.

.. math::  p(x_i = \\text{up} \\mid x_{-i}) = \\sigma\\big(\\beta\\,(\\text{up}-\\text{down})\\,f_i\\big),
           \\qquad p(x_i = v_k \\mid x_{-i}) \\propto e^{-\\beta \\epsilon_i(k)} \\;(q \\text{ values})

with :math:`f_i = -\\partial E/\\partial x_i` the local field and :math:`\\epsilon_i(k)` the energy
with unit :math:`i` at its k-th value. The layers underneath, bottom to top:

* :mod:`.streams` - counter-based random bits and the key/stream schedule;
* :mod:`.decisions` - the exact decisions (binary, Metropolis, categorical), never rounding a
  probability to 0 or 1 (see its module doc for the bit budget and the proof);
* :mod:`.sweep_binary`, :mod:`.sweep_categorical`, :mod:`.sweep_lattice` - the sweeps;
* :mod:`.sweeps` - the registry that picks a model's sweep and owns its layout.

This module re-exports what the rest of the package and users call: :func:`up_probability`,
:func:`heat_bath_from_words`, :func:`heat_bath`, :func:`metropolis_from_words`,
:func:`categorical_from_words`, :func:`uniform_units`, :func:`for_each_block`, and adds
:func:`sweep` (one sweep of natural states, words given) and :func:`gibbs_sweep` (keyed by a JAX key).
"""

from __future__ import annotations

import jax.numpy as jnp

from .._checks import check_event_shape
from . import streams
from .blocks import for_each_block
from .decisions import (
    categorical_from_words,
    heat_bath,
    heat_bath_from_words,
    metropolis_from_words,
    uniform_units,
    up_probability,
)
from .sweeps import run_sweep, sweep_for

__all__ = [
    "up_probability",
    "heat_bath_from_words",
    "heat_bath",
    "metropolis_from_words",
    "categorical_from_words",
    "uniform_units",
    "for_each_block",
    "sweep_for",
    "sweep",
    "gibbs_sweep",
]


def sweep(words, model, x, beta):
    """One systematic sweep of natural ``batch + event_shape`` states keyed by ``words``, with the
    model's sweep (:func:`.sweeps.sweep_for`); returns ``(x, energy, magnetization)``."""
    return run_sweep(words, model, x, beta)


def gibbs_sweep(key, model, x, beta=1.0):
    """One systematic heat-bath sweep: every block of ``model.blocks`` in turn,

    .. math::  x_B \\sim p(x_B \\mid x_{-B}) = \\prod_{i \\in B} p(x_i \\mid x_{-B})

    Units of one block are conditionally independent, so the sweep leaves the Boltzmann
    distribution :math:`p(x) \\propto e^{-\\beta E(x)}` invariant. ``x`` has shape
    ``batch + model.event_shape`` and keeps its dtype (the learning code keeps float units);
    ``beta`` is a scalar or has shape ``batch`` (one inverse temperature per replica).
    Returns the new state.
    """
    check_event_shape(x, model.event_shape)
    beta = jnp.asarray(beta, jnp.result_type(float))
    return run_sweep(streams.key_words(key), model, jnp.asarray(x), beta)[0]
