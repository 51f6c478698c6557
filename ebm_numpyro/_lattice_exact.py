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


def _kaufman_factors(
    K: jax.Array, cos_t: jax.Array, sin2_t: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Kaufman's angles: :math:`\gamma_l`, :math:`h_l` for ``l >= 1`` and :math:`\gamma_0`, ``L``.

    ``cos_t`` / ``sin2_t`` hold :math:`\cos\theta_l` and :math:`\sin^2(\theta_l/2)`,
    :math:`\theta_l = \pi l / n`, for ``l = 1 .. size-1`` (padding entries use
    :math:`\theta = \pi`). :math:`\cosh\gamma_l = \cosh 2K \coth 2K - \cos\theta_l`
    (positive root) and :math:`\gamma_0 = 2K + \log\tanh K` (sign matters: positive below
    :math:`T_c`, negative above). :math:`h_l = L + \gamma_l` with
    :math:`L = \log(2\sinh 2K)` folds one factor of the prefactor :math:`(2\sinh 2K)^{m/2}`
    into each column term; it stays O(1) at high ``T`` where ``L`` and :math:`\gamma_l` are
    individually large and would cancel.
    """
    K = K[..., None]
    x = 2.0 * K
    log_s = _log_sinh(x)  # log sinh 2K
    log_2s = _LOG2 + log_s  # L
    log_A = 2.0 * _log_cosh(x) - log_s  # A = cosh^2 2K / sinh 2K >= 2
    # log c, c = A - cos(theta) >= 2 - cos(theta) > 1, robust for huge A (low or high T).
    log_c = log_A + jnp.log1p(-cos_t * jnp.exp(-log_A))
    # c - 1 = (s - 1)^2 / s + 2 sin^2(theta/2), accurate near c = 1 (T ~ Tc, small l).
    # (s is only used where log s <= 10; the clips keep the unused branches finite.)
    s = jnp.exp(jnp.minimum(log_s, 10.0))
    s_d = jnp.exp(jnp.clip(log_s, -20.0, 10.0))
    d = (s_d - 1.0) ** 2 / s_d + 2.0 * sin2_t
    d_small = jnp.minimum(d, 1e4)
    gamma_small = jnp.log1p(d_small + jnp.sqrt(d_small * (d_small + 2.0)))
    inv_c2 = jnp.exp(-2.0 * jnp.maximum(log_c, 1.0))
    gamma_large = log_c + jnp.log1p(jnp.sqrt(1.0 - inv_c2))
    gamma = jnp.where(log_c > 5.0, gamma_large, gamma_small)
    # h = log(2 s e^gamma) = log 2 + log(q + sqrt(q^2 - s^2)), q = s c = 1 + s^2 - s cos(theta),
    # q - s = (1 - s)^2 + 2 s sin^2(theta/2), q + s = 1 + s^2 + 2 s sin^2(theta/2).
    q = 1.0 + s * s - s * cos_t
    qm = (1.0 - s) ** 2 + 2.0 * s * sin2_t
    qp = 1.0 + s * s + 2.0 * s * sin2_t
    h_direct = _LOG2 + jnp.log(q + jnp.sqrt(qm * qp))
    h = jnp.where(log_s > 10.0, log_2s + gamma, h_direct)
    # gamma_0 = 2K + log tanh K, with log tanh K = log(1 - e^{-2K}) - log(1 + e^{-2K}).
    gamma0 = x + jnp.log(-jnp.expm1(-x)) - jnp.log1p(jnp.exp(-x))
    return gamma, h, gamma0[..., 0], log_2s[..., 0]


def _kaufman_log_z_of_K(
    K: jax.Array, m: jax.Array, cos_t: jax.Array, sin2_t: jax.Array, valid: jax.Array
) -> jax.Array:
    r"""``log Z`` as a function of ``K = J/T`` (any shape) for an ``m x n`` torus.

    ``cos_t``, ``sin2_t``, ``valid`` (length ``size``, entry ``l`` for angle ``l``;
    ``valid = l < 2n``) are built by ``_angles_np``; ``m`` is traced, so one compilation
    serves every lattice whose ``2n <= size``. Writing :math:`x_l = m\gamma_l/2`,

    .. math::

        \log Z = -\log 2 + S + \log\Big[e^{D}\big(e^{a_1} + e^{a_2}\big)
                 + e^{a_3} + e^{a_4}\,\phi_4\Big],

    with :math:`S = b_0 + \sum_{k\ge1} \tfrac m2 h_{2k}`,
    :math:`D = \tfrac m2 h_1 - b_0 + \sum_{k\ge1} \tfrac m2 (h_{2k+1} - h_{2k})`,
    :math:`a_{1,2} = \sum_k \log(1 \pm e^{-2x_{2k+1}})`,
    :math:`a_{3} = c_0 + \sum_{k\ge1} \log(1 + e^{-2x_{2k}})`,
    :math:`a_{4} = \sum_{k\ge1} \log(1 - e^{-2x_{2k}})`. Away from :math:`T_c`
    (:math:`|x_0| \ge 1`): :math:`b_0 = \tfrac m2 (L + |\gamma_0|)`,
    :math:`c_0 = \log(1 + e^{-2|x_0|})`,
    :math:`\phi_4 = \mathrm{sgn}(\gamma_0)(1 - e^{-2|x_0|})`; near :math:`T_c` the
    ``l = 0`` factor is kept smooth in :math:`x_0` (no :math:`|\cdot|` or
    :math:`\log|\sinh|`, which would ruin second derivatives):
    :math:`b_0 = \tfrac m2 L`, :math:`c_0 = \log 2\cosh x_0`, :math:`\phi_4 = 2\sinh x_0`.
    The large common part :math:`S` is kept out of the signed log-sum-exp, so the relative
    weights of the four terms (and hence derivatives) come from O(1) quantities.
    """
    gam, h, gamma0, log_2s = _kaufman_factors(K, cos_t[1:], sin2_t[1:])
    v = valid[1:]  # l = 1 .. size-1
    v_odd, v_even = v[0::2], v[1::2]  # l = 1, 3, ... and l = 2, 4, ...
    half_h = 0.5 * m * h
    mg = m * gam  # > 0 for l >= 1
    log_c = jnp.log1p(jnp.exp(-mg))  # log(2 cosh x) - x
    log_s = jnp.log(-jnp.expm1(-mg))  # log(2 sinh x) - x

    def total(x, keep):
        return jnp.sum(jnp.where(keep, x, 0.0), axis=-1)

    # l = 0 term, far from Tc (|x0| >= 1) and near Tc (|x0| < 1), each made safe to evaluate
    # (and differentiate) where it is not selected.
    x0 = 0.5 * m * gamma0
    near = jnp.abs(x0) < 1.0
    ax0 = jnp.where(near, 1.0, jnp.abs(x0))
    xn = jnp.where(near, x0, 0.0)
    b0 = 0.5 * m * log_2s + jnp.where(near, 0.0, ax0)
    c0 = jnp.where(near, jnp.log(2.0 * jnp.cosh(xn)), jnp.log1p(jnp.exp(-2.0 * ax0)))
    phi4 = jnp.where(near, 2.0 * jnp.sinh(xn), jnp.sign(x0) * -jnp.expm1(-2.0 * ax0))

    # S over l = 0, 2, 4, ...; D pairs l = 2k with 2k + 1 so it is accurate at low T too.
    even_b = jnp.concatenate([b0[..., None], half_h[..., 1::2]], axis=-1)
    s_tot = total(even_b, valid[0::2])
    dd = total(half_h[..., 0::2] - even_b, v_odd)
    a1 = total(log_c[..., 0::2], v_odd)
    a2 = total(log_s[..., 0::2], v_odd)
    a3 = c0 + total(log_c[..., 1::2], v_even)
    a4 = total(log_s[..., 1::2], v_even)
    ones = jnp.ones_like(a1)
    logs = jnp.stack([dd + a1, dd + a2, a3, a4], axis=-1)
    signs = jnp.stack([ones, ones, ones, phi4], axis=-1)
    return -_LOG2 + s_tot + _signed_logsumexp(logs, signs)


@jax.jit
def _kaufman_derivs(
    K: jax.Array, m: jax.Array, cos_t: jax.Array, sin2_t: jax.Array, valid: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(log Z, d log Z / dK, d^2 log Z / dK^2)``, elementwise in ``K``, in one compilation."""

    def f(k):
        return _kaufman_log_z_of_K(k, m, cos_t, sin2_t, valid)

    one = jnp.ones_like(K)

    def f1(k):
        return jax.jvp(f, (k,), (one,))  # log Z is elementwise in K

    (value, d1), (_, d2) = jax.jvp(f1, (K,), (one,))
    return value, d1, d2


@jax.custom_jvp
def _log_z(K, m, cos_t, sin2_t, valid):
    return _kaufman_derivs(K, m, cos_t, sin2_t, valid)[0]


@_log_z.defjvp
def _log_z_jvp(primals, tangents):
    # First derivatives of kaufman_log_partition reuse the fused, already-compiled kernel.
    value, d1, _ = _kaufman_derivs(*primals)
    return value, d1 * tangents[0]


@functools.lru_cache(maxsize=64)
def _angles_np(cols: int, dtype_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Padded to 16 * 8**k angles so that lattices of similar size share one compilation
    # (compile time dominates; evaluating a few thousand padded angles is negligible).
    size = 16
    while size < 2 * cols:
        size *= 8
    ell = np.arange(size)
    valid = ell < 2 * cols
    theta = np.where(valid, np.pi * ell / cols, np.pi)
    return (
        np.cos(theta).astype(dtype_name),
        (np.sin(0.5 * theta) ** 2).astype(dtype_name),
        valid,
    )


def _padded(fn, K: jax.Array, *args):
    """Apply elementwise ``fn(flat_K, *args)`` on ``K`` flattened and padded with ones to a
    power-of-two length (>= 8), so that nearby input shapes share one compilation."""
    flat = K.reshape(-1)
    length = flat.shape[0]
    padded = max(8, 1 << max(length - 1, 0).bit_length())
    flat = jnp.concatenate([flat, jnp.ones((padded - length,), K.dtype)])
    out = fn(flat, *args)
    return out[:length].reshape(K.shape)


def _evaluate(rows: int, cols: int, temperature: Any, coupling: Any, order: int):
    """Validate, flatten and pad ``K`` (to a power-of-two length), evaluate, restore shape.

    Returns ``K`` and ``log Z`` (``order=0``), ``d log Z/dK`` (1) or ``d^2 log Z/dK^2`` (2).
    """
    rows = check_int(rows, "rows", 2)
    cols = check_int(cols, "cols", 2)
    K = _coupling_to_K(temperature, coupling)
    cos_t, sin2_t, valid = (jnp.asarray(a) for a in _angles_np(cols, jnp.dtype(K.dtype).name))
    m = jnp.asarray(rows, K.dtype)
    if order == 0:
        return K, _padded(_log_z, K, m, cos_t, sin2_t, valid)
    return K, _padded(lambda k, *a: _kaufman_derivs(k, *a)[order], K, m, cos_t, sin2_t, valid)


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
    flips the sign of :math:`Z_4`. Everything is evaluated in log space (the prefactor is
    folded into the products and the four terms are combined by a signed log-sum-exp), so
    nothing overflows: 256 x 256 and larger lattices are finite from ``T = 0.05`` to
    ``T = 1000`` and beyond. The result is symmetric in ``rows``/``cols``.

    Args:
        rows, cols: lattice size, Python integers ``>= 2`` (static under ``jax.jit``).
        temperature: ``T > 0`` (scalar or array; the result has its shape and dtype).
        coupling: ferromagnetic coupling ``J > 0``.

    Returns:
        :math:`\log Z` (not per spin), same shape as ``temperature``.

    Limits: :math:`\log Z \to 2NK + \log 2` as :math:`T \to 0` and
    :math:`\to N \log 2` as :math:`T \to \infty` (:math:`N` = ``rows * cols``).
    """
    return _evaluate(rows, cols, temperature, coupling, 0)[1]


def kaufman_mean_energy(rows: int, cols: int, temperature: Any, coupling: float = 1.0, *, per_spin: bool = False):
    r"""Exact mean energy :math:`\langle E\rangle` of the periodic lattice (the total, like
    ``ebm.exact.moments(...).mean_energy`` and the samplers' ``physical_energy``), or per spin
    :math:`\langle E\rangle/N` with ``per_spin=True``:

    .. math::

        \langle E\rangle = -\frac{\partial \log Z}{\partial\beta}
        = T^2\frac{\partial \log Z}{\partial T}
        = -J\frac{\partial \log Z}{\partial K},

    with :math:`\log Z` from Kaufman (1949) (:func:`kaufman_log_partition`),
    differentiated by JAX autodiff. Per spin it tends to :math:`-2J` as :math:`T \to 0` and to 0
    as :math:`T \to \infty`.
    """
    _, d1 = _evaluate(rows, cols, temperature, coupling, 1)
    return -jnp.asarray(coupling, d1.dtype) * d1 / (rows * cols if per_spin else 1)


def kaufman_heat_capacity(rows: int, cols: int, temperature: Any, coupling: float = 1.0, *, per_spin: bool = False):
    r"""Exact heat capacity :math:`C` of the periodic lattice (the total, like
    ``ebm.exact.moments(...).heat_capacity``), or per spin :math:`C/N` with ``per_spin=True``.

    .. math::

        \frac{C}{N} = \frac1N \frac{\partial\langle E\rangle}{\partial T}
        = \frac{\beta^2}{N} \frac{\partial^2 \log Z}{\partial\beta^2}
        = \frac{K^2}{N} \frac{\partial^2 \log Z}{\partial K^2},

    with :math:`\log Z` from Kaufman (1949), differentiated twice by JAX autodiff.
    In float32 expect absolute errors up to ~1e-3 on large lattices (the second
    derivative of a sum of O(N) terms); enable ``jax_enable_x64`` for precise values.
    """
    K, d2 = _evaluate(rows, cols, temperature, coupling, 2)
    return K**2 * d2 / (rows * cols if per_spin else 1)


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


@jax.jit
def _onsager_minus_beta_f(K: jax.Array) -> jax.Array:
    nodes, weights = _gauss_legendre_half_pi(200)
    nodes = jnp.asarray(nodes, dtype=K.dtype)
    weights = jnp.asarray(weights, dtype=K.dtype)
    kappa, kprime = _kappa_and_kprime(K)
    # 1 - kappa^2 sin^2 = k'^2 + kappa^2 cos^2 > 0 at the (interior) nodes, even at Tc.
    root = jnp.sqrt(kprime[..., None] ** 2 + (kappa[..., None] * jnp.cos(nodes)) ** 2)
    integrand = jnp.log(0.5 * (1.0 + root))
    integral = jnp.sum(weights * integrand, axis=-1) / jnp.pi
    return _log_2cosh(2.0 * K) + integral


def _elliptic_k_from_kprime(kprime: jax.Array, iterations: int = 40) -> jax.Array:
    r"""Complete elliptic integral :math:`K_1(k) = \pi / (2\,\mathrm{AGM}(1, k'))`."""
    a = jnp.ones_like(kprime)
    g = kprime

    def body(_, ag):
        a, g = ag
        return 0.5 * (a + g), jnp.sqrt(a * g)

    a, g = jax.lax.fori_loop(0, iterations, body, (a, g))
    return 0.5 * jnp.pi / a


@jax.jit
def _onsager_energy_over_j(K: jax.Array) -> jax.Array:
    _, kprime = _kappa_and_kprime(K)
    kprime = jnp.maximum(kprime, jnp.finfo(K.dtype).tiny)
    k1 = _elliptic_k_from_kprime(kprime)
    t = jnp.tanh(2.0 * K)
    return -1.0 / t * (1.0 + (2.0 / jnp.pi) * (2.0 * t**2 - 1.0) * k1)


@jax.jit
def _onsager_m(K: jax.Array) -> jax.Array:
    base = 1.0 - jnp.exp(-4.0 * _log_sinh(2.0 * K))
    positive = base > 0
    safe = jnp.where(positive, base, 1.0)
    return jnp.where(positive, safe**0.125, 0.0)


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
    :math:`\beta f`), shape of ``temperature``. A finite periodic lattice below
    :math:`T_c` has :math:`\log Z \approx -N\beta f + \log 2` (two ordered phases).
    """
    K = _coupling_to_K(temperature, coupling)
    t = jnp.asarray(temperature, dtype=K.dtype)
    return -t * _padded(_onsager_minus_beta_f, K)


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
    return jnp.asarray(coupling, K.dtype) * _padded(_onsager_energy_over_j, K)


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
    return _padded(_onsager_m, K)
