"""Block-Gibbs transitions used by the learning code (CD-k, PCD, AIS).

Every conditional draw goes through the project's one heat-bath rule
(:mod:`ebm_numpyro.kernels._heat_bath`): unit up iff a 24-bit uniform integer is below
``round(σ(β (up - down) f) · 2^24)``. Generic models use :func:`ebm_numpyro.kernels.gibbs_sweep`.
The RBM hot path (CD-k / PCD inside ``fit``) draws the random bits of a whole k-step chain
with one PRNG call and applies the same rule to slices of them (:func:`heat_bath_from_bits`):
PRNG calls dominate the cost of small RBMs on CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..kernels import _random
from ..kernels.heat_bath import gibbs_sweep as _kernel_gibbs_sweep
from ..kernels.heat_bath import heat_bath, heat_bath_from_words

__all__ = [
    "heat_bath",
    "heat_bath_from_words",
    "rbm_gibbs_steps",
    "gibbs_sweep",
    "gibbs_steps",
]


# --- RBM: the two layers are the blocks --------------------------------------------------------
def rbm_gibbs_steps(key, model, v, num_steps):
    """``num_steps`` block-Gibbs steps v → h → v' (``lax.scan``); returns the last v.

    One PRNG call draws the bits of all steps; each step applies :func:`heat_bath_from_bits`
    to the hidden then the visible layer.
    """
    W, a, c = model.weights, model.visible_bias, model.hidden_bias
    nv, nh = W.shape
    words = _random.key_words(key)

    def body(v, step):
        fh = v @ W + c
        h = heat_bath_from_words(words, 2 * step, fh, 1.0, (0, 1), fh.dtype)
        fv = h @ W.T + a
        return heat_bath_from_words(words, 2 * step + 1, fv, 1.0, (0, 1), fv.dtype), None

    if num_steps == 1:  # CD-1: no loop at all (a one-trip while loop still costs on CPU)
        return body(v, 0)[0]
    v, _ = jax.lax.scan(body, v, jnp.arange(num_steps, dtype=jnp.uint32))
    return v


# --- any DiscreteModel: the kernels' sweep over its conditionally independent blocks -----------
def gibbs_sweep(key, model, x, beta=1.0):
    """One systematic heat-bath sweep (:func:`ebm_numpyro.kernels.gibbs_sweep`), keeping x's dtype."""
    return _kernel_gibbs_sweep(key, model, x, beta).astype(x.dtype)


def gibbs_steps(key, model, x, num_steps, beta=1.0):
    """``num_steps`` sweeps (``lax.fori_loop``) from state ``x``."""

    def body(i, carry):
        x, key = carry
        key, sub = jax.random.split(key)
        return gibbs_sweep(sub, model, x, beta), key

    x, _ = jax.lax.fori_loop(0, num_steps, body, (x, key))
    return x
