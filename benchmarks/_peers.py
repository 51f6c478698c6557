"""The one place where the Ising benchmarks build their peers: a plain-JAX checkerboard and
thrml's sampling program (used by ``ising_throughput.py`` and ``gpu_ising.py``)."""

import jax
import jax.numpy as jnp
import numpy as np


def plain_jax_sweep(L, temperature):
    """``sweep((a, b), key) -> ((a, b), (energy, magnetization))``: one heat-bath sweep of an
    L x L torus (J = 1, h = 0) in the strongest plain-JAX form we could write.

    Two half-lattice ``int8`` arrays of shape ``(L, L/2)`` (colour ``c`` site ``(i, k)`` holds
    column ``2k + (i + c) % 2``: no masked-out work), neighbour sums by rolls, one
    ``jax.random.bits`` word per spin compared with an integer acceptance table
    ``floor(sigmoid(2 beta n) 2^32)`` over the five neighbour sums ``n`` (on CPU faster than
    ``uniform`` + ``sigmoid`` and than the ``rbg`` key implementations), energy and
    magnetization every sweep. Callers add ``lax.scan`` over sweeps and ``vmap`` over chains.
    """
    beta = 1.0 / temperature
    p_up = 1.0 / (1.0 + np.exp(-2.0 * beta * np.arange(-4, 5, 2)))
    threshold = jnp.asarray(np.minimum(np.floor(p_up * 2.0**32), 2.0**32 - 1).astype(np.uint32))
    row_even = jnp.asarray((np.arange(L) % 2 == 0)[:, None])

    def neighbours(other, colour):
        # the left/right neighbours of colour-c site (i, k) are at k - 1 / k where i + c is
        # even, at k / k + 1 where it is odd; above and below at rows i -+ 1, column k
        left = row_even if colour == 0 else ~row_even
        side = jnp.where(left, jnp.roll(other, 1, 1), jnp.roll(other, -1, 1))
        return jnp.roll(other, 1, 0) + jnp.roll(other, -1, 0) + other + side

    def half_sweep(key, other, colour):
        n = neighbours(other, colour)
        up = jax.random.bits(key, other.shape, jnp.uint32) < threshold[(n + 4) // 2]
        return jnp.where(up, jnp.int8(1), jnp.int8(-1))

    def sweep(ab, key):
        a, b = ab
        k0, k1 = jax.random.split(key)
        a = half_sweep(k0, b, 0)
        b = half_sweep(k1, a, 1)
        energy = -jnp.sum((b * neighbours(a, 1)).astype(jnp.float32))
        mag = (jnp.sum(a, dtype=jnp.float32) + jnp.sum(b, dtype=jnp.float32)) / (L * L)
        return (a, b), (energy, mag)

    return sweep


def thrml_ising(L, temperature):
    """``(program, blocks, nodes, model)``: thrml 0.1.4's Ising sampling program on an L x L
    torus (J = 1, h = 0) with the two checkerboard blocks (its fast path)."""
    from thrml import Block, SpinNode
    from thrml.models import IsingEBM, IsingSamplingProgram

    nodes = [SpinNode() for _ in range(L * L)]

    def site(i, j):
        return nodes[(i % L) * L + (j % L)]

    edges = [(site(i, j), site(i + di, j + dj)) for i in range(L) for j in range(L) for di, dj in ((1, 0), (0, 1))]
    even = Block([site(i, j) for i in range(L) for j in range(L) if (i + j) % 2 == 0])
    odd = Block([site(i, j) for i in range(L) for j in range(L) if (i + j) % 2 == 1])
    model = IsingEBM(nodes, edges, jnp.zeros(L * L), jnp.ones(len(edges)), jnp.asarray(1.0 / temperature))
    program = IsingSamplingProgram(model, [even, odd], [])
    return program, [even, odd], nodes, model
