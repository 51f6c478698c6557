"""Block-Gibbs transitions used by the learning code (CD-k, PCD, AIS).

Every conditional draw goes through ONE heat-bath update, ``heat_bath(key, field, beta,
unit_values)``: the project's shared implementation in ``ebm_numpyro.kernels.gibbs`` when it is
available; the small fallback below has the same signature and semantics.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

try:  # the project's single heat-bath implementation
    from ..kernels.gibbs import heat_bath as _shared_heat_bath
except ImportError:  # pragma: no cover - depends on which modules are installed
    _shared_heat_bath = None

__all__ = ["heat_bath", "rbm_sample_hidden", "rbm_sample_visible", "rbm_gibbs_steps", "gibbs_sweep", "gibbs_steps"]


def _fallback_heat_bath(key, field, beta, unit_values):
    """Heat-bath draw: :math:`p(x_i = u) = \\sigma(\\beta (u - d) f_i)` for units in {d, u}."""
    down, up = unit_values
    p_up = jax.nn.sigmoid(beta * (up - down) * field)
    bits = jax.random.uniform(key, jnp.shape(field), field.dtype) < p_up
    return jnp.where(bits, up, down).astype(field.dtype)


def heat_bath(key, field, beta, unit_values):
    """Draw units independently given their local fields (see module docstring)."""
    if _shared_heat_bath is not None:
        return jnp.asarray(_shared_heat_bath(key, field, beta, unit_values)).astype(field.dtype)
    return _fallback_heat_bath(key, field, beta, unit_values)


# --- RBM: the two layers are the blocks --------------------------------------------------------
def rbm_sample_hidden(key, model, v, beta=1.0):
    """:math:`h \\sim p(h\\mid v)`, field :math:`W^\\top v + c`."""
    return heat_bath(key, v @ model.weights + model.hidden_bias, beta, (0, 1))


def rbm_sample_visible(key, model, h, beta=1.0):
    """:math:`v \\sim p(v\\mid h)`, field :math:`W h + a`."""
    return heat_bath(key, h @ model.weights.T + model.visible_bias, beta, (0, 1))


def rbm_gibbs_steps(key, model, v, num_steps):
    """``num_steps`` block-Gibbs steps v → h → v' (``lax.fori_loop``); returns the last v."""

    def body(i, carry):
        v, key = carry
        key, kh, kv = jax.random.split(key, 3)
        h = rbm_sample_hidden(kh, model, v)
        return rbm_sample_visible(kv, model, h), key

    v, _ = jax.lax.fori_loop(0, num_steps, body, (v, key))
    return v


# --- any DiscreteModel: sweep over its conditionally independent blocks --------------------------
def gibbs_sweep(key, model, x, beta=1.0):
    """One systematic sweep: each block in turn drawn from its heat-bath conditional."""
    keys = jax.random.split(key, len(model.blocks))
    for kb, block in zip(keys, model.blocks):  # static, a handful of colour classes
        field = model.local_field(x, block)
        x = model.set_block(x, block, heat_bath(kb, field, beta, model.unit_values))
    return x


def gibbs_steps(key, model, x, num_steps, beta=1.0):
    """``num_steps`` sweeps (``lax.fori_loop``) from state ``x``."""

    def body(i, carry):
        x, key = carry
        key, sub = jax.random.split(key)
        return gibbs_sweep(sub, model, x, beta), key

    x, _ = jax.lax.fori_loop(0, num_steps, body, (x, key))
    return x
