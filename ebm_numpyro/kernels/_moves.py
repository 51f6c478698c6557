"""Continuous moves shared by the kernels: one Langevin step and one Metropolis test.

Pure functions on pytrees of arrays (a latent ``z`` may be a dict of sites). ``SGLD`` and
``CyclicAnnealing`` both call :func:`langevin_step`; ``CyclicAnnealing`` also calls
:func:`metropolis_accept` through :func:`random_walk_metropolis`.

The continuous kernels draw their random numbers through :func:`split_keys`, :func:`randint`
and :func:`normal`: the same numbers as ``jax.random.split`` / ``randint`` / ``normal`` (bit
for bit, for the default Threefry keys), computed with the Threefry function of
:mod:`.streams`, which XLA fuses into the code around it. ``jax.random`` lowers every call to
a rolled loop on CPU (a separate while loop of five iterations per split, per ``randint``
half, per normal draw): SGLD's split, split, ``randint`` and normal took 16.6 us a step
that way and take 1.9 us this way (2 cores, lax.scan of 50,000 steps). Other key
implementations, and shapes these functions do not cover, go through ``jax.random``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax, random

from .streams import threefry2x32

__all__ = ["split_keys", "randint", "normal", "tree_normal_like", "langevin_step", "metropolis_accept",
           "random_walk_metropolis"]


# --------------------------------------------------------------------------- jax.random, fused
def _threefry_words(key):
    """The ``uint32[2]`` words of one Threefry key (typed or raw), or ``None`` where the fused
    path does not apply (another key implementation, a batch of keys, or JAX's
    non-partitionable Threefry mode, whose bits are laid out differently)."""
    if not getattr(jax.config, "jax_threefry_partitionable", True):
        return None
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.ndim != 0 or "threefry" not in str(jax.random.key_impl(key)):
            return None
        return jax.random.key_data(key)
    if key.dtype != jnp.uint32 or key.shape != (2,):
        return None
    return key


def _threefry_bits(words, size, nbits=32):
    """``jax.random.bits(key, (size,), uint{nbits})`` for the key with these words (partitionable
    Threefry: word ``i`` hashes the counter ``(0, i)``; the 32-bit draw is the xor of the two
    output words, the 64-bit one their concatenation)."""
    i = lax.iota(jnp.uint32, size)
    b1, b2 = threefry2x32(words[0], words[1], jnp.zeros_like(i), i)
    if nbits == 32:
        return b1 ^ b2
    return (b1.astype(jnp.uint64) << jnp.uint64(32)) | b2.astype(jnp.uint64)


def split_keys(rng_key, num=2):
    """``jax.random.split(rng_key, num)``, bit for bit (fused for Threefry keys)."""
    words = _threefry_words(rng_key)
    if words is None:
        return random.split(rng_key, num)
    i = lax.iota(jnp.uint32, num)
    keys = jnp.stack(threefry2x32(words[0], words[1], jnp.zeros_like(i), i), axis=-1)
    if jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        keys = jax.random.wrap_key_data(keys, impl=jax.random.key_impl(rng_key))
    return keys


def randint(rng_key, shape, minval, maxval, dtype=int):
    """``jax.random.randint(rng_key, shape, minval, maxval, dtype)``, bit for bit (fused for
    Threefry keys and Python-int bounds within ``dtype`` with ``minval < maxval``): JAX's algorithm, two
    ``nbits`` words per draw reduced modulo the span."""
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    words = _threefry_words(rng_key)
    info = np.iinfo(dtype) if jnp.issubdtype(dtype, jnp.integer) else None
    if (words is None or info is None or info.bits not in (32, 64)
            or not isinstance(minval, (int, np.integer)) or not isinstance(maxval, (int, np.integer))
            or not info.min <= int(minval) < int(maxval) <= info.max):  # JAX clips bounds out of range
        return random.randint(rng_key, shape, minval, maxval, dtype)
    nbits = info.bits
    span_int = int(maxval) - int(minval)
    uint = jnp.uint32 if nbits == 32 else jnp.uint64
    size = math.prod(shape)
    k_hi, k_lo = split_keys(words)
    higher, lower = _threefry_bits(k_hi, size, nbits), _threefry_bits(k_lo, size, nbits)
    span = uint(span_int)
    multiplier = (2 ** (nbits // 2)) % span_int
    multiplier = uint((multiplier * multiplier % 2**nbits) % span_int)  # JAX's product wraps
    offset = ((higher % span) * multiplier + lower % span) % span
    return (jnp.asarray(int(minval), dtype) + offset.astype(dtype)).reshape(shape)


def normal(rng_key, shape=(), dtype=float):
    """``jax.random.normal(rng_key, shape, dtype)``, bit for bit (fused for Threefry keys and
    float32 / float64): JAX's uniform on (-1, 1) from the mantissa bits, then
    :math:`\\sqrt 2\\,\\mathrm{erf}^{-1}`."""
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    words = _threefry_words(rng_key)
    if words is None or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        return random.normal(rng_key, shape, dtype)
    info = np.finfo(dtype)
    uint = jnp.uint32 if info.bits == 32 else jnp.uint64
    bits = _threefry_bits(words, math.prod(shape), info.bits)
    float_bits = (bits >> uint(info.bits - info.nmant)) | np.array(1.0, dtype).view(uint)
    floats = lax.bitcast_convert_type(float_bits, dtype) - jnp.array(1.0, dtype)
    lo, hi = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype)), np.array(1.0, dtype)
    u = lax.max(jnp.asarray(lo), floats * (hi - lo) + lo).reshape(shape)
    # The barrier keeps XLA from fusing the hash into the caller's arithmetic: jaxlib 0.12's CPU
    # compiler did not finish compiling SGLD on a model with a constrained site without it.
    return lax.optimization_barrier(lax.mul(np.array(np.sqrt(2), dtype), lax.erf_inv(u)))


# --------------------------------------------------------------------------- moves
def tree_normal_like(rng_key, tree):
    """Independent standard normals with the shapes and dtypes of ``tree``'s leaves (as
    ``jax.random.normal`` on ``jax.random.split(rng_key, number of leaves)``)."""
    leaves, treedef = jax.tree.flatten(tree)
    keys = split_keys(rng_key, len(leaves)) if len(leaves) > 1 else [rng_key]
    noise = [normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)]
    return jax.tree.unflatten(treedef, noise)


def langevin_step(rng_key, z, grad_potential, step_size, temperature, preconditioner=None, noise=True):
    """One (possibly preconditioned) Langevin step, in the convention of Welling & Teh (2011):

    .. math::  z' = z - \\frac{\\varepsilon}{2} G\\,\\nabla U(z)
                    + \\sqrt{\\varepsilon\\, T}\\; G^{1/2}\\xi, \\qquad \\xi \\sim N(0, I)

    with :math:`U = -\\log \\tilde p` (the potential at temperature 1), ``T`` the temperature
    (:math:`T = 1` samples :math:`\\tilde p`, otherwise :math:`\\tilde p^{1/T}`) and ``G`` a
    diagonal preconditioner (a pytree like ``z``; ``None`` means ``G = I``). With
    ``noise=False`` (a traced bool is fine) the step is plain gradient descent with rate
    :math:`\\varepsilon/2`. BlackJAX writes the same diffusion as
    :math:`z + \\epsilon\\nabla\\log p + \\sqrt{2T\\epsilon}\\,\\xi`, i.e. its
    :math:`\\epsilon` is our :math:`\\varepsilon/2`.
    """
    xi = tree_normal_like(rng_key, z)
    noise_scale = jnp.where(noise, jnp.sqrt(step_size * temperature), 0.0)
    if preconditioner is None:
        return jax.tree.map(
            lambda x, g, n: x - 0.5 * step_size * g + noise_scale.astype(x.dtype) * n,
            z, grad_potential, xi,
        )
    return jax.tree.map(
        lambda x, g, n, p: x - 0.5 * step_size * p * g + noise_scale.astype(x.dtype) * jnp.sqrt(p) * n,
        z, grad_potential, xi, preconditioner,
    )


def metropolis_accept(rng_key, log_ratio):
    """Metropolis test: accept with probability :math:`\\min(1, e^{\\log r})`.

    ``log_ratio`` is the log acceptance ratio, e.g. :math:`-(E' - E)/T` for a symmetric
    proposal at temperature T; NaN counts as rejection. Returns ``(accept, probability)``.
    """
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    prob = jnp.exp(jnp.minimum(log_ratio, 0.0))
    log_u = jnp.log(random.uniform(rng_key, jnp.shape(log_ratio), prob.dtype))
    return log_u < log_ratio, prob


def random_walk_metropolis(rng_key, z, energy, energy_fn, scale, temperature):
    """Random-walk Metropolis step targeting :math:`p(z) \\propto e^{-E(z)/T}`.

    Proposal :math:`z' = z + \\sigma\\xi` with :math:`\\sigma` = ``scale``; accepted with
    probability :math:`\\min\\{1, e^{-(E(z') - E(z))/T}\\}` (:func:`metropolis_accept`).
    Returns ``(z_new, energy_new, accept_probability)``.
    """
    key_prop, key_acc = split_keys(rng_key)
    xi = tree_normal_like(key_prop, z)
    proposal = jax.tree.map(lambda x, n: x + jnp.asarray(scale, x.dtype) * n, z, xi)
    energy_prop = energy_fn(proposal)
    accept, prob = metropolis_accept(key_acc, -(energy_prop - energy) / temperature)
    z_new = jax.tree.map(lambda a, b: jnp.where(accept, a, b), proposal, z)
    return z_new, jnp.where(accept, energy_prop, energy), prob
