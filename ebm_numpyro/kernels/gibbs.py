"""Heat-bath block Gibbs with optional replica exchange, as a native NumPyro kernel.

The mathematics lives in small pure functions (BlackJAX's shape: a carried state, a
returned info):

* :func:`~ebm_numpyro.kernels.heat_bath.sweep` - one systematic heat-bath sweep over a
  model's blocks (the one implementation shared with the learning code);
* :func:`swap_acceptance` / :func:`replica_exchange` - the parallel-tempering swap move;
* :func:`tempered_gibbs_step` - ``(key, ReplicaState, model, betas, parity) ->
  (ReplicaState, ReplicaInfo)``: one sweep of every replica, then one round of swaps.

:class:`TemperedGibbs` is a thin :class:`numpyro.infer.mcmc.MCMCKernel` over
:func:`tempered_gibbs_step` (the structure of ``numpyro/infer/sa.py``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import check_temperature
from ..models import DiscreteModel
from ..potentials import Potential
from ..schedules import as_schedule, check_schedule
from . import _lattice, _random
from ._base import EBMKernel, OutputLayout, state_name
from . import model_gibbs
from .heat_bath import metropolis_from_words, sweep, uniform_units

__all__ = [
    "swap_acceptance",
    "replica_exchange",
    "ReplicaState",
    "ReplicaInfo",
    "tempered_gibbs_step",
    "model_gibbs_step",
    "TemperedGibbsState",
    "LatticeGibbsState",
    "TemperedGibbs",
    "AUTO_STORE_UNITS",
]

#: With ``store_states=None`` the states are kept per draw only up to this many units.
AUTO_STORE_UNITS = 256


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


def _replica_exchange(words, energies, betas, parity):
    n = energies.shape[-1]
    attempted = (jnp.arange(n - 1) % 2) == parity
    swap = attempted & metropolis_from_words(words, 0, _log_swap_ratio(energies, betas))
    no = jnp.zeros(swap.shape[:-1] + (1,), bool)
    from_above = jnp.concatenate([swap, no], axis=-1)  # slot k takes the replica of k + 1
    from_below = jnp.concatenate([no, swap], axis=-1)  # slot k takes the replica of k - 1
    perm = jnp.arange(n) + from_above.astype(jnp.int32) - from_below.astype(jnp.int32)
    return perm, swap_acceptance(energies, betas)


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


# ----------------------------------------------------------------------------- the step
class ReplicaState(NamedTuple):
    """What :func:`tempered_gibbs_step` carries, for ``n`` temperature slots.

    - **x** - units of every slot, shape ``(n,) + event_shape``; ``x[0]`` is at the target.
    - **energies** - :math:`E(x_k)`, shape ``(n,)``.
    - **replica_index** - ``int32`` id of the replica at each slot (numbered by starting slot).
    """

    x: Any
    energies: Any
    replica_index: Any


class ReplicaInfo(NamedTuple):
    """Per-step diagnostics of :func:`tempered_gibbs_step` (not carried).

    - **magnetizations** - mean unit value of every slot's state, shape ``(n,)``.
    - **swap_accept** - :func:`swap_acceptance` of every neighbouring pair after the sweep,
      shape ``(n - 1,)`` (attempted or not).
    """

    magnetizations: Any
    swap_accept: Any


def tempered_gibbs_step(words, state: ReplicaState, model, betas, parity, barrier=None):
    """One heat-bath sweep of every slot at its :math:`\\beta_k`, then swaps of the pairs
    :math:`(k, k+1)`, :math:`k \\equiv` ``parity`` (mod 2) (:func:`replica_exchange`).

    ``words`` is a ``(2, 2)`` array of Threefry key words (sweep, swaps). The sweep leaves
    every :math:`p_k(x) \\propto e^{-\\beta_k E(x)}` invariant and the swaps leave their
    product invariant. ``barrier`` is the CPU fusion barrier of the lattice path
    (:func:`ebm_numpyro.kernels.heat_bath.sweep`). Returns ``(ReplicaState, ReplicaInfo)``.
    """
    return _replica_step(sweep, words, state, model, betas, parity, barrier)


def _replica_step(sweep_fn, words, state, model, betas, parity, barrier):
    """:func:`tempered_gibbs_step` with the sweep ``sweep_fn`` (the units' layout is its own)."""
    dtype = state.energies.dtype
    x, energies, mags = sweep_fn(words[0], model, state.x, betas, barrier)
    energies, mags = energies.astype(dtype), mags.astype(dtype)
    replica_index = state.replica_index
    if betas.shape[-1] > 1:
        perm, accept = _replica_exchange(words[1], energies, betas, parity)
        x, energies, mags, replica_index = x[perm], energies[perm], mags[perm], replica_index[perm]
    else:
        accept = jnp.zeros((0,), dtype)
    return ReplicaState(x, energies, replica_index), ReplicaInfo(mags, accept)


def model_gibbs_step(words, state, plan, target, betas, parity):
    """:func:`tempered_gibbs_step` on the discrete sites of a NumPyro model.

    ``state.x`` maps site names to values of every slot, ``state.energies`` holds
    :math:`-\\log p_t` (the tempered part of the log joint) of every slot, ``plan`` and
    ``target = (log_density, site_model_at)`` come from :mod:`.model_gibbs`. One sweep of
    :func:`.model_gibbs.plan_sweep` leaves every :math:`p_k \\propto p_t^{\\beta_k} p_u` invariant;
    the swaps use the tempered energies. Returns ``(ReplicaState, (untempered energies, swap_accept))``.
    """
    log_density, site_model_at = target
    x = model_gibbs.plan_sweep(plan, log_density, words[0], state.x, betas,
                               site_model_at(model_gibbs.first_slot(state.x)))
    t, u = jax.vmap(log_density)(x)
    dtype = state.energies.dtype
    energies, rest = (-t).astype(dtype), (-u).astype(dtype)
    replica_index = state.replica_index
    if betas.shape[-1] > 1:
        perm, accept = _replica_exchange(words[1], energies, betas, parity)
        x = jax.tree.map(lambda a: a[perm], x)
        energies, rest, replica_index = energies[perm], rest[perm], replica_index[perm]
    else:
        accept = jnp.zeros((0,), dtype)
    return ReplicaState(x, energies, replica_index), (rest, accept)


# ----------------------------------------------------------------------------- the kernel
class TemperedGibbsState(NamedTuple):
    """State of :class:`TemperedGibbs` for one chain (a leading chain axis is added to every
    field under ``chain_method="vectorized"``). ``n`` is the number of temperatures.

    - **i** - iteration counter; the swap round after sweep ``i`` tries the pairs
      ``(k, k+1)`` with ``k ≡ i (mod 2)``; a temperature schedule is evaluated at ``i``.
    - **x** - units of every temperature slot, shape ``(n,) + event_shape`` (``x[0]`` at the target).
    - **z** - the sample (``sample_field``): a dict with ``physical_energy`` and
      ``magnetization`` of the target state, plus the state itself under ``spins`` (±1) or
      ``units`` ({0,1}) when states are stored.
    - **potential_energy** - NumPyro's :math:`U/T` of the target state, :math:`E(x_0)/T_0`
      (ArviZ reports ``lp = -potential_energy``).
    - **physical_energy** - :math:`E(x_0)`; **magnetization** - mean unit value of ``x[0]``.
    - **energies** - :math:`E(x_k)` of every slot; **replica_index** - replica id of every slot.
    - **swap_accept** - :func:`swap_acceptance` of every pair after the last sweep, shape ``(n - 1,)``.
    - **mean_swap_accept** - running mean of ``swap_accept`` (progress bar).
    - **rng_key** - random key; replaced when resuming from ``post_warmup_state``.
    """

    i: Any
    x: Any
    z: Any
    potential_energy: Any
    physical_energy: Any
    magnetization: Any
    energies: Any
    replica_index: Any
    swap_accept: Any
    mean_swap_accept: Any
    rng_key: Any


class LatticeGibbsState(TemperedGibbsState):
    """:class:`TemperedGibbsState` on a periodic lattice with even sides, where the kernel carries
    the units in the checkerboard layout of its fast sweep (shape ``(n, 2, rows, cols/2)``,
    ``ebm_numpyro.kernels._lattice.to_packed``) so that no sweep re-arranges them. The field
    ``x`` (an extra field, ``last_state.x``) reads them back in the natural ``(n, rows, cols)``
    layout; :attr:`packed_x` is what the kernel carries."""

    __slots__ = ()

    @property
    def x(self):
        return _lattice.from_packed(self.packed_x)

    @property
    def packed_x(self):
        return tuple.__getitem__(self, 1)


def _carried_units(state):
    """The units as the kernel carries them (packed on lattices, see :class:`LatticeGibbsState`)."""
    return tuple.__getitem__(state, 1)


def _check_ladder(temperature, temperatures):
    """``(ladder or None, schedule or None)`` from the two temperature arguments."""
    if temperature is not None and temperatures is not None:
        raise ValueError(
            "pass either `temperature` (a number or a schedule: plain heat-bath Gibbs) or "
            "`temperatures` (a ladder, e.g. ebm.geometric_ladder(t_min, t_max, n): replica "
            "exchange), not both"
        )
    if temperatures is None:
        t = 1.0 if temperature is None else temperature
        if callable(t):
            schedule = as_schedule(t, "temperature")
            check_schedule(schedule, "temperature")
            return None, schedule
        if np.ndim(t) != 0:
            raise ValueError(
                f"`temperature` must be a number or a schedule; got shape {np.shape(t)} "
                "(use `temperatures=` for a ladder)"
            )
        check_temperature(t, "temperature")
        return np.asarray([float(t)]), None
    t = np.asarray(temperatures, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`temperatures` must be a non-empty 1-D ladder; got shape {t.shape}")
    check_temperature(t, "temperatures")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError(
            "`temperatures` must be strictly increasing, target (lowest) temperature first; "
            f"got {t.tolist()}"
        )
    return t, None


class TemperedGibbs(EBMKernel):
    """Heat-bath block Gibbs on a discrete energy model, optionally with replica exchange.

    ``TemperedGibbs(potential_fn=ebm.potential(model), temperature=T)`` samples
    :math:`p(x) \\propto e^{-U(x)/T}` by systematic block sweeps (checkerboard on lattices,
    the two layers of an RBM, graph colours otherwise); ``temperature`` may also be a
    schedule ``t -> T`` (annealed Gibbs). ``temperatures=ladder`` runs one replica per
    temperature :math:`T_0 < T_1 < \\dots` and after every sweep proposes swaps between
    neighbouring temperatures (even and odd pairs alternately). The samples are the states at
    :math:`T_0`, the target. With :math:`U = E/T_U` (the potential's own temperature) the
    target is :math:`e^{-E/(T_U T_0)}`.

    :param potential_fn: an :class:`~ebm_numpyro.Potential` of a discrete model
        (``ebm.potential(ising)``), which gives the sampler the model's local fields.
    :param model: a NumPyro model whose latent sites are all discrete (``Bernoulli``,
        ``Categorical``, ``DiscreteUniform``, :class:`~ebm_numpyro.Boltzmann`, ...); observed
        sites may be of any kind. The conditionals are exact, from the model's own log joint
        (:mod:`ebm_numpyro.kernels.model_gibbs`): every unit is drawn from
        :math:`p_\\beta(x_i = v \\mid x_{-i}) \\propto p_t(x_{i\\to v})^{\\beta}\\, p_u(x_{i\\to v})`.
        An ``ebm.Boltzmann`` site uses its energy model's local fields.
    :param temper: with ``model=``, which part of the log joint the ladder tempers:
        ``"all"`` (default: the whole log joint, :math:`p_t = p(x, y)`, :math:`p_u = 1`) or
        ``"prior"`` (the latent sites only; the observed sites and ``numpyro.factor`` terms,
        :math:`p_u`, stay at temperature 1 on every rung). The target (first) temperature
        should then be 1 to sample the posterior.
    :param blocks: with ``model=``, how a sweep groups the units. ``None`` (default, always
        correct): units are drawn together only where the model's log joint proves them
        conditionally independent (:mod:`ebm_numpyro.kernels.model_gibbs`: the terms each
        element of the summed log densities depends on are read from the jaxpr and the units
        coloured, e.g. the checkerboard of an Ising prior written as a ``numpyro.factor``; a
        ``Boltzmann`` site by its energy model's colour classes when the rest of the log joint
        does not couple them), every other unit on its own, in order; ``"model"``:
        ``Boltzmann`` sites always by their colour classes (valid when the rest of the log
        joint does not couple two units of one colour, e.g. an elementwise likelihood); or a
        list of blocks, each a dict ``{site name: flat unit indices}``, of conditionally
        independent units drawn together, covering every unit exactly once.
    :param store_states: keep the target state in every draw (``True``), never (``False``:
        only ``physical_energy`` and ``magnetization``, a few bytes per draw), or ``None``
        (default): keep it when the model has at most ``AUTO_STORE_UNITS`` (256) units. Use
        ``MCMC(thinning=k)`` to keep every k-th draw, or ``extra_fields=("x",)`` for every slot.

    Samples (``mcmc.get_samples()``): a dict with ``physical_energy`` (:math:`E(x_0)`),
    ``magnetization`` and, when stored, ``spins`` / ``units``; with ``model=`` the values
    of the latent sites and of the model's ``numpyro.deterministic`` sites under their names
    (``physical_energy`` is then :math:`-\\log p(x_0, y)`,
    an extra field). Extra fields for
    ``MCMC.run(extra_fields=...)``: ``potential_energy``, ``physical_energy``,
    ``magnetization``, ``energies``, ``swap_accept``, ``replica_index``, ``x``
    (see :class:`TemperedGibbsState`). ``init_params`` gives starting units per chain, of
    shape ``event_shape`` (every temperature) or ``(n_temperatures,) + event_shape``; without
    it every slot starts uniformly at random.

    **Example**::

        lattice = ebm.Ising.square_lattice(32)
        kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice),
                                   temperatures=ebm.geometric_ladder(1.8, 3.5, 8))
        mcmc = MCMC(kernel, num_warmup=500, num_samples=2000, num_chains=4, chain_method="vectorized")
        mcmc.run(jax.random.key(0), extra_fields=("swap_accept", "replica_index"))
        mcmc.print_summary()
    """

    _cached_fns = EBMKernel._cached_fns + ("_scan_fn",)

    def __init__(self, model=None, potential_fn=None, *, temperature=None, temperatures=None,
                 store_states: bool | None = None, blocks=None, temper: str = "all"):
        super().__init__(model, potential_fn)
        self._temperatures, self._schedule = _check_ladder(temperature, temperatures)
        self._scan_fn = None
        self._blocks, self._temper, self._plan, self._deterministic = blocks, temper, None, ()
        self._packed = False
        if model is not None:
            if temper not in ("all", "prior"):
                raise ValueError(f"`temper` must be 'all' (the whole log joint) or 'prior'; got {temper!r}")
            if not (blocks is None or blocks == "model" or isinstance(blocks, (list, tuple))):
                raise ValueError(f"`blocks` must be None, 'model' or a list of dicts {{site: indices}}; got {blocks!r}")
            self._store_states = True
            return
        if blocks is not None or temper != "all":
            raise ValueError("`blocks` and `temper` apply to TemperedGibbs(model=...) only")
        energy_model = self.energy_model
        if not isinstance(energy_model, DiscreteModel):
            raise ValueError(
                "TemperedGibbs: `potential_fn` must be `ebm.potential(model)` of a discrete model "
                "(Ising, LatticeIsing, SparseIsing, BoltzmannMachine, RBM, Potts or DiscreteEnergy); got "
                f"{type(energy_model if isinstance(potential_fn, Potential) else potential_fn).__name__}. "
                "Continuous models are sampled with SGLD or CyclicAnnealing."
            )
        if store_states not in (None, True, False):
            raise ValueError(f"`store_states` must be True, False or None (automatic); got {store_states!r}")
        if store_states is None:
            store_states = energy_model.num_units <= AUTO_STORE_UNITS
        self._store_states = bool(store_states)
        self._packed = _lattice.supports(energy_model)  # the fast lattice sweep's own layout

    # -- properties read by MCMC and the diagnostics ------------------------------------
    @property
    def temperatures(self) -> np.ndarray:
        """The ladder (float64), target temperature first; one entry without a ladder (the
        schedule's ``base_temperature`` for a schedule)."""
        if self._schedule is not None:
            return np.asarray([self._schedule.base_temperature or np.nan])
        return self._temperatures.copy()

    @property
    def num_temperatures(self) -> int:
        return 1 if self._schedule is not None else int(self._temperatures.size)

    @property
    def store_states(self) -> bool:
        return self._store_states

    @property
    def state_name(self) -> str:
        """Name of the state in the samples: ``spins`` (±1 units) or ``units`` ({0,1});
        ``None`` with ``model=`` (the samples are the model's sites)."""
        return None if self._model is not None else state_name(self.energy_model)

    @property
    def default_fields(self):
        return ("z",)

    def get_diagnostics_str(self, state):
        msg = f"E {float(np.mean(np.asarray(state.physical_energy))):.5g}"
        if self.num_temperatures > 1:
            msg += f", swap acc. {float(np.mean(np.asarray(state.mean_swap_accept))):.2f}"
        return msg

    def output_layout(self) -> OutputLayout:
        base = super().output_layout()
        event = base.dims[self.state_name] if self._model is None else None
        temps = self.temperatures * self.potential_temperature
        dims = {
            **base.dims,
            **({"x": ("temperature",) + event} if event is not None else {}),
            "energies": ("temperature",),
            "replica_index": ("temperature",),
            "swap_accept": ("pair",),
        }
        coords = {
            **base.coords,
            "temperature": temps,
            "pair": np.arange(temps.size - 1),
            "temperature_low": ("pair", temps[:-1]),
            "temperature_high": ("pair", temps[1:]),
        }
        return OutputLayout(dims, coords, {"temperature": float(temps[0])}, base.sample_name)

    # -- init ---------------------------------------------------------------------------
    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):
        """Initial state: ``init_params`` (validated) or uniformly random units per slot.

        ``rng_key`` is one key, or a batch of keys under ``chain_method="vectorized"``
        (then ``init_params`` carries a leading chain axis).
        """
        if init_params is None:  # the base class asks for init_params with a potential_fn
            init_params = _RANDOM_START
        return super().init(rng_key, num_warmup, init_params, model_args, model_kwargs)

    def _initialize_model(self, rng_key, model_args, model_kwargs):
        """With ``model=``: find the discrete sites and build the sweep plan (once per init)."""
        typed = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        key = rng_key[0] if rng_key.ndim > (0 if typed else 1) else rng_key  # one key of a batch
        sites, trace = model_gibbs.find_sites(self._model, model_args, model_kwargs, key=key)
        self._plan = model_gibbs.make_plan(self._model, model_args, model_kwargs, sites, trace,
                                           blocks=self._blocks, temper=self._temper)
        self._deterministic = model_gibbs.deterministic_sites(trace)
        return _RANDOM_START

    def postprocess_fn(self, args, kwargs):
        """With ``model=``: the samples plus the model's ``numpyro.deterministic`` sites."""
        if self._model is None or not self._deterministic:
            return super().postprocess_fn(args, kwargs)
        return model_gibbs.deterministic_fn(self._model, args, kwargs, self._deterministic)

    def _potential(self, model_args, model_kwargs):
        if self._model is None:
            return super()._potential(model_args, model_kwargs)
        return model_gibbs.model_target(self._model, model_args, model_kwargs, None, self._temper)

    def _prepare_init_params(self, init_params, vectorized):
        if init_params is _RANDOM_START:
            return None
        if self._model is not None:
            return self._prepare_site_values(init_params, vectorized)
        model, n = self.energy_model, self.num_temperatures
        x = jnp.asarray(init_params)
        model.validate_state(x, "init_params")
        event = tuple(model.event_shape)
        lead = tuple(x.shape[: x.ndim - len(event)])
        chains = lead[:1] if vectorized else ()
        if lead not in (chains, chains + (n,)):
            where = "a leading chain axis, then " if vectorized else ""
            raise ValueError(
                f"`init_params` must have shape {chains + event} (one start for every "
                f"temperature) or {chains + (n,) + event} (one per temperature), i.e. {where}"
                f"the optional temperature axis and the state shape {event}; got {tuple(x.shape)}"
            )
        if lead == chains:
            x = jnp.expand_dims(x, len(chains))
        return jnp.broadcast_to(x, chains + (n,) + event).astype(model.state_dtype)

    def _prepare_site_values(self, init_params, vectorized):
        """``init_params`` with ``model=``: a dict of site values (leading chain axis when
        vectorized), broadcast to every temperature slot."""
        n = self.num_temperatures
        if not isinstance(init_params, dict) or set(init_params) != {s.name for s in self._plan.sites}:
            raise ValueError(
                "`init_params` of TemperedGibbs(model=...) must be a dict with the values of every latent "
                f"discrete site {sorted(s.name for s in self._plan.sites)}; got "
                f"{sorted(init_params) if isinstance(init_params, dict) else type(init_params).__name__}"
            )
        out = {}
        for site in self._plan.sites:
            v = jnp.asarray(init_params[site.name])
            lead = tuple(v.shape[: v.ndim - len(site.shape)])
            if v.shape[v.ndim - len(site.shape):] != site.shape or len(lead) != int(vectorized):
                raise ValueError(f"`init_params[{site.name!r}]` must have shape "
                                 f"{('(chains,) + ' if vectorized else '')}{site.shape}; got {tuple(v.shape)}")
            from .._checks import check_units

            check_units(v, site.values, f"init_params[{site.name!r}]")
            v = jnp.expand_dims(v, len(lead))
            out[site.name] = jnp.broadcast_to(v, lead + (n,) + site.shape).astype(site.dtype)
        return out

    def _betas(self, i, dtype):
        scale = self.potential_temperature
        if self._schedule is not None:
            return (1.0 / (scale * jnp.asarray(self._schedule(i), dtype)))[None]
        return jnp.asarray(1.0 / (scale * self._temperatures), dtype)

    def _observe(self, i, replicas, mags, accept, mean_accept, rng_key):
        """The kernel state around a :class:`ReplicaState` (samples and extra fields)."""
        e0 = replicas.energies[0]
        z = {"physical_energy": e0, "magnetization": mags[0]}
        if self._store_states:
            z[self.state_name] = _lattice.from_packed(replicas.x[0]) if self._packed else replicas.x[0]
        beta0 = self._betas(jnp.maximum(i - 1, 0), e0.dtype)[0]
        return (LatticeGibbsState if self._packed else TemperedGibbsState)(
            i, replicas.x, z, e0 * beta0, e0, mags[0], replicas.energies, replicas.replica_index,
            accept, mean_accept, rng_key,
        )

    def _observe_model(self, i, replicas, rest, accept, mean_accept, rng_key):
        """The kernel state with ``model=``: samples are the site values of slot 0."""
        e0, r0 = replicas.energies[0], rest[0]
        z = model_gibbs.first_slot(replicas.x)
        beta0 = self._betas(jnp.maximum(i - 1, 0), e0.dtype)[0]
        units = [jnp.ravel(v).astype(e0.dtype) for v in z.values()]
        mag = jnp.mean(jnp.concatenate(units))
        return TemperedGibbsState(i, replicas.x, z, e0 * beta0 + r0, e0 + r0, mag, replicas.energies,
                                  replicas.replica_index, accept, mean_accept, rng_key)

    def _init_chain_model(self, rng_key, x, potential):
        n = self.num_temperatures
        if x is None:
            words = _random.split_key(rng_key, 3)[1][2]
            x = model_gibbs.uniform_start(words, self._plan, n)
        log_density = potential[0]
        t, u = jax.vmap(log_density)(x)
        dtype = jnp.result_type(float)
        energies, rest = (-t).astype(dtype), (-u).astype(dtype)
        replicas = ReplicaState(x, energies, jnp.arange(n, dtype=jnp.int32))
        zeros = jnp.zeros((n - 1,), dtype)
        return self._observe_model(jnp.zeros((), jnp.int32), replicas, rest, zeros, zeros, rng_key)

    def _init_chain(self, rng_key, x, potential):
        if self._model is not None:
            return self._init_chain_model(rng_key, x, potential)
        model, n = self.energy_model, self.num_temperatures
        if x is None:  # uniformly random units, from a Threefry stream the sweeps never use
            words = _random.split_key(rng_key, 3)[1][2]
            shape = (n,) + tuple(model.event_shape)
            if len(model.unit_values) > 2:  # q-state units (an initial state: bits % q is fine)
                bits = _random.uniform_bits(words, shape, 0) % jnp.uint32(len(model.unit_values))
                x = jnp.asarray(model.unit_values, model.state_dtype)[bits.astype(jnp.int32)]
            else:
                x = uniform_units(words, 0, shape, model.unit_values, model.state_dtype)
        energies = model.energy(x)
        dtype = energies.dtype
        mags = jnp.mean(x.reshape(n, -1).astype(dtype), axis=-1)
        if self._packed:
            x = _lattice.to_packed(x)
        replicas = ReplicaState(x, energies, jnp.arange(n, dtype=jnp.int32))
        zeros = jnp.zeros((n - 1,), dtype)
        return self._observe(jnp.zeros((), jnp.int32), replicas, mags, zeros, zeros, rng_key)

    # -- one step -----------------------------------------------------------------------
    def _step_chain(self, state, potential, barrier=None):
        rng_key, words = _random.split_key(state.rng_key, 2)
        betas = self._betas(state.i, state.energies.dtype)
        if self._model is not None:
            carried = ReplicaState(state.x, state.energies, state.replica_index)
            replicas, (rest, accept) = model_gibbs_step(words, carried, self._plan, potential, betas, state.i % 2)
            count = (state.i + 1).astype(state.energies.dtype)
            mean_accept = state.mean_swap_accept + (accept - state.mean_swap_accept) / count
            return self._observe_model(state.i + 1, replicas, rest, accept, mean_accept, rng_key)
        carried = ReplicaState(_carried_units(state), state.energies, state.replica_index)
        sweep_fn = _lattice.sweep_packed if self._packed else sweep  # q-state units: sweep's softmax heat bath
        replicas, info = _replica_step(sweep_fn, words, carried, self.energy_model, betas, state.i % 2, barrier)
        count = (state.i + 1).astype(state.energies.dtype)
        mean_accept = state.mean_swap_accept + (info.swap_accept - state.mean_swap_accept) / count
        return self._observe(state.i + 1, replicas, info.magnetizations, info.swap_accept, mean_accept, rng_key)

    def _sample(self, state, model_args, model_kwargs, vectorized):
        if self._model is not None:
            return super()._sample(state, model_args, model_kwargs, vectorized)
        # The CPU lattice sweep's fusion barrier (heat_bath.sweep) needs a predicate that is
        # always true, unknown to the compiler and not batched: i | 1 is odd.
        barrier = None
        if jax.default_backend() == "cpu":
            barrier = ((state.i[0] if vectorized else state.i) | 1) != 0
        if vectorized:
            return jax.vmap(lambda s: self._step_chain(s, None, barrier))(state)
        return self._step_chain(state, None, barrier)

    # -- the kernel's own loop ----------------------------------------------------------
    def _scan(self, state, num_steps, fields):
        def body(s, _):
            s = self.sample(s)
            return s, tuple(getattr(s, f) for f in fields)

        last, traces = lax.scan(body, state, None, length=num_steps)
        return last, dict(zip(fields, traces))

    def scan(self, state, num_steps: int, fields=("physical_energy", "magnetization")):
        """Run ``num_steps`` steps from ``state`` in one jitted ``lax.scan``, outside ``MCMC``.

        Returns ``(last_state, traces)`` with ``traces[f]`` of shape ``(num_steps,) + shape``
        of field ``f`` (after the chain axis of a vectorized state). Call ``init`` first.
        """
        if self._scan_fn is None:
            self._scan_fn = jax.jit(self._scan, static_argnums=(1, 2))
        return self._scan_fn(state, int(num_steps), tuple(fields))


_RANDOM_START = object()
