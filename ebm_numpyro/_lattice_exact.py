r"""Exact results for the 2D nearest-neighbour Ising model on the square lattice.

Finite periodic lattices use Kaufman's (1949) closed form of the partition function;
the infinite lattice uses Onsager's (1944) free energy and Yang's (1952) spontaneous
magnetisation.

Convention (shared by every function here): ``rows x cols`` torus of spins
:math:`s_{ij} = \pm 1`, :math:`k_B = 1`, :math:`\beta = 1/T`, :math:`K = \beta J`,

.. math::

    E(s) = -J \sum_{i,j} \left[ s_{i,j} s_{i+1,j} + s_{i,j} s_{i,j+1} \right],

indices taken modulo ``rows`` / ``cols``, so there are exactly ``2 * rows * cols`` bonds
(for ``rows = 2`` the two bonds joining the same pair of spins both count). Only
ferromagnetic couplings ``J > 0`` are supported.

Every function is pure JAX, works in float32 (default) and under ``jax_enable_x64``,
accepts scalar or array temperatures (elementwise) and can be ``jax.jit``-ed /
differentiated in ``temperature``; ``rows``, ``cols`` (and ``coupling``, if validation is
wanted) must be concrete Python values. Everything is evaluated in log space so that
lattices of 256 x 256 and larger stay finite from ``T = 0.05`` to ``T = 1000``.

References
----------
* L. Onsager, Phys. Rev. 65, 117 (1944).
* B. Kaufman, Phys. Rev. 76, 1232 (1949).
* C. N. Yang, Phys. Rev. 85, 808 (1952).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ebm_numpyro._checks import check_int, check_positive, check_temperature, float_dtype

__all__ = [
    "kaufman_log_partition",
    "kaufman_mean_energy",
    "kaufman_heat_capacity",
    "onsager_critical_temperature",
    "onsager_free_energy",
    "onsager_mean_energy",
    "onsager_magnetization",
]

_LOG2 = math.log(2.0)


# ----------------------------------------------------------------------------- helpers
def _as_float(x: Any) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(float_dtype())
    return x


def _coupling_to_K(temperature: Any, coupling: Any) -> jax.Array:
    """Validate inputs and return ``K = coupling / temperature`` as a float array."""
    check_temperature(temperature, "temperature")
    check_positive(coupling, "coupling")
    t = _as_float(temperature)
    return jnp.asarray(coupling, dtype=t.dtype) / t


def _log_2cosh(x: jax.Array) -> jax.Array:
    """``log(2 cosh x)`` without overflow."""
    a = jnp.abs(x)
    return a + jnp.log1p(jnp.exp(-2.0 * a))


def _log_abs_2sinh(x: jax.Array) -> jax.Array:
    """``log|2 sinh x|`` without overflow (``-inf`` at ``x = 0``)."""
    a = jnp.abs(x)
    return a + jnp.log(-jnp.expm1(-2.0 * a))


def _log_sinh(x: jax.Array) -> jax.Array:
    """``log sinh x`` for ``x > 0``."""
    return _log_abs_2sinh(x) - _LOG2


def _log_cosh(x: jax.Array) -> jax.Array:
    return _log_2cosh(x) - _LOG2


def _signed_logsumexp(logs: jax.Array, signs: jax.Array) -> jax.Array:
    """``log(sum_i signs_i * exp(logs_i))`` over the last axis (the sum must be > 0)."""
    m = jnp.max(logs, axis=-1, keepdims=True)
    m = jax.lax.stop_gradient(m)
    total = jnp.sum(signs * jnp.exp(logs - m), axis=-1)
    return jnp.squeeze(m, -1) + jnp.log(total)


def _kaufman_gammas(K: jax.Array, n: int) -> jax.Array:
    r"""Kaufman's :math:`\gamma_l`, ``l = 0 .. 2n-1``, shape ``K.shape + (2n,)``.

    :math:`\cosh\gamma_l = \cosh 2K \coth 2K - \cos(\pi l / n)` (``l >= 1``, positive root)
    and :math:`\gamma_0 = 2K + \log\tanh K` (sign matters: it changes sign at
    :math:`T_c`).
    """
    dtype = K.dtype
    K = K[..., None]
    x = 2.0 * K
    log_s = _log_sinh(x)  # log sinh 2K
    log_A = 2.0 * _log_cosh(x) - log_s  # A = cosh^2 2K / sinh 2K >= 2
    # l = 1 .. 2n-1 here (c >= 2 - cos(theta) > 1); l = 0 is handled separately below.
    theta = (jnp.pi / n) * jnp.arange(1, 2 * n, dtype=dtype)
    # log c, c = A - cos(theta), robust for huge A (low or high T).
    log_c = log_A + jnp.log1p(-jnp.cos(theta) * jnp.exp(-log_A))
    # c - 1 = (s - 1)^2 / s + 2 sin^2(theta/2), accurate near c = 1 (T ~ Tc, small l).
    s = jnp.exp(jnp.clip(log_s, -20.0, 20.0))
    d = (s - 1.0) ** 2 / s + 2.0 * jnp.sin(0.5 * theta) ** 2
    d_small = jnp.minimum(d, 1e4)
    gamma_small = jnp.log1p(d_small + jnp.sqrt(d_small * (d_small + 2.0)))
    inv_c2 = jnp.exp(-2.0 * jnp.maximum(log_c, 1.0))
    gamma_large = log_c + jnp.log1p(jnp.sqrt(1.0 - inv_c2))
    gamma = jnp.where(log_c > 5.0, gamma_large, gamma_small)
    # gamma_0 = 2K + log tanh K, with log tanh K = log(1 - e^{-2K}) - log(1 + e^{-2K}).
    e = jnp.exp(-x)
    gamma0 = x + jnp.log(-jnp.expm1(-x)) - jnp.log1p(e)
    return jnp.concatenate([gamma0, gamma], axis=-1)


def _kaufman_log_z_of_K(K: jax.Array, rows: int, cols: int) -> jax.Array:
    m, n = rows, cols
    gam = _kaufman_gammas(K, n)  # (..., 2n)
    half = 0.5 * m * gam
    tiny = jnp.finfo(half.dtype).tiny
    # Exactly at Tc gamma_0 = 0 and Z4 = 0; shift by `tiny` so logs stay finite and the
    # gradient (weight ~ tiny times d log ~ 1/tiny) stays correct instead of 0 * inf.
    half = half + jnp.where(half == 0, tiny, 0.0).astype(half.dtype)
    odd = half[..., 1::2]
    even = half[..., 0::2]
    log_z1 = jnp.sum(_log_2cosh(odd), axis=-1)
    log_z2 = jnp.sum(_log_abs_2sinh(odd), axis=-1)
    log_z3 = jnp.sum(_log_2cosh(even), axis=-1)
    log_z4 = jnp.sum(_log_abs_2sinh(even), axis=-1)
    ones = jnp.ones_like(log_z1)
    sign_z2 = jnp.prod(jnp.sign(odd), axis=-1)  # all +1 (gamma_l > 0 for l >= 1)
    sign_z4 = jnp.prod(jnp.sign(even), axis=-1)  # sign of gamma_0
    logs = jnp.stack([log_z1, log_z2, log_z3, log_z4], axis=-1)
    signs = jnp.stack([ones, sign_z2, ones, sign_z4], axis=-1)
    log_sum = _signed_logsumexp(logs, signs)
    log_pref = -_LOG2 + 0.5 * m * n * (_LOG2 + _log_sinh(2.0 * K))
    return log_pref + log_sum


def _check_size(rows: Any, cols: Any) -> tuple[int, int]:
    return check_int(rows, "rows", 2), check_int(cols, "cols", 2)


# ----------------------------------------------------------------------------- Kaufman
def kaufman_log_partition(rows: int, cols: int, temperature: Any, coupling: float = 1.0):
    r"""Exact :math:`\log Z` of the periodic ``rows x cols`` Ising model (Kaufman 1949).

    With :math:`K = J/T`, :math:`m` = ``rows`` and :math:`n` = ``cols``,

    .. math::

        Z = \tfrac12 (2\sinh 2K)^{mn/2} \,(Z_1 + Z_2 + Z_3 + Z_4),

        Z_1 = \prod_{k=0}^{n-1} 2\cosh\tfrac{m\gamma_{2k+1}}{2},\quad
        Z_2 = \prod_{k=0}^{n-1} 2\sinh\tfrac{m\gamma_{2k+1}}{2},

        Z_3 = \prod_{k=0}^{n-1} 2\cosh\tfrac{m\gamma_{2k}}{2},\quad
        Z_4 = \prod_{k=0}^{n-1} 2\sinh\tfrac{m\gamma_{2k}}{2},

        \cosh\gamma_l = \cosh 2K \coth 2K - \cos(\pi l / n)\ (l \ge 1),\qquad
        \gamma_0 = 2K + \log\tanh K.

    :math:`\gamma_0` changes sign at :math:`T_c` (positive below, negative above), which
    flips the sign of :math:`Z_4`; each :math:`Z_i` is carried as (sign, log-magnitude)
    and combined by a signed log-sum-exp, so no product overflows.

    Args:
        rows, cols: lattice size, Python integers ``>= 2``.
        temperature: ``T > 0`` (scalar or array; the result has its shape).
        coupling: ferromagnetic coupling ``J > 0``.

    Returns:
        :math:`\log Z` (not per spin), same shape as ``temperature``.

    Limits: :math:`\log Z \to 2NK + \log 2` as :math:`T \to 0` and
    :math:`\to N \log 2` as :math:`T \to \infty` (:math:`N` = ``rows * cols``).
    """
    rows, cols = _check_size(rows, cols)
    K = _coupling_to_K(temperature, coupling)
    return _kaufman_log_z_of_K(K, rows, cols)


def kaufman_mean_energy(rows: int, cols: int, temperature: Any, coupling: float = 1.0):
    r"""Exact mean energy per spin :math:`\langle E\rangle/N` of the periodic lattice.

    .. math::

        \frac{\langle E\rangle}{N} = -\frac1N \frac{\partial \log Z}{\partial\beta}
        = \frac{T^2}{N}\frac{\partial \log Z}{\partial T},

    with :math:`\log Z` from Kaufman (1949) (:func:`kaufman_log_partition`),
    differentiated by JAX autodiff. Tends to :math:`-2J` as :math:`T \to 0` and to 0 as
    :math:`T \to \infty`.
    """
    rows, cols = _check_size(rows, cols)
    K = _coupling_to_K(temperature, coupling)
    J = jnp.asarray(coupling, dtype=K.dtype)
    n_spins = rows * cols
    dlogz_dK = jax.grad(lambda k: jnp.sum(_kaufman_log_z_of_K(k, rows, cols)))(K)
    return -J * dlogz_dK / n_spins


def kaufman_heat_capacity(rows: int, cols: int, temperature: Any, coupling: float = 1.0):
    r"""Exact heat capacity per spin :math:`C/N` of the periodic lattice.

    .. math::

        \frac{C}{N} = \frac1N \frac{\partial\langle E\rangle}{\partial T}
        = \frac{\beta^2}{N} \frac{\partial^2 \log Z}{\partial\beta^2}
        = \frac{K^2}{N} \frac{\partial^2 \log Z}{\partial K^2},

    with :math:`\log Z` from Kaufman (1949), differentiated twice by JAX autodiff.
    """
    rows, cols = _check_size(rows, cols)
    K = _coupling_to_K(temperature, coupling)
    n_spins = rows * cols

    def dlogz(k):
        return jax.grad(lambda kk: jnp.sum(_kaufman_log_z_of_K(kk, rows, cols)))(k)

    d2 = jax.grad(lambda k: jnp.sum(dlogz(k)))(K)
    return K**2 * d2 / n_spins


# ----------------------------------------------------------------------------- Onsager
def onsager_critical_temperature(coupling: float = 1.0) -> float:
    r"""Critical temperature of the infinite square lattice (Onsager 1944).

    .. math::

        T_c = \frac{2J}{\log(1 + \sqrt 2)} \approx 2.269185\,J,
        \qquad \sinh(2J/T_c) = 1.
    """
    check_positive(coupling, "coupling")
    return 2.0 * float(coupling) / math.log1p(math.sqrt(2.0))


@functools.lru_cache(maxsize=None)
def _gauss_legendre_half_pi(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes/weights on ``[0, pi/2]`` (float64 numpy)."""
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.25 * np.pi * (x + 1.0), 0.25 * np.pi * w


def _kappa_and_kprime(K: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""Onsager's modulus :math:`\kappa = 2\sinh 2K/\cosh^2 2K` and :math:`\sqrt{1-\kappa^2}`."""
    x = 2.0 * K
    t = jnp.tanh(x)
    sech = jnp.exp(-_log_cosh(x))
    kappa = 2.0 * t * sech
    # 1 - kappa = (sinh 2K - 1)^2 / cosh^2 2K  =>  k' = sqrt(1 + kappa) |tanh 2K - sech 2K|
    kprime = jnp.sqrt(1.0 + kappa) * jnp.abs(t - sech)
    return kappa, kprime


def onsager_free_energy(temperature: Any, coupling: float = 1.0):
    r"""Free energy per spin :math:`f` of the infinite square lattice (Onsager 1944).

    .. math::

        -\beta f = \log(2\cosh 2K)
        + \frac{1}{2\pi}\int_0^{\pi}
          \log\!\left[\tfrac12\left(1 + \sqrt{1 - \kappa^2\sin^2\theta}\right)\right] d\theta,
        \qquad \kappa = \frac{2\sinh 2K}{\cosh^2 2K},

    with :math:`K = J/T`. The integrand is symmetric about :math:`\pi/2`, so the integral is
    evaluated as :math:`(1/\pi)\int_0^{\pi/2}` with 200-node Gauss-Legendre quadrature
    (smooth on that interval for every :math:`\kappa \le 1`). Returns :math:`f` (not
    :math:`\beta f`), shape of ``temperature``.
    """
    K = _coupling_to_K(temperature, coupling)
    t = jnp.asarray(temperature, dtype=K.dtype)
    nodes, weights = _gauss_legendre_half_pi(200)
    nodes = jnp.asarray(nodes, dtype=K.dtype)
    weights = jnp.asarray(weights, dtype=K.dtype)
    kappa, _ = _kappa_and_kprime(K)
    k2s2 = (kappa[..., None] * jnp.sin(nodes)) ** 2
    integrand = jnp.log(0.5 * (1.0 + jnp.sqrt(jnp.maximum(1.0 - k2s2, 0.0))))
    integral = jnp.sum(weights * integrand, axis=-1) / jnp.pi
    minus_beta_f = _log_2cosh(2.0 * K) + integral
    return -t * minus_beta_f


def _elliptic_k_from_kprime(kprime: jax.Array, iterations: int = 40) -> jax.Array:
    r"""Complete elliptic integral :math:`K_1(k) = \pi / (2\,\mathrm{AGM}(1, k'))`."""
    a = jnp.ones_like(kprime)
    g = kprime

    def body(_, ag):
        a, g = ag
        return 0.5 * (a + g), jnp.sqrt(a * g)

    a, g = jax.lax.fori_loop(0, iterations, body, (a, g))
    return 0.5 * jnp.pi / a


def onsager_mean_energy(temperature: Any, coupling: float = 1.0):
    r"""Mean energy per spin :math:`u` of the infinite square lattice (Onsager 1944).

    .. math::

        u = -J \coth 2K \left[1 + \frac{2}{\pi}\left(2\tanh^2 2K - 1\right)
            K_1(\kappa)\right],
        \qquad \kappa = \frac{2\sinh 2K}{\cosh^2 2K},

    where :math:`K_1(\kappa) = \int_0^{\pi/2} (1 - \kappa^2\sin^2\phi)^{-1/2} d\phi` is the
    complete elliptic integral of the first kind, computed as
    :math:`\pi / (2\,\mathrm{AGM}(1, \sqrt{1-\kappa^2}))`. At :math:`T_c`, :math:`K_1`
    diverges logarithmically while :math:`2\tanh^2 2K - 1 = 0`; the complementary modulus is
    clamped to the smallest normal float so the product stays finite
    (:math:`u(T_c) = -\sqrt2 J`).
    """
    K = _coupling_to_K(temperature, coupling)
    J = jnp.asarray(coupling, dtype=K.dtype)
    x = 2.0 * K
    _, kprime = _kappa_and_kprime(K)
    kprime = jnp.maximum(kprime, jnp.finfo(K.dtype).tiny)
    k1 = _elliptic_k_from_kprime(kprime)
    t = jnp.tanh(x)
    return -J / t * (1.0 + (2.0 / jnp.pi) * (2.0 * t**2 - 1.0) * k1)


def onsager_magnetization(temperature: Any, coupling: float = 1.0):
    r"""Spontaneous magnetisation per spin of the infinite lattice (Onsager 1949; Yang 1952).

    .. math::

        M = \begin{cases}
            \left(1 - \sinh^{-4} 2K\right)^{1/8} & T < T_c \\
            0 & T \ge T_c
        \end{cases}

    with :math:`K = J/T`. Tends to 1 as :math:`T \to 0`.
    """
    K = _coupling_to_K(temperature, coupling)
    base = 1.0 - jnp.exp(-4.0 * _log_sinh(2.0 * K))
    positive = base > 0
    safe = jnp.where(positive, base, 1.0)
    return jnp.where(positive, safe**0.125, 0.0)
