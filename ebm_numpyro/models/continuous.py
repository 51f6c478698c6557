"""Continuous energy landscapes: the double well and the wide-versus-narrow minima."""

from __future__ import annotations

import jax.numpy as jnp

from .._checks import check_int, check_positive
from .base import EnergyModel, as_float, pytree_dataclass, set_fields, static_field

__all__ = ["DoubleWell", "WideNarrowWells"]


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
