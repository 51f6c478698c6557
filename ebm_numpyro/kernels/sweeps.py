"""The registry of sweeps: which heat-bath sweep a discrete model gets, and the layout its units
are carried in.

Every discrete model has one systematic heat-bath sweep, chosen here and nowhere else:

* :data:`BINARY` (:mod:`.sweep_binary`) - two unit values, from the model's local fields;
* :data:`CATEGORICAL` (:mod:`.sweep_categorical`) - ``q > 2`` unit values, the softmax heat bath
  from the model's per-unit conditional energies;
* :data:`LATTICE` (:mod:`.sweep_lattice`) - the periodic square Ising lattice with even sides:
  the checkerboard on two half lattices (its own carried layout), with its backend tricks.

:func:`sweep_for` is a :func:`functools.singledispatch` on the model's type; a new sweep for a
model class (a GPU or bit-packed lattice kernel, say) is one :class:`Sweep` and one
``sweep_for.register`` entry in this file. Kernels carry states in ``sweep.to_layout(x)`` and read
them back with ``sweep.from_layout``; :func:`run_sweep` does one sweep in the natural layout.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax.numpy as jnp

from ..models import LatticeIsing, check_discrete_model
from . import sweep_binary, sweep_categorical, sweep_lattice

__all__ = ["Sweep", "BINARY", "CATEGORICAL", "LATTICE", "sweep_for", "run_sweep"]


def _identity(x):
    return x


class Sweep(NamedTuple):
    """One systematic heat-bath sweep and the layout it works in.

    - **name** - a short label (``"binary"``, ``"categorical"``, ``"lattice"``);
    - **step** - ``(words, model, carried, beta) -> (carried, energy, magnetization)``: one sweep
      of every state of ``carried`` (leading batch axes, e.g. replicas) at inverse temperatures
      ``beta`` (a scalar or one per state), keyed by the two Threefry ``words``;
    - **to_layout** / **from_layout** - natural ``batch + event_shape`` states to the carried
      layout and back (the identity for most sweeps);
    - **rows** - for lattice sweeps that can run on a slab of rows with halo exchange
      (:func:`ebm_numpyro.parallel.lattice_sweeps`), that function; else ``None``.
    """

    name: str
    step: Callable
    to_layout: Callable = _identity
    from_layout: Callable = _identity
    rows: Callable | None = None


BINARY = Sweep("binary", sweep_binary.sweep)
CATEGORICAL = Sweep("categorical", sweep_categorical.sweep)
LATTICE = Sweep("lattice", sweep_lattice.sweep_packed, sweep_lattice.to_packed, sweep_lattice.from_packed,
                sweep_lattice.sweep_rows)


@functools.singledispatch
def sweep_for(model) -> Sweep:
    """The :class:`Sweep` of a discrete model: by default :data:`BINARY` for two unit values and
    :data:`CATEGORICAL` for more; registered model classes get their own."""
    check_discrete_model(model, "model")
    return BINARY if len(model.unit_values) == 2 else CATEGORICAL


@sweep_for.register
def _(model: LatticeIsing) -> Sweep:
    return LATTICE if sweep_lattice.supports(model) else BINARY


def run_sweep(words, model, x, beta):
    """One sweep of natural ``batch + event_shape`` states ``x`` (any dtype: units are drawn in the
    model's ``state_dtype`` and returned in ``x``'s); returns ``(x, energy, magnetization)``."""
    sweep = sweep_for(model)
    x = jnp.asarray(x)
    carried = sweep.to_layout(x.astype(model.state_dtype))
    carried, energy, mag = sweep.step(words, model, carried, beta)
    return sweep.from_layout(carried).astype(x.dtype), energy, mag
