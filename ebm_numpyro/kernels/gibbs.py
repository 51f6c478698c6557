"""Heat-bath block Gibbs with optional replica exchange, as a native NumPyro kernel.

The mathematics lives in small pure functions:

* :func:`heat_bath` - one block of units drawn from its heat-bath conditional (the one
  implementation every model, every block and the learning code share);
* :func:`gibbs_sweep` - one systematic sweep over ``model.blocks`` (checkerboard on lattices,
  the two layers of an RBM, graph colours otherwise); periodic lattices with even sides take a
  specialised path (half-lattice layout, integer acceptance table, fused Threefry bits) that
  draws from exactly the same conditionals;
* :func:`swap_acceptance` / :func:`replica_exchange` - the parallel-tempering swap move.

:class:`TemperedGibbs` is a thin :class:`numpyro.infer.mcmc.MCMCKernel` over them (the
structure of ``numpyro/infer/sa.py``): one ``sample`` call is one sweep of every replica
followed by one round of swaps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.util import is_prng_key

from .._checks import check_event_shape, check_temperature
from ..models import DiscreteModel
from . import _lattice, _random
from ._common import CachedFnKernel
from .heat_bath import gibbs_sweep, heat_bath, magnetization as _magnetization, metropolis_from_words, sweep as _sweep, uniform_units, up_probability

__all__ = [
    "heat_bath",
    "up_probability",
    "gibbs_sweep",
    "swap_acceptance",
    "replica_exchange",
    "TemperedGibbsState",
    "TemperedGibbs",
]


# ----------------------------------------------------------------------------- swaps
def swap_acceptance(energies, betas):
    """Metropolis probability of exchanging the states at neighbouring temperatures:

    .. math::  a_k = \\min\\Big(1,\\ e^{(\\beta_k - \\beta_{k+1})(E_k - E_{k+1})}\\Big),
               \\qquad k = 0, \\dots, n-2

    where :math:`E_k` is the energy of the state at inverse temperature :math:`\\beta_k`
    (the ratio :math:`\\pi_k(x_{k+1})\\pi_{k+1}(x_k) / \\pi_k(x_k)\\pi_{k+1}(x_{k+1})`).
    """
    energies, betas = jnp.asarray(energies), jnp.asarray(betas)
    log_ratio = (betas[..., :-1] - betas[..., 1:]) * (energies[..., :-1] - energies[..., 1:])
    return jnp.exp(jnp.minimum(log_ratio, 0.0))


def _replica_exchange(words, energies, betas, parity):
    accept = swap_acceptance(energies, betas)
    n = energies.shape[-1]
    attempted = (jnp.arange(n - 1) % 2) == parity
    log_ratio = (betas[..., :-1] - betas[..., 1:]) * (energies[..., :-1] - energies[..., 1:])
    swap = attempted & metropolis_from_words(words, 0, log_ratio)
    no = jnp.zeros(swap.shape[:-1] + (1,), bool)
    from_above = jnp.concatenate([swap, no], axis=-1)  # slot k takes the replica of k + 1
    from_below = jnp.concatenate([no, swap], axis=-1)  # slot k takes the replica of k - 1
    perm = jnp.arange(n) + from_above.astype(jnp.int32) - from_below.astype(jnp.int32)
    return perm, accept


def replica_exchange(key, energies, betas, parity):
    """One round of neighbour swaps of parallel tempering (replica exchange).

    The pairs :math:`(k, k+1)` with :math:`k \\equiv` ``parity`` (mod 2) are disjoint; each is
    swapped independently with probability :func:`swap_acceptance` :math:`a_k`. Alternating
    ``parity`` between rounds (even pairs, odd pairs, ...) lets every replica travel the whole
    ladder. Returns ``(perm, accept)``: the new state at slot :math:`k` is the old state at
    slot ``perm[k]`` (apply it to states, energies and replica ids alike), and ``accept`` holds
    :math:`a_k` for every pair, attempted or not.
    """
    energies = jnp.asarray(energies)
    return _replica_exchange(_random.key_words(key), energies, jnp.asarray(betas, energies.dtype), parity)


# ----------------------------------------------------------------------------- the kernel
class TemperedGibbsState(NamedTuple):
    """State of :class:`TemperedGibbs` for one chain (a leading chain axis is added to every
    field under ``chain_method="vectorized"``). ``n`` is the number of temperatures.

    - **i** - iteration counter; the swap round after sweep ``i`` tries the pairs
      ``(k, k+1)`` with ``k ≡ i (mod 2)``.
    - **x** - ``int8`` units of every temperature slot, shape ``(n,) + event_shape``;
      ``x[k]`` is at ``temperatures[k]`` (``x[0]`` at the target temperature).
    - **z** - the sample (``sample_field``): ``x[0]``, or the energy of ``x[0]`` when the
      kernel was built with ``store_states=False``.
    - **energy** - :math:`E(x_0)`, energy of the target-temperature state.
    - **magnetization** - mean unit value of ``x[0]`` (mean spin, or fraction of units on).
    - **energies** - :math:`E(x_k)` at every slot, shape ``(n,)``.
    - **swap_accept** - Metropolis probability :math:`\\min(1, e^{(\\beta_k-\\beta_{k+1})(E_k-E_{k+1})})`
      of every neighbouring pair, shape ``(n - 1,)``, evaluated after each sweep for all pairs
      (including those not attempted in that round).
    - **replica_index** - ``int32`` id of the replica at each slot, shape ``(n,)``; replicas are
      numbered by their starting slot (used to count round trips along the ladder).
    - **mean_swap_accept** - running mean of ``swap_accept`` since the start (progress bar).
    - **rng_key** - random key; replaced when resuming from ``post_warmup_state``.
    """

    i: Any
    x: Any
    z: Any
    energy: Any
    magnetization: Any
    energies: Any
    swap_accept: Any
    replica_index: Any
    mean_swap_accept: Any
    rng_key: Any


def _check_temperatures(temperature, temperatures) -> np.ndarray:
    if temperature is not None and temperatures is not None:
        raise ValueError(
            "pass either `temperature` (one temperature: plain heat-bath Gibbs) or "
            "`temperatures` (a ladder, e.g. ebm.geometric_ladder(t_min, t_max, n): replica "
            "exchange), not both"
        )
    if temperatures is None:
        t = 1.0 if temperature is None else temperature
        if np.ndim(t) != 0:
            raise ValueError(
                f"`temperature` must be a scalar; got shape {np.shape(t)} "
                "(use `temperatures=` for a ladder)"
            )
        check_temperature(t, "temperature")
        return np.asarray([float(t)])
    t = np.asarray(temperatures, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`temperatures` must be a non-empty 1-D ladder; got shape {t.shape}")
    check_temperature(t, "temperatures")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError(
            "`temperatures` must be strictly increasing, target (lowest) temperature first; "
            f"got {t.tolist()}"
        )
    return t


class TemperedGibbs(CachedFnKernel):
    """Heat-bath block Gibbs on a discrete model, optionally with replica exchange.

    ``TemperedGibbs(model, temperature=1.0)`` samples :math:`p(x) \\propto e^{-E(x)/T}` by
    systematic block sweeps (:func:`gibbs_sweep`). ``TemperedGibbs(model,
    temperatures=ladder)`` runs one replica per temperature :math:`T_0 < T_1 < \\dots` and
    after every sweep proposes swaps between neighbouring temperatures
    (:func:`replica_exchange`, even and odd pairs alternately). The samples are the states at
    :math:`T_0`, the target.

    ``store_states=False`` makes the sample field the target energy instead of the state, so
    that collecting ``energy``/``magnetization`` costs a few bytes per draw. Extra fields for
    ``MCMC.run(extra_fields=...)``: ``"energy"``, ``"magnetization"``, ``"swap_accept"``,
    ``"replica_index"``, ``"energies"`` and ``"x"`` (every slot's state); see
    :class:`TemperedGibbsState`. ``init_params`` gives starting units per chain, of shape
    ``event_shape`` (every temperature) or ``(n_temperatures,) + event_shape``.

    **Example**::

        lattice = ebm.Ising.square_lattice(32)
        kernel = ebm.TemperedGibbs(lattice, temperatures=ebm.geometric_ladder(1.8, 3.5, 8))
        mcmc = MCMC(kernel, num_warmup=500, num_samples=2000, num_chains=4, chain_method="vectorized")
        mcmc.run(jax.random.key(0), extra_fields=("energy", "magnetization", "swap_accept"))
    """

    _cached_fns = ("_sample_fn", "_init_fn", "_scan_fn")

    def __init__(self, model, temperature=None, temperatures=None, *, store_states: bool = True):
        if not isinstance(model, DiscreteModel):
            raise ValueError(
                "`model` must be a discrete model (Ising, LatticeIsing, SparseIsing, "
                f"BoltzmannMachine or RBM); got {type(model).__name__}. Continuous models are "
                "sampled with SGLD or CyclicAnnealing."
            )
        self._model = model
        self._temperatures = _check_temperatures(temperature, temperatures)
        self._store_states = bool(store_states)
        self._sample_fn = None
        self._init_fn = None
        self._scan_fn = None

    # -- properties read by MCMC and the diagnostics ------------------------------
    @property
    def model(self):
        return self._model

    @property
    def temperatures(self) -> np.ndarray:
        """The ladder (float64), target temperature first; one entry without a ladder."""
        return self._temperatures.copy()

    @property
    def num_temperatures(self) -> int:
        return int(self._temperatures.size)

    @property
    def store_states(self) -> bool:
        return self._store_states

    @property
    def sample_field(self):
        return "z"

    @property
    def default_fields(self):
        return ("z",)

    def get_diagnostics_str(self, state):
        msg = f"energy {float(np.mean(np.asarray(state.energy))):.5g}"
        if self.num_temperatures > 1:
            msg += f", swap acc. {float(np.mean(np.asarray(state.mean_swap_accept))):.2f}"
        return msg

    # -- init ---------------------------------------------------------------------
    def _initial_units(self, init_params, num_chains):
        model, n = self._model, self.num_temperatures
        x = jnp.asarray(init_params)
        model.validate_state(x, "init_params")
        event = tuple(model.event_shape)
        lead = tuple(x.shape[: x.ndim - len(event)])
        chains = () if num_chains is None else (num_chains,)
        if lead not in (chains, chains + (n,)):
            where = "" if num_chains is None else f"a leading axis of {num_chains} chains, then "
            raise ValueError(
                f"`init_params` must have shape {chains + event} (one start for every "
                f"temperature) or {chains + (n,) + event} (one per temperature), i.e. {where}"
                f"the optional temperature axis and the state shape {event}; got {tuple(x.shape)}"
            )
        if lead == chains:
            x = jnp.expand_dims(x, len(chains))
        return jnp.broadcast_to(x, chains + (n,) + event).astype(model.state_dtype)

    def _init_one(self, rng_key, x):
        model, n = self._model, self.num_temperatures
        if x is None:  # uniformly random units, from a Threefry stream the sweeps never use
            words = _random.split_key(rng_key, 3)[1][2]
            x = uniform_units(words, 0, (n,) + tuple(model.event_shape), model.unit_values, model.state_dtype)
        energies = model.energy(x)
        dtype = energies.dtype
        return TemperedGibbsState(
            i=jnp.zeros((), jnp.int32),
            x=x,
            z=x[0] if self._store_states else energies[0],
            energy=energies[0],
            magnetization=_magnetization(model, x[0], dtype),
            energies=energies,
            swap_accept=jnp.zeros((n - 1,), dtype),
            replica_index=jnp.arange(n, dtype=jnp.int32),
            mean_swap_accept=jnp.zeros((n - 1,), dtype),
            rng_key=rng_key,
        )

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):
        """Initial state: ``init_params`` (validated) or a uniformly random state per replica.

        ``rng_key`` is one key, or a batch of keys under ``chain_method="vectorized"``
        (then ``init_params`` carries a leading chain axis).
        """
        batched = not is_prng_key(rng_key)
        num_chains = jnp.shape(rng_key)[0] if batched else None
        x = None if init_params is None else self._initial_units(init_params, num_chains)
        self._sample_fn = self.sample
        if self._init_fn is None:  # compiled once per kernel: (one chain, a batch of chains)
            self._init_fn = (jax.jit(self._init_one), jax.jit(jax.vmap(self._init_one)))
        return self._init_fn[batched](rng_key, x)

    # -- one step -----------------------------------------------------------------
    def _sample_one(self, state, barrier):
        model, n = self._model, self.num_temperatures
        dtype = state.energies.dtype
        betas = jnp.asarray(1.0 / self._temperatures, dtype)
        rng_key, words = _random.split_key(state.rng_key, 2)
        x, energies, magnetizations = _sweep(words[0], model, state.x, betas, barrier)
        energies, magnetizations = energies.astype(dtype), magnetizations.astype(dtype)
        replica_index, accept = state.replica_index, state.swap_accept
        if n > 1:
            perm, accept = _replica_exchange(words[1], energies, betas, state.i % 2)
            x, energies, magnetizations = x[perm], energies[perm], magnetizations[perm]
            replica_index = replica_index[perm]
        count = (state.i + 1).astype(dtype)
        return TemperedGibbsState(
            i=state.i + 1,
            x=x,
            z=x[0] if self._store_states else energies[0],
            energy=energies[0],
            magnetization=magnetizations[0],
            energies=energies,
            swap_accept=accept,
            replica_index=replica_index,
            mean_swap_accept=state.mean_swap_accept + (accept - state.mean_swap_accept) / count,
            rng_key=rng_key,
        )

    def sample(self, state, model_args=(), model_kwargs=None):
        """One sweep of every replica, then one round of swaps (batched states: every chain)."""
        # The CPU lattice sweep's fusion barrier (see ._lattice.sweep) needs a predicate that
        # is always true, unknown to the compiler and not batched over chains: i | 1 is odd.
        batched = jnp.ndim(state.i) > 0
        barrier = None
        if jax.default_backend() == "cpu":
            barrier = ((state.i[0] if batched else state.i) | 1) != 0
        if not batched:
            return self._sample_one(state, barrier)
        return jax.vmap(self._sample_one, (0, None))(state, barrier)

    # -- the kernel's own loop ----------------------------------------------------
    def _scan(self, state, num_steps, fields):
        def body(s, _):
            s = self.sample(s)
            return s, tuple(getattr(s, f) for f in fields)

        last, traces = lax.scan(body, state, None, length=num_steps)
        return last, dict(zip(fields, traces))

    def scan(self, state, num_steps: int, fields=("energy", "magnetization")):
        """Run ``num_steps`` steps from ``state`` in one jitted ``lax.scan``, outside ``MCMC``.

        Returns ``(last_state, traces)`` with ``traces[f]`` of shape ``(num_steps,) + shape``
        of field ``f`` (after the chain axis of a vectorized state). Handy for benchmarks and
        for custom loops; ``MCMC`` does the same plus its own bookkeeping.
        """
        if self._scan_fn is None:
            self._scan_fn = jax.jit(self._scan, static_argnums=(1, 2))
        return self._scan_fn(state, int(num_steps), tuple(fields))
