"""Fast checkerboard heat-bath sweep for the periodic square lattice (even side lengths).

Layout. Site ``(i, j)`` has colour ``(i + j) mod 2``. Each colour is stored as a flat
"half lattice" of ``rows * cols/2`` spins, row-major, entry ``(i, k)`` holding column
``j = 2k + (i + colour) mod 2``. In this layout the four neighbours of a colour-``c`` site
``(i, k)`` are, in the other half lattice ``Y``,

.. math::  Y_{i-1,k} + Y_{i+1,k} + Y_{i,k} + Y_{i,k\\mp 1}

with ``k - 1`` when ``i + c`` is even and ``k + 1`` otherwise (all indices periodic). So a
half sweep is a few shifted copies of a dense ``int8`` array, with no masked-out work.

Acceptance table. On the lattice the local field takes five values,
:math:`f = J n + h` with the neighbour sum :math:`n \\in \\{-4,-2,0,2,4\\}`, so the exact
decision of :mod:`.decisions` is prepared once per sweep and per temperature: for each
:math:`n`, the rare outcome's probability :math:`q = \\sigma(-2\\beta|f|)` split as
:math:`2^{16} q = a + r`, and the rare spin (:func:`table`). A spin update is then a 16-bit
chunk :math:`U` of a Threefry word (one evaluation serves four spins) compared with
:math:`a`: :math:`U < a` gives the rare spin, :math:`U > a` the other one, and :math:`U = a`
(probability :math:`2^{-16}`) leaves a tie code (``2 + `` table index) in the spin array that
:func:`.decisions.resolve_ties` replaces by the exact :math:`V < r` decision from 128
further random bits, for the tied sites only. The look-up is one ``int32`` per :math:`n`
(:func:`_flipped`): where the rare spin is down, :math:`U` and :math:`a` are complemented so
that the test always reads "up iff :math:`U' < a'`". The probabilities are exact to the
floating-point value of :math:`\\sigma(2\\beta f)` on both sides, down to about :math:`10^{-37}`
(see :mod:`.decisions`).

Energy for free. Every bond joins a colour-0 and a colour-1 site, so after the colour-1
half sweep :math:`E = -J\\sum_{i \\in \\text{colour 1}} s_i n_i - h \\sum_i s_i` reuses the
neighbour sums of that half sweep.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..models import LatticeIsing
from .decisions import below, chunks16, rare_probability, resolve_ties, split_probability, tie_words

__all__ = ["supports", "pack", "unpack", "to_packed", "from_packed", "half_neighbour_sum", "neighbour_sum_rows",
           "table", "sum_last", "sweep_packed", "sweep_rows"]

#: neighbour sums n = -4, -2, 0, 2, 4 (index (n + 4) / 2)
NEIGHBOUR_SUMS = (-4, -2, 0, 2, 4)


def supports(model) -> bool:
    """True for a :class:`LatticeIsing` with even ``rows`` and ``cols`` (two colours)."""
    return isinstance(model, LatticeIsing) and model.rows % 2 == 0 and model.cols % 2 == 0


def _row_even(rows):
    return (np.arange(rows) % 2 == 0)[:, None]


def pack(x):
    """Natural ``(..., rows, cols)`` spins -> half lattices ``(A, B)``, each ``(..., rows*cols/2)``."""
    *batch, rows, cols = x.shape
    pairs = x.reshape(*batch, rows, cols // 2, 2)
    even = _row_even(rows)
    a = jnp.where(even, pairs[..., 0], pairs[..., 1])
    b = jnp.where(even, pairs[..., 1], pairs[..., 0])
    return a.reshape(*batch, -1), b.reshape(*batch, -1)


def unpack(a, b, rows, cols):
    """Inverse of :func:`pack`."""
    *batch, _ = a.shape
    a = a.reshape(*batch, rows, cols // 2)
    b = b.reshape(*batch, rows, cols // 2)
    even = _row_even(rows)
    pairs = jnp.stack([jnp.where(even, a, b), jnp.where(even, b, a)], axis=-1)
    return pairs.reshape(*batch, rows, cols)


def half_neighbour_sum(other, rows, cols, colour):
    """Sum of the four neighbours of every colour-``colour`` site, from the other half lattice.

    ``other`` is ``(..., rows*cols/2)``; ``colour`` is 0 or 1 (a Python int or a traced one).
    Viewed as ``(..., rows, cols/2)``: the rows above and below, the same column, and column
    ``k - 1`` where ``i + colour`` is even or ``k + 1`` where it is odd (all periodic). No
    index array is materialised (a lattice of 10^8 sites would otherwise embed constants of
    that size in the compiled program).
    """
    w = cols // 2
    o = other.reshape(other.shape[:-1] + (rows, w))
    return neighbour_sum_rows(o, o[..., -1:, :], o[..., :1, :], colour).reshape(other.shape)


def neighbour_sum_rows(o, above, below, colour):
    """:func:`half_neighbour_sum` of a block of consecutive rows ``o`` (``(..., R, cols/2)``,
    ``R`` even, starting at an even row) of the other half lattice, given the row just above
    the block (``above``, ``(..., 1, cols/2)``) and the one just below it (``below``):

    .. math::  n_{i,k} = Y_{i-1,k} + Y_{i+1,k} + Y_{i,k} + Y_{i,k \\mp 1}

    with :math:`Y_{-1} =` ``above`` and :math:`Y_R =` ``below`` (columns periodic). For the
    whole periodic lattice the halo rows are its own last and first rows; a lattice split into
    slabs over devices receives them from the neighbouring devices.
    """
    rows = o.shape[-2]
    up = jnp.concatenate([above, o[..., :-1, :]], axis=-2)
    down = jnp.concatenate([o[..., 1:, :], below], axis=-2)
    row_even = (lax.iota(jnp.int32, rows) % 2 == 0)[:, None]
    use_left = row_even == (jnp.asarray(colour) == 0)
    side = jnp.where(use_left, jnp.roll(o, 1, -1), jnp.roll(o, -1, -1))
    return up + down + o + side


def _select(n, table):
    """``table[..., (n + 4) // 2]`` for ``n`` in {-4, -2, 0, 2, 4} as a chain of selects."""
    t = [table[..., k, None] for k in range(5)]
    return jnp.where(n >= 2, jnp.where(n == 4, t[4], t[3]), jnp.where(n == 0, t[2], jnp.where(n == -2, t[1], t[0])))


def table(model, beta):
    """Exact-decision table, each entry of shape ``beta.shape + (5,)`` (n = -4, -2, 0, 2, 4):

    ``(a, r, rare)`` with :math:`2^{16}\\sigma(-|z|) = a + r` (``a`` ``uint32``, ``r`` float),
    :math:`z = 2\\beta(Jn + h)`, and ``rare`` the rare spin (+1 when :math:`z < 0`, else -1).
    """
    beta = jnp.asarray(beta)
    n = jnp.asarray(NEIGHBOUR_SUMS, model.coupling.dtype)
    z = 2 * beta[..., None] * (model.coupling * n + model.field)
    q, rare_up = rare_probability(z)
    a, r = split_probability(q)
    return a, r, jnp.where(rare_up, 1, -1).astype(jnp.int8)


def _flipped(a, rare):
    """One ``int32`` per entry for the test "up iff U' < a'". Where the rare spin is up,
    :math:`U' = U` and :math:`a' = a`; where it is down, both are complemented,
    :math:`U' = \\lnot U = -U-1` and :math:`a' = -a-1`, so that :math:`U' < a' \\iff U > a`.
    Either way :math:`U' = a' \\iff U = a` (a tie). Bits 15-31 hold :math:`a'` (signed), bits
    0-14 the complement mask (all zeros or all ones; sign-extended it is 0 or -1)."""
    a = a.astype(jnp.int32)
    return jnp.where(rare < 0, ((-a - 1) << 15) | 0x7FFF, a << 15)


def sum_last(v, bound):
    """Sum over the last axis of the small ``int8`` values ``v`` (``|v| <= bound``), as ``int32``.

    XLA's CPU row reductions cost about as much as a Threefry evaluation per element; so
    groups of ``g`` (``g * bound <= 127``) are first added in ``int8`` across a non-minor axis
    (plain vector adds), and only the ``g`` times shorter rest is reduced in ``int32``.
    """
    m = v.shape[-1]
    g = next((g for g in (16, 8, 4, 2) if m % g == 0 and g * bound <= 127), 1)
    if g > 1:
        v = jnp.sum(v.reshape(v.shape[:-1] + (g, m // g)), axis=-2, dtype=jnp.int8)
    return jnp.sum(v, axis=-1, dtype=jnp.int32)


def to_packed(x):
    """Natural ``batch + (rows, cols)`` spins -> the kernel's layout ``batch + (2, rows, cols/2)``
    (the two half lattices of :func:`pack`, colour 0 first)."""
    *batch, rows, cols = x.shape
    a, b = pack(x)
    return jnp.stack([a, b], axis=-2).reshape(*batch, 2, rows, cols // 2)


def from_packed(p):
    """Inverse of :func:`to_packed`."""
    *batch, _, rows, w = p.shape
    return unpack(p[..., 0, :, :].reshape(*batch, rows * w), p[..., 1, :, :].reshape(*batch, rows * w), rows, 2 * w)


def sweep_packed(words, model, p, beta):
    """One checkerboard sweep of every replica in the layout of :func:`to_packed`;
    returns ``(p, energy, magnetization)``.

    ``p`` is ``batch + (2, rows, cols/2)`` int8, ``beta`` a scalar or of shape ``batch``,
    ``words`` the sweep's two Threefry key words. Colour ``c`` draws from stream ``c``; its
    site ``k`` in flattened replica ``r`` is unit ``r * rows*cols/2 + k`` of
    :func:`.decisions.chunks16` (four sites per Threefry evaluation) and, on a tie, of
    :func:`.decisions.tie_words`. The energy reuses the colour-1 neighbour sums, and every sum
    goes through :func:`sum_last`.

    Backend trick (CPU): XLA's CPU fusion would re-derive a freshly updated half lattice
    (Threefry included) inside each of its five consumers in the next half sweep instead of
    reading it from memory, several times slower. Each half sweep's result therefore passes a
    ``lax.optimization_barrier``, which materialises it once (measured as fast as the earlier
    ``lax.cond`` barrier, and unlike it free of any predicate, batched or not). Other backends
    run straight-line code.
    """
    return sweep_rows(words, model, p, beta)


def _unit_numbers(local, local_half, global_half, first_unit):
    """Global unit number of the entries with flat index ``local`` in a slab's ``batch + (R*w,)``
    half lattice: :math:`r\\,N_{1/2} + u_0 + j` for :math:`\\text{local} = r\\,(R w) + j`."""
    local = jnp.asarray(local).astype(jnp.uint32)
    replica, j = local // jnp.uint32(local_half), local % jnp.uint32(local_half)
    return replica * jnp.uint32(global_half) + jnp.asarray(first_unit).astype(jnp.uint32) + j


def sweep_rows(words, model, p, beta, *, exchange=None, first_row=0, reduce=None):
    """:func:`sweep_packed` on a block of the lattice's rows; the one implementation of the sweep.

    ``p`` is ``batch + (2, R, cols/2)``: rows ``first_row .. first_row + R - 1`` of both half
    lattices (``R`` and ``first_row`` even). ``exchange(y)`` returns the halo rows ``(above,
    below)`` of a half lattice ``y`` (``batch + (R, cols/2)``): by default (``exchange=None``,
    ``R = rows``) the lattice's own last and first rows, periodically; a slab of a lattice split
    over devices gets them from its neighbours (:mod:`ebm_numpyro.parallel`). Every site keeps
    its unit number in the whole lattice (``r * rows*cols/2 + first_row*cols/2 + j``), so the
    draws are those of the undivided sweep. ``reduce`` sums the ``int32`` spin and bond totals
    over the slabs (``lax.psum``; the identity by default), so energy and magnetization are
    those of the whole lattice.
    """
    rows, cols = model.rows, model.cols
    a_tab, r_tab, rare_tab = table(model, beta)
    flip = _flipped(a_tab, rare_tab)
    batch = p.shape[:-3]
    local_rows, w = p.shape[-2:]
    half = local_rows * w
    a = p[..., 0, :, :].reshape(batch + (half,))
    b = p[..., 1, :, :].reshape(batch + (half,))
    r_flat = jnp.broadcast_to(r_tab, batch + (5,)).reshape(-1)
    rare_flat = jnp.broadcast_to(rare_tab, batch + (5,)).reshape(-1)
    if exchange is None:
        def units(local):  # the whole lattice: unit number = flat position
            return local
    else:
        def units(local):
            return _unit_numbers(local, half, rows * w, first_row * w)

    def neighbours(colour, other):
        o = other.reshape(batch + (local_rows, w))
        above, below = (o[..., -1:, :], o[..., :1, :]) if exchange is None else exchange(o)
        return neighbour_sum_rows(o, above, below, colour).reshape(other.shape)

    def half_sweep(colour, other):
        """The new colour-``colour`` half lattice, its sum and its bond sum with ``other``."""
        n = neighbours(colour, other)
        entry = _select(n, flip)
        index = None if exchange is None else units(lax.iota(jnp.uint32, n.size).reshape(n.shape))
        u = chunks16(words, colour, n.shape, index).astype(jnp.int32) ^ ((entry << 17) >> 17)
        thr = entry >> 15
        tie = ((n + 8) >> 1).astype(jnp.int8)  # 2 + table index
        spins = jnp.where(u < thr, jnp.int8(1), jnp.where(u > thr, jnp.int8(-1), tie)).reshape(-1)

        def resolve(index, spins):
            slot = (index // half) * 5 + spins[index].astype(jnp.int32) - 2
            s = rare_flat[slot]
            return jnp.where(below(tie_words(words, colour, units(index)), r_flat[slot]), s, -s)

        new = resolve_ties(None, spins, resolve).reshape(n.shape)
        return new, sum_last(new, 1), sum_last(new * n.astype(jnp.int8), 4)

    materialise = lax.optimization_barrier if jax.default_backend() == "cpu" else (lambda v: v)
    a, total_a, _ = materialise(half_sweep(0, b))
    b, total_b, bonds = materialise(half_sweep(1, a))
    total = total_a + total_b
    if reduce is not None:
        total, bonds = reduce(total), reduce(bonds)
    dtype = model.coupling.dtype
    energy = -model.coupling * bonds.astype(dtype) - model.field * total.astype(dtype)
    p = jnp.stack([a, b], axis=-2).reshape(p.shape)
    return p, energy, total.astype(dtype) / (rows * cols)
