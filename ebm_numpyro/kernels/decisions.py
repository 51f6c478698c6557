"""Exact random decisions: the leaf of the sampling core (it imports only :mod:`.streams`).

Every conditional draw of a discrete unit goes through :func:`heat_bath_from_words`:

.. math::  p(x_i = \\text{up} \\mid x_{-i}) = \\sigma(z_i), \\qquad z_i = \\beta\\,(\\text{up}-\\text{down})\\,f_i

with :math:`f_i = -\\partial E/\\partial x_i` the local field.

Exact decisions
---------------
A decision never rounds a probability to 0 or 1. Of the two outcomes the *rare* one
(probability :math:`q = \\sigma(-|z|) \\le 1/2`; "down" when :math:`z \\ge 0`, "up" otherwise)
is decided, with :math:`q` computed directly, never as one minus a rounded probability:

.. math::  q = \\frac{e^{-|z|}}{1 + e^{-|z|}}, \\qquad 2^{16} q = a + r, \\quad a = \\lfloor 2^{16} q \\rfloor,

.. math::  \\text{rare} \\iff U < a \\;\\text{ or }\\; (U = a \\text{ and } V < r),

with :math:`U` a uniform 16-bit integer and :math:`V` a uniform number in :math:`[0, 1)` given by
128 further random bits, :math:`V = 0.w_0 w_1 w_2 w_3` (binary, four ``uint32`` words). Then
:math:`P(\\text{rare}) = a/2^{16} + 2^{-16} P(V < r) = q` exactly whenever :math:`r\\,2^{128}`
is an integer: :math:`2^{16} q`, :math:`a` and :math:`r` are exact in floating point (a
power-of-two scaling and a fractional part), and :math:`V < r` is an exact lexicographic
comparison of :math:`(w_0, w_1, w_2, w_3)` with the 32-bit digits of :math:`r` (each digit
extracted exactly by scaling with :math:`2^{32}` and flooring). In float32 this holds for every
:math:`q \\ge 2^{-121}` (a float32 :math:`r \\ge 2^{-105}` has no bit below :math:`2^{-128}`); below
that, and in float64 below :math:`q \\approx 2^{-92}`, the implemented probability is
:math:`q` up to an absolute :math:`2^{-144}`. So the sampler's probability is the
floating-point value of the exact conditional (relative error a few ulp, from ``exp`` and
one division) down to :math:`q \\approx 10^{-37}` (float32) on *both* sides
(:math:`p` near 0 and near 1); only :math:`z = \\pm\\infty` (or ``exp`` underflowing below the
smallest subnormal) gives a certain outcome.

Bit budget. One Threefry-2x32 evaluation gives 64 bits, i.e. the 16-bit :math:`U` of four
units: unit ``k`` (flattened) of a call with stream id ``s`` uses the high (``k`` even) or low
(``k`` odd) half of output word ``(k >> 1) & 1`` of ``threefry(words, (k >> 2, s))``. (XLA
fuses this into the decision and recomputes the rounds for each of the four units: on CPU that
measured faster than storing the words, which costs a memory round trip per unit.) A tie
:math:`U = a` (probability :math:`2^{-16}` per unit) draws :math:`V` from the two evaluations
``threefry(words, (2k, s | 2^31))`` and ``threefry(words, (2k + 1, s | 2^31))``; so stream ids
must be below :math:`2^{31} - 1` (the kernels use small ones; ``0xFFFFFFFF`` is reserved for
key splitting) and a call draws at most :math:`2^{31}` units. Only the tied units are
resolved: tiles of units holding a tie are compacted to a fixed number per pass
(``jnp.nonzero(..., size=K)``), their tie-break words computed and scattered back, in a
``while_loop`` that runs until no tie is left (zero or one pass but for astronomically rare
cases), so the result is exact whatever the number of ties. On average a unit costs 16
random bits plus :math:`2^{-16} \\cdot 128`.

Public functions:

* :func:`up_probability` - the binary heat-bath probability itself;
* :func:`heat_bath_from_words` / :func:`heat_bath` - draw binary units from their conditionals;
* :func:`metropolis_from_words` - accept with probability :math:`\\min(1, e^{\\log r})`, exact
  in the same way (replica-exchange swaps, Metropolis flips);
* :func:`categorical_from_words` - the softmax draw of a ``q``-state unit, as a chain of exact
  binary decisions (:func:`conditional_logits`);
* :func:`tree_categorical_from_words` - exact draws among many states (a binary tree of
  log-masses, one exact decision per level: ``ebm.Boltzmann.sample``);
* :func:`uniform_units` - uniformly random units.

Categorical draws. A unit with :math:`q` states and logits :math:`\\ell_0, \\dots, \\ell_{q-1}`
(:math:`p_k \\propto e^{\\ell_k}`) is drawn as a chain of binary decisions "state :math:`k`
versus a state above :math:`k`", each with the conditional probability

.. math::  c_k = \\frac{p_k}{\\sum_{j \\ge k} p_j} = \\sigma\\big(\\ell_k - S_{k+1}\\big),
           \\qquad S_{k} = \\log \\sum_{j \\ge k} e^{\\ell_j},

and the state is the first :math:`k` whose decision is "yes" (:math:`q-1` if none is):
:math:`P(k) = c_k \\prod_{j<k} (1 - c_j) = p_k`. The logit differences are computed in log
space (a reverse cumulative log-sum-exp) and every decision is exact as above, so no
probability is rounded to 0 or 1 unless it is 0 or 1 (a logit of :math:`-\\infty` is a state
of probability 0). Above :data:`TREE_STATES` states the chain's :math:`q - 1` decisions (and
its cumulative log-sum-exp) cost far more than needed: the draw descends a binary tree of
log-masses instead, :math:`\\lceil\\log_2 q\\rceil` exact decisions "left subtree versus right
subtree", each with probability :math:`\\sigma(\\log m_L - \\log m_R)`, whose product is
:math:`p_k` (18-25x faster at :math:`q` = 64 to 2,500 on this CPU; level :math:`d` of the
descent draws from stream ``stream + d * 2**24``, so the callers' stream ids stay below
:math:`2^{24}`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

from . import streams

__all__ = [
    "up_probability",
    "heat_bath_from_words",
    "heat_bath",
    "metropolis_from_words",
    "categorical_from_words",
    "conditional_logits",
    "tree_categorical_from_words",
    "uniform_units",
]

#: bits of the first-stage uniform U
STAGE_BITS = 16
_STAGE = float(2**STAGE_BITS)
#: high bit of the counter's stream word: tie-break words (stream ids stay below it)
_TIE_STREAM = 0x80000000
#: units per tile of the tie compaction
_TILE = 32


def up_probability(field, beta, unit_values=(-1, 1)):
    """Heat-bath probability that a unit is up given its local field :math:`f = -\\partial E/\\partial x`:

    .. math::  p(x = \\text{up} \\mid \\text{rest}) = \\sigma\\big(\\beta\\,(\\text{up} - \\text{down})\\,f\\big)
               = \\frac{1}{1 + e^{-\\beta (\\text{up} - \\text{down}) f}}

    (for ±1 spins :math:`\\sigma(2\\beta f)`; for {0,1} units :math:`\\sigma(\\beta f)`).
    """
    down, up = unit_values
    return jax.nn.sigmoid(beta * (up - down) * field)


# ----------------------------------------------------------------------------- exact decisions
def rare_probability(z):
    """``(q, rare_is_up)``: :math:`q = \\sigma(-|z|) = e^{-|z|}/(1 + e^{-|z|})` computed directly,
    and whether the rare outcome is "up" (:math:`z < 0`). NaN gives :math:`q = 0`, "down"."""
    e = jnp.exp(-jnp.abs(z))
    q = e / (1 + e)
    return jnp.where(jnp.isnan(z), jnp.zeros_like(q), q), z < 0


def split_probability(q):
    """``(a, r)`` with :math:`2^{16} q = a + r`, ``a`` an integer (``uint32``), :math:`0 \\le r < 1`; exact."""
    s = q * _STAGE
    a = jnp.floor(s)
    return a.astype(jnp.uint32), s - a


def stage_decision(u, a, r):
    """First stage: ``(rare, tie)`` from 16-bit uniforms ``u``; a tie needs :func:`below` (``V < r``)."""
    return u < a, (u == a) & (r > 0)


def digits(r):
    """The four 32-bit binary digits of ``r`` in ``[0, 1)``: :math:`\\lfloor r\\,2^{128} \\rfloor`, exact
    whenever :math:`r\\,2^{128}` is an integer (each step is a power-of-two scaling and a floor)."""
    out = []
    for _ in range(4):
        r = r * 2.0**32
        d = jnp.floor(r)
        out.append(d.astype(jnp.uint32))
        r = r - d
    return out


def below(w, r):
    """``V < r`` for :math:`V = 0.w_0 w_1 w_2 w_3` (four ``uint32`` words, most significant first),
    compared digit by digit with :func:`digits` of ``r``."""
    d = digits(r)
    less = w[3] < d[3]
    for k in (2, 1, 0):
        less = (w[k] < d[k]) | ((w[k] == d[k]) & less)
    return less


def chunks16(words, stream, shape, index=None):
    """16-bit uniforms (as ``uint32``) for the units of ``shape``: four per Threefry evaluation.

    Unit ``k`` (flattened) gets the high (``k`` even) or low (``k`` odd) half of output word
    ``(k >> 1) & 1`` of ``threefry(words, (k >> 2, stream))``: the 64 bits of one evaluation
    serve four consecutive units. The expression is elementwise, so XLA fuses it into the
    decision (the Threefry rounds are recomputed per unit rather than stored: measured faster
    on CPU than materialising the words, which costs a memory round trip per unit).

    ``index`` (``uint32``, of ``shape``) gives every entry its unit number ``k`` explicitly
    instead of its flat position; a lattice split over devices passes the global unit numbers
    of its part, so that each device draws exactly the bits of the undivided sweep.
    """
    if index is None:
        n = math.prod(int(s) for s in shape)
        if n >= 2**31:
            raise ValueError(f"at most 2^31 units per call; got shape {shape}")
        k = lax.iota(jnp.uint32, n).reshape(shape)
    else:
        k = jnp.broadcast_to(jnp.asarray(index, jnp.uint32), shape)
    x0, x1 = streams.threefry2x32(words[0], words[1], k >> jnp.uint32(2), jnp.asarray(stream, jnp.uint32))
    word = jnp.where((k & jnp.uint32(2)) == 0, x0, x1)
    return jnp.where((k & jnp.uint32(1)) == 0, word >> jnp.uint32(16), word & jnp.uint32(0xFFFF))


def tie_words(words, stream, index):
    """The four tie-break words of the units with flat indices ``index`` (``V``'s digits)."""
    index = jnp.asarray(index).astype(jnp.uint32)
    s = jnp.asarray(stream, jnp.uint32) | jnp.uint32(_TIE_STREAM)
    a0, a1 = streams.threefry2x32(words[0], words[1], index * jnp.uint32(2), s)
    b0, b1 = streams.threefry2x32(words[0], words[1], index * jnp.uint32(2) + jnp.uint32(1), s)
    return a0, a1, b0, b1


def resolve_ties(marks, out, resolve, tile=_TILE):
    """Replace the units of the flat array ``out`` whose ``marks`` exceed 1 by ``resolve``'s values.

    ``marks`` is a flat ``int8`` array, or ``None`` when ``out`` carries the marks itself (the
    lattice's spins, whose tie codes are 2-6, replaced by +-1 once resolved);
    ``resolve(index, out)`` returns the new values of the units with flat indices ``index``
    (``int32``). Tiles of ``tile`` units (strided: tile ``t`` holds units ``t + j * tiles``)
    holding a marked unit are compacted ``K`` at a time
    (``K`` sized so that one pass almost always suffices, or ``K = 1`` found by an argmax when
    at most two ties are expected; a ``while_loop`` takes further passes if needed), so the
    work is proportional to the number of ties and the result is exact for any number of them.
    """
    n = out.shape[0]
    first = out if marks is None else marks
    tiles = -(-n // tile)
    padded = jnp.pad(first, (0, tiles * tile - n)) if tiles * tile != n else first
    # tile t holds the units t, t + tiles, t + 2 tiles, ...: its flag is a column max (plain
    # vector maxima over int8 rows; XLA's CPU row reductions are several times slower)
    flags = padded.reshape(tile, tiles).max(axis=0) > 1
    expected = n / 2.0**STAGE_BITS  # ties per call: at most one in 2^16 units on average
    # up to ~2 ties expected: one tile per pass, found by an argmax (cheaper than a compaction)
    k = 1 if expected <= 2 else int(min(tiles, math.ceil(expected + 8 * math.sqrt(expected) + 8)))
    lanes = jnp.arange(tile, dtype=jnp.int32)

    def step(carry):
        out, flags = carry
        if k == 1:
            sel = jnp.argmax(flags).astype(jnp.int32)[None]
        else:
            sel = jnp.nonzero(flags, size=k, fill_value=tiles)[0].astype(jnp.int32)
        index = (lanes[None, :] * tiles + sel[:, None]).reshape(-1)
        inside = (index < n) & jnp.repeat(sel < tiles, tile)  # the fill value `tiles` is no tile
        safe = jnp.where(inside, index, 0)
        hit = inside & ((out if marks is None else marks)[safe] > 1)
        values = resolve(safe, out)
        out = out.at[jnp.where(hit, safe, n)].set(values, mode="drop")
        return out, flags.at[sel].set(False, mode="drop")

    return lax.while_loop(lambda c: jnp.any(c[1]), step, (out, flags))[0]


def _exact(words, stream, q, shape):
    """Bool array of ``shape``: the rare event, with probability exactly ``q`` (module doc)."""
    a, r = split_probability(q)
    rare, tie = stage_decision(chunks16(words, stream, shape), a, r)
    flat_r = r.reshape(-1)
    marks = jnp.where(tie, 2, 0).astype(jnp.int8).reshape(-1)

    def resolve(index, rare_flat):
        return below(tie_words(words, stream, index), flat_r[index])

    return resolve_ties(marks, rare.reshape(-1), resolve).reshape(shape)


def _draw(words, stream, z, unit_values, dtype):
    """Heat-bath draw for the logits ``z`` (``up`` with probability σ(z)), exact."""
    down, up = (jnp.asarray(v, dtype) for v in unit_values)
    q, rare_up = rare_probability(z)
    rare = _exact(words, stream, q, z.shape)
    return jnp.where(rare == rare_up, up, down)


def heat_bath_from_words(words, stream, field, beta, unit_values=(-1, 1), dtype=jnp.int8):
    """Draw every unit of a block from its heat-bath conditional, exactly (see the module doc).

    .. math::  x_i \\leftarrow \\text{up} \\text{ with probability } \\sigma(z_i), \\quad
               z_i = \\beta(\\text{up}-\\text{down})f_i, \\text{ else down}

    ``words`` are the two ``uint32`` Threefry key words, ``stream`` a stream id below
    :math:`2^{31}-1` unique within that key (unit ``k`` of the flattened units uses a 16-bit
    half of counter ``(k >> 2, stream)``'s output, see :func:`chunks16`, and, on a tie, the
    counters ``(2k, stream | 2^31)``, ``(2k+1, stream | 2^31)``); ``beta`` broadcasts against
    ``field`` (one value per replica, for instance). Returns units of the broadcast shape as
    ``dtype`` (``int8`` states; the learning code keeps float units).
    """
    field = jnp.asarray(field)
    down, up = unit_values
    z = beta * (up - down) * field
    z = jnp.broadcast_to(z, jnp.broadcast_shapes(jnp.shape(z), field.shape))
    return _draw(words, stream, z, unit_values, dtype)


def heat_bath(key, field, beta, unit_values=(-1, 1), dtype=jnp.int8):
    """:func:`heat_bath_from_words` keyed by a JAX random ``key`` (stream 0)."""
    return heat_bath_from_words(streams.key_words(key), 0, field, beta, unit_values, dtype)


def metropolis_rare(log_ratio):
    """``(q, accept_is_rare)`` for the Metropolis test: :math:`q = e^{\\ell}` (accept) when
    :math:`\\ell \\le -\\log 2`, else :math:`q = -\\mathrm{expm1}(\\ell)` (reject); NaN counts as
    :math:`-\\infty`, :math:`\\ell \\ge 0` gives :math:`q = 0` for the rejection."""
    lr = jnp.asarray(log_ratio)
    lr = jnp.minimum(jnp.where(jnp.isnan(lr), -jnp.inf, lr), 0.0)
    accept_rare = lr <= -math.log(2.0)
    return jnp.where(accept_rare, jnp.exp(lr), -jnp.expm1(lr)), accept_rare


def metropolis_from_words(words, stream, log_ratio):
    """Metropolis test: ``True`` with probability :math:`p = \\min(1, e^{\\ell})`, :math:`\\ell` = ``log_ratio``.

    Exact like :func:`heat_bath_from_words`: the rare outcome's probability is computed
    directly, :math:`q = e^{\\ell}` (accept) when :math:`\\ell \\le -\\log 2` and
    :math:`q = -\\mathrm{expm1}(\\ell) = 1 - e^{\\ell}` (reject) otherwise; :math:`\\ell \\ge 0`
    always accepts, NaN always rejects. Random bits as in :func:`heat_bath_from_words`.
    """
    lr = jnp.asarray(log_ratio)
    q, accept_rare = metropolis_rare(lr)
    rare = _exact(words, stream, q, lr.shape)
    return rare == accept_rare


def uniform_units(words, stream, shape, unit_values=(-1, 1), dtype=jnp.int8, index=None):
    """Uniformly random units of ``shape`` (:func:`.streams.uniform_start` with stream ``stream``)."""
    return streams.uniform_start(words, shape, tuple(unit_values), dtype, stream, index)


# ----------------------------------------------------------------------------- categorical
#: up to this many states the reverse cumulative log-sum-exp is unrolled (see conditional_logits)
UNROLLED_STATES = 32


def conditional_logits(logits):
    """:math:`z_k = \\ell_k - \\log\\sum_{j > k} e^{\\ell_j}` for :math:`k = 0, \\dots, q-2`
    (the logit of "state :math:`k`" given "a state :math:`\\ge k`"), over the last axis."""
    logits = jnp.asarray(logits)
    q = logits.shape[-1]
    if q > UNROLLED_STATES:
        tail = lax.cumlogsumexp(logits, axis=logits.ndim - 1, reverse=True)[..., 1:]  # S_1 .. S_{q-1}
    else:  # S_k = logaddexp(l_k, S_{k+1}), unrolled: XLA's CPU associative scan is ~10x slower
        tails = [logits[..., q - 1]]
        for k in range(q - 2, 0, -1):
            tails.append(jnp.logaddexp(logits[..., k], tails[-1]))
        tail = jnp.stack(tails[::-1], axis=-1)
    return logits[..., :-1] - tail


#: above this many states :func:`categorical_from_words` descends a binary tree (module doc)
TREE_STATES = UNROLLED_STATES
#: stream stride between the levels of a tree descent
_LEVEL_STRIDE = 1 << 24


def _tree_draw(words, stream, logits, dtype):
    """One state per row of ``logits`` by descending the binary tree of log-masses (module doc)."""
    q = logits.shape[-1]
    depth = int(math.ceil(math.log2(q)))
    pad = [(0, 0)] * (logits.ndim - 1) + [(0, 2**depth - q)]
    level = jnp.pad(logits, pad, constant_values=-jnp.inf)
    levels = [level]
    for _ in range(depth - 1):
        level = jnp.logaddexp(level[..., 0::2], level[..., 1::2])
        levels.append(level)
    node = jnp.zeros(logits.shape[:-1], jnp.int32)
    for d in range(depth):
        children = levels[depth - 1 - d]
        left = jnp.take_along_axis(children, (2 * node)[..., None], axis=-1)[..., 0]
        right = jnp.take_along_axis(children, (2 * node + 1)[..., None], axis=-1)[..., 0]
        go_right = heat_bath_from_words(words, stream + d * _LEVEL_STRIDE, right - left, 1.0, (0, 1), jnp.int32)
        node = 2 * node + go_right
    return node.astype(dtype)


def categorical_from_words(words, stream, logits, dtype=jnp.int32):
    """Draw one state in ``0..q-1`` per row of ``logits`` (shape ``batch + (q,)``), exactly:

    .. math::  P(x = k) = \\frac{e^{\\ell_k}}{\\sum_j e^{\\ell_j}}

    by the chain of exact binary decisions of the module doc (a binary tree of them above
    :data:`TREE_STATES` states). ``words`` and ``stream`` key the random bits as in
    :func:`heat_bath_from_words` (one call: the decisions of every row use distinct counters;
    ``stream`` below :math:`2^{24}`). Returns the states as ``dtype``, shape
    ``batch``.
    """
    logits = jnp.asarray(logits)
    q = logits.shape[-1]
    if q == 1:
        return jnp.zeros(logits.shape[:-1], dtype)
    if q > TREE_STATES:
        return _tree_draw(words, stream, logits, dtype)
    yes = heat_bath_from_words(words, stream, conditional_logits(logits), 1.0, (0, 1), jnp.int8)
    # first "yes" along the last axis, q - 1 when there is none
    first = jnp.argmax(jnp.concatenate([yes, jnp.ones(yes.shape[:-1] + (1,), yes.dtype)], -1), axis=-1)
    return first.astype(dtype)


def tree_categorical_from_words(words, stream, log_weights, num_draws: int):
    """``num_draws`` independent indices ``i`` with :math:`P(i) = w_i / \\sum_j w_j`, exactly, from
    the log weights :math:`\\log w` (a 1-D array of ``K`` entries; ``-inf`` for weight 0).

    A binary tree of log-masses is built once (:math:`O(K)`, padded to :math:`2^d` leaves,
    :math:`d = \\lceil \\log_2 K \\rceil`, in heap order: node ``k`` has children ``2k`` and
    ``2k + 1``); each draw descends it in a ``lax.fori_loop``, going left at a node with
    probability :math:`\\sigma(\\log m_L - \\log m_R)` decided exactly
    (:func:`heat_bath_from_words`, stream ``stream + level``), so a state's probability is the
    product of :math:`d` exact decisions: no rounding of small probabilities, tails included,
    and memory :math:`O(K + \\text{num\\_draws})`. Returns ``int32`` indices, shape ``(num_draws,)``.
    """
    log_weights = jnp.asarray(log_weights).reshape(-1)
    size = log_weights.shape[0]
    depth = max(int(math.ceil(math.log2(size))), 0)
    if depth == 0:
        return jnp.zeros((num_draws,), jnp.int32)
    level = jnp.pad(log_weights, (0, 2**depth - size), constant_values=-jnp.inf)
    levels = [level]
    for _ in range(depth):
        level = jnp.logaddexp(level[0::2], level[1::2])
        levels.append(level)
    tree = jnp.concatenate([jnp.full((1,), -jnp.inf, log_weights.dtype)] + levels[::-1])  # tree[1] = root

    def descend(d, node):
        left, right = tree[2 * node], tree[2 * node + 1]
        go_left = heat_bath_from_words(words, stream + d, left - right, 1.0, (0, 1), jnp.int32)
        return 2 * node + (1 - go_left)

    node = lax.fori_loop(0, depth, descend, jnp.ones((num_draws,), jnp.int32))
    return node - 2**depth
