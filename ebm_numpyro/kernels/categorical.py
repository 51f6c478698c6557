"""The exact categorical (softmax) heat-bath draw, built from the binary exact decisions of
:mod:`.heat_bath`.

A unit with :math:`q` states and logits :math:`\\ell_0, \\dots, \\ell_{q-1}`
(:math:`p_k \\propto e^{\\ell_k}`) is drawn as a chain of binary decisions "state :math:`k`
versus a state above :math:`k`", each with the conditional probability

.. math::  c_k = \\frac{p_k}{\\sum_{j \\ge k} p_j} = \\sigma\\big(\\ell_k - S_{k+1}\\big),
           \\qquad S_{k} = \\log \\sum_{j \\ge k} e^{\\ell_j},

and the state is the first :math:`k` whose decision is "yes" (:math:`q-1` if none is):
:math:`P(k) = c_k \\prod_{j<k} (1 - c_j) = p_k`. The logit differences
:math:`\\ell_k - S_{k+1}` are computed in log space (a reverse cumulative log-sum-exp), and
every decision is the exact decision of :func:`.heat_bath.heat_bath_from_words`, so no
probability is rounded to 0 or 1 unless it is 0 or 1 (a logit of :math:`-\\infty` is a
state of probability 0). For :math:`q = 2` this is the binary heat bath on
:math:`\\ell_0 - \\ell_1`.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .heat_bath import for_each_block, heat_bath_from_words

__all__ = ["conditional_logits", "categorical_from_words", "sweep"]

#: up to this many states the reverse cumulative log-sum-exp is unrolled (see conditional_logits)
UNROLLED_STATES = 32


def conditional_logits(logits):
    """:math:`z_k = \\ell_k - \\log\\sum_{j > k} e^{\\ell_j}` for :math:`k = 0, \\dots, q-2`
    (the logit of "state :math:`k`" given "a state :math:`\\ge k`"), over the last axis."""
    logits = jnp.asarray(logits)
    q = logits.shape[-1]
    if q > UNROLLED_STATES:
        tail = lax.cumlogsumexp(logits, axis=logits.ndim - 1, reverse=True)[..., 1:]  # S_1 .. S_{q-1}
    else:  # S_k = logaddexp(l_k, S_{k+1}), unrolled: XLA's CPU associative scan is ~10x slower
        tails = [logits[..., q - 1]]
        for k in range(q - 2, 0, -1):
            tails.append(jnp.logaddexp(logits[..., k], tails[-1]))
        tail = jnp.stack(tails[::-1], axis=-1)
    return logits[..., :-1] - tail


def categorical_from_words(words, stream, logits, dtype=jnp.int32):
    """Draw one state in ``0..q-1`` per row of ``logits`` (shape ``batch + (q,)``), exactly:

    .. math::  P(x = k) = \\frac{e^{\\ell_k}}{\\sum_j e^{\\ell_j}}

    by the chain of exact binary decisions of the module doc. ``words`` and ``stream`` key
    the random bits as in :func:`.heat_bath.heat_bath_from_words` (one call: the ``q - 1``
    decisions of every row use distinct counters). Returns the states as ``dtype``, shape
    ``batch``.
    """
    logits = jnp.asarray(logits)
    q = logits.shape[-1]
    if q == 1:
        return jnp.zeros(logits.shape[:-1], dtype)
    yes = heat_bath_from_words(words, stream, conditional_logits(logits), 1.0, (0, 1), jnp.int8)
    # first "yes" along the last axis, q - 1 when there is none
    first = jnp.argmax(jnp.concatenate([yes, jnp.ones(yes.shape[:-1] + (1,), yes.dtype)], -1), axis=-1)
    return first.astype(dtype)


def sweep(words, model, x, beta, barrier=None):
    """One systematic sweep of a model with ``q``-state units (``model.unit_energies``), every
    colour class ``b`` of ``model.blocks`` drawn from stream ``b`` (unit ``j`` from stream ``j``
    for a model swept unit by unit, :func:`.heat_bath.for_each_block`) by the softmax heat bath

    .. math::  p(x_i = v_k \\mid x_{-i}) = \\frac{e^{-\\beta \\epsilon_i(k)}}{\\sum_l e^{-\\beta \\epsilon_i(l)}}

    (:math:`\\epsilon_i(k)` the energy with unit :math:`i` at value :math:`k`, up to a per-unit
    constant); the same signature and result ``(x, energy, magnetization)`` as
    :func:`.heat_bath.sweep` (``barrier`` unused)."""
    from .heat_bath import magnetization

    values = jnp.asarray(model.unit_values, x.dtype)
    beta = jnp.asarray(beta)

    def update(x, block, stream):
        e = model.unit_energies(x, block)
        logits = -beta.reshape(beta.shape + (1,) * (e.ndim - beta.ndim)) * e
        return model.set_block(x, block, values[categorical_from_words(words, stream, logits, jnp.int32)])

    x = for_each_block(model, x, update)
    energy = model.energy(x)
    return x, energy, magnetization(model, x, energy.dtype)
