"""Bayesian variable selection in linear regression as a discrete energy model.

Spike-and-slab regression with the slab weights (and, optionally, the noise variance)
integrated out: inclusion indicators :math:`\\gamma \\in \\{0, 1\\}^p`,

.. math::  \\gamma_j \\sim \\text{Bernoulli}(h), \\qquad
           \\beta_\\gamma \\sim N\\big(0, \\tfrac{\\sigma^2}{\\tau} I\\big), \\qquad
           y \\sim N(X_\\gamma \\beta_\\gamma, \\sigma^2 I_n),

so that :math:`y \\mid \\gamma \\sim N(0, \\sigma^2 C_\\gamma)`, :math:`C_\\gamma = I_n + X_\\gamma
X_\\gamma^\\top/\\tau`. With :math:`A = \\tau I_p + X^\\top X`, :math:`z = X^\\top y` and
:math:`k = |\\gamma|`, Woodbury and the matrix determinant lemma give, in :math:`p \\times p`
algebra only,

.. math::  \\log\\det C_\\gamma = \\log\\det A_{\\gamma\\gamma} - k \\log\\tau, \\qquad
           y^\\top C_\\gamma^{-1} y = y^\\top y - z_\\gamma^\\top A_{\\gamma\\gamma}^{-1} z_\\gamma .

The energy is :math:`E(\\gamma) = -\\log p(y \\mid \\gamma) - \\log p(\\gamma)` up to a constant:
with a known noise scale :math:`\\sigma`,
:math:`\\tfrac12\\log\\det C_\\gamma + y^\\top C_\\gamma^{-1} y / 2\\sigma^2`; with ``noise_scale=None``
the variance is integrated out under :math:`p(\\sigma^2) \\propto 1/\\sigma^2`,
:math:`\\tfrac12\\log\\det C_\\gamma + \\tfrac n2 \\log(y^\\top C_\\gamma^{-1} y)` (millipede-regression's
isotropic prior with :math:`\\nu_0 = \\lambda_0 = 0`, no intercept).

The indicators' whole-state energy changes (:meth:`VariableSelection.energy_changes`, what
tempered Gibbs sampling and the other dense samplers read) come in closed form from one
:math:`p \\times p` inverse: adding :math:`j \\notin \\gamma` has the Schur complement
:math:`s_j = A_{jj} - a_j^\\top A_{\\gamma\\gamma}^{-1} a_j` (:math:`a_j = A_{\\gamma j}`), so
:math:`\\Delta\\log\\det A = \\log s_j` and :math:`\\Delta(z^\\top A^{-1} z) = (z_j - a_j^\\top
A_{\\gamma\\gamma}^{-1} z_\\gamma)^2 / s_j`; removing :math:`j \\in \\gamma` has
:math:`\\Delta\\log\\det A = \\log (A_{\\gamma\\gamma}^{-1})_{jj}` and
:math:`\\Delta(z^\\top A^{-1} z) = -(A_{\\gamma\\gamma}^{-1} z_\\gamma)_j^2 / (A_{\\gamma\\gamma}^{-1})_{jj}`:
:math:`O(p^3)` for all :math:`p` conditionals instead of :math:`p` Cholesky factorisations of
:math:`n \\times n` matrices (the cost of writing the same model in NumPyro). All the algebra
works on the masked :math:`p \\times p` matrix :math:`G A G + (I - G)`, :math:`G = \\mathrm{diag}(\\gamma)`,
so shapes are static (and the energy is differentiable in real-valued :math:`\\gamma`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_text_free
from .base import DiscreteModel, as_float, pytree_dataclass, set_fields, static_field

__all__ = ["VariableSelection"]


def _number(value, name, low=0.0, high=math.inf, closed=False):
    check_text_free(value, name)
    if np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a number; got shape {np.shape(value)}")
    v = float(value)
    ok = (low < v < high) if not closed else (low <= v <= high)
    if not np.isfinite(v) or not ok:
        raise ValueError(f"`{name}` must be in ({low}, {high}); got {value!r}")
    return v


@pytree_dataclass
class VariableSelection(DiscreteModel):
    """Bayesian variable selection (spike-and-slab linear regression, weights integrated out)
    over the inclusion indicators :math:`\\gamma \\in \\{0, 1\\}^p` (module doc for the formulas).

    :param X: covariates, ``(n, p)``; :param y: responses, ``(n,)``.
    :param prior_inclusion: :math:`h`, the prior probability of every indicator (default 0.1).
    :param slab_precision: :math:`\\tau`: :math:`\\beta_j \\sim N(0, \\sigma^2/\\tau)` (default 1).
    :param noise_scale: :math:`\\sigma`, or ``None`` to integrate the noise variance out under
        :math:`p(\\sigma^2) \\propto 1/\\sigma^2` (default 1.0).

    ``ebm.ImportanceTemperedGibbs(potential_fn=ebm.potential(model))`` samples it with the
    closed-form conditionals of every indicator; estimate inclusion probabilities with
    ``ebm.diagnostics.weighted_marginals``. Its units are ``{0, 1}`` (``unit_values``), the
    states of shape ``(p,)``; :meth:`log_likelihood` is :math:`\\log p(y \\mid \\gamma)` with its constants.
    """

    X: jnp.ndarray
    y: jnp.ndarray
    gram: jnp.ndarray
    xty: jnp.ndarray
    yty: jnp.ndarray
    log_odds: jnp.ndarray
    slab_precision: jnp.ndarray
    noise_scale: jnp.ndarray
    integrate_noise: bool = static_field(default=False)

    def __init__(self, X, y, *, prior_inclusion=0.1, slab_precision=1.0, noise_scale=1.0):
        X, y = as_float(X), as_float(y)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"`X` must be a non-empty (n, p) matrix of covariates; got shape {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"`y` must have shape (n,) = {(X.shape[0],)} to match `X`; got {y.shape}")
        if not (np.all(np.isfinite(np.asarray(X))) and np.all(np.isfinite(np.asarray(y)))):
            raise ValueError("`X` and `y` must be finite")
        h = _number(prior_inclusion, "prior_inclusion", 0.0, 1.0)
        tau = _number(slab_precision, "slab_precision")
        integrate = noise_scale is None
        sigma = 1.0 if integrate else _number(noise_scale, "noise_scale")
        dtype = X.dtype
        set_fields(self, X=X, y=y, gram=X.T @ X, xty=X.T @ y, yty=jnp.sum(y * y),
                   log_odds=jnp.asarray(math.log(h) - math.log1p(-h), dtype),
                   slab_precision=jnp.asarray(tau, dtype), noise_scale=jnp.asarray(sigma, dtype),
                   integrate_noise=integrate)

    # --- the protocol -----------------------------------------------------------------------
    @property
    def event_shape(self):
        return (self.X.shape[1],)

    @property
    def event_dims(self):
        return ("predictor",)

    @property
    def unit_values(self):
        return (0, 1)

    def _factor(self, g):
        """``(A, z_m, L, log det A_gg)`` for indicators ``g`` (batched): :math:`A = \\tau I + X^\\top X`,
        :math:`z_m = G z` and the Cholesky factor :math:`L` of :math:`G A G + (I - G)`."""
        p = self.gram.shape[0]
        eye = jnp.eye(p, dtype=g.dtype)
        a = self.slab_precision * eye + self.gram
        a_m = g[..., :, None] * g[..., None, :] * a + (1.0 - g[..., :, None]) * eye
        chol = jnp.linalg.cholesky(a_m)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
        return a, g * self.xty, chol, logdet

    def _parts(self, g):
        """``(log det A_gg, z_g^T A_gg^-1 z_g, k)`` of indicators ``g`` (batched)."""
        _, z_m, chol, logdet = self._factor(g)
        w = jax.scipy.linalg.solve_triangular(chol, z_m[..., None], lower=True)[..., 0]
        return logdet, jnp.sum(w * w, axis=-1), jnp.sum(g, axis=-1)

    def _log_likelihood(self, logdet_a, quad, k):
        n = self.X.shape[0]
        logdet_c = logdet_a - k * jnp.log(self.slab_precision)
        resid = self.yty - quad  # y^T C^-1 y
        if self.integrate_noise:
            return -0.5 * logdet_c - 0.5 * n * jnp.log(resid)
        s2 = self.noise_scale**2
        return -0.5 * logdet_c - 0.5 * resid / s2 - 0.5 * n * jnp.log(2 * jnp.pi * s2)

    def log_likelihood(self, x):
        """:math:`\\log p(y \\mid \\gamma)` (with its constants for a known noise scale; up to one
        for ``noise_scale=None``), batched over leading axes."""
        g = jnp.asarray(x).astype(self.gram.dtype)
        return self._log_likelihood(*self._parts(g))

    def energy(self, x):
        """:math:`-\\log p(y \\mid \\gamma) - \\mathrm{logit}(h)\\,|\\gamma|` (the prior up to a constant),
        batched; differentiable in real-valued indicators."""
        g = jnp.asarray(x).astype(self.gram.dtype)
        return -self._log_likelihood(*self._parts(g)) - self.log_odds * jnp.sum(g, axis=-1)

    def energy_changes(self, x):
        """:math:`\\Delta_j(v) = E(\\gamma_{j \\to v}) - E(\\gamma)` for every indicator, shape
        ``batch + (p, 2)``, in closed form from one :math:`p \\times p` inverse (module doc)."""
        g = jnp.asarray(x).astype(self.gram.dtype)
        a, z_m, chol, logdet = self._factor(g)
        inv = jax.scipy.linalg.cho_solve((chol, True), jnp.broadcast_to(jnp.eye(g.shape[-1], dtype=g.dtype), chol.shape))
        u = jnp.einsum("...ij,...j->...i", inv, z_m)  # A_gg^-1 z_g (zero off the active set)
        quad = jnp.sum(z_m * u, axis=-1)
        k = jnp.sum(g, axis=-1)
        # adding an inactive j: a_j = G A[:, j]
        cols = g[..., :, None] * a  # (.., p, p): column j is a_j
        inv_cols = jnp.einsum("...ik,...kj->...ij", inv, cols)
        schur = jnp.diagonal(a) - jnp.sum(cols * inv_cols, axis=-2)
        lead = self.xty - jnp.einsum("...ij,...i->...j", cols, u)
        add_logdet, add_quad = jnp.log(schur), lead**2 / schur
        # removing an active j
        diag = jnp.diagonal(inv, axis1=-2, axis2=-1)
        rem_logdet, rem_quad = jnp.log(diag), -(u**2) / diag
        active = g > 0.5
        d_logdet = jnp.where(active, rem_logdet, add_logdet)
        d_quad = jnp.where(active, rem_quad, add_quad)
        d_k = jnp.where(active, -1.0, 1.0)
        before = self._log_likelihood(logdet, quad, k)
        after = self._log_likelihood(logdet[..., None] + d_logdet, quad[..., None] + d_quad, k[..., None] + d_k)
        flip = -(after - before[..., None]) - self.log_odds * d_k
        zero = jnp.zeros_like(flip)
        return jnp.stack([jnp.where(active, flip, zero), jnp.where(active, zero, flip)], axis=-1)

    def unit_energies(self, x, block):
        """:math:`E(\\gamma_{j \\to v}) - E(\\gamma)` of the unit ``block`` (from :meth:`energy_changes`)."""
        return self.energy_changes(x)[..., block, :][..., None, :]
