"""Log-likelihood gradients as positive minus negative phase.

For a Boltzmann distribution :math:`p_\\theta(x) = e^{-E_\\theta(x)}/Z_\\theta` the mean
log-likelihood of data :math:`\\mathcal D` has the gradient

.. math::
    \\nabla_\\theta \\frac{1}{|\\mathcal D|}\\sum_{x\\in\\mathcal D}\\log p_\\theta(x)
    = \\underbrace{\\langle -\\nabla_\\theta E\\rangle_{\\mathcal D}}_{\\text{positive phase}}
    - \\underbrace{\\langle -\\nabla_\\theta E\\rangle_{p_\\theta}}_{\\text{negative phase}}

For an RBM :math:`E` is the free energy :math:`F(v)` (hidden units summed out), so that for
:math:`W`: :math:`\\langle v\\,\\sigma(W^\\top v + c)^\\top\\rangle_{\\mathcal D} - \\langle v h^\\top\\rangle_p`.
The negative phase comes from

* ``exact``: enumeration (``ebm.exact.moments``: ⟨v hᵀ⟩, ⟨v⟩, ⟨h⟩, or ⟨x xᵀ⟩, ⟨x⟩);
* ``cd`` (CD-k, Hinton 2002): k block-Gibbs steps started at the data;
* ``pcd`` (Tieleman 2008): k block-Gibbs steps of persistent chains carried across updates.

Gradients are model-shaped pytrees (``grad.weights``...), ready for optax (negate them:
optax minimises). Couplings of fully connected models keep a zero diagonal.
"""

from __future__ import annotations

import copy
import functools

import jax
import jax.numpy as jnp

from .. import exact
from .._checks import check_event_shape, check_int, check_units
from ..models import RBM, BoltzmannMachine, Ising
from ..models._base import DiscreteModel
from ._gibbs import gibbs_steps, rbm_gibbs_steps

__all__ = [
    "energy_gradient",
    "positive_phase",
    "exact_negative_phase",
    "exact_gradient",
    "cd_gradient",
    "pcd_gradient",
    "init_chains",
    "validate_data",
]


def replace_fields(model, **fields):
    """Copy of an immutable model with some leaves replaced (no re-validation)."""
    new = copy.copy(model)
    for name, value in fields.items():
        object.__setattr__(new, name, value)
    return new


def _coupling_name(model):
    if isinstance(model, BoltzmannMachine):
        return "weights"
    if isinstance(model, Ising):
        return "couplings"
    return None


def _project(model, grad):
    """Zero the diagonal of symmetric couplings (no self-coupling is a parameter)."""
    name = _coupling_name(model)
    if name is None:
        return grad
    g = getattr(grad, name)
    return replace_fields(grad, **{name: g * (1.0 - jnp.eye(g.shape[0], dtype=g.dtype))})


def _data_energy(model, x):
    if isinstance(model, RBM):
        return model.free_energy(x)
    return model.energy(x)


def energy_gradient(model, states):
    """:math:`\\langle \\nabla_\\theta E(x)\\rangle` over the leading axis of ``states``.

    For an RBM ``states`` are visible vectors and :math:`E` is the free energy :math:`F(v)`.
    """
    grad = jax.grad(lambda m: jnp.mean(_data_energy(m, states)))(model)
    return _project(model, grad)


def positive_phase(model, data):
    """:math:`\\langle -\\nabla_\\theta E\\rangle_{\\text{data}}` (model-shaped pytree).

    For an RBM in closed form: :math:`(\\langle v\\,\\sigma(W^\\top v + c)^\\top\\rangle,
    \\langle v\\rangle, \\langle\\sigma(W^\\top v + c)\\rangle)`; otherwise by autodiff of the energy.
    """
    if isinstance(model, RBM):
        v = jnp.asarray(data).astype(model.weights.dtype)
        p_h = jax.nn.sigmoid(v @ model.weights + model.hidden_bias)
        n = v.shape[0]
        return replace_fields(model, weights=v.T @ p_h / n, visible_bias=jnp.mean(v, 0), hidden_bias=jnp.mean(p_h, 0))
    return jax.tree.map(jnp.negative, energy_gradient(model, data))


def exact_negative_phase(model):
    """:math:`\\langle -\\nabla_\\theta E\\rangle_{p_\\theta} = \\nabla_\\theta \\log Z` from exact moments.

    RBM: ``weights`` ⟨v hᵀ⟩, ``visible_bias`` ⟨v⟩, ``hidden_bias`` ⟨h⟩.
    Boltzmann machine / Ising: couplings ½⟨x xᵀ⟩ (zero diagonal), bias/fields ⟨x⟩.
    Other discrete models: ∇ log Z by differentiating the enumeration.
    """
    if isinstance(model, RBM):
        mom = exact.moments(model)
        nv = model.num_visible
        return replace_fields(
            model, weights=mom.correlation, visible_bias=mom.mean[:nv], hidden_bias=mom.mean[nv:]
        )
    if isinstance(model, (BoltzmannMachine, Ising)):
        mom = exact.moments(model)
        name = _coupling_name(model)
        bias = "bias" if isinstance(model, BoltzmannMachine) else "fields"
        return _project(model, replace_fields(model, **{name: 0.5 * mom.correlation, bias: mom.mean}))
    return _project(model, jax.grad(exact.log_partition)(model))


def _sub(a, b):
    return jax.tree.map(jnp.subtract, a, b)


@jax.jit
def _exact_gradient(model, data):
    return _sub(positive_phase(model, data), exact_negative_phase(model))


def _run_chains(key, model, x, k):
    if isinstance(model, RBM):
        return rbm_gibbs_steps(key, model, x, k)
    return gibbs_steps(key, model, x, k)


@functools.partial(jax.jit, static_argnames=("k",))
def _cd_gradient(model, data, key, k):
    neg = jax.lax.stop_gradient(_run_chains(key, model, data, k))
    return _sub(positive_phase(model, data), positive_phase(model, neg))


@functools.partial(jax.jit, static_argnames=("k",))
def _pcd_gradient(model, data, chains, key, k):
    chains = jax.lax.stop_gradient(_run_chains(key, model, chains, k))
    return _sub(positive_phase(model, data), positive_phase(model, chains)), chains


def validate_data(model, data, name="data"):
    """Check shape and {0,1}/±1 unit values of training data; return it as a float array."""
    if not isinstance(model, DiscreteModel):
        raise ValueError(f"learning needs a discrete model (RBM, BoltzmannMachine, Ising); got {type(model).__name__}")
    shape = (model.num_visible,) if isinstance(model, RBM) else tuple(model.event_shape)
    check_event_shape(data, shape, name)
    if jnp.ndim(data) != len(shape) + 1:
        raise ValueError(f"`{name}` must have shape (num_examples,) + {shape}; got {jnp.shape(data)}")
    check_units(data, model.unit_values, name)
    dtype = model.weights.dtype if isinstance(model, RBM) else model.to_quadratic()[0].dtype
    return jnp.asarray(data).astype(dtype)


def exact_gradient(model, data):
    """Exact mean log-likelihood gradient: positive phase minus the exact negative phase.

    .. math::  g = \\langle -\\nabla_\\theta E\\rangle_{\\text{data}} - \\nabla_\\theta\\log Z
    """
    data = validate_data(model, data)
    return _exact_gradient(model, data)


def cd_gradient(model, data, key, k=1):
    """CD-k gradient (Hinton 2002): negative phase at :math:`x_k`, k block-Gibbs steps from the data.

    .. math::  g_{CD-k} = \\langle -\\nabla_\\theta E\\rangle_{x_0\\in\\text{data}}
               - \\langle -\\nabla_\\theta E\\rangle_{x_k},\\qquad x_0 \\to x_1 \\to\\dots\\to x_k

    For an RBM the chain is v → h → v and the statistics of :math:`v_k` use
    :math:`\\sigma(W^\\top v_k + c)` (hidden units summed out), which has the same expectation
    as the sampled hidden state but lower variance.
    """
    k = check_int(k, "k", 1)
    data = validate_data(model, data)
    return _cd_gradient(model, data, key, k)


def pcd_gradient(model, data, chains, key, k=1):
    """PCD gradient (Tieleman 2008): the negative phase from persistent ``chains`` advanced k steps.

    Returns ``(gradient, new_chains)``; pass ``new_chains`` to the next update.
    """
    k = check_int(k, "k", 1)
    data = validate_data(model, data)
    chains = validate_data(model, chains, "chains")
    return _pcd_gradient(model, data, chains, key, k)


def init_chains(model, key, num_chains, data=None):
    """Initial persistent chains: random rows of ``data`` when given, else uniform random states."""
    num_chains = check_int(num_chains, "num_chains", 1)
    if data is not None:
        data = validate_data(model, data)
        idx = jax.random.randint(key, (num_chains,), 0, data.shape[0])
        return data[idx]
    shape = (model.num_visible,) if isinstance(model, RBM) else tuple(model.event_shape)
    down, up = model.unit_values
    bits = jax.random.bernoulli(key, 0.5, (num_chains,) + shape)
    dtype = model.weights.dtype if isinstance(model, RBM) else model.to_quadratic()[0].dtype
    return jnp.where(bits, up, down).astype(dtype)
