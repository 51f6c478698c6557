"""Log-likelihood gradients as positive minus negative phase.

For a Boltzmann distribution :math:`p_\\theta(v) = e^{-F_\\theta(v)}/Z_\\theta` over training
examples v (:math:`F` = ``model.data_energy``: the energy, or for an RBM the free energy with
the hidden units summed out) the mean log-likelihood of data :math:`\\mathcal D` has the gradient

.. math::
    \\nabla_\\theta \\frac{1}{|\\mathcal D|}\\sum_{v\\in\\mathcal D}\\log p_\\theta(v)
    = \\underbrace{\\langle -\\nabla_\\theta F\\rangle_{\\mathcal D}}_{\\text{positive phase}}
    - \\underbrace{\\langle -\\nabla_\\theta F\\rangle_{p_\\theta}}_{\\text{negative phase}}

(for an RBM's W: :math:`\\langle v\\,\\sigma(W^\\top v + c)^\\top\\rangle_{\\mathcal D} - \\langle v h^\\top\\rangle_p`).
The negative phase comes from

* ``exact``: :math:`\\nabla_\\theta \\log Z` by differentiating the exact enumeration;
* ``cd`` (CD-k, Hinton 2002): k block-Gibbs sweeps started at the data;
* ``pcd`` (Tieleman 2008): k block-Gibbs sweeps of persistent chains carried across updates.

Sweeps are :func:`ebm_numpyro.kernels.heat_bath.gibbs_sweep` on the model's joint states
(``model.embed_data`` / ``model.data_part``). Gradients are model-shaped pytrees
(``grad.weights``...), ready for optax (negate them: optax minimises); ``model.project_gradient``
keeps the zero diagonal of dense couplings.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import exact
from .._checks import check_event_shape, check_units, is_concrete
from ..kernels.heat_bath import gibbs_sweep
from ..models import EnergyModel, check_discrete_model

__all__ = [
    "energy_gradient",
    "positive_phase",
    "exact_negative_phase",
    "exact_model_gradient",
    "contrastive_gradient",
    "gibbs_chain",
    "validate_data",
]


def energy_gradient(model, data):
    """:math:`\\langle \\nabla_\\theta F(v)\\rangle` over the leading axis of ``data``
    (:math:`F` = ``model.data_energy``: the free energy for an RBM); ``model.data_energy_gradient``."""
    return model.data_energy_gradient(data)


def positive_phase(model, data):
    """:math:`\\langle -\\nabla_\\theta F\\rangle_{\\text{data}}` (model-shaped pytree).

    For an RBM this is :math:`(\\langle v\\,\\sigma(W^\\top v + c)^\\top\\rangle, \\langle v\\rangle,
    \\langle\\sigma(W^\\top v + c)\\rangle)`.
    """
    return jax.tree.map(jnp.negative, energy_gradient(model, data))


def exact_negative_phase(model):
    """:math:`\\langle -\\nabla_\\theta F\\rangle_{p_\\theta} = \\nabla_\\theta \\log Z`, differentiating
    the exact enumeration (RBM: ``weights`` ⟨v hᵀ⟩, ``visible_bias`` ⟨v⟩, ``hidden_bias`` ⟨h⟩;
    dense couplings: ½⟨x xᵀ⟩ off the diagonal, fields ⟨x⟩)."""
    return model.project_gradient(jax.grad(exact.log_partition)(model))


def _sub(a, b):
    return jax.tree.map(jnp.subtract, a, b)


def exact_model_gradient(model, data):
    """Positive phase minus the exact negative phase, :math:`\\langle -\\nabla_\\theta F\\rangle_{\\text{data}}
    - \\nabla_\\theta \\log Z` (no validation; see :func:`ebm_numpyro.learning.exact_gradient`)."""
    return _sub(positive_phase(model, data), exact_negative_phase(model))


def gibbs_chain(key, model, data, num_steps, beta=1.0):
    """``num_steps`` block-Gibbs sweeps from data-shaped states; returns data-shaped states.

    .. math::  v_0 = \\text{data} \\to v_1 \\to \\dots \\to v_k,\\qquad
               v_{t+1} \\sim \\textstyle\\sum_h p(v_{t+1} \\mid h)\\, p(h \\mid v_t) \\text{ (RBM)}

    The data are embedded in joint states (``model.embed_data``), swept with
    :func:`ebm_numpyro.kernels.heat_bath.gibbs_sweep` (a model with latent units redraws them
    first), and read back with ``model.data_part``. Sweep t uses ``fold_in(key, t)``.
    """
    x = model.embed_data(data)
    if num_steps == 1:  # CD-1: no loop (a one-trip loop still costs on CPU)
        return model.data_part(gibbs_sweep(key, model, x, beta))

    def body(x, t):
        return gibbs_sweep(jax.random.fold_in(key, t), model, x, beta), None

    x, _ = jax.lax.scan(body, x, jnp.arange(num_steps, dtype=jnp.uint32))
    return model.data_part(x)


def contrastive_gradient(model, data, negatives):
    """Positive minus negative phase with the negative phase at the states ``negatives``:

    .. math::  g = \\langle -\\nabla_\\theta F\\rangle_{\\text{data}} - \\langle -\\nabla_\\theta F\\rangle_{\\text{negatives}}

    (``negatives`` are constants: no gradient flows through the chain that produced them)."""
    negatives = jax.lax.stop_gradient(negatives)
    return _sub(positive_phase(model, data), positive_phase(model, negatives))


def validate_data(model, data, name="data"):
    """Check shape ``(num_examples,) + model.data_shape`` and the values (the unit values of a
    discrete model, finite numbers for a continuous one); return it in ``model.dtype``."""
    if isinstance(model, EnergyModel) and not model.is_discrete:
        shape = tuple(model.data_shape)
        x = jnp.asarray(data)
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape or x.shape[0] < 1:
            raise ValueError(f"`{name}` must have shape (num_examples,) + {shape}; got {x.shape}")
        if is_concrete(x) and not bool(jnp.all(jnp.isfinite(x))):
            raise ValueError(f"`{name}` must be finite (no NaN or inf)")
        return x.astype(model.dtype)
    check_discrete_model(model, "model", "learning")
    shape = tuple(model.data_shape)
    check_event_shape(data, shape, name)
    if jnp.ndim(data) != len(shape) + 1:
        raise ValueError(f"`{name}` must have shape (num_examples,) + {shape}; got {jnp.shape(data)}")
    check_units(data, model.unit_values, name)
    return jnp.asarray(data).astype(model.dtype)


