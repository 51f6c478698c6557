"""Exact heat-bath Gibbs on the discrete latent sites of an ordinary NumPyro model.

The conditionals come from the model's own log density. For a unit :math:`x_i` with values
:math:`v_1, \\dots, v_q` (a ``Bernoulli`` or ``Categorical`` element, a spin of an
:class:`~ebm_numpyro.Boltzmann` site, ...), at inverse temperature :math:`\\beta`,

.. math::  p_\\beta(x_i = v \\mid x_{-i}) \\propto \\exp\\big(\\beta \\log p_t(x_{i \\to v}) + \\log p_u(x_{i \\to v})\\big)

where :math:`\\log p = \\log p_t + \\log p_u` splits the log joint into its tempered part
(everything with ``temper="all"``; the latent sites with ``temper="prior"``) and the
untempered rest (nothing, or the observed and factor sites). The log joint is evaluated for
every value of the unit, batched with ``vmap``, and the unit drawn with the exact categorical
decision of :mod:`.categorical` (the binary heat bath for two values).

A *plan* (:class:`SweepPlan`) lists the updates of one systematic sweep:

* ``single``: the units of a site one after another (``lax.fori_loop``), always correct; a
  binary unit costs one evaluation of the log joint (at its other value: the current value's
  log joint is carried);
* ``terms``: a colour class of a site found from the exact additive structure of the log
  joint (:mod:`ebm_numpyro.models.dependency`: the elements of the arrays the log joint sums and the units each
  depends on, read from the jaxpr); every unit of the class is drawn at once from one
  evaluation of those elements per value (the fast path for elementwise likelihoods, Ising
  factors written with ``numpyro.factor``, ...);
* ``block``: user-given blocks of conditionally independent units, drawn together;
* ``model``: an ``ebm.Boltzmann`` site's own colour classes, with the energy part of the
  conditionals from the energy model's local fields (the fast path: no re-evaluation of the
  log joint for the prior) plus, when the rest of the log density depends on the site, the
  rest's contribution from its additive terms (as for ``terms``).

By default (``blocks=None``) every grouping is proved from the jaxpr, exactly: a colour class
is used only when no term of the log joint (of the rest, for an energy model's classes)
depends on two of its units; otherwise the site is swept unit by unit. ``blocks="model"``
asserts that the rest does not couple units of one colour of a ``Boltzmann`` site (its
contribution is then evaluated per unit when the structure cannot show it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal
from numpyro import handlers
from numpyro.distributions import constraints

from ..distributions import Boltzmann, UnitValues
from ..models import dependency
from .categorical import categorical_from_words

__all__ = ["DiscreteSite", "SweepPlan", "find_sites", "make_plan", "split_log_density", "plan_sweep",
           "deterministic_sites", "deterministic_fn", "gibbs_fn", "MAX_VALUES"]

#: Most values a discrete site's unit may take (its conditional is evaluated for each).
MAX_VALUES = 256


@dataclasses.dataclass(frozen=True)
class DiscreteSite:
    """A latent discrete site: ``name``, value ``shape`` and ``dtype``, the unit ``values``, and
    whether it is an ``ebm.Boltzmann`` site whose energy model gives local fields."""

    name: str
    shape: tuple
    values: tuple
    dtype: Any
    boltzmann: bool = False

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """The updates of one sweep (see the module doc): ``steps`` of ``("single", site)``,
    ``("terms", site, flat indices, skip, segments)``, ``("block", ((site, flat indices), ...))``
    or ``("model", site, block, flat indices, layout positions, rest)`` (``rest``: ``False``,
    ``True`` (per unit) or ``(skip, segments)`` (by terms)); ``streams`` the first random
    stream of each step; ``structures`` the :class:`ebm_numpyro.models.dependency.TermStructure` of the log
    joint without the sites in ``skip``, as ``((skip, structure), ...)``."""

    sites: tuple
    steps: tuple
    streams: tuple
    temper: str
    structures: tuple = ()

    @property
    def num_units(self) -> int:
        return sum(s.size for s in self.sites)

    def offset(self, name) -> int:
        """First position of site ``name``'s units in the flat vector of all units."""
        out = 0
        for s in self.sites:
            if s.name == name:
                return out
            out += s.size
        raise KeyError(name)

    def structure(self, skip):
        return dict(self.structures)[tuple(skip)]


# ----------------------------------------------------------------------------- log density
def _site_log_prob(site):
    value, fn = site["value"], site["fn"]
    lp = fn.log_prob(value, site["intermediates"]) if site["intermediates"] else fn.log_prob(value)
    if site["scale"] is not None:
        lp = site["scale"] * lp
    return jnp.sum(lp)


def trace_model(model, args, kwargs, values):
    """Trace of ``model`` with the latent ``values`` substituted (a fixed seed for anything else)."""
    return handlers.trace(handlers.substitute(handlers.seed(model, 0), data=values)).get_trace(*args, **(kwargs or {}))


def split_log_density(model, args, kwargs, values, temper="all", skip=()):
    """``(log p_t, log p_u)``: the log joint of ``model`` at ``values`` split into its tempered and
    untempered parts, :math:`\\sum_{\\text{sites}} \\text{scale} \\cdot \\log p(\\text{value})`.

    With ``temper="all"`` every site is tempered (:math:`\\log p_u = 0`); with ``"prior"`` the
    observed sites (likelihood and ``numpyro.factor`` terms) are not. Sites named in ``skip``
    are left out (their contribution is computed elsewhere)."""
    tr = trace_model(model, args, kwargs, values)
    tempered, untempered = jnp.zeros(()), jnp.zeros(())
    for name, site in tr.items():
        if site["type"] != "sample" or name in skip:
            continue
        lp = _site_log_prob(site)
        if site["is_observed"] and temper == "prior":
            untempered = untempered + lp
        else:
            tempered = tempered + lp
    return tempered, untempered


# ----------------------------------------------------------------------------- structure
def depends_on(fn, x) -> bool:
    """Whether any output of ``fn(x)`` depends on ``x``, read from its jaxpr (exact; an
    equation counts as dependent when any of its inputs is, so the answer errs towards yes)."""
    closed = jax.make_jaxpr(fn)(x)
    dep = set(closed.jaxpr.invars)
    for eqn in closed.jaxpr.eqns:
        if any(not isinstance(v, Literal) and v in dep for v in eqn.invars):
            dep.update(eqn.outvars)
    return any(not isinstance(v, Literal) and v in dep for v in closed.jaxpr.outvars)


def _unit_values(name, fn):
    """The finitely many values of one unit of a discrete site, from its support."""
    support = fn.support
    while hasattr(support, "base_constraint"):  # to_event / independent: the unit's own support
        support = support.base_constraint
    if isinstance(support, UnitValues):
        return support.values
    if support is constraints.boolean or isinstance(support, type(constraints.boolean)):
        return (0, 1)
    if isinstance(support, type(constraints.integer_interval(0, 1))):
        lo, hi = support.lower_bound, support.upper_bound
        if np.ndim(lo) == 0 and np.ndim(hi) == 0:
            try:
                lo, hi = int(lo), int(hi)
            except (TypeError, jax.errors.ConcretizationTypeError):
                lo = hi = None
            if lo is not None and hi - lo + 1 <= MAX_VALUES:
                return tuple(range(lo, hi + 1))
    raise ValueError(
        f"latent site {name!r} has support {support}: TemperedGibbs(model=...) and ebm.gibbs_fn draw "
        f"discrete sites whose units take at most {MAX_VALUES} values, the same for every unit "
        "(Bernoulli, Categorical, DiscreteUniform with scalar bounds, ebm.Boltzmann). Continuous sites "
        "go to NUTS: numpyro.infer.HMCGibbs(NUTS(model), gibbs_fn=ebm.gibbs_fn(model, ...), gibbs_sites=[...])."
    )


def _uniform_init(key):
    """A substitute_fn giving every latent discrete site uniformly random values (no ``sample``
    call, so large ``ebm.Boltzmann`` sites need no enumeration)."""
    counter = [0]

    def init(site):
        if site["type"] != "sample" or site["is_observed"] or not site["fn"].support.is_discrete:
            return None
        values = _unit_values(site["name"], site["fn"])
        counter[0] += 1
        k = jax.random.fold_in(key, counter[0])
        shape = tuple(site["fn"].shape(site["kwargs"].get("sample_shape", ())))
        idx = jax.random.randint(k, shape, 0, len(values))
        return jnp.asarray(values)[idx].astype(_site_dtype(site["fn"]))

    return init


def _site_dtype(fn):
    if isinstance(fn, Boltzmann):
        return fn.energy_model.state_dtype
    try:
        return jax.eval_shape(lambda k: fn.sample(k), jax.random.key(0)).dtype
    except Exception:  # noqa: BLE001 - a sampler that cannot be traced: fall back to int32
        return jnp.int32


def find_sites(model, args, kwargs, conditioning=None, sites=None, key=None):
    """The latent discrete sites of ``model`` (in trace order) and one trace with uniformly
    random values. ``conditioning`` holds the values of other latent sites (continuous ones,
    for ``HMCGibbs``); ``sites`` restricts the result to those names. Raises ``ValueError`` for a
    latent site that is neither discrete nor conditioned on."""
    key = jax.random.key(0) if key is None else key
    conditioning = dict(conditioning or {})
    init = _uniform_init(key)
    fn = handlers.substitute(handlers.seed(model, key), data=conditioning)
    tr = handlers.trace(handlers.substitute(fn, substitute_fn=init)).get_trace(*args, **(kwargs or {}))
    found = []
    for name, site in tr.items():
        if site["type"] != "sample" or site["is_observed"] or name in conditioning:
            continue
        if sites is not None and name not in sites:
            continue
        if not site["fn"].support.is_discrete:
            raise ValueError(
                f"latent site {name!r} is continuous ({type(site['fn']).__name__}): TemperedGibbs(model=...) "
                "samples models whose latent sites are all discrete. For mixed models use "
                "numpyro.infer.HMCGibbs(NUTS(model), gibbs_fn=ebm.gibbs_fn(model, ...), gibbs_sites=[...])."
            )
        values = _unit_values(name, site["fn"])
        value = jnp.asarray(site["value"])
        # an energy model swept unit by unit has no colour classes to offer: its site is read
        # like any other (the log joint's terms, or unit by unit)
        boltzmann = isinstance(site["fn"], Boltzmann) and site["scale"] is None and \
            not site["fn"].energy_model.unit_blocks
        found.append(DiscreteSite(name, tuple(value.shape), values, value.dtype, boltzmann))
    if sites is not None:
        missing = sorted(set(sites) - {s.name for s in found})
        if missing:
            raise ValueError(f"`sites` names no latent discrete site of the model: {missing}; "
                             f"the model's latent discrete sites are {[s.name for s in found]}")
    if not found:
        raise ValueError("the model has no latent discrete site to sample")
    return tuple(found), tr


def _block_layout(energy_model, block):
    """``(flat unit indices, positions in the local_field layout)`` of one block (NumPy)."""
    event = tuple(energy_model.event_shape)
    zeros = jnp.zeros(event, energy_model.state_dtype)
    if hasattr(energy_model, "unit_energies"):  # q-state units: (B, q) energies per block
        field = jax.eval_shape(lambda x: energy_model.unit_energies(x, block)[..., 0], zeros)
    else:
        field = jax.eval_shape(lambda x: energy_model.local_field(x, block), zeros)
    codes = jnp.arange(int(np.prod(field.shape)), dtype=jnp.int32).reshape(field.shape)
    out = np.asarray(energy_model.set_block(jnp.full(event, -1, jnp.int32), block, codes)).reshape(-1)
    idx = np.flatnonzero(out >= 0)
    return idx, out[idx]


#: a site whose units need more colour classes than this is swept unit by unit
MAX_TERM_BLOCKS = dependency.MAX_CLASSES


def flatten_sites(sites, values):
    """All units of ``sites`` as one flat ``int32`` vector (sites in order)."""
    return jnp.concatenate([jnp.ravel(jnp.asarray(values[s.name])).astype(jnp.int32) for s in sites])


def unflatten_sites(sites, x_flat):
    """Inverse of :func:`flatten_sites`: site values (shape and dtype of every site)."""
    out, start = {}, 0
    for s in sites:
        out[s.name] = x_flat[start:start + s.size].reshape(s.shape).astype(s.dtype)
        start += s.size
    return out


def _structure(model, args, kwargs, values, sites, conditioning, temper, skip):
    """The :class:`ebm_numpyro.models.dependency.TermStructure` of ``(log p_t, log p_u)`` without ``skip``, or
    ``None`` when it is too large to build."""
    def fn(x_flat):
        return split_log_density(model, args, kwargs, {**conditioning, **unflatten_sites(sites, x_flat)},
                                 temper, skip)

    try:
        return dependency.term_structure(fn, flatten_sites(sites, values))
    except dependency.TooLarge:
        return None


def _segments(structure, block):
    """:func:`.dependency.block_segments`, or ``None`` when the block is not independent."""
    if structure is None:
        return None
    try:
        return dependency.block_segments(structure, block)
    except ValueError:
        return None


def make_plan(model, args, kwargs, sites, trace, conditioning=None, blocks=None, temper="all"):
    """The :class:`SweepPlan` for ``sites`` (from :func:`find_sites`) and the ``blocks`` option:
    ``None`` (safe default), ``"model"`` (Boltzmann sites by their energy model's colours) or a
    list of blocks, each a dict ``{site name: flat unit indices}`` covering every unit once."""
    if temper not in ("all", "prior"):
        raise ValueError(f"`temper` must be 'all' (the whole log density) or 'prior'; got {temper!r}")
    conditioning = dict(conditioning or {})
    by_name = {s.name: s for s in sites}
    values = {**conditioning, **{s.name: trace[s.name]["value"] for s in sites}}
    steps, structures = [], {}

    def structure(skip):
        if skip not in structures:
            structures[skip] = _structure(model, args, kwargs, values, sites, conditioning, temper, skip)
        return structures[skip]

    offsets = dict(zip([s.name for s in sites], np.cumsum([0] + [s.size for s in sites[:-1]]).tolist()))
    if blocks is None or blocks == "model":
        for s in sites:
            start = offsets[s.name]
            if s.boltzmann and _fast_path_ok(model, args, kwargs, values, s.name, conditioning):
                em = trace[s.name]["fn"].energy_model
                rest = _rest_depends(model, args, kwargs, values, s.name, temper)
                layouts = [(block,) + _block_layout(em, block) for block in em.blocks]
                rests = [False] * len(layouts)
                if rest:
                    segs = [_segments(structure((s.name,)), start + idx) for _, idx, _ in layouts]
                    rests = [True if g is None else ((s.name,), g) for g in segs]
                if blocks == "model" or not any(r is True for r in rests):
                    for (block, idx, pos), r in zip(layouts, rests):
                        steps.append(("model", s.name, block, idx, pos, r))
                    continue
            st = structure(())
            classes = None if st is None else dependency.useful_classes(st, np.arange(start, start + s.size))
            if classes is not None:
                for c in classes:
                    steps.append(("terms", s.name, c - start, (), dependency.block_segments(st, c)))
            else:
                steps.append(("single", s.name))
    else:
        if isinstance(blocks, str):
            raise ValueError(f"`blocks` must be None, 'model' or a list of dicts {{site: indices}}; got {blocks!r}")
        seen = {s.name: np.zeros(s.size, int) for s in sites}
        for b in blocks:
            if not isinstance(b, dict) or not b:
                raise ValueError(f"every block must be a non-empty dict {{site name: flat unit indices}}; got {b!r}")
            parts = []
            for name, idx in b.items():
                if name not in by_name:
                    raise ValueError(f"block names {name!r}, not a latent discrete site; sites: {sorted(by_name)}")
                idx = np.asarray(idx, np.int64).reshape(-1)
                if idx.size and (idx.min() < 0 or idx.max() >= by_name[name].size):
                    raise ValueError(f"block indices of {name!r} must be in [0, {by_name[name].size}); got {idx}")
                np.add.at(seen[name], idx, 1)
                parts.append((name, idx))
            steps.append(("block", tuple(parts)))
        for name, count in seen.items():
            if not np.all(count == 1):
                raise ValueError(f"`blocks` must cover every unit of every site exactly once; site {name!r} has "
                                 f"units covered {sorted(set(count.tolist()))} times")
    streams, next_stream = [], 0
    for step in steps:
        streams.append(next_stream)
        if step[0] == "single":
            next_stream += by_name[step[1]].size
        elif step[0] == "block":
            next_stream += len(step[1])
        else:
            next_stream += 1
    return SweepPlan(tuple(sites), tuple(steps), tuple(streams), temper,
                     tuple((k, v) for k, v in structures.items() if v is not None))


def _fast_path_ok(model, args, kwargs, values, name, conditioning):
    """The site's energy model and temperature must not depend on the discrete values."""
    discrete = {k: v for k, v in values.items() if k not in conditioning}

    def params(x):
        fn = trace_model(model, args, kwargs, {**conditioning, **x})[name]["fn"]
        return jax.tree_util.tree_leaves((fn.energy_model, fn.temperature))

    return not depends_on(params, discrete)


def _rest_depends(model, args, kwargs, values, name, temper):
    """Whether the log density without the site's own term depends on the site's value."""
    def rest(v):
        return split_log_density(model, args, kwargs, {**values, name: v}, temper, skip=(name,))

    return depends_on(rest, values[name])


# ----------------------------------------------------------------------------- the sweep
def _set_flat(x, idx, v):
    shape = x.shape
    return x.reshape(-1).at[idx].set(v.astype(x.dtype)).reshape(shape)


def _draw_values(words, stream, logits, site):
    """Exact categorical draw of unit values from ``logits`` (``(..., q)``)."""
    k = categorical_from_words(words, stream, logits, jnp.int32)
    return jnp.asarray(site.values, site.dtype)[k]


def plan_sweep(plan, log_density, words, x, betas, site_model=None):
    """One systematic sweep of every slot's discrete values (see the module doc).

    ``x`` maps site names to arrays of shape ``(n,) + site.shape`` (one slot per temperature),
    ``betas`` has shape ``(n,)``; ``log_density(values, skip=()) -> (log p_t, log p_u)`` is the
    split log joint at one slot's values (conditioning values closed over);
    ``site_model(name) -> (energy_model, temperature)`` gives a Boltzmann site's energy model.
    Returns the new ``x``."""
    by_name = {s.name: s for s in plan.sites}
    leaf_fns = {}

    def tempered(values, beta, skip=()):
        t, u = log_density(values, skip)
        return beta * t + u

    def unit_logits(x_slot, beta, name, idx, skip=()):
        """(len(idx), q) log densities of one slot with unit idx[j] of ``name`` set to each value."""
        site = by_name[name]
        vals = jnp.asarray(site.values, site.dtype)

        def one(j, v):
            return tempered({**x_slot, name: _set_flat(x_slot[name], j, v)}, beta, skip)

        return jax.vmap(lambda j: jax.vmap(lambda v: one(j, v))(vals))(jnp.asarray(idx))

    def term_logits(x_slot, beta, name, idx, skip, segments):
        """(len(idx), q): the conditionals of an independent block from the log joint's terms
        (:mod:`ebm_numpyro.models.dependency`), all units of the block set to each value at once."""
        site = by_name[name]
        if skip not in leaf_fns:
            def flat(xf, skip=skip):
                return log_density(unflatten_sites(plan.sites, xf), skip)

            leaf_fns[skip] = dependency.leaf_values(plan.structure(skip), flat, plan.num_units, jnp.int32)
        st, su = dependency.block_sums(leaf_fns[skip], flatten_sites(plan.sites, x_slot),
                                       plan.offset(name) + np.asarray(idx), segments, site.values)
        return beta * st + su

    for step, stream in zip(plan.steps, plan.streams):
        kind = step[0]
        if kind == "single":
            x = _single_site(by_name[step[1]], x, betas, tempered, words, stream)
        elif kind == "terms":
            _, name, idx, skip, segments = step
            logits = jax.vmap(lambda xs, b: term_logits(xs, b, name, idx, skip, segments))(x, betas)
            v = _draw_values(words, stream, logits, by_name[name])
            x = {**x, name: jax.vmap(lambda a, vv, idx=idx: _set_flat(a, idx, vv))(x[name], v)}
        elif kind == "block":
            new = {}
            for k, (name, idx) in enumerate(step[1]):
                logits = jax.vmap(lambda xs, b, name=name, idx=idx: unit_logits(xs, b, name, idx))(x, betas)
                new[name] = (idx, _draw_values(words, stream + k, logits, by_name[name]))
            for name, (idx, v) in new.items():
                x = {**x, name: jax.vmap(lambda a, vv, idx=idx: _set_flat(a, idx, vv))(x[name], v)}
        else:
            _, name, block, idx, pos, rest = step
            site = by_name[name]
            energy_model, temperature = site_model(name)
            vals = jnp.asarray(site.values, energy_model.dtype)
            unit_energies = _unit_energies(energy_model, x[name], block, pos, vals)  # (n, B, q)
            logits = -(betas[:, None, None] / temperature) * unit_energies
            if rest is True:
                logits = logits + jax.vmap(
                    lambda xs, b: unit_logits(xs, b, name, idx, skip=(name,)))(x, betas)
            elif rest:
                logits = logits + jax.vmap(
                    lambda xs, b: term_logits(xs, b, name, idx, rest[0], rest[1]))(x, betas)
            v = _draw_values(words, stream, logits, site)
            x = {**x, name: jax.vmap(lambda a, vv: _set_flat(a, idx, vv))(x[name], v)}
    return x


def _single_site(site, x, betas, tempered, words, stream):
    """The units of ``site`` one after another, each from its exact conditional.

    Binary units: the tempered log joint of the current state is carried, so a unit costs
    one evaluation (at its other value); ``q``-state units evaluate all ``q`` values."""
    name = site.name
    vals = jnp.asarray(site.values, site.dtype)

    def at(xs, b, j, v):
        return tempered({**xs, name: _set_flat(xs[name], j, v)}, b)

    def put(x, j, v):
        return {**x, name: jax.vmap(lambda a, vv: _set_flat(a, j, vv))(x[name], v)}

    if len(site.values) != 2:
        def body(j, x):
            logits = jax.vmap(lambda xs, b: jax.vmap(lambda v: at(xs, b, j, v))(vals))(x, betas)
            return put(x, j, _draw_values(words, stream + j, logits, site))

        return jax.lax.fori_loop(0, site.size, body, x)

    def body(j, carry):
        x, current = carry
        now = jax.vmap(lambda a: a.reshape(-1)[j])(x[name])
        is_down = now == vals[0]
        other = jnp.where(is_down, vals[1], vals[0])
        flipped = jax.vmap(lambda xs, b, v: at(xs, b, j, v))(x, betas, other)
        logits = jnp.stack([jnp.where(is_down, current, flipped), jnp.where(is_down, flipped, current)], -1)
        v = _draw_values(words, stream + j, logits, site)
        return put(x, j, v), jnp.where(v == vals[0], logits[:, 0], logits[:, 1])

    current = jax.vmap(lambda xs, b: tempered(xs, b))(x, betas)
    return jax.lax.fori_loop(0, site.size, body, (x, current))[0]


def _unit_energies(energy_model, states, block, pos, values):
    """Energies of each block unit at each value, up to a per-unit constant, shape ``(n, B, q)``.

    Binary models: :math:`E(x_{i \\to v}) = E_0 - v f_i` with the local field
    :math:`f_i = -\\partial E/\\partial x_i` (energies linear in each unit); q-state models give
    them directly (``unit_energies``)."""
    if hasattr(energy_model, "unit_energies"):
        e = energy_model.unit_energies(states, block)
        return e.reshape(e.shape[0], -1, e.shape[-1])[:, pos]
    field = energy_model.local_field(states, block)
    f = field.reshape(field.shape[0], -1)[:, pos]
    return -f[..., None] * values


def uniform_start(words, plan, n):
    """Uniformly random values of every site for ``n`` slots (from Threefry words; an initial
    state only, so the tiny modulo bias of ``bits % q`` is irrelevant)."""
    from . import _random

    out = {}
    for k, site in enumerate(plan.sites):
        bits = _random.uniform_bits(words, (n,) + site.shape, k)
        idx = (bits % jnp.uint32(len(site.values))).astype(jnp.int32)
        out[site.name] = jnp.asarray(site.values, site.dtype)[idx]
    return out


def model_target(model, args, kwargs, conditioning, temper):
    """``(log_density, site_model)`` closures for :func:`plan_sweep` at fixed model arguments."""
    conditioning = dict(conditioning or {})

    def log_density(values, skip=()):
        return split_log_density(model, args, kwargs, {**conditioning, **values}, temper, skip)

    def site_model_at(values):
        def site_model(name):
            fn = trace_model(model, args, kwargs, {**conditioning, **values})[name]["fn"]
            return fn.energy_model, fn.temperature
        return site_model

    return log_density, site_model_at


def deterministic_sites(trace) -> tuple:
    """Names of the ``numpyro.deterministic`` sites of a model trace."""
    return tuple(k for k, site in trace.items() if site["type"] == "deterministic")


def deterministic_fn(model, args, kwargs, names):
    """NumPyro's ``postprocess_fn`` for ``model``: ``values -> values`` plus the deterministic
    sites ``names`` (:func:`deterministic_sites`) recomputed at them."""
    def postprocess(values):
        tr = trace_model(model, args, kwargs, values)
        return {**values, **{k: tr[k]["value"] for k in names}}

    return postprocess


def first_slot(x):
    return jax.tree.map(lambda a: a[0], x)


def gibbs_fn(model, sites=None, *, model_args=(), model_kwargs=None, blocks=None):
    """A ``gibbs_fn`` for NumPyro's ``HMCGibbs``: one exact heat-bath sweep of the discrete sites.

    ``numpyro.infer.HMCGibbs(NUTS(model), gibbs_fn=ebm.gibbs_fn(model, ["z"], model_args=(x, y)),
    gibbs_sites=["z"])`` alternates NUTS on the continuous sites with one systematic sweep of
    the discrete ones, every unit drawn from its exact conditional given everything else,

    .. math::  p(z_i = v \\mid z_{-i}, \\theta, y) \\propto p(z_{i\\to v}, \\theta, y),

    evaluated from the model's log joint (the same sweep as ``TemperedGibbs(model=...)`` at
    temperature 1; ``blocks`` as there). ``HMCGibbs`` does not pass the model's arguments to
    a ``gibbs_fn``, so give them here (``model_args``, ``model_kwargs``). ``sites`` defaults to
    the ``gibbs_sites`` the function is called with.
    """
    from . import _random

    def update(rng_key, gibbs_sites, hmc_sites):
        names = tuple(gibbs_sites) if sites is None else tuple(sites)
        found, tr = find_sites(model, model_args, model_kwargs, conditioning=hmc_sites, sites=names, key=rng_key)
        plan = make_plan(model, model_args, model_kwargs, found, tr, conditioning=hmc_sites, blocks=blocks)
        log_density, site_model_at = model_target(model, model_args, model_kwargs, hmc_sites, "all")
        x = {s.name: jnp.asarray(gibbs_sites[s.name]).astype(s.dtype)[None] for s in found}
        words = _random.split_key(rng_key, 1)[1][0]
        betas = jnp.ones((1,), jnp.result_type(float))
        x = plan_sweep(plan, log_density, words, x, betas, site_model_at(first_slot(x)))
        out = dict(gibbs_sites)
        out.update({k: v[0].astype(jnp.asarray(gibbs_sites[k]).dtype) for k, v in x.items()})
        return out

    return update
