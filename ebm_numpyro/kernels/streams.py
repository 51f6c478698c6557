"""Counter-based random bits and the one key/stream schedule of the discrete kernels.

Threefry-2x32 (20 rounds) in plain jnp.

This is the generator behind ``jax.random``'s default key (Salmon et al. 2011, "Parallel
random numbers: as easy as 1, 2, 3"), written out so that XLA fuses it into the elementwise
update that consumes the bits (``jax.random.bits`` lowers to a separate, rolled loop that is
about three times slower on CPU). Known-answer tests in the test suite pin it to Random123's
reference vectors, which are also ``jax.random``'s.

Words are ``uint32``; a key is a pair of words ``(k0, k1)``; the counter is a pair of words
``(c0, c1)``. Different counters give independent-looking outputs, so every random number a
kernel needs is ``threefry2x32(key, (index, stream))`` for a unique ``(index, stream)``.

The schedule (one place; the kernels, :mod:`ebm_numpyro.parallel` and the learning code use it):

* :func:`chain_keys` - ``init`` splits a chain's key into the key it carries and one for
  model initialisation;
* :func:`start_words` - the words of a chain's uniformly random start (a stream the steps never use);
* :func:`step_words` - every step splits the carried key into its successor and two word pairs
  (the sweep's and the swap's);
* :func:`uniform_start` - uniformly random units (binary or q-state) from such words.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["threefry2x32", "key_words", "split_key", "uniform_bits", "chain_keys", "start_words", "step_words",
           "uniform_start"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA
#: counter word ``c1`` reserved for deriving keys (sweeps use small stream ids)
_KEY_STREAM = 0xFFFFFFFF


def _rotl(x, d):
    return (x << jnp.uint32(d)) | (x >> jnp.uint32(32 - d))


def threefry2x32(k0, k1, c0, c1):
    """Threefry-2x32-20 block function: two output words per counter pair (broadcasting).

    Five groups of four rounds ``x0 += x1; x1 = rotl(x1, r) ^ x0``, each group followed by a
    key injection from the schedule ``(k0, k1, k0 ^ k1 ^ 0x1BD11BDA)``.
    """
    k0, k1, c0, c1 = (jnp.asarray(v, jnp.uint32) for v in (k0, k1, c0, c1))
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(_PARITY))
    x0, x1 = c0 + k0, c1 + k1
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


def _is_threefry(key) -> bool:
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return "threefry" in str(jax.random.key_impl(key))
    return key.dtype == jnp.uint32 and key.shape[-1:] == (2,)


def key_words(key):
    """The two uint32 words of one key (typed key or raw ``uint32[2]``)."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if _is_threefry(key):
            return jax.random.key_data(key)
        return jax.random.bits(key, (2,), jnp.uint32)
    return jnp.asarray(key, jnp.uint32)


def split_key(key, num: int):
    """``(next_key, words)``: a successor of ``key`` (same type) and ``num`` word pairs.

    For Threefry keys (the default; typed or raw) everything is one fused Threefry call on
    the counters ``(j, 0xFFFFFFFF)``; other key implementations go through ``jax.random``.
    The word pairs, shape ``(num, 2)``, key the sweep's and the swap's own Threefry streams.
    """
    if not _is_threefry(key):
        keys = jax.random.split(key, num + 1)
        words = jax.vmap(lambda k: jax.random.bits(k, (2,), jnp.uint32))(keys[1:])
        return keys[0], words
    w = key_words(key)
    a, b = threefry2x32(w[0], w[1], jnp.arange(num + 1, dtype=jnp.uint32), jnp.uint32(_KEY_STREAM))
    pairs = jnp.stack([a, b], axis=-1)
    nxt = pairs[0]
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        nxt = jax.random.wrap_key_data(nxt, impl=jax.random.key_impl(key))
    return nxt, pairs[1:]


def uniform_bits(words, shape, stream, index=None):
    """Random ``uint32`` words of ``shape``: ``threefry2x32(words, (flat index, stream))[0]``.

    One Threefry evaluation per output word; fused by XLA into whatever consumes it.
    ``index`` (``uint32``, of ``shape``) replaces the flat index (a part of a larger array
    passes its entries' indices in the whole, and so draws the same words).
    """
    if index is None:
        size = 1
        for s in shape:
            size *= int(s)
        if size >= 2**32:
            raise ValueError(f"at most 2^32 random words per call; got shape {shape}")
        index = lax.iota(jnp.uint32, size).reshape(shape)
    index = jnp.broadcast_to(jnp.asarray(index, jnp.uint32), shape)
    return threefry2x32(words[0], words[1], index, jnp.asarray(stream, jnp.uint32))[0]


# ----------------------------------------------------------------------------- the schedule
def chain_keys(rng_key):
    """``(carried key, initialisation key)`` of one chain's ``init``, or of a batch of keys
    (``chain_method="vectorized"``: a leading chain axis)."""
    if jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        vectorized = rng_key.ndim > 0
    else:
        vectorized = rng_key.ndim > 1
    if vectorized:
        keys = jax.vmap(jax.random.split)(rng_key)
        return keys[:, 0], keys[:, 1]
    keys = jax.random.split(rng_key)
    return keys[0], keys[1]


def start_words(rng_key):
    """The two words that key a chain's uniformly random start: word pair 2 of
    ``split_key(rng_key, 3)``, a stream :func:`step_words` never produces."""
    return split_key(rng_key, 3)[1][2]


def step_words(rng_key):
    """``(next key, words)`` of one step: ``words`` is ``(2, 2)``, the sweep's and the swap's
    key words (:func:`split_key` with ``num = 2``)."""
    return split_key(rng_key, 2)


def uniform_start(words, shape, values, dtype, stream=0, index=None):
    """Uniformly random units of ``shape`` taking ``values``, from ``threefry(words, (k, stream))``.

    Unit ``k`` (flat position, or ``index``) uses the word :math:`w_k`: two values take its top
    bit, :math:`q > 2` values take :math:`w_k \bmod q` (an initial state only: the modulo bias
    of order :math:`q/2^{32}` is irrelevant).
    """
    bits = uniform_bits(words, tuple(shape), stream, index)
    table = jnp.asarray(values, dtype)
    if len(values) == 2:
        return table[(bits >> jnp.uint32(31)).astype(jnp.int32)]
    return table[(bits % jnp.uint32(len(values))).astype(jnp.int32)]
