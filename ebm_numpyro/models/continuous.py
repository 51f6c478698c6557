"""Continuous energy landscapes: the double well, the wide-versus-narrow minima, and the Gaussian
energy (the continuous energy-based model with everything in closed form)."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_positive, check_temperature, is_concrete
from .base import EnergyModel, as_float, pytree_dataclass, set_fields, static_field

__all__ = ["DoubleWell", "WideNarrowWells", "GaussianEnergy", "ParametricEnergy", "Quadrature",
           "quadrature_log_partition"]


def _coordinates(x, dim, dtype):
    """``x`` as an array of shape ``batch + (dim,)``.

    A one-dimensional model (``dim == 1``) also takes scalar coordinates: a 0-d ``x`` (a
    scalar NumPyro site, a 0-d ``init_params``) is one state, and a trailing axis of any size
    other than 1 is a batch of scalar states (a scalar site inside a ``numpyro.plate``).
    """
    x = jnp.asarray(x, dtype)
    if dim == 1 and (x.ndim == 0 or x.shape[-1] != 1):
        x = x[..., None]
    return x


@pytree_dataclass
class DoubleWell(EnergyModel):
    """Double-well potential, optionally tilted, applied to every coordinate of ``x``:

    .. math::  E(x) = \\text{height}\\,\\frac{(x^2 - a^2)^2}{a^4} + \\text{tilt}\\cdot x

    At the defaults E(x) = (x² - 1)²: minima at x = ±a, barrier ``height`` at x = 0.
    States have shape ``(dim,)`` (``dim=1`` by default); the energy sums the coordinates.
    """

    a: jnp.ndarray
    height: jnp.ndarray
    tilt: jnp.ndarray
    dim: int = static_field(default=1)

    def __init__(self, a=1.0, height=1.0, tilt=0.0, dim=1):
        check_positive(a, "a")
        check_positive(height, "height")
        a = as_float(a)
        set_fields(
            self,
            a=a,
            height=as_float(height, a.dtype),
            tilt=as_float(tilt, a.dtype),
            dim=check_int(dim, "dim", 1),
        )

    @property
    def event_shape(self):
        return (self.dim,)

    def energy(self, x):
        """:math:`\\sum_k \\text{height}(x_k^2-a^2)^2/a^4 + \\text{tilt}\\, x_k`, batched."""
        x = _coordinates(x, self.dim, self.a.dtype)
        e = self.height * (x**2 - self.a**2) ** 2 / self.a**4 + self.tilt * x
        return jnp.sum(e, axis=-1)


@pytree_dataclass
class WideNarrowWells(EnergyModel):
    """Two quadratic minima of equal depth (0), one wide and one narrow, in ``dim`` dimensions:

    .. math::  U(x) = \\min\\big(k_w |x - a e_1|^2/2,\\; k_n |x + a e_1|^2/2\\big)

    Each basin holds Gaussian mass :math:`(2\\pi T/k)^{d/2}`, so at temperature T the
    occupancy ratio is :math:`P_{wide}/P_{narrow} = (k_n/k_w)^{d/2}` up to the tails that
    cross the dividing surface, which vanish like :math:`e^{-k a^2/(2T)}`: the entropic
    force towards flat minima at equal energy.
    """

    separation: jnp.ndarray
    k_wide: jnp.ndarray
    k_narrow: jnp.ndarray
    dim: int = static_field(default=1)

    def __init__(self, dim=1, separation=3.0, k_wide=1.0, k_narrow=16.0):
        for name, v in (("separation", separation), ("k_wide", k_wide), ("k_narrow", k_narrow)):
            check_positive(v, name)
        sep = as_float(separation)
        set_fields(
            self,
            separation=sep,
            k_wide=as_float(k_wide, sep.dtype),
            k_narrow=as_float(k_narrow, sep.dtype),
            dim=check_int(dim, "dim", 1),
        )

    @property
    def event_shape(self):
        return (self.dim,)

    def centres(self):
        """Centres ``(a e_1, -a e_1)`` of the wide and narrow wells."""
        e1 = jnp.zeros((self.dim,), self.separation.dtype).at[0].set(self.separation)
        return e1, -e1

    def energy(self, x):
        """:math:`\\min(k_w|x-a e_1|^2, k_n|x+a e_1|^2)/2`, batched."""
        x = _coordinates(x, self.dim, self.separation.dtype)
        wide, narrow = self.centres()
        ew = 0.5 * self.k_wide * jnp.sum((x - wide) ** 2, -1)
        en = 0.5 * self.k_narrow * jnp.sum((x - narrow) ** 2, -1)
        return jnp.minimum(ew, en)

    def in_wide_well(self, x):
        """True where ``x`` lies in the wide basin (its quadratic is the smaller one)."""
        x = _coordinates(x, self.dim, self.separation.dtype)
        wide, narrow = self.centres()
        return self.k_wide * jnp.sum((x - wide) ** 2, -1) <= self.k_narrow * jnp.sum((x - narrow) ** 2, -1)

    def occupancy_ratio(self):
        """Predicted :math:`P_{wide}/P_{narrow} = (k_n/k_w)^{d/2}`."""
        return (self.k_narrow / self.k_wide) ** (self.dim / 2)


@pytree_dataclass
class GaussianEnergy(EnergyModel):
    """The Gaussian energy-based model, with its partition function and maximum likelihood in
    closed form (the ground truth of continuous EBM training):

    .. math::  E(x) = \\tfrac12 (x - \\mu)^\\top P\\, (x - \\mu), \\qquad
               \\log Z(T) = \\tfrac d2 \\log(2\\pi T) - \\tfrac12 \\log\\det P,

    so :math:`e^{-E/T}/Z` is :math:`\\mathcal N(\\mu, T P^{-1})`. ``mean`` :math:`\\mu` has shape
    ``(d,)``, ``precision`` :math:`P` is symmetric positive definite ``(d, d)``. Maximum likelihood
    on data :math:`x_1..x_n` gives :math:`\\hat\\mu = \\bar x` and :math:`\\hat P = \\hat S^{-1}`
    (the covariance with divisor n): :meth:`maximum_likelihood`. The exact expected CD-k gradient
    with Langevin negative chains is :func:`ebm_numpyro.learning.gaussian_cd_bias`.
    """

    mean: jnp.ndarray
    precision: jnp.ndarray

    def __init__(self, mean, precision):
        mean = as_float(mean)
        if mean.ndim != 1 or mean.shape[0] < 1:
            raise ValueError(f"`mean` must be a vector of shape (d,); got shape {mean.shape}")
        precision = as_float(precision, mean.dtype)
        d = mean.shape[0]
        if precision.shape != (d, d):
            raise ValueError(f"`precision` must have shape (d, d) = {(d, d)}; got {precision.shape}")
        if is_concrete(precision):
            p = np.asarray(precision, np.float64)
            if not np.allclose(p, p.T, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(p).max())):
                raise ValueError("`precision` must be symmetric")
            if not np.all(np.isfinite(p)) or np.linalg.eigvalsh(p).min() <= 0:
                raise ValueError("`precision` must be positive definite (all eigenvalues > 0)")
        set_fields(self, mean=mean, precision=precision)

    @classmethod
    def maximum_likelihood(cls, data) -> "GaussianEnergy":
        """The maximum-likelihood Gaussian energy of ``data`` ``(n, d)``: the sample mean and the
        inverse of the sample covariance with divisor ``n`` (needs ``n > d`` distinct points)."""
        x = np.asarray(data, np.float64)
        if x.ndim != 2 or x.shape[0] <= x.shape[1]:
            raise ValueError(f"`data` must have shape (n, d) with n > d; got {x.shape}")
        centred = x - x.mean(0)
        return cls(x.mean(0), np.linalg.inv(centred.T @ centred / x.shape[0]))

    @property
    def event_shape(self):
        return (self.mean.shape[0],)

    def energy(self, x):
        """:math:`\\tfrac12 (x-\\mu)^\\top P (x-\\mu)`, batched over leading axes."""
        z = jnp.asarray(x, self.mean.dtype) - self.mean
        return 0.5 * jnp.einsum("...i,ij,...j->...", z, self.precision, z)

    def log_partition(self, temperature=1.0):
        """:math:`\\log Z(T) = \\tfrac d2 \\log(2\\pi T) - \\tfrac12\\log\\det P`."""
        d = self.mean.shape[0]
        return 0.5 * d * jnp.log(2.0 * math.pi * jnp.asarray(temperature, self.mean.dtype)) - 0.5 * jnp.linalg.slogdet(
            self.precision)[1]

    def log_prob(self, x, temperature=1.0):
        """:math:`-E(x)/T - \\log Z(T)`, batched."""
        return -self.energy(x) / temperature - self.log_partition(temperature)

    def covariance(self):
        """:math:`P^{-1}`, the covariance at T = 1."""
        return jnp.linalg.inv(self.precision)

    #: the closed-form :meth:`log_partition` exists (``fit`` reports the exact log-likelihood)
    has_log_partition = True


@pytree_dataclass
class ParametricEnergy(EnergyModel):
    """A user's energy function with trainable parameters, on real-valued states:

    .. math::  E_\\theta(x) = \\texttt{energy\\_fn}(x, \\theta), \\qquad p_\\theta(x) \\propto e^{-E_\\theta(x)}

    ``energy_fn(x, params)`` maps one state of shape ``event_shape`` to a scalar (written in JAX:
    an MLP, any network whose parameters are a pytree); ``params`` (any pytree of arrays) are the
    model's leaves, so ``ebm.learning.fit`` trains them with a
    :class:`~ebm_numpyro.learning.Langevin` negative phase, and ``ebm.potential(model)`` /
    ``ebm.energy_factor`` make it a NumPyro potential and factor (NUTS, ``SGLD`` and
    ``CyclicAnnealing`` sample it). ``energy`` is batched over leading axes by ``vmap``.

    ``support`` (optional): a box ``((low, high),) * d`` for a state of ``d <= 2`` coordinates, on
    which the density is taken to live (the energy is integrated there): with it
    :meth:`log_partition` is computed by quadrature
    (:func:`ebm_numpyro.exact.quadrature_log_partition`), and ``fit`` reports the exact
    log-likelihood during training.
    """

    params: Any
    energy_fn: Callable = static_field()
    shape: tuple = static_field()
    support: tuple | None = static_field(default=None)

    def __init__(self, energy_fn, params, event_shape, *, support=None):
        if not callable(energy_fn):
            raise ValueError(f"`energy_fn` must be a callable (x, params) -> scalar energy; got {energy_fn!r}")
        shape = (int(event_shape),) if np.ndim(event_shape) == 0 else tuple(int(s) for s in event_shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"`event_shape` must be a positive int or a tuple of them; got {event_shape!r}")
        if support is not None:
            support = tuple((float(lo), float(hi)) for lo, hi in np.asarray(support, np.float64).reshape(-1, 2))
            d = math.prod(shape)
            if d > 2 or len(support) != d or any(not (lo < hi) for lo, hi in support):
                raise ValueError(f"`support` must be {d} intervals (low, high), low < high, for a state of at most "
                                 f"2 coordinates (quadrature); got {support!r} for event_shape {shape}")
        params = jax.tree.map(as_float, params)
        out = jax.eval_shape(energy_fn, jax.ShapeDtypeStruct(shape, jnp.float32), params)
        if getattr(out, "shape", None) != ():
            raise ValueError(f"`energy_fn(x, params)` must return a scalar for one state of shape {shape}; "
                             f"got shape {getattr(out, 'shape', None)}")
        set_fields(self, params=params, energy_fn=energy_fn, shape=shape, support=support)

    @property
    def event_shape(self):
        return self.shape

    @property
    def dtype(self):
        leaves = [a for a in jax.tree_util.tree_leaves(self.params) if jnp.issubdtype(jnp.result_type(a), jnp.floating)]
        return jnp.result_type(*leaves) if leaves else super().dtype

    def energy(self, x):
        """``energy_fn`` at every state of ``x`` (``batch + event_shape``), by ``vmap``."""
        x = jnp.asarray(x, self.dtype)
        batch = x.shape[: x.ndim - len(self.shape)]
        flat = x.reshape((-1,) + self.shape)
        return jax.vmap(lambda y: self.energy_fn(y, self.params))(flat).reshape(batch)

    @property
    def has_log_partition(self) -> bool:
        """Whether :meth:`log_partition` is available (a ``support`` box is given)."""
        return self.support is not None

    def log_partition(self, temperature=1.0):
        """:math:`\\log\\int_{\\text{support}} e^{-E_\\theta(x)/T} dx` by quadrature (needs ``support``)."""
        if self.support is None:
            raise ValueError("log_partition needs a `support` box (ParametricEnergy(..., support=...)) for quadrature")
        return quadrature_log_partition(self, temperature, bounds=self.support).log_partition


class Quadrature(NamedTuple):
    """:func:`quadrature_log_partition`'s result: ``log_partition`` (the fine grid's), ``error_estimate``
    (:math:`|\\log Z_h - \\log Z_{2h}|`, the difference to the grid of twice the spacing), and
    ``edge_density`` (the largest density on the box's outermost cells relative to the largest
    in the box)."""

    log_partition: jnp.ndarray
    error_estimate: jnp.ndarray
    edge_density: jnp.ndarray


def quadrature_log_partition(model, temperature=1.0, *, bounds, num_points=None) -> Quadrature:
    """:math:`\\log Z = \\log \\int_B e^{-E(x)/T} dx` of a continuous energy model of one or two
    coordinates over the box ``bounds`` (``((low, high),)`` or two intervals), by the midpoint rule
    on ``num_points`` cells per axis (default 4,000 in 1-D, 600 in 2-D) in log-sum-exp form.

    The error: for a smooth energy the midpoint rule's error falls like :math:`h^2` (or faster),
    so the fine grid's error is at most about a third of ``error_estimate`` =
    :math:`|\\log Z_h - \\log Z_{2h}|` (the same rule on cells twice as wide): once the grid
    resolves the density (``error_estimate`` well below 0.01), treat it as the bound of the
    quadrature error; a larger one says the cells are too wide for the density's features. The box itself cuts the tails: a
    density that is not negligible at the box's edge (``edge_density``, the density on the
    outermost cells relative to the peak, well above ``error_estimate``) means the box is too small; the
    log-partition is then that of the density restricted to the box. On Gaussians both are
    checked against the closed form (``tests/learning/test_gaussian_ebm.py``)."""
    if not isinstance(model, EnergyModel) or model.is_discrete:
        raise ValueError(f"`model` must be a continuous energy model; got {type(model).__name__}")
    d = math.prod(tuple(model.event_shape))
    if d not in (1, 2):
        raise ValueError(f"quadrature covers states of 1 or 2 coordinates; this model's event_shape is "
                         f"{tuple(model.event_shape)}")
    check_temperature(temperature)
    box = [tuple(float(v) for v in b) for b in np.asarray(bounds, np.float64).reshape(-1, 2).tolist()]
    if len(box) != d or any(not (lo < hi) for lo, hi in box):
        raise ValueError(f"`bounds` must be {d} interval(s) (low, high) with low < high; got {bounds!r}")
    n = check_int(num_points if num_points is not None else (4000 if d == 1 else 600), "num_points", 4)
    n -= n % 2

    def log_mass(cells):
        axes = [lo + (jnp.arange(cells) + 0.5) * (hi - lo) / cells for lo, hi in box]
        grid = jnp.stack(jnp.meshgrid(*axes, indexing="ij"), -1).reshape((cells,) * d + tuple(model.event_shape))
        logw = -model.energy(grid.astype(model.dtype)).reshape((cells,) * d) / temperature
        volume = math.prod((hi - lo) / cells for lo, hi in box)
        return logw, math.log(volume)

    logw, log_volume = log_mass(n)
    log_z = jax.scipy.special.logsumexp(logw) + log_volume
    coarse_w, coarse_volume = log_mass(n // 2)
    log_z_coarse = jax.scipy.special.logsumexp(coarse_w) + coarse_volume
    inner = jnp.zeros(logw.shape, bool).at[(slice(1, -1),) * d].set(True)
    edge = jnp.exp(jnp.max(jnp.where(inner, -jnp.inf, logw)) - jnp.max(logw))
    return Quadrature(log_z, jnp.abs(log_z - log_z_coarse), edge)
