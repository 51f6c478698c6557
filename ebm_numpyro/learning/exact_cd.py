"""Exact bias of contrastive divergence on small RBMs (no sampling).

CD-k starts a block-Gibbs chain v₀ → h₀ → v₁ → … → v_k at each training example. Its
*expected* gradient is a deterministic function of the distribution of v_k, which we
propagate exactly: with the data distribution :math:`p_0(v)` as a vector over all
:math:`2^{n_v}` visible states and the conditionals as matrices
:math:`P_{HV}[v, h] = p(h\\mid v)` (:math:`2^{n_v}\\times 2^{n_h}`) and
:math:`P_{VH}[h, v] = p(v\\mid h)`,

.. math::  p_{t+1} = p_t\\, P_{HV}\\, P_{VH}, \\qquad
   \\mathbb E[g_{CD-k}] = \\langle s\\rangle_{p_0} - \\langle s\\rangle_{p_k}, \\qquad
   g_{ML} = \\langle s\\rangle_{p_0} - \\langle s\\rangle_{p_\\theta}

with the sufficient statistics of the free energy :math:`s(v) = -\\nabla_\\theta F(v) =
(v\\,\\sigma(W^\\top v + c)^\\top,\\ v,\\ \\sigma(W^\\top v + c))`. The CD-k bias is
:math:`\\mathbb E[g_{CD-k}] - g_{ML} = \\langle s\\rangle_{p_\\theta} - \\langle s\\rangle_{p_k}`,
which tends to 0 as k → ∞ (the chain forgets the data). Everything is computed in float64
NumPy; the cost is :math:`O(k\\, 2^{n_v} 2^{n_h})`.
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr

from .._checks import check_event_shape, check_int, check_units
from ..exact import all_states
from ..models import RBM

__all__ = ["expected_cd_gradient", "cd_bias"]

#: Largest 2^(n_visible + n_hidden) for which transition matrices are built (≈ 0.5 GB in float64).
MAX_JOINT_STATES = 2**26

_FIELDS = ("weights", "visible_bias", "hidden_bias")


def _states(n):
    """All 2^n {0,1} states in the library's enumeration order, as float64."""
    return np.asarray(all_states(n, (0, 1)), np.float64)


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _conditional(states_from, weights, bias, states_to):
    """Matrix of :math:`p(\\text{to}\\mid\\text{from}) = \\prod_j \\sigma(\\pm f_j)`, f = from·W + bias."""
    f = states_from @ weights + bias
    log_p = _log_sigmoid(f) @ states_to.T + _log_sigmoid(-f) @ (1.0 - states_to).T
    return np.exp(log_p)


class _Setup:
    def __init__(self, model, data):
        if not isinstance(model, RBM):
            raise ValueError(f"cd_bias is exact for RBMs only; got {type(model).__name__}")
        nv, nh = model.num_visible, model.num_hidden
        if 2 ** (nv + nh) > MAX_JOINT_STATES:
            raise ValueError(
                f"cd_bias builds 2^{nv} x 2^{nh} transition matrices (2^{nv + nh} entries), more than "
                f"the limit of {MAX_JOINT_STATES} (2^26); use a smaller RBM"
            )
        check_event_shape(data, (nv,), "data")
        if np.ndim(data) != 2:
            raise ValueError(f"`data` must have shape (num_examples, {nv}); got {np.shape(data)}")
        check_units(data, (0, 1), "data")
        self.W = np.asarray(model.weights, np.float64)
        self.a = np.asarray(model.visible_bias, np.float64)
        self.c = np.asarray(model.hidden_bias, np.float64)
        self.V, self.H = _states(nv), _states(nh)
        self.p_hv = _conditional(self.V, self.W, self.c, self.H)  # (2^nv, 2^nh)
        self.p_vh = _conditional(self.H, self.W.T, self.a, self.V)  # (2^nh, 2^nv)
        self.sig = 1.0 / (1.0 + np.exp(-(self.V @ self.W + self.c)))  # E[h | v]
        idx = np.asarray(data, np.int64) @ (1 << np.arange(nv))
        self.p0 = np.bincount(idx, minlength=2**nv).astype(np.float64) / len(idx)
        neg_f = self.V @ self.a + np.sum(np.logaddexp(0.0, self.V @ self.W + self.c), 1)
        p_model = np.exp(neg_f - neg_f.max())
        self.p_model = p_model / p_model.sum()

    def stats(self, p):
        """:math:`\\langle s\\rangle_p` for a distribution p over visible states."""
        return dict(
            weights=self.V.T @ (p[:, None] * self.sig), visible_bias=p @ self.V, hidden_bias=p @ self.sig
        )

    def step(self, p):
        return (p @ self.p_hv) @ self.p_vh


def _sub(a, b):
    return {f: a[f] - b[f] for f in _FIELDS}


def expected_cd_gradient(model, data, k=1):
    """Exact :math:`\\mathbb E[g_{CD-k}]`, shaped like the model (as the other gradients of
    :mod:`ebm_numpyro.learning`), with float64 NumPy leaves.
    """
    k = check_int(k, "k", 1)
    s = _Setup(model, data)
    p = s.p0
    for _ in range(k):
        p = s.step(p)
    g = _sub(s.stats(s.p0), s.stats(p))
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(model), [g[f] for f in _FIELDS])


def _flat(g):
    return np.concatenate([np.ravel(g[f]) for f in _FIELDS])


def bias_statistics(cd_flat, true_flat):
    """``(bias_norm, relative_bias, cosine)`` of an expected CD gradient against the exact one
    (flat float64 vectors): :math:`\\|g_{CD} - g\\|`, that over :math:`\\|g\\|`, and the cosine of
    the two (NaN where a norm is zero)."""
    b = float(np.linalg.norm(cd_flat - true_flat))
    true_norm = np.linalg.norm(true_flat)
    denom = np.linalg.norm(cd_flat) * true_norm
    return b, (b / true_norm if true_norm > 0 else np.nan), (cd_flat @ true_flat / denom if denom > 0 else np.nan)


def cd_bias(model, data, ks=(1, 2, 5, 10)) -> xr.Dataset:
    """Exact CD-k bias :math:`\\mathbb E[g_{CD-k}] - g_{ML}` for each k in ``ks`` (see module docstring).

    Returns an ``xarray.Dataset`` with dimension ``k`` (and ``visible``, ``hidden``):

    * ``weights``, ``visible_bias``, ``hidden_bias``: the bias of each parameter block;
    * ``bias_norm``: :math:`\\|\\mathbb E[g_{CD-k}] - g_{ML}\\|` over all parameters;
    * ``relative_bias``: ``bias_norm`` / :math:`\\|g_{ML}\\|`;
    * ``cosine``: cosine similarity between :math:`\\mathbb E[g_{CD-k}]` and :math:`g_{ML}`;
    * ``true_weights``, ``true_visible_bias``, ``true_hidden_bias``: :math:`g_{ML}` itself.
    """
    ks = [check_int(k, "k", 1) for k in np.atleast_1d(ks).tolist()]
    if not ks:
        raise ValueError("`ks` must contain at least one k >= 1")
    s = _Setup(model, data)
    s0 = s.stats(s.p0)
    true = _sub(s0, s.stats(s.p_model))
    true_flat = _flat(true)
    true_norm = np.linalg.norm(true_flat)
    out = {f: [] for f in _FIELDS}
    norms, rel, cos = [], [], []
    p, t = s.p0, 0
    for k in sorted(set(ks)):
        while t < k:
            p, t = s.step(p), t + 1
        cd = _sub(s0, s.stats(p))
        bias = _sub(cd, true)
        for f in _FIELDS:
            out[f].append(bias[f])
        b, r, c = bias_statistics(_flat(cd), true_flat)
        norms.append(b)
        rel.append(r)
        cos.append(c)
    order = sorted(set(ks))
    return xr.Dataset(
        {
            "weights": (("k", "visible", "hidden"), np.array(out["weights"])),
            "visible_bias": (("k", "visible"), np.array(out["visible_bias"])),
            "hidden_bias": (("k", "hidden"), np.array(out["hidden_bias"])),
            "bias_norm": (("k",), np.array(norms)),
            "relative_bias": (("k",), np.array(rel)),
            "cosine": (("k",), np.array(cos)),
            "true_weights": (("visible", "hidden"), true["weights"]),
            "true_visible_bias": (("visible",), true["visible_bias"]),
            "true_hidden_bias": (("hidden",), true["hidden_bias"]),
        },
        coords={"k": np.array(order)},
        attrs={
            "description": "exact E[CD-k gradient] - exact log-likelihood gradient",
            "true_gradient_norm": float(true_norm),
            "num_examples": int(np.shape(data)[0]),
        },
    )
