"""Beyond one device: chains, replicas and one large lattice spread over a device mesh.

Three ways to use more than one device, from the least to the most communication:

1. **Chains, through NumPyro.** ``MCMC(kernel, num_chains=k, chain_method="parallel")``
   runs the chains on ``k`` local devices (``jax.pmap``); the draws are those of
   ``chain_method="vectorized"`` (same key, same draws).

2. **Many chains (and ladder replicas) as one sharded array** (:func:`sample`). The chains'
   states are stacked along a leading ``chains`` axis, placed with
   ``NamedSharding(mesh, P("chains"))``, and advanced by the kernel's own jitted
   ``lax.scan`` (:meth:`~ebm_numpyro.TemperedGibbs.scan`): XLA partitions the batched sweep so
   that every device updates its own chains. Chains never talk to each other, so the only
   communication is a few scalars per step (the tie-break loop's "any tie left?" and the
   sweep counter). A second mesh axis ``replicas`` also shards the temperature ladder; then
   every swap round needs the energies of all replicas (``n`` numbers per chain, an
   all-gather) and moves whole configurations between the devices holding neighbouring
   temperatures (XLA gathers the configurations along the sharded axis): worth it only
   when one replica's sweep costs far more than sending its configuration (large lattices,
   few chains). Same key, same draws as ``MCMC(..., chain_method="vectorized")``.

3. **One lattice too large for a device, in slabs of rows** (:func:`lattice_sweeps`). The
   ``rows × cols`` periodic lattice is cut into ``D`` slabs of ``rows / D`` consecutive
   rows, one per device of a 1-D mesh (``jax.shard_map``). Each half sweep a device

   - receives the halo rows of the other colour from its two neighbours
     (``lax.ppermute``: the last row of the slab above, the first row of the slab below,
     ``cols / 2`` spins each),
   - computes its rows' neighbour sums and the exact heat-bath decisions of
     :mod:`ebm_numpyro.kernels.decisions` (the one sweep implementation, the ``rows`` form of the
     registry's lattice sweep, :data:`ebm_numpyro.kernels.sweeps.LATTICE`), drawing for every
     site the random bits of its *global* unit number,
   - and ``lax.psum``-reduces its spin and bond totals into the energy and magnetization.

   So the split chain is the undivided one: :func:`lattice_sweeps` gives bit for bit the
   draws of ``TemperedGibbs(potential_fn=ebm.potential(model), temperature=T)`` started from
   the same key, on any number of devices.

On several hosts, call ``jax.distributed.initialize()`` first: ``jax.devices()`` (which the
default meshes use) then lists every host's devices, and the same program runs on each host
(``examples/multihost_ising.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ._checks import check_int, check_temperature
from .models import DiscreteModel
from .kernels import streams, sweeps

__all__ = ["CHAINS", "REPLICAS", "ROWS", "make_mesh", "sample", "lattice_sweeps", "LatticeRun"]

#: mesh axis names understood by :func:`sample` and :func:`lattice_sweeps`
CHAINS, REPLICAS, ROWS = "chains", "replicas", "rows"
#: fields of :class:`~ebm_numpyro.kernels.TemperedGibbsState` with a temperature axis after the chain axis
_LADDER_FIELDS = ("x", "energies", "replica_index")


def make_mesh(axis_names=(CHAINS,), shape=None, devices=None) -> Mesh:
    """A :class:`jax.sharding.Mesh` over ``devices`` (default: ``jax.devices()``, every
    host's devices after ``jax.distributed.initialize``) with the given axis names; ``shape``
    defaults to all devices on the first axis and 1 on the others."""
    devices = np.asarray(jax.devices() if devices is None else devices, dtype=object).reshape(-1)
    axis_names = tuple(axis_names)
    if shape is None:
        shape = (devices.size,) + (1,) * (len(axis_names) - 1)
    shape = tuple(int(s) for s in shape)
    if len(shape) != len(axis_names) or int(np.prod(shape)) != devices.size:
        raise ValueError(f"`shape` {shape} must have one entry per axis name {axis_names} and "
                         f"multiply to the number of devices ({devices.size})")
    return Mesh(devices.reshape(shape), axis_names)


def _shard_map(f, mesh, in_specs, out_specs):
    """``jax.shard_map`` (JAX >= 0.7), else ``jax.experimental.shard_map.shard_map``."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs)
    from jax.experimental.shard_map import shard_map  # pragma: no cover - older JAX

    return shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs)


# ----------------------------------------------------------------------------- sharded chains
def _axis_size(mesh, name):
    return int(dict(zip(mesh.axis_names, mesh.devices.shape)).get(name, 1))


def _place(state, mesh):
    """Every leaf of a vectorized kernel state on ``mesh``: the chain axis on ``chains`` and,
    for the ladder fields, the temperature axis on ``replicas`` (when the mesh has one)."""
    ladder = REPLICAS in mesh.axis_names

    def put(name, leaf):
        leaf = jnp.asarray(leaf)
        if leaf.ndim == 0:
            return jax.device_put(leaf, NamedSharding(mesh, P()))
        spec = P(CHAINS, REPLICAS) if ladder and name in _LADDER_FIELDS else P(CHAINS)
        return jax.device_put(leaf, NamedSharding(mesh, spec))

    fields = getattr(state, "_fields", None)
    if fields is None:
        return jax.tree.map(lambda v: put(None, v), state)
    values = [jax.tree.map(lambda v, f=f: put(f, v), v) for f, v in zip(fields, tuple(state))]
    return type(state)(*values)


def sample(kernel, rng_key, num_chains: int, num_samples: int, *, mesh: Mesh | None = None,
           num_warmup: int = 0, thinning: int = 1, init_params=None,
           fields=("physical_energy", "magnetization")):
    """Run ``num_chains`` chains of ``kernel`` with the chain axis sharded over ``mesh``.

    The chains start as under ``MCMC(kernel, num_chains=num_chains,
    chain_method="vectorized")``: keys ``jax.random.split(rng_key, num_chains)``, one
    vectorized ``kernel.init``. The state is then placed with
    ``NamedSharding(mesh, P("chains"))`` (and ``P("chains", "replicas")`` on the ladder fields
    when ``mesh`` has a ``replicas`` axis), and ``num_warmup + num_samples`` steps run in the
    kernel's jitted ``lax.scan``, which XLA partitions over the devices. As in ``MCMC``,
    ``num_samples`` counts steps after the warm-up, of which ``num_samples // thinning`` are
    kept (every ``thinning``-th, the last one being the final state).

    ``mesh`` defaults to :func:`make_mesh` (all devices on ``chains``); ``num_chains`` must be
    a multiple of its ``chains`` size, and the number of temperatures of a multiple of its
    ``replicas`` size. ``fields`` are state fields of the kernel (``"physical_energy"``,
    ``"magnetization"``, ``"z"`` for the samples, ...).

    Returns ``(last_state, traces)``: ``traces[f]`` has shape ``(num_chains, num_samples //
    thinning) + field shape`` (as ``MCMC.get_extra_fields(group_by_chain=True)``), sharded over chains.
    The same key gives the same draws on any mesh.
    """
    num_chains = check_int(num_chains, "num_chains", 1)
    num_samples = check_int(num_samples, "num_samples", 1)
    num_warmup = check_int(num_warmup, "num_warmup", 0)
    thinning = check_int(thinning, "thinning", 1)
    mesh = make_mesh() if mesh is None else mesh
    if CHAINS not in mesh.axis_names or set(mesh.axis_names) - {CHAINS, REPLICAS}:
        raise ValueError(f"`mesh` must have a {CHAINS!r} axis and optionally a {REPLICAS!r} axis; "
                         f"got axes {mesh.axis_names}")
    devices = _axis_size(mesh, CHAINS)
    if num_chains % devices:
        raise ValueError(f"`num_chains` ({num_chains}) must be a multiple of the mesh's "
                         f"{CHAINS!r} axis size ({devices})")
    replicas = _axis_size(mesh, REPLICAS)
    n_temps = getattr(kernel, "num_temperatures", 1)
    if replicas > 1 and n_temps % replicas:
        raise ValueError(f"the kernel's number of temperatures ({n_temps}) must be a multiple of "
                         f"the mesh's {REPLICAS!r} axis size ({replicas})")
    if not hasattr(kernel, "scan"):
        raise ValueError(f"`kernel` must be one of the library's kernels (an ebm_numpyro.kernels.EBMKernel, whose "
                         f"`scan` runs the chains); got {type(kernel).__name__}")
    fields = tuple(fields)
    state = kernel.init(jax.random.split(rng_key, num_chains), num_warmup, init_params)
    state = _place(state, mesh)
    if num_warmup:
        state, _ = kernel.scan(state, num_warmup, ())
    state, traces = kernel.scan(state, num_samples, fields)
    keep = slice(num_samples % thinning + thinning - 1, None, thinning)  # NumPyro's fori_collect
    traces = jax.tree.map(lambda v: jnp.swapaxes(v[keep], 0, 1), traces)
    return state, traces


# ----------------------------------------------------------------------------- slabs
class LatticeRun(NamedTuple):
    """What :func:`lattice_sweeps` returns.

    - **x** - the final configuration, ``(rows, cols)`` ±1 ``int8``, sharded by rows.
    - **physical_energy** - :math:`E(x_t)` after every sweep, shape ``(num_sweeps,)``.
    - **magnetization** - mean spin after every sweep, shape ``(num_sweeps,)``.
    """

    x: jax.Array
    physical_energy: jax.Array
    magnetization: jax.Array


def _slab_axis(mesh, axis_name):
    if axis_name is None:
        if len(mesh.axis_names) != 1:
            raise ValueError(f"`axis_name` must name the mesh axis that splits the rows; the mesh "
                             f"has axes {mesh.axis_names}")
        axis_name = mesh.axis_names[0]
    if axis_name not in mesh.axis_names:
        raise ValueError(f"`axis_name` must be one of the mesh's axes {mesh.axis_names}; got {axis_name!r}")
    return axis_name


def _halo_exchange(axis, devices):
    """``y -> (above, below)`` for a slab's half lattice ``y`` (``(..., R, w)``): the last row
    of the slab above (device ``d - 1``) and the first row of the slab below (``d + 1``),
    periodic in the device index, by two ``lax.ppermute``."""
    down = [(j, (j + 1) % devices) for j in range(devices)]
    up = [(j, (j - 1) % devices) for j in range(devices)]

    def exchange(y):
        return lax.ppermute(y[..., -1:, :], axis, down), lax.ppermute(y[..., :1, :], axis, up)

    return exchange


def _slab_chain(model, key, x, beta, *, num_sweeps, axis, devices, random_start):
    """One device's part of :func:`lattice_sweeps` (inside ``shard_map``)."""
    rows, cols = model.rows, model.cols
    slab = rows // devices
    first_row = lax.axis_index(axis) * slab
    sweep = sweeps.sweep_for(model)
    key, _ = streams.chain_keys(key)  # the schedule of every kernel's init
    if random_start:  # uniform units from the start stream (as every discrete kernel's start)
        words = streams.start_words(key)
        shape = (1, slab, cols)  # natural layout: unit (i, j) of the whole lattice is i * cols + j
        index = (first_row.astype(jnp.uint32) + lax.broadcasted_iota(jnp.uint32, shape, 1)) * jnp.uint32(cols) \
            + lax.broadcasted_iota(jnp.uint32, shape, 2)
        x = streams.uniform_start(words, shape, tuple(model.unit_values), model.state_dtype, 0, index)
    else:
        x = x.reshape(1, slab, cols)
    p = sweep.to_layout(x)  # slabs start on even rows: local and global colours agree
    exchange = _halo_exchange(axis, devices)

    def step(carry, t):
        key, p = carry
        key, words = streams.step_words(key)  # the schedule of every kernel's step
        p, energy, mag = sweep.rows(words[0], model, p, beta, exchange=exchange, first_row=first_row,
                                    reduce=lambda v: lax.psum(v, axis))
        return (key, p), (energy[0], mag[0])

    (_, p), (energies, mags) = lax.scan(step, (key, p), jnp.arange(num_sweeps, dtype=jnp.int32))
    return sweep.from_layout(p)[0], energies, mags


def lattice_sweeps(model, rng_key, num_sweeps: int, temperature, *, mesh: Mesh | None = None,
                   x=None, axis_name: str | None = None) -> LatticeRun:
    """Heat-bath sweeps of one periodic lattice split into slabs of rows over a device mesh.

    The chain is that of ``TemperedGibbs(potential_fn=ebm.potential(model),
    temperature=temperature)`` started by ``init(rng_key, 0, init_params=x)`` and advanced
    ``num_sweeps`` steps: the same key gives the same spins, energies and magnetizations bit
    for bit, on any number of devices. Each sweep updates colour 0 then colour 1,

    .. math::  s_i \\leftarrow \\pm 1 \\text{ with probability } \\sigma(\\pm 2\\beta(J n_i + h)),

    with the exact decisions of :mod:`ebm_numpyro.kernels.heat_bath`. Device ``d`` of the mesh
    axis holds rows ``d R .. (d+1) R - 1``, :math:`R = \\text{rows}/D`, of both half lattices;
    each half sweep it exchanges one halo row with each neighbour (``lax.ppermute``) and the
    energy and magnetization totals are ``lax.psum``-reduced (module doc).

    :param model: an :class:`~ebm_numpyro.LatticeIsing` with even ``rows`` and ``cols``;
        ``rows`` must be a multiple of ``2 D`` (every slab an even number of rows).
    :param num_sweeps: number of sweeps (>= 1).
    :param temperature: a number > 0 (the chain samples :math:`e^{-E/T}`).
    :param mesh: a :class:`jax.sharding.Mesh`; default a 1-D mesh over ``jax.devices()``.
    :param x: optional start, ``(rows, cols)`` ±1 (a NumPy or a row-sharded JAX array);
        default uniformly random spins, drawn slab by slab on the devices (never whole on one).
    :param axis_name: the mesh axis that splits the rows (needed when the mesh has several).
    :returns: :class:`LatticeRun` ``(x, physical_energy, magnetization)``.
    """
    if not isinstance(model, DiscreteModel) or sweeps.sweep_for(model).rows is None:
        raise ValueError("`model` must be a model whose sweep runs on slabs of rows: an ebm.LatticeIsing "
                         f"(ebm.Ising.square_lattice) with even `rows` and `cols`; got {model!r}")
    num_sweeps = check_int(num_sweeps, "num_sweeps", 1)
    if np.ndim(temperature) != 0:
        raise ValueError(f"`temperature` must be a number; got shape {np.shape(temperature)}")
    check_temperature(temperature, "temperature")
    mesh = make_mesh((ROWS,)) if mesh is None else mesh
    axis = _slab_axis(mesh, axis_name)
    devices = _axis_size(mesh, axis)
    rows, cols = model.rows, model.cols
    if rows % (2 * devices):
        raise ValueError(f"`model.rows` ({rows}) must be a multiple of 2 x the mesh axis {axis!r} "
                         f"size ({devices}), so that every slab holds an even number of rows")
    if rows * cols // 2 >= 2**31:
        raise ValueError(f"at most 2^32 spins per lattice (random counters); got {rows} x {cols}")
    sharding = NamedSharding(mesh, P(axis, None))
    random_start = x is None
    if not random_start:
        if not isinstance(x, jax.Array) or x.is_fully_addressable:
            model.validate_state(x, "x")
        elif tuple(x.shape) != (rows, cols):
            raise ValueError(f"`x` must have shape {(rows, cols)}; got {tuple(x.shape)}")
        x = jax.device_put(jnp.asarray(x, jnp.int8) if not isinstance(x, jax.Array) else x.astype(jnp.int8), sharding)
    beta = jnp.asarray(1.0 / np.float64(temperature), model.coupling.dtype)[None]
    run = _slab_runner(mesh, axis, devices, num_sweeps, random_start)
    return LatticeRun(*(run(model, rng_key, beta) if random_start else run(model, rng_key, beta, x)))


_RUNNERS: dict = {}


def _slab_runner(mesh, axis, devices, num_sweeps, random_start):
    """The jitted ``shard_map`` of :func:`_slab_chain` (built once per configuration)."""
    config = (mesh, axis, devices, num_sweeps, random_start)
    if config not in _RUNNERS:
        out_specs = (P(axis, None), P(), P())

        def run(model, key, beta, *x):  # x: () for a random start, else (x,)
            def local(key, beta, *x):
                return _slab_chain(model, key, x[0] if x else None, beta, num_sweeps=num_sweeps, axis=axis,
                                   devices=devices, random_start=random_start)

            in_specs = (P(), P()) + ((P(axis, None),) if x else ())
            return _shard_map(local, mesh, in_specs=in_specs, out_specs=out_specs)(key, beta, *x)

        _RUNNERS[config] = jax.jit(run)
    return _RUNNERS[config]
