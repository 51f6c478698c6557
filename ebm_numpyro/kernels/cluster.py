"""Cluster moves for ferromagnetic Ising and Potts models: Swendsen-Wang and Wolff, tempered by
the ladder layer.

The Potts form. Every model these moves sample is written (:func:`cluster_graph`) as

.. math::  E(\\sigma) = -\\sum_{e = (i, j)} K_e\\,\\delta(\\sigma_i, \\sigma_j) - \\sum_i h_i(\\sigma_i) + \\text{const},
           \\qquad K_e \\ge 0,

with labels :math:`\\sigma_i \\in \\{0, \\dots, q-1\\}` (the ``k``-th unit value). An Ising model
:math:`-\\sum J_e s_i s_j - \\sum h_i s_i` has :math:`K_e = 2 J_e` and :math:`h_i(k) = h_i\\, s(k)`.

Swendsen-Wang (1987), through the Edwards-Sokal joint law of labels and bonds
:math:`b_e \\in \\{0, 1\\}`,

.. math::  p(\\sigma, b) \\propto \\prod_e \\big[(1 - p_e)(1 - b_e) + p_e\\, b_e\\, \\delta(\\sigma_i, \\sigma_j)\\big]
           \\; e^{\\beta \\sum_i h_i(\\sigma_i)}, \\qquad p_e = 1 - e^{-\\beta K_e},

whose :math:`\\sigma`-marginal is :math:`\\prod_e e^{-\\beta K_e (1 - \\delta)}\\, e^{\\beta\\sum h}
\\propto e^{-\\beta E}`. One step is a two-block Gibbs sampler on it: (1) given :math:`\\sigma`, every
bond between equal labels opens independently with probability :math:`p_e` (:func:`open_bonds`);
(2) given the bonds, the clusters (connected components of the open bonds,
:func:`cluster_roots`) take independent labels,

.. math::  P(\\sigma_C = k) \\propto \\exp\\Big(\\beta \\sum_{i \\in C} h_i(k)\\Big)

(uniform without fields). With fields this is the ghost-spin construction (the field as bonds
to an extra spin of fixed label) with the ghost's bonds summed out: summing them out of the
joint leaves exactly this heat-bath draw of each cluster's label, and it covers any per-label
field :math:`h_i(k)`, where a single ghost spin covers only fields that favour one label.

Wolff (1989): pick a seed unit uniformly, open the bonds as above and take the seed's cluster
:math:`C`; propose a new label for it uniformly among the other :math:`q - 1` (the flip for Ising)
and accept with probability :math:`\\min(1, e^{\\beta (H_C(k') - H_C(k))})`,
:math:`H_C(k) = \\sum_{i\\in C} h_i(k)` (always, without fields). The chance of growing :math:`C`
from :math:`\\sigma` and from the relabelled :math:`\\sigma'` differ only by the closed bonds on
the cluster's boundary, whose ratio is the coupling part of :math:`\\pi(\\sigma')/\\pi(\\sigma)`;
so only the field part is tested and the move is exact.

Connected components in JAX (no host round trip): label propagation with hooking and pointer
jumping, as GPU cluster codes do. Every unit carries a label, a unit of its own cluster (at first
itself); a round takes each unit's smallest label over its open bonds, hooks the unit's
representative to it (a scatter-min) and compresses the label trees by pointer jumping until
every label is a representative. After the compression the trees are stars, so every round
that is not the last merges at least two clusters: at most ``N + 1`` rounds in the worst case
(the ``while_loop``'s bound), a handful in practice (the number of rounds grows like the log
of the clusters' diameter). The Wolff cluster is grown by flood fill from the seed, one
bond layer per iteration (at most ``N``).

All random decisions are the exact ones of :mod:`.decisions`: a bond stays closed with
probability exactly :math:`e^{-\\beta K_e}` (:func:`.decisions.metropolis_from_words`), labels
are exact categorical draws, the seed an exact uniform draw.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import check_int, is_concrete
from ..models import Ising, LatticeIsing, Potts, SparseIsing
from ..models.base import neighbour_table
from ..models.potts import lattice_edges
from . import streams, sweeps
from .decisions import categorical_from_words, metropolis_from_words
from .tempered import Move, TemperedKernel, observables

__all__ = ["ClusterGraph", "cluster_graph", "open_bonds", "cluster_roots", "swendsen_wang_step", "wolff_step",
           "SwendsenWang", "Wolff"]


# ----------------------------------------------------------------------------- the Potts form
class ClusterGraph(NamedTuple):
    """A model in the Potts form of the module doc.

    - **couplings** - :math:`K_e \\ge 0`, shape ``(E,)``;
    - **fields** - :math:`h_i(k)`, shape ``(N, q)``, or ``None`` (no fields: cluster labels are uniform);
    - **edges** - ``(E, 2)`` unit indices (NumPy, static);
    - **neighbours**, **neighbour_edges** - the padded neighbour table (:func:`.models.base.neighbour_table`,
      padding edge id ``E``);
    - **values** - the unit values, label ``k`` being ``values[k]``.
    """

    couplings: Any
    fields: Any
    edges: np.ndarray
    neighbours: np.ndarray
    neighbour_edges: np.ndarray
    values: tuple


_ALTERNATIVES = ("use ebm.TemperedGibbs with a temperature ladder (replica exchange), or on densely coupled "
                 "models ebm.ImportanceTemperedGibbs / ebm.GibbsWithGradients")


def _graph(who, num_units, edges, couplings, fields, values, scale=1.0):
    """The :class:`ClusterGraph` with :math:`K = ` ``scale * couplings``; ferromagnetic couplings only."""
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    couplings = jnp.asarray(couplings)
    if is_concrete(couplings) and couplings.size and float(jnp.min(couplings)) < 0:
        raise ValueError(
            f"{who}: cluster moves need ferromagnetic couplings (every coupling >= 0: a bond only joins "
            f"equal units); this model has couplings down to {float(jnp.min(couplings)):g}. "
            f"For antiferromagnetic or frustrated couplings {_ALTERNATIVES}.")
    couplings = scale * couplings
    if fields is not None and is_concrete(fields) and not bool(jnp.any(fields != fields[..., :1])):
        fields = None  # every label equally favoured: uniform cluster labels
    neighbours, neighbour_edges = neighbour_table(num_units, edges)
    return ClusterGraph(couplings, fields, edges.astype(np.int32), neighbours, neighbour_edges, tuple(values))


def _ising_fields(h, values=(-1.0, 1.0)):
    h = jnp.asarray(h)
    return h[..., None] * jnp.asarray(values, h.dtype)


@functools.singledispatch
def cluster_graph(model, who: str = "SwendsenWang") -> ClusterGraph:
    """The Potts form (:class:`ClusterGraph`) of a ferromagnetic Ising or Potts model; a
    ``ValueError`` naming the alternatives for negative couplings or other models."""
    raise ValueError(
        f"{who}: cluster moves sample Ising models (ebm.Ising.square_lattice, ebm.Ising.from_edges, dense "
        f"ebm.Ising) and ebm.Potts models with ferromagnetic couplings; got {type(model).__name__}. "
        "For other discrete models use ebm.TemperedGibbs.")


@cluster_graph.register
def _(model: LatticeIsing, who: str = "SwendsenWang") -> ClusterGraph:
    edges = lattice_edges(model.rows, model.cols)
    n = model.rows * model.cols
    return _graph(who, n, edges, jnp.full((len(edges),), model.coupling),
                  _ising_fields(jnp.full((n,), model.field)), model.unit_values, 2.0)


@cluster_graph.register
def _(model: SparseIsing, who: str = "SwendsenWang") -> ClusterGraph:
    return _graph(who, model.num_spins, model.edges.array, model.weights, _ising_fields(model.fields),
                  model.unit_values, 2.0)


@cluster_graph.register
def _(model: Ising, who: str = "SwendsenWang") -> ClusterGraph:
    if not is_concrete(model.couplings):
        raise ValueError(f"{who}: a dense Ising model's bonds are read from concrete couplings; got a traced array")
    J = np.asarray(model.couplings)
    i, j = np.nonzero(np.triu(J, 1))
    return _graph(who, J.shape[0], np.stack([i, j], 1), jnp.asarray(model.couplings)[i, j],
                  _ising_fields(model.fields), model.unit_values, 2.0)


@cluster_graph.register
def _(model: Potts, who: str = "SwendsenWang") -> ClusterGraph:
    return _graph(who, model.num_units, model.edges.array, model.couplings, model.fields, model.unit_values)


# ----------------------------------------------------------------------------- pure steps
def _labels(flat, values):
    """Unit values ``(..., N)`` -> label indices (``int32``)."""
    if tuple(values) == tuple(range(len(values))):
        return flat.astype(jnp.int32)
    return jnp.argmax(flat[..., None] == jnp.asarray(values, flat.dtype), axis=-1).astype(jnp.int32)


def open_bonds(words, stream, graph: ClusterGraph, labels, betas):
    """The open bonds, per neighbour slot: ``(n, N, W)`` bool. Bond :math:`e = (i, j)` is open when
    :math:`\\sigma_i = \\sigma_j` and it is not closed, which happens with probability exactly
    :math:`e^{-\\beta K_e}` (one exact decision per edge from stream ``stream`` of ``words``).
    ``labels``: ``(n, N)``, ``betas``: ``(n,)``."""
    e = graph.edges
    aligned = labels[:, e[:, 0]] == labels[:, e[:, 1]]
    closed = metropolis_from_words(words, stream, -betas[:, None] * graph.couplings.astype(betas.dtype)[None, :])
    is_open = jnp.concatenate([aligned & ~closed, jnp.zeros((labels.shape[0], 1), bool)], axis=1)
    return is_open[:, graph.neighbour_edges]


def cluster_roots(open_nb, neighbours):
    """Connected components of one state's open bonds: ``(N,)`` ``int32``, for every unit the
    representative (a unit of the same cluster, equal for all its units). ``open_nb``: ``(N, W)``
    bool, neighbour slot ``w`` of unit ``i`` open; ``neighbours``: ``(N, W)`` unit indices. Label
    propagation with hooking and pointer jumping (module doc): at most ``N + 1`` rounds."""
    num_units = open_nb.shape[0]
    neighbours = jnp.asarray(neighbours)

    def compress(label):
        def body(c):
            label, _ = c
            jumped = label[label]
            return jumped, jnp.any(jumped != label)

        return lax.while_loop(lambda c: c[1], body, (label, jnp.array(True)))[0]

    def round_(c):
        label, _, count = c
        smallest = jnp.min(jnp.where(open_nb, label[neighbours], num_units), axis=1)
        smallest = jnp.minimum(label, smallest)
        hooked = jnp.minimum(label.at[label].min(smallest), smallest)
        new = compress(hooked)
        return new, jnp.any(new != label), count + 1

    start = jnp.arange(num_units, dtype=jnp.int32)
    label, _, _ = lax.while_loop(lambda c: c[1] & (c[2] <= num_units), round_,
                                 (start, jnp.array(True), jnp.zeros((), jnp.int32)))
    return label


def _cluster_field_sums(fields, member, num_segments):
    """:math:`H_C(k) = \\sum_{i \\in C} h_i(k)` at every cluster's representative: ``(n, N, q)``."""
    return jax.vmap(lambda r: jax.ops.segment_sum(fields, r, num_segments))(member)


def swendsen_wang_step(words, graph: ClusterGraph, labels, betas):
    """One Swendsen-Wang update of the labels ``(n, N)`` of ``n`` slots at inverse temperatures
    ``betas`` (``(n,)``): open the bonds (stream 0), find the clusters, draw every cluster's label
    from :math:`\\propto e^{\\beta H_C(k)}` (stream 1; uniform without fields). Returns the labels."""
    n, num_units = labels.shape
    q = len(graph.values)
    roots = jax.vmap(cluster_roots, (0, None))(open_bonds(words, 0, graph, labels, betas), graph.neighbours)
    if graph.fields is None:
        logits = jnp.zeros((n, num_units, q), betas.dtype)
    else:
        logits = betas[:, None, None] * _cluster_field_sums(graph.fields.astype(betas.dtype), roots, num_units)
    drawn = categorical_from_words(words, 1, logits, jnp.int32)  # one per unit; the representatives' are used
    return jnp.take_along_axis(drawn, roots, axis=1)


def wolff_step(words, graph: ClusterGraph, labels, betas):
    """One Wolff update of the labels ``(n, N)``: an exact uniform seed (stream 1), the bonds
    (stream 0), the seed's cluster by flood fill, a uniform other label (stream 2) accepted with
    probability :math:`\\min(1, e^{\\beta (H_C(k') - H_C(k))})` (stream 3). Returns the labels."""
    n, num_units = labels.shape
    q = len(graph.values)
    dtype = betas.dtype
    open_nb = open_bonds(words, 0, graph, labels, betas)
    seed = categorical_from_words(words, 1, jnp.zeros((n, num_units), dtype), jnp.int32)
    units = jnp.arange(num_units, dtype=jnp.int32)
    neighbours = jnp.asarray(graph.neighbours)

    def grow(c):
        member, _, count = c
        new = member | jnp.any(open_nb & member[:, neighbours], axis=-1)
        return new, jnp.any(new != member), count + 1

    member, _, _ = lax.while_loop(lambda c: c[1] & (c[2] <= num_units), grow,
                                  (units[None, :] == seed[:, None], jnp.array(True), jnp.zeros((), jnp.int32)))
    old = jnp.take_along_axis(labels, seed[:, None], axis=1)[:, 0]
    offset = categorical_from_words(words, 2, jnp.zeros((n, q - 1), dtype), jnp.int32)
    new = (old + 1 + offset) % q
    if graph.fields is None:
        accept = jnp.ones((n,), bool)
    else:
        h = member.astype(dtype) @ graph.fields.astype(dtype)  # (n, q): H_C(k)
        gain = jnp.take_along_axis(h, new[:, None], 1)[:, 0] - jnp.take_along_axis(h, old[:, None], 1)[:, 0]
        accept = metropolis_from_words(words, 3, betas * gain)
    return jnp.where(member & accept[:, None], new[:, None], labels)


# ----------------------------------------------------------------------------- kernels
class SwendsenWang(TemperedKernel):
    """Swendsen-Wang cluster updates of a ferromagnetic Ising or Potts model, optionally mixed
    with heat-bath sweeps and tempered by a temperature ladder.

    ``SwendsenWang(potential_fn=ebm.potential(model), temperature=T)`` samples
    :math:`e^{-E/T}` for ``model`` one of ``ebm.Ising.square_lattice(...)``,
    ``ebm.Ising.from_edges(...)``, a dense ``ebm.Ising`` or an ``ebm.Potts`` model (lattice or
    graph), with couplings :math:`J \\ge 0` and any fields (module doc: the Edwards-Sokal
    coupling; fields enter each cluster's label draw). Near and below the critical temperature
    one step decorrelates the large-scale structure that single-unit heat bath needs
    :math:`O(L^{z})` sweeps for (:math:`z \\approx 2.17` on the 2-D Ising model; Swendsen-Wang's
    :math:`z` is about 0.25), at the cost of finding the clusters (a few passes over the
    lattice per labelling round).

    :param heat_bath_sweeps: heat-bath sweeps after every cluster move (the registry's sweep:
        the checkerboard on lattices): ``k`` gives the schedule "one cluster move, then ``k``
        sweeps", which adds the heat bath's fast local relaxation (short-wavelength modes, the
        fields) to the cluster move's global one.
    :param temperature, temperatures, adapt_ladder, store_states: as for
        :class:`~ebm_numpyro.TemperedGibbs`: with a ladder every replica makes the cluster move
        at its own temperature and neighbours swap after every step.

    Samples, extra fields, ``print_summary`` and ArviZ output are those of
    :class:`~ebm_numpyro.TemperedGibbs` (``physical_energy``, ``magnetization`` (the mean unit
    value: for ``|m|`` take its absolute value), the states when stored). Antiferromagnetic or
    frustrated couplings raise a ``ValueError`` naming the alternatives (the heat bath with a
    ladder); ``model=`` (a NumPyro model) is not accepted.

    **Example**::

        lattice = ebm.Ising.square_lattice(128)
        kernel = ebm.SwendsenWang(potential_fn=ebm.potential(lattice), temperature=2.269)
        mcmc = MCMC(kernel, num_warmup=100, num_samples=1000, num_chains=4, chain_method="vectorized")
        mcmc.run(jax.random.key(0))
        abs_m = jnp.abs(mcmc.get_samples()["magnetization"])
    """

    _accepts_model = False
    _cluster_step = staticmethod(swendsen_wang_step)

    def __init__(self, model=None, potential_fn=None, *, temperature=None, temperatures=None,
                 adapt_ladder: bool = False, store_states: bool | None = None, heat_bath_sweeps: int = 0):
        super().__init__(model, potential_fn, temperature=temperature, temperatures=temperatures,
                         adapt_ladder=adapt_ladder, store_states=store_states)
        self._heat_bath_sweeps = check_int(heat_bath_sweeps, "heat_bath_sweeps", 0)
        self._graph = cluster_graph(self.energy_model, type(self).__name__)

    @property
    def heat_bath_sweeps(self) -> int:
        return self._heat_bath_sweeps

    def _move(self, target) -> Move:
        model, graph, k = target.model, self._graph, self._heat_bath_sweeps
        values = jnp.asarray(model.unit_values, model.state_dtype)
        sweep = sweeps.sweep_for(model)
        cluster_step = type(self)._cluster_step

        def step(words, x, betas):
            n = x.shape[0]
            words = streams.split_key(words, k + 1)[1]
            labels = cluster_step(words[0], graph, _labels(x.reshape(n, -1), graph.values), betas)
            x = values[labels].reshape(x.shape)
            if k:
                carried = lax.fori_loop(0, k, lambda j, c: sweep.step(words[j + 1], model, c, betas)[0],
                                        sweep.to_layout(x))
                x = sweep.from_layout(carried)
            energies = model.energy(x)
            return x, energies, observables(energies, jnp.mean(x.reshape(n, -1).astype(energies.dtype), axis=-1))

        return Move(step)


class Wolff(SwendsenWang):
    """Single-cluster (Wolff 1989) updates of a ferromagnetic Ising or Potts model: the same
    arguments, samples and ladder as :class:`SwendsenWang`, one cluster (grown from a uniformly
    chosen seed, module doc) relabelled per step.

    When it pays: a Wolff step flips one cluster, chosen with probability proportional to its
    size, so it spends its work on the large clusters that carry the slow modes; but in JAX its
    cost is one pass over all units per layer of the flood fill (there is no queue), i.e. grows
    with the cluster's chemical radius, while Swendsen-Wang's labelling needs only a few rounds.
    It pays where clusters are small and few layers deep: above :math:`T_c`, in strong fields,
    and on graphs of small diameter. At and below :math:`T_c` on lattices prefer
    :class:`SwendsenWang`: ``benchmarks/critical_ising.py`` measured at :math:`T_c` (8 chains,
    2 CPU cores) about the same autocorrelation time per step as Swendsen-Wang's but 2, 4 and 8
    times its cost per step at L = 32, 64 and 128, i.e. 0.5x, 0.3x and 0.15x its ESS per second
    of :math:`|m|` (still 1.1-2x the heat bath's).
    """

    _cluster_step = staticmethod(wolff_step)
