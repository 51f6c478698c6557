"""Loss-landscape tools: temperature as the noise level of SGLD, the entropic force that
pulls noisy dynamics towards flat minima, and measures of the sharpness of a minimum.

- :func:`entropic_force_experiment` samples two minima of equal depth, one wide and one
  narrow (:class:`~ebm_numpyro.WideNarrowWells`), with
  ``ebm.SGLD(potential_fn=ebm.potential(model), ...)`` and compares the measured occupancy
  ratio with :math:`(k_n/k_w)^{d/2}` and with the exact ratio (:func:`exact_occupancy_ratio`).
- :func:`hessian_trace` (Hutchinson) and :func:`top_hessian_eigenvalue` (power iteration)
  measure the sharpness of any loss ``params -> scalar`` at ``params`` (a pytree) with
  Hessian-vector products, never forming the Hessian.

``benchmarks/sharpness.py`` uses them to compare the minima that minibatch SGD and SGLD end
in on a small classifier.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jax import random
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC

from ._checks import check_int, check_positive, check_temperature
from .kernels import SGLD
from .models.continuous import WideNarrowWells
from .potentials import potential

__all__ = [
    "EntropicForceResult",
    "entropic_force_experiment",
    "exact_occupancy_ratio",
    "hessian_trace",
    "top_hessian_eigenvalue",
]


# --------------------------------------------------------------------------- entropic force


def exact_occupancy_ratio(model, temperature, num_grid=None):
    """:math:`P_{wide}/P_{narrow}` of :math:`p(x) \\propto e^{-U(x)/T}` by quadrature.

    .. math::  \\frac{P_{wide}}{P_{narrow}} = \\frac{\\int_{W} e^{-U/T}\\,dx}{\\int_{W^c} e^{-U/T}\\,dx},
               \\qquad W = \\{x : k_w|x - a e_1|^2 \\le k_n|x + a e_1|^2\\}

    Both basins are rotationally symmetric about the :math:`e_1` axis, so the d-dimensional
    integral reduces to :math:`(x_1, r)` with weight :math:`r^{d-2}` (:math:`r` the distance
    from the axis; the sphere-area constant cancels), evaluated by the trapezoidal rule on
    ``num_grid`` points per axis (default 20001 for ``d = 1``, 1501 otherwise). It tends to
    the harmonic value :math:`(k_n/k_w)^{d/2}` as :math:`T \\to 0`, as the basin tails beyond
    the dividing surface vanish (in ``d = 1`` both basins lose the same Gaussian fraction at
    the dividing point between them, so only the far tail
    :math:`x_1 < -a(\\sqrt{k_n}+\\sqrt{k_w})/(\\sqrt{k_n}-\\sqrt{k_w})`, which belongs to
    the wide quadratic again, makes a difference).
    """
    check_temperature(temperature)
    a = float(model.separation)
    kw, kn, d = float(model.k_wide), float(model.k_narrow), model.dim
    if num_grid is None:
        num_grid = 20001 if d == 1 else 1501
    num_grid = check_int(num_grid, "num_grid", 101)
    width = 12.0 * np.sqrt(temperature / min(kw, kn))
    x1 = np.linspace(-a - width, a + width, num_grid)
    if d == 1:
        e = np.minimum(kw * (x1 - a) ** 2, kn * (x1 + a) ** 2) / 2
        wide = kw * (x1 - a) ** 2 <= kn * (x1 + a) ** 2
        p = np.exp(-e / temperature)
        return float(np.trapezoid(p * wide, x1) / np.trapezoid(p * ~wide, x1))
    r = np.linspace(0.0, width, num_grid)
    X, R = np.meshgrid(x1, r, indexing="ij")
    dw = kw * ((X - a) ** 2 + R**2)
    dn = kn * ((X + a) ** 2 + R**2)
    p = np.exp(-np.minimum(dw, dn) / (2 * temperature)) * R ** (d - 2)
    wide = dw <= dn
    pw = np.trapezoid(np.trapezoid(p * wide, r, axis=1), x1)
    pn = np.trapezoid(np.trapezoid(p * ~wide, r, axis=1), x1)
    return float(pw / pn)


@dataclasses.dataclass(frozen=True)
class EntropicForceResult:
    """Outcome of :func:`entropic_force_experiment`.

    - **measured** - :math:`\\hat f/(1-\\hat f)` with :math:`\\hat f` the fraction of SGLD draws in
      the wide basin; **stderr** - its Monte Carlo standard error (delta method on
      :math:`\\mathrm{sd}/\\sqrt{\\mathrm{ESS}}` of the basin indicator).
    - **predicted** - the harmonic (entropic) prediction :math:`(k_n/k_w)^{d/2}`.
    - **exact** - the Boltzmann ratio at this temperature by quadrature
      (:func:`exact_occupancy_ratio`).
    - **sgld_bias_factor** - the harmonic estimate of SGLD's discretisation bias on the ratio,
      :math:`\\big[(1 - \\varepsilon k_n/4)/(1 - \\varepsilon k_w/4)\\big]^{d/2}` (an unadjusted
      Langevin step inflates a basin's variance by :math:`1/(1-\\varepsilon k/4)`).
    - **fraction_wide**, **ess**, **crossings** (basin switches summed over chains),
      **num_draws**, **dim**, **temperature**, **step_size**.
    """

    dim: int
    temperature: float
    step_size: float
    measured: float
    stderr: float
    predicted: float
    exact: float
    sgld_bias_factor: float
    fraction_wide: float
    ess: float
    crossings: int
    num_draws: int

    @property
    def z_score(self):
        """(measured - exact x bias factor) / stderr."""
        return (self.measured - self.exact * self.sgld_bias_factor) / self.stderr


def entropic_force_experiment(dim=1, temperature=1.0, *, k_wide=1.0, k_narrow=4.0, separation=1.5,
                              step_size=None, num_warmup=2000, num_samples=100_000, num_chains=16,
                              thinning=10, rng_key=0):
    """Measure :math:`P_{wide}/P_{narrow}` with SGLD on :class:`~ebm_numpyro.WideNarrowWells`.

    Two minima of equal depth, :math:`U(x) = \\min(k_w|x-a e_1|^2, k_n|x+a e_1|^2)/2`; at
    temperature T the Boltzmann occupancy ratio is the ratio of basin volumes,

    .. math::  \\frac{P_{wide}}{P_{narrow}} \\approx \\frac{(2\\pi T/k_w)^{d/2}}{(2\\pi T/k_n)^{d/2}}
               = \\Big(\\frac{k_n}{k_w}\\Big)^{d/2},

    independent of T: at equal energy, noise prefers the flat minimum by its entropy alone,
    and more so in more dimensions. SGLD (full gradient here, so the only noise is the
    injected :math:`N(0, \\varepsilon T)`) runs ``num_chains`` vectorized chains, half started
    in each basin, through ``numpyro.infer.MCMC``. Default step :math:`0.05/k_n`.

    Returns an :class:`EntropicForceResult` (measured ratio with its MCSE-based error bar,
    the harmonic prediction, the exact quadrature value and the step-size bias factor).
    """
    dim = check_int(dim, "dim", 1)
    check_temperature(temperature)
    num_chains = check_int(num_chains, "num_chains", 2)
    num_samples = check_int(num_samples, "num_samples", 10)
    thinning = check_int(thinning, "thinning", 1)
    model = WideNarrowWells(dim=dim, separation=separation, k_wide=k_wide, k_narrow=k_narrow)
    if step_size is None:
        step_size = 0.05 / float(k_narrow)
    check_positive(step_size, "step_size")
    wide_c, narrow_c = (np.asarray(c) for c in model.centres())
    init = np.stack([wide_c if c % 2 == 0 else narrow_c for c in range(num_chains)])
    init = init.astype(model.separation.dtype)
    kernel = SGLD(potential_fn=potential(model), step_size=step_size, temperature=temperature)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="vectorized", thinning=thinning, progress_bar=False)
    key = random.PRNGKey(rng_key) if isinstance(rng_key, int) else rng_key
    mcmc.run(key, init_params=jnp.asarray(init))
    x = mcmc.get_samples(group_by_chain=True)["x"]
    indicator = np.asarray(model.in_wide_well(x), np.float64)  # (chains, draws)
    f = float(indicator.mean())
    ess = float(effective_sample_size(indicator)) if 0 < f < 1 else float("nan")
    se_f = float(indicator.std() / np.sqrt(ess)) if 0 < f < 1 else float("nan")
    crossings = int(np.sum(indicator[:, 1:] != indicator[:, :-1]))
    kw, kn = float(k_wide), float(k_narrow)
    bias = ((1 - step_size * kn / 4) / (1 - step_size * kw / 4)) ** (dim / 2)
    return EntropicForceResult(
        dim=dim, temperature=float(temperature), step_size=float(step_size),
        measured=f / (1 - f) if f < 1 else float("inf"), stderr=se_f / (1 - f) ** 2,
        predicted=float(model.occupancy_ratio()), exact=exact_occupancy_ratio(model, temperature),
        sgld_bias_factor=float(bias), fraction_wide=f, ess=ess, crossings=crossings,
        num_draws=int(indicator.size),
    )


# --------------------------------------------------------------------------- sharpness


def _flat(params):
    return jax.flatten_util.ravel_pytree(params)


def hessian_trace(loss_fn, params, rng_key, num_probes=64):
    """Hutchinson estimate of :math:`\\mathrm{tr}\\,H`, :math:`H = \\nabla^2 L(\\theta)`:

    .. math::  \\mathrm{tr}\\,H = \\mathbb{E}_v[v^\\top H v], \\qquad v_i \\in \\{-1, +1\\} \\text{ uniform}

    with Hessian-vector products by forward-over-reverse differentiation (no Hessian is
    formed). Returns ``(estimate, standard_error)`` over ``num_probes`` probes.
    """
    flat, unravel = _flat(params)
    grad = jax.grad(lambda f: loss_fn(unravel(f)))

    def quad(v):
        return v @ jax.jvp(grad, (flat,), (v,))[1]

    probes = random.rademacher(rng_key, (num_probes, flat.size), flat.dtype)
    values = jax.lax.map(quad, probes)
    return values.mean(), values.std() / jnp.sqrt(num_probes)


def top_hessian_eigenvalue(loss_fn, params, rng_key, num_iters=100):
    """Largest-magnitude eigenvalue of :math:`H = \\nabla^2 L(\\theta)` by power iteration,
    :math:`v \\leftarrow Hv/\\|Hv\\|`, returning the Rayleigh quotient :math:`v^\\top H v`
    (the top eigenvalue, the usual "sharpness", at a minimum where H is positive semi-definite).
    """
    flat, unravel = _flat(params)
    grad = jax.grad(lambda f: loss_fn(unravel(f)))

    def hvp(v):
        return jax.jvp(grad, (flat,), (v,))[1]

    v0 = random.normal(rng_key, flat.shape, flat.dtype)

    def body(_, v):
        hv = hvp(v)
        return hv / (jnp.linalg.norm(hv) + 1e-30)

    v = jax.lax.fori_loop(0, num_iters, body, v0 / jnp.linalg.norm(v0))
    return v @ hvp(v)
