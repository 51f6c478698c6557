"""The loop over a model's Gibbs blocks and the observables every sweep reports (shared by
the generic binary and ``q``-state sweeps, :mod:`.sweep_binary` and :mod:`.sweep_categorical`)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["for_each_block", "expand_beta", "magnetization", "MANY_BLOCKS"]

#: above this many blocks a model with ``traced_blocks`` is swept in a ``lax.fori_loop``
MANY_BLOCKS = 8


def for_each_block(model, x, update):
    """``x`` after ``x = update(x, block, stream)`` for every block of ``model.blocks`` in turn,
    block ``b`` drawing from stream ``b``: a Python loop over the handful of colour classes,
    or, for a model whose blocks are its single units (``model.unit_blocks``), unit ``j`` from
    stream ``j`` in a ``lax.fori_loop`` (compile time independent of the number of units); so
    too more than :data:`MANY_BLOCKS` blocks of one size of a model with ``traced_blocks``
    (a dense model's colouring: one unit per block), with the same streams."""
    if model.unit_blocks:
        return lax.fori_loop(0, model.num_units, lambda j, x: update(x, j, j), x)
    blocks = model.blocks
    if model.traced_blocks and len(blocks) > MANY_BLOCKS and len({len(b) for b in blocks}) == 1:
        table = jnp.asarray(np.asarray(blocks, np.int32))  # (B, block size): block b from stream b
        return lax.fori_loop(0, len(blocks), lambda b, x: update(x, table[b], b), x)
    for stream, block in enumerate(blocks):  # static: a handful of colour classes
        x = update(x, block, stream)
    return x


def expand_beta(beta, ndim):
    """Append singleton axes so that per-replica ``beta`` broadcasts against a block's field."""
    beta = jnp.asarray(beta)
    return beta.reshape(beta.shape + (1,) * max(ndim - beta.ndim, 0))


def magnetization(model, x, dtype):
    """Mean unit value of every state in ``x`` (mean spin, fraction of units on, mean label)."""
    axes = tuple(range(-len(model.event_shape), 0))
    return jnp.mean(x.astype(dtype), axis=axes)
