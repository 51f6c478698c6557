"""Losses from non-extensive statistics: the generalized cross-entropy (Zhang & Sabuncu 2018).

The Tsallis q-logarithm :math:`\\ln_q(x) = (x^{1-q} - 1)/(1-q)` tends to :math:`\\ln x` as
:math:`q \\to 1`. Replacing the logarithm in the cross-entropy :math:`-\\ln p_y` by a deformed
logarithm gives the generalized cross-entropy

.. math::  L_q(p, y) = -\\ln_{1-q}(p_y) = \\frac{1 - p_y^{\\,q}}{q}, \\qquad q \\in (0, 1],

which interpolates between cross-entropy (:math:`q \\to 0`) and the mean absolute error
:math:`1 - p_y` (:math:`q = 1`, bounded and robust to label noise).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import is_concrete

__all__ = ["generalized_cross_entropy", "tsallis_log"]


def tsallis_log(x, q):
    """Tsallis q-logarithm :math:`\\ln_q(x) = (x^{1-q} - 1)/(1 - q)`, with :math:`\\ln_1 = \\ln`."""
    x = jnp.asarray(x)
    if q == 1:
        return jnp.log(x)
    return jnp.expm1((1.0 - q) * jnp.log(x)) / (1.0 - q)


def _check_q(q):
    if is_concrete(q):
        qv = np.asarray(q, dtype=np.float64)
        if qv.shape != () or not np.isfinite(qv) or not (0.0 < qv <= 1.0):
            raise ValueError(f"`q` must be a scalar in (0, 1] (q -> 0 is cross-entropy, q = 1 is MAE); got {q!r}")


def generalized_cross_entropy(logits, labels, q=0.7, truncation=None):
    """Per-example generalized cross-entropy :math:`L_q` of integer ``labels`` under ``logits``.

    .. math::
        L_q(x, y) = \\frac{1 - p_y^{\\,q}}{q} = -\\ln_{1-q}(p_y),
        \\qquad p = \\mathrm{softmax}(x)

    computed stably from logits as ``-expm1(q * log_softmax(x)[y]) / q`` (no overflow for large
    logits, and accurate as :math:`q \\to 0`, where :math:`L_q \\to -\\log p_y`, the
    cross-entropy; at :math:`q = 1`, :math:`L_q = 1 - p_y`).

    **Gradient.** :math:`\\nabla_\\theta L_q = p_y^{\\,q}\\,\\nabla_\\theta(-\\log p_y)`: each
    example's cross-entropy gradient is weighted by :math:`p_y^q \\in (0, 1]`, so examples the
    model finds implausible (often mislabelled ones, small :math:`p_y`) are down-weighted.

    **Truncation** (``truncation=k`` in (0, 1), the paper's truncated :math:`L_q`):

    .. math::  L_{trunc}(x, y) = \\begin{cases} L_q(p_y) & p_y > k \\\\ (1 - k^q)/q & p_y \\le k \\end{cases}

    a constant (zero gradient) for examples with :math:`p_y \\le k`.

    Args:
        logits: array ``(..., num_classes)``.
        labels: integer class indices of shape ``logits.shape[:-1]``.
        q: deformation in (0, 1].
        truncation: optional threshold k in (0, 1).

    Returns:
        Losses of shape ``logits.shape[:-1]`` (average them yourself, as in optax).
    """
    _check_q(q)
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if logits.ndim < 1:
        raise ValueError(f"`logits` must have shape (..., num_classes); got {logits.shape}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"`labels` must have shape logits.shape[:-1] = {logits.shape[:-1]} (integer class indices); "
            f"got {labels.shape}"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"`labels` must be integer class indices; got dtype {labels.dtype}")
    num_classes = logits.shape[-1]
    if is_concrete(labels) and labels.size:
        lab = np.asarray(labels)
        if lab.min() < 0 or lab.max() >= num_classes:
            raise ValueError(f"`labels` must lie in [0, {num_classes}); got range [{lab.min()}, {lab.max()}]")
    if truncation is not None and is_concrete(truncation):
        k = np.asarray(truncation, dtype=np.float64)
        if k.shape != () or not np.isfinite(k) or not (0.0 < k < 1.0):
            raise ValueError(f"`truncation` must be a scalar in (0, 1); got {truncation!r}")
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        logits = logits.astype(jnp.float32)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    log_py = jnp.take_along_axis(log_p, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]
    loss = -jnp.expm1(q * log_py) / q
    if truncation is not None:
        log_k = jnp.log(jnp.asarray(truncation, log_py.dtype))
        floor = -jnp.expm1(q * log_k) / q
        loss = jnp.where(log_py > log_k, loss, floor)
    return loss
