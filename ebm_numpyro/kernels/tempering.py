"""Replica exchange as a layer around any inner move: temperature ladders and the tempered step.

A tempered kernel keeps one replica per temperature :math:`T_0 < T_1 < \\dots < T_{n-1}`
(:math:`T_0` the target) and advances them all by one *inner move* (a heat-bath sweep, a
Metropolis sweep, ...) that leaves every :math:`p_k(x) \\propto e^{-\\beta_k E(x)}` invariant;
then neighbouring temperatures exchange their states (:func:`replica_exchange`) by the
deterministic even/odd scheme (pairs :math:`(k, k+1)` with :math:`k \\equiv i \\bmod 2` at step
:math:`i`: non-reversible parallel tempering, Okabe et al. 2001, Syed et al. 2021). States are
any pytree with a leading slot axis (a lattice in its sweep's layout, a dict of NumPyro sites):
a swap permutes whole pytrees.

Ladders (:class:`Ladder`): :class:`FixedLadder` (given temperatures, one for plain Gibbs),
:class:`ScheduledTemperature` (one temperature following a schedule of the step: annealed
Gibbs) and :class:`AdaptiveLadder`, which moves the interior temperatures during warm-up only
to equalise the swap rejection between neighbours (Syed, Bouchard-Côté, Deligiannidis & Doucet
2021, "Non-reversible parallel tempering: a scalable highly parallel MCMC scheme", JRSS-B 84,
Algorithm 4) and then keeps them fixed, so the chain after warm-up is exact for the final
ladder. The ladder's state (:class:`LadderState`) is part of the kernel state.

:func:`tempered_step` is the one tempered step: ``(words, ReplicaState, betas, parity, move)
-> (ReplicaState, per-slot observables, swap acceptance)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_temperature, check_text_free
from ..schedules import as_schedule, check_schedule
from . import streams
from .decisions import metropolis_from_words

__all__ = [
    "swap_acceptance",
    "replica_exchange",
    "ReplicaState",
    "LadderState",
    "Ladder",
    "FixedLadder",
    "ScheduledTemperature",
    "AdaptiveLadder",
    "make_ladder",
    "replan_ladder",
    "thermodynamic_length",
    "communication_barrier",
    "tempered_step",
    "extension_log_ratio",
]


# ----------------------------------------------------------------------------- swaps
def _log_swap_ratio(energies, betas):
    return (betas[..., :-1] - betas[..., 1:]) * (energies[..., :-1] - energies[..., 1:])


def swap_acceptance(energies, betas):
    """Metropolis probability of exchanging the states at neighbouring temperatures:

    .. math::  a_k = \\min\\Big(1,\\ e^{(\\beta_k - \\beta_{k+1})(E_k - E_{k+1})}\\Big),
               \\qquad k = 0, \\dots, n-2

    where :math:`E_k` is the energy of the state at inverse temperature :math:`\\beta_k`
    (the ratio :math:`\\pi_k(x_{k+1})\\pi_{k+1}(x_k) / \\pi_k(x_k)\\pi_{k+1}(x_{k+1})`).
    """
    energies, betas = jnp.asarray(energies), jnp.asarray(betas)
    return jnp.exp(jnp.minimum(_log_swap_ratio(energies, betas), 0.0))


def _exchange(words, energies, betas, parity, extension=0.0):
    n = energies.shape[-1]
    attempted = (jnp.arange(n - 1) % 2) == parity
    log_ratio = _log_swap_ratio(energies, betas) + extension
    swap = attempted & metropolis_from_words(words, 0, log_ratio)
    no = jnp.zeros(swap.shape[:-1] + (1,), bool)
    from_above = jnp.concatenate([swap, no], axis=-1)  # slot k takes the replica of k + 1
    from_below = jnp.concatenate([no, swap], axis=-1)  # slot k takes the replica of k - 1
    perm = jnp.arange(n) + from_above.astype(jnp.int32) - from_below.astype(jnp.int32)
    return perm, jnp.exp(jnp.minimum(log_ratio, 0.0))


def replica_exchange(key, energies, betas, parity):
    """One round of neighbour swaps of parallel tempering (replica exchange).

    The pairs :math:`(k, k+1)` with :math:`k \\equiv` ``parity`` (mod 2) are disjoint; each is
    swapped independently with probability :func:`swap_acceptance` :math:`a_k` (an exact
    Metropolis decision). Alternating ``parity`` between rounds (even pairs, odd pairs, ...)
    lets every replica travel the whole ladder. Returns ``(perm, accept)``: the new state at slot
    :math:`k` is the old state at slot ``perm[k]`` (apply it to states, energies and replica ids
    alike), and ``accept`` holds :math:`a_k` for every pair, attempted or not.
    """
    energies = jnp.asarray(energies)
    return _exchange(streams.key_words(key), energies, jnp.asarray(betas, energies.dtype), parity)


class ReplicaState(NamedTuple):
    """What :func:`tempered_step` carries, for ``n`` temperature slots.

    - **x** - the states of every slot, a pytree with leading axis ``n`` (in the inner move's
      layout); slot 0 is at the target temperature.
    - **energies** - the tempered energy :math:`E(x_k)` of every slot (what :math:`\\beta_k`
      multiplies), shape ``(n,)``.
    - **replica_index** - ``int32`` id of the replica at each slot (numbered by starting slot).
    """

    x: Any
    energies: Any
    replica_index: Any


def extension_log_ratio(log_extension, x, betas):
    """The swap log-ratio's extra term for a move whose chain at :math:`\\beta` is invariant for an
    *extended* law :math:`p_\\beta(x)\\, g_\\beta(x)` (importance tempering):

    .. math::  \\log g_{\\beta_k}(x_{k+1}) + \\log g_{\\beta_{k+1}}(x_k)
               - \\log g_{\\beta_k}(x_k) - \\log g_{\\beta_{k+1}}(x_{k+1}),

    for every neighbouring pair, shape ``(n - 1,)``; ``log_extension(x, betas) -> (m,)`` evaluates
    :math:`\\log g_{\\beta_j}(x_j)` slot by slot (states ``x`` with a leading axis ``m``)."""
    head = jax.tree.map(lambda a: a[:-1], x)
    tail = jax.tree.map(lambda a: a[1:], x)
    own = log_extension(x, betas)
    return log_extension(tail, betas[:-1]) + log_extension(head, betas[1:]) - own[:-1] - own[1:]


def tempered_step(words, state: ReplicaState, betas, parity, move: Callable, log_extension=None):
    """One inner move of every slot at its :math:`\\beta_k`, then swaps of the pairs
    :math:`(k, k+1)`, :math:`k \\equiv` ``parity`` (mod 2) (:func:`replica_exchange`).

    ``move(words, x, betas) -> (x, energies, observables)`` advances every slot (leaving each
    :math:`p_k` invariant) and returns the new tempered energies (shape ``(n,)``) and any
    per-slot observables (a pytree with leading axis ``n``, e.g. magnetizations), which are
    permuted with the states. ``words`` is a ``(2, 2)`` array of Threefry key words (the move's,
    the swaps'). The swaps leave the product :math:`\\prod_k p_k` invariant; with
    ``log_extension`` (a move invariant for :math:`p_k g_k`, :func:`extension_log_ratio`) the
    product :math:`\\prod_k p_k g_k`.
    Returns ``(ReplicaState, observables, swap_accept)``; ``swap_accept`` has shape ``(n - 1,)``.
    An observable named ``move_accept`` (the move's own acceptance probability at each slot's
    temperature) belongs to the slot, not to the replica, and is returned unpermuted.
    """
    dtype = state.energies.dtype
    x, energies, observables = move(words[0], state.x, betas)
    energies = energies.astype(dtype)
    replica_index = state.replica_index
    if betas.shape[-1] > 1:
        extension = 0.0 if log_extension is None else extension_log_ratio(log_extension, x, betas)
        perm, accept = _exchange(words[1], energies, betas, parity, extension)
        per_slot = {k: v for k, v in observables.items() if k == "move_accept"}
        moved = {k: v for k, v in observables.items() if k != "move_accept"}
        x, moved = jax.tree.map(lambda a: a[perm], (x, moved))
        observables = {**moved, **per_slot}
        energies, replica_index = energies[perm], replica_index[perm]
    else:
        accept = jnp.zeros((0,), dtype)
    return ReplicaState(x, energies, replica_index), observables, accept


# ----------------------------------------------------------------------------- ladders
class LadderState(NamedTuple):
    """The ladder's part of a kernel state (one chain).

    - **temperatures** - the temperatures :math:`T_k` (target first) of the last step (of the
      first one, before any step), shape ``(n,)``;
    - **rejection** - summed swap rejection :math:`1 - a_k` of every pair in the current
      adaptation round, shape ``(n - 1,)``; **count** - steps in that round;
    - **boundaries** - the steps (counted from 1) after which an adaptive ladder is re-planned,
      all within warm-up; empty for other ladders.
    """

    temperatures: Any
    rejection: Any
    count: Any
    boundaries: Any


class Ladder:
    """Base of the temperature ladders of a tempered kernel (see the module doc).

    A ladder gives the temperatures of the step ``i`` (:meth:`temperatures_at`), starts the
    :class:`LadderState` (:meth:`init`) and updates it after a step from the swap acceptance
    (:meth:`update`: the identity unless the ladder adapts).
    """

    #: number of temperatures (slots)
    num_temperatures: int = 1
    #: whether the temperatures change during warm-up
    adapts: bool = False

    @property
    def temperatures(self) -> np.ndarray:
        """The initial ladder (float64), target first."""
        raise NotImplementedError

    @property
    def target_temperature(self) -> float:
        return float(self.temperatures[0])

    def init(self, num_warmup: int, dtype) -> LadderState:
        n = self.num_temperatures
        return LadderState(jnp.asarray(self.temperatures, dtype), jnp.zeros((max(n - 1, 0),), dtype),
                           jnp.zeros((), jnp.int32), jnp.zeros((0,), jnp.int32))

    def temperatures_at(self, state: LadderState, i):
        """Temperatures of the step ``i``, shape ``(n,)``."""
        return state.temperatures

    def update(self, state: LadderState, i, swap_accept) -> LadderState:
        """The ladder state after step ``i`` with swap acceptances ``swap_accept``."""
        return state


class FixedLadder(Ladder):
    """Fixed temperatures :math:`T_0 < T_1 < \\dots` (target first); one temperature is plain Gibbs."""

    def __init__(self, temperatures):
        self._temperatures = check_ladder(temperatures, "temperatures")
        self.num_temperatures = int(self._temperatures.size)

    @property
    def temperatures(self):
        return self._temperatures.copy()

    def __repr__(self):
        return f"{type(self).__name__}({self._temperatures.tolist()})"


class ScheduledTemperature(Ladder):
    """One temperature following a schedule of the step, :math:`T(i)` (annealed Gibbs)."""

    def __init__(self, schedule):
        self.schedule = as_schedule(schedule, "temperature")
        check_schedule(self.schedule, "temperature")
        self.num_temperatures = 1

    @property
    def temperatures(self):
        return np.asarray([self.schedule.base_temperature or np.nan])

    def init(self, num_warmup, dtype):
        state = super().init(num_warmup, dtype)
        return state._replace(temperatures=jnp.asarray(self.schedule(0), dtype)[None])

    def temperatures_at(self, state, i):
        return jnp.asarray(self.schedule(i), state.temperatures.dtype)[None]

    def update(self, state, i, swap_accept):
        return state._replace(temperatures=self.temperatures_at(state, i))


def communication_barrier(rejection):
    """Estimated global communication barrier of a ladder, :math:`\\Lambda = \\sum_k r_k` with
    :math:`r_k` the swap rejection rate of pair :math:`(k, k+1)` (Syed et al. 2021, Theorem 3:
    the round-trip rate of non-reversible PT tends to :math:`1/(2 + 2\\Lambda)`)."""
    return jnp.sum(jnp.asarray(rejection), axis=-1)


def thermodynamic_length(acceptance):
    """The length of every ladder gap from its mean swap acceptance :math:`a`,

    .. math::  d = -\\sqrt 2\\,\\Phi^{-1}(a/2),

    exact when the energies at the two temperatures are Gaussian with a common standard
    deviation :math:`\\sigma` (to first order in the gap): the swap log-ratio is then
    :math:`N(-d^2, 2d^2)` with :math:`d = \\sigma\\,\\Delta\\beta`, whose mean Metropolis
    acceptance is :math:`2\\Phi(-d/\\sqrt 2)`. So :math:`d` adds up along the ladder
    (:math:`\\int\\sigma\\,d\\beta`, the thermodynamic length), for small gaps it is
    :math:`\\sqrt\\pi` times Syed et al.'s rejection rate :math:`r = 1 - a` (:math:`a \\approx 1 -
    d/\\sqrt\\pi`), and unlike :math:`r` it keeps growing where swaps are rare (:math:`r`
    saturates at 1: 0.97 and 0.999 look alike). ``acceptance`` is floored at ``1e-30``."""
    a = jnp.clip(jnp.asarray(acceptance), 1e-30, 1.0)
    return -math.sqrt(2.0) * jax.scipy.special.ndtri(0.5 * a)


def replan_ladder(temperatures, acceptance):
    """New temperatures with equal estimated swap rates between neighbours: the schedule update of
    Syed et al. 2021 (Algorithm 4),

    .. math::  \\Lambda(\\beta_k) = \\sum_{j < k} d_j, \\qquad
               \\beta'_k = \\Lambda^{-1}\\Big(\\frac{k}{n-1}\\Lambda(\\beta_{n-1})\\Big),

    with :math:`\\beta(\\Lambda)` interpolated monotonically (:func:`monotone_interp`, as Syed et al.)
    between the current temperatures; :math:`T_0` and :math:`T_{n-1}` stay. Syed et al. take
    :math:`d_j = r_j = 1 - a_j` (the rejection rate; :math:`\\Lambda` is then the communication
    barrier), which is additive along the ladder only for small gaps: on a coarse ladder
    :math:`r_j` saturates near 1 and the update stalls. Here :math:`d_j` is the gap's
    :func:`thermodynamic_length`, additive for any gap (for Gaussian energies) and
    :math:`\\sqrt\\pi\\,r_j` for small ones, with the same fixed point (equal swap rates).
    ``acceptance`` holds the mean swap acceptance :math:`a_j` of every pair."""
    t = jnp.asarray(temperatures)
    n = t.shape[-1]
    beta = 1.0 / t  # decreasing
    d = jnp.maximum(thermodynamic_length(jnp.asarray(acceptance, t.dtype)), 1e-6)  # strictly increasing cumulative
    cum = jnp.concatenate([jnp.zeros((1,), t.dtype), jnp.cumsum(d)])
    targets = jnp.arange(n, dtype=t.dtype) / (n - 1) * cum[-1]
    new_beta = jnp.exp(monotone_interp(targets, cum, jnp.log(beta)))
    new_beta = new_beta.at[0].set(beta[0]).at[-1].set(beta[-1])
    return 1.0 / new_beta


def monotone_interp(x, xp, fp):
    """Monotone piecewise-cubic (Fritsch & Carlson 1980, PCHIP) interpolation of ``(xp, fp)`` at ``x``;
    ``xp`` strictly increasing, ``fp`` monotone: the interpolant stays monotone and between the
    data, and is exact for linear data."""
    h = jnp.diff(xp)
    delta = jnp.diff(fp) / h
    # interior slopes: weighted harmonic mean where the neighbouring secants agree in sign, else 0
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same = delta[:-1] * delta[1:] > 0
    interior = jnp.where(same, (w1 + w2) / (w1 / jnp.where(same, delta[:-1], 1.0) + w2 / jnp.where(same, delta[1:], 1.0)),
                         0.0)
    def end(h0, h1, d0, d1):  # SciPy's three-point shape-preserving end slope
        m = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        m = jnp.where(jnp.sign(m) != jnp.sign(d0), 0.0, m)
        return jnp.where((jnp.sign(d0) != jnp.sign(d1)) & (jnp.abs(m) > 3 * jnp.abs(d0)), 3 * d0, m)

    if xp.shape[0] > 2:
        first, last = end(h[0], h[1], delta[0], delta[1]), end(h[-1], h[-2], delta[-1], delta[-2])
    else:
        first, last = delta[0], delta[-1]
    slopes = jnp.concatenate([first[None], interior, last[None]])
    k = jnp.clip(jnp.searchsorted(xp, x, side="right") - 1, 0, xp.shape[0] - 2)
    t = (x - xp[k]) / h[k]
    h00, h10, h01, h11 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t, -2 * t**3 + 3 * t**2, t**3 - t**2
    return h00 * fp[k] + h10 * h[k] * slopes[k] + h01 * fp[k + 1] + h11 * h[k] * slopes[k + 1]


def adaptation_boundaries(num_warmup: int, num_temperatures: int) -> np.ndarray:
    """The steps (from 1) that end the adaptation rounds of :class:`AdaptiveLadder`: rounds that
    double in length and end with warm-up (``W/2^{R-1}, ..., W/2, W``), the first one at least
    ``max(32, 4 n)`` steps; none when warm-up is shorter."""
    first = max(32, 4 * num_temperatures)
    if num_warmup < first:
        return np.zeros((0,), np.int32)
    rounds = min(int(math.log2(num_warmup / first)) + 1, 16)
    return np.asarray([num_warmup >> k for k in range(rounds - 1, -1, -1)], np.int32)


class AdaptiveLadder(FixedLadder):
    """A ladder whose interior temperatures adapt during warm-up (Syed et al. 2021, Algorithm 4).

    Warm-up is split into rounds of doubling length ending with warm-up
    (:func:`adaptation_boundaries`). During a round the swap rejection :math:`1 - a_k` of every
    neighbouring pair is averaged (all pairs every step: the acceptance probabilities, not the
    decisions); at the end of the round the ladder is re-planned to equalise the swap rates
    (:func:`replan_ladder`), keeping the target and the hottest temperature. After warm-up the
    ladder no longer changes, so the draws are exact for the final ladder, which the state
    carries (``state.ladder.temperatures``) and ArviZ's coordinates report.
    """

    adapts = True

    def init(self, num_warmup, dtype):
        state = super().init(num_warmup, dtype)
        return state._replace(boundaries=jnp.asarray(adaptation_boundaries(int(num_warmup), self.num_temperatures)))

    def update(self, state, i, swap_accept):
        if self.num_temperatures < 3:  # nothing in between to move
            return state
        rejection = state.rejection + (1.0 - swap_accept).astype(state.rejection.dtype)
        count = state.count + 1
        at_boundary = jnp.any(state.boundaries == i + 1)
        replanned = replan_ladder(state.temperatures, 1.0 - rejection / count.astype(rejection.dtype))
        return state._replace(
            temperatures=jnp.where(at_boundary, replanned, state.temperatures),
            rejection=jnp.where(at_boundary, jnp.zeros_like(rejection), rejection),
            count=jnp.where(at_boundary, 0, count),
        )


def check_ladder(temperatures, name="temperatures") -> np.ndarray:
    """A validated ladder: a non-empty, strictly increasing 1-D array of temperatures > 0."""
    check_text_free(temperatures, name)
    t = np.asarray(temperatures, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D ladder; got shape {t.shape}")
    check_temperature(t, name)
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError(f"`{name}` must be strictly increasing, target (lowest) temperature first; got {t.tolist()}")
    return t


def make_ladder(temperature=None, temperatures=None, adapt_ladder=False) -> Ladder:
    """The :class:`Ladder` of a kernel's temperature arguments: ``temperature`` (a number: a
    one-rung :class:`FixedLadder`; a schedule: :class:`ScheduledTemperature`), or ``temperatures``
    (a ladder: :class:`FixedLadder`, or :class:`AdaptiveLadder` with ``adapt_ladder=True``), or a
    :class:`Ladder` object given as ``temperatures``."""
    if temperature is not None and temperatures is not None:
        raise ValueError(
            "pass either `temperature` (a number or a schedule: plain heat-bath Gibbs) or "
            "`temperatures` (a ladder, e.g. ebm.geometric_ladder(t_min, t_max, n): replica "
            "exchange), not both"
        )
    if adapt_ladder not in (True, False):
        raise ValueError(f"`adapt_ladder` must be True or False; got {adapt_ladder!r}")
    if isinstance(temperatures, Ladder):
        if adapt_ladder:
            raise ValueError("`adapt_ladder=True` goes with a list of temperatures; got a Ladder object")
        return temperatures
    if temperatures is None:
        if adapt_ladder:
            raise ValueError("`adapt_ladder=True` needs a ladder: pass `temperatures=` (e.g. ebm.geometric_ladder(...))")
        t = 1.0 if temperature is None else temperature
        if callable(t):
            return ScheduledTemperature(t)
        check_text_free(t, "temperature")
        if np.ndim(t) != 0:
            raise ValueError(f"`temperature` must be a number or a schedule; got shape {np.shape(t)} "
                             "(use `temperatures=` for a ladder)")
        check_temperature(t, "temperature")
        return FixedLadder([float(t)])
    return AdaptiveLadder(temperatures) if adapt_ladder else FixedLadder(temperatures)
