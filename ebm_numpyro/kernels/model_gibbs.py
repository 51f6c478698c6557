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

A *plan* (:class:`SweepPlan`) lists the updates of one systematic sweep, as typed steps:

* :class:`SingleStep`: the units of a site one after another (``lax.fori_loop``), always correct; a
  binary unit costs one evaluation of the log joint (at its other value: the current value's
  log joint is carried);
* :class:`TermsStep`: a colour class of a site found from the exact additive structure of the log
  joint (:mod:`ebm_numpyro.models.dependency`: the elements of the arrays the log joint sums and the units each
  depends on, read from the jaxpr); every unit of the class is drawn at once from one
  evaluation of those elements per value (the fast path for elementwise likelihoods, Ising
  factors written with ``numpyro.factor``, ...);
* :class:`BlockStep`: user-given blocks of conditionally independent units, drawn together;
* :class:`ModelStep`: an ``ebm.Boltzmann`` site's own colour classes, with the energy part of the
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

from ..models import dependency
from . import streams
from .decisions import categorical_from_words
from .model_target import (
    DiscreteSite,
    ModelTarget,
    depends_on,
    find_sites,
    flatten_sites,
    model_target,
    split_log_density,
    trace_model,
    unflatten_sites,
)

__all__ = ["SweepPlan", "SingleStep", "TermsStep", "BlockStep", "ModelStep", "RestByTerms", "make_plan",
           "plan_sweep", "gibbs_fn", "MAX_TERM_BLOCKS"]

#: a site whose units need more colour classes than this is swept unit by unit
MAX_TERM_BLOCKS = dependency.MAX_CLASSES


# ----------------------------------------------------------------------------- the plan
@dataclasses.dataclass(frozen=True)
class RestByTerms:
    """The rest of the log joint's contribution to a block's conditionals, from its additive
    terms: the structure without the sites ``skip``, and the block's ``segments`` in it."""

    skip: tuple
    segments: tuple


@dataclasses.dataclass(frozen=True)
class SingleStep:
    """The units of ``site`` one after another (``lax.fori_loop``), each from its exact conditional."""

    site: str

    def num_streams(self, plan) -> int:
        return plan.site(self.site).size

    def apply(self, ctx, x, stream):
        return _single_site(ctx, self.site, x, stream)


@dataclasses.dataclass(frozen=True)
class TermsStep:
    """A colour class (flat ``units`` of ``site``) drawn at once from the log joint's additive terms
    (without the sites ``skip``; the class's ``segments`` in that structure)."""

    site: str
    units: np.ndarray
    skip: tuple
    segments: tuple

    def num_streams(self, plan) -> int:
        return 1

    def apply(self, ctx, x, stream):
        logits = jax.vmap(lambda xs, b: ctx.term_logits(xs, b, self.site, self.units, self.skip, self.segments))(
            x, ctx.betas)
        return ctx.put(x, self.site, self.units, ctx.draw(stream, logits, self.site))


@dataclasses.dataclass(frozen=True)
class BlockStep:
    """A user-given block of conditionally independent units, ``parts = ((site, flat units), ...)``,
    every part's conditionals from the log joint at each value (all computed before any is set)."""

    parts: tuple

    def num_streams(self, plan) -> int:
        return len(self.parts)

    def apply(self, ctx, x, stream):
        new = []
        for k, (name, idx) in enumerate(self.parts):
            logits = jax.vmap(lambda xs, b, name=name, idx=idx: ctx.unit_logits(xs, b, name, idx))(x, ctx.betas)
            new.append((name, idx, ctx.draw(stream + k, logits, name)))
        for name, idx, v in new:
            x = ctx.put(x, name, idx, v)
        return x


@dataclasses.dataclass(frozen=True)
class ModelStep:
    """One colour class ``block`` of an ``ebm.Boltzmann`` site, its energy part from the energy
    model's conditional energies (flat ``units`` at ``positions`` of the block's layout), plus the
    rest of the log joint: ``rest`` is ``False`` (independent of the site), ``True`` (per unit) or a
    :class:`RestByTerms`."""

    site: str
    block: Any
    units: np.ndarray
    positions: np.ndarray
    rest: Any

    def num_streams(self, plan) -> int:
        return 1

    def apply(self, ctx, x, stream):
        energy_model, temperature = ctx.site_model(self.site)
        e = energy_model.unit_energies(x[self.site], self.block)
        e = e.reshape(e.shape[0], -1, e.shape[-1])[:, self.positions]  # (n, B, q)
        logits = -(ctx.betas[:, None, None] / temperature) * e
        if self.rest is True:
            logits = logits + jax.vmap(lambda xs, b: ctx.unit_logits(xs, b, self.site, self.units, skip=(self.site,)))(
                x, ctx.betas)
        elif self.rest:
            logits = logits + jax.vmap(lambda xs, b: ctx.term_logits(
                xs, b, self.site, self.units, self.rest.skip, self.rest.segments))(x, ctx.betas)
        return ctx.put(x, self.site, self.units, ctx.draw(stream, logits, self.site))


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """The updates of one sweep (see the module doc): typed ``steps`` in order, ``streams`` the
    first random stream of each, ``structures`` the :class:`ebm_numpyro.models.dependency.TermStructure`
    of the log joint without the sites in ``skip``, as ``((skip, structure), ...)``."""

    sites: tuple
    steps: tuple
    streams: tuple
    temper: str
    structures: tuple = ()

    @property
    def num_units(self) -> int:
        return sum(s.size for s in self.sites)

    def site(self, name) -> DiscreteSite:
        return next(s for s in self.sites if s.name == name)

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
    """The :class:`SweepPlan` for ``sites`` (from :func:`find_sites`) and the ``blocks`` option,
    in the library's one vocabulary for blocks: ``None`` (default: groupings proved from the
    model's program, else unit by unit), ``"single"`` (every unit on its own), or a list of
    blocks, each a dict ``{site name: flat unit indices}`` covering every unit once; and, for
    NumPyro models only, ``"model"`` (Boltzmann sites by their energy model's colour classes,
    asserting that the rest of the log joint does not couple two units of one class)."""
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
    if blocks == "single":
        steps = [SingleStep(s.name) for s in sites]
    elif blocks is None or blocks == "model":
        for s in sites:
            start = offsets[s.name]
            if s.boltzmann and _fast_path_ok(model, args, kwargs, values, s.name, conditioning):
                em = trace[s.name]["fn"].energy_model
                rest = _rest_depends(model, args, kwargs, values, s.name, temper)
                layouts = [(block,) + tuple(em.block_layout(block)) for block in em.blocks]
                rests = [False] * len(layouts)
                if rest:
                    segs = [_segments(structure((s.name,)), start + idx) for _, idx, _ in layouts]
                    rests = [True if g is None else RestByTerms((s.name,), g) for g in segs]
                if blocks == "model" or not any(r is True for r in rests):
                    for (block, idx, pos), r in zip(layouts, rests):
                        steps.append(ModelStep(s.name, block, idx, pos, r))
                    continue
            st = structure(())
            classes = None if st is None else dependency.useful_classes(st, np.arange(start, start + s.size))
            if classes is not None:
                for c in classes:
                    steps.append(TermsStep(s.name, c - start, (), dependency.block_segments(st, c)))
            else:
                steps.append(SingleStep(s.name))
    else:
        if isinstance(blocks, str):
            raise ValueError(f"`blocks` must be None (proved from the model), 'single' (unit by unit), 'model' "
                             f"(Boltzmann sites by their colour classes) or a list of dicts {{site: flat indices}}; "
                             f"got {blocks!r}")
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
            steps.append(BlockStep(tuple(parts)))
        for name, count in seen.items():
            if not np.all(count == 1):
                raise ValueError(f"`blocks` must cover every unit of every site exactly once; site {name!r} has "
                                 f"units covered {sorted(set(count.tolist()))} times")
    plan = SweepPlan(tuple(sites), tuple(steps), (), temper,
                     tuple((k, v) for k, v in structures.items() if v is not None))
    firsts = np.cumsum([0] + [step.num_streams(plan) for step in steps[:-1]]).tolist() if steps else []
    return dataclasses.replace(plan, streams=tuple(int(f) for f in firsts))


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


class _SweepContext:
    """What every step of one sweep reads: the plan, the target at the current model arguments,
    the slots' inverse temperatures and the sweep's random words (one object instead of six
    arguments passed down)."""

    def __init__(self, plan, target: ModelTarget, words, betas, site_model):
        self.plan, self.target, self.words, self.betas, self.site_model = plan, target, words, betas, site_model
        self._leaf_fns = {}

    def tempered(self, values, beta, skip=()):
        """:math:`\\beta \\log p_t + \\log p_u` at one slot's values (without the sites ``skip``)."""
        t, u = self.target.log_density(values, skip)
        return beta * t + u

    def draw(self, stream, logits, name):
        """Exact categorical draw of ``name``'s unit values from ``logits`` (``(..., q)``)."""
        site = self.plan.site(name)
        k = categorical_from_words(self.words, stream, logits, jnp.int32)
        return jnp.asarray(site.values, site.dtype)[k]

    def put(self, x, name, idx, v):
        """``x`` with flat units ``idx`` of site ``name`` set to ``v`` in every slot."""
        return {**x, name: jax.vmap(lambda a, vv: _set_flat(a, idx, vv))(x[name], v)}

    def unit_logits(self, x_slot, beta, name, idx, skip=()):
        """(len(idx), q) log densities of one slot with unit idx[j] of ``name`` set to each value."""
        site = self.plan.site(name)
        vals = jnp.asarray(site.values, site.dtype)

        def one(j, v):
            return self.tempered({**x_slot, name: _set_flat(x_slot[name], j, v)}, beta, skip)

        return jax.vmap(lambda j: jax.vmap(lambda v: one(j, v))(vals))(jnp.asarray(idx))

    def term_logits(self, x_slot, beta, name, idx, skip, segments):
        """(len(idx), q): the conditionals of an independent block from the log joint's terms
        (:mod:`ebm_numpyro.models.dependency`), all units of the block set to each value at once."""
        plan = self.plan
        if skip not in self._leaf_fns:
            def flat(xf, skip=skip):
                return self.target.log_density(unflatten_sites(plan.sites, xf), skip)

            self._leaf_fns[skip] = dependency.leaf_values(plan.structure(skip), flat, plan.num_units, jnp.int32)
        st, su = dependency.block_sums(self._leaf_fns[skip], flatten_sites(plan.sites, x_slot),
                                       plan.offset(name) + np.asarray(idx), segments, plan.site(name).values)
        return beta * st + su


def plan_sweep(plan, target: ModelTarget, words, x, betas):
    """One systematic sweep of every slot's discrete values (see the module doc).

    ``x`` maps site names to arrays of shape ``(n,) + site.shape`` (one slot per temperature),
    ``betas`` has shape ``(n,)``; ``target`` (a :class:`.model_target.ModelTarget`) gives the split
    log joint at one slot's values and a Boltzmann site's energy model. Step ``k`` of the plan
    draws from the streams ``plan.streams[k], ...`` of ``words``. Returns the new ``x``."""
    first = jax.tree.map(lambda a: a[0], x)
    ctx = _SweepContext(plan, target, words, betas, target.site_model_at(first))
    for step, stream in zip(plan.steps, plan.streams):
        x = step.apply(ctx, x, stream)
    return x


def _single_site(ctx, name, x, stream):
    """The units of site ``name`` one after another, each from its exact conditional.

    Binary units: the tempered log joint of the current state is carried, so a unit costs
    one evaluation (at its other value); ``q``-state units evaluate all ``q`` values."""
    site = ctx.plan.site(name)
    vals = jnp.asarray(site.values, site.dtype)
    betas = ctx.betas

    def at(xs, b, j, v):
        return ctx.tempered({**xs, name: _set_flat(xs[name], j, v)}, b)

    if len(site.values) != 2:
        def body(j, x):
            logits = jax.vmap(lambda xs, b: jax.vmap(lambda v: at(xs, b, j, v))(vals))(x, betas)
            return ctx.put(x, name, j, ctx.draw(stream + j, logits, name))

        return jax.lax.fori_loop(0, site.size, body, x)

    def body(j, carry):
        x, current = carry
        now = jax.vmap(lambda a: a.reshape(-1)[j])(x[name])
        is_down = now == vals[0]
        other = jnp.where(is_down, vals[1], vals[0])
        flipped = jax.vmap(lambda xs, b, v: at(xs, b, j, v))(x, betas, other)
        logits = jnp.stack([jnp.where(is_down, current, flipped), jnp.where(is_down, flipped, current)], -1)
        v = ctx.draw(stream + j, logits, name)
        return ctx.put(x, name, j, v), jnp.where(v == vals[0], logits[:, 0], logits[:, 1])

    current = jax.vmap(lambda xs, b: ctx.tempered(xs, b))(x, betas)
    return jax.lax.fori_loop(0, site.size, body, (x, current))[0]


def gibbs_fn(model, sites=None, *, model_args=(), model_kwargs=None, blocks=None):
    """A ``gibbs_fn`` for NumPyro's ``HMCGibbs``: one exact heat-bath sweep of the discrete sites.

    ``numpyro.infer.HMCGibbs(NUTS(model), gibbs_fn=ebm.gibbs_fn(model, ["z"], model_args=(x, y)),
    gibbs_sites=["z"])`` alternates NUTS on the continuous sites with one systematic sweep of
    the discrete ones, every unit drawn from its exact conditional given everything else,

    .. math::  p(z_i = v \\mid z_{-i}, \\theta, y) \\propto p(z_{i\\to v}, \\theta, y),

    evaluated from the model's log joint (the same sweep as ``TemperedGibbs(model=...)`` at
    temperature 1; ``blocks`` as there). ``HMCGibbs`` does not pass the model's arguments to
    a ``gibbs_fn``, so give them here (``model_args``, ``model_kwargs``). ``sites`` defaults to
    the ``gibbs_sites`` the function is called with. NumPyro's ``HMCGibbs`` takes one key per
    chain: run several chains with ``chain_method="sequential"`` or ``"parallel"`` (not
    ``"vectorized"``). NumPyro 0.22's composable ``numpyro.infer.Gibbs`` takes
    ``ebm.TemperedGibbs(model=model)`` as a block directly.
    """

    def update(rng_key, gibbs_sites, hmc_sites):
        names = tuple(gibbs_sites) if sites is None else tuple(sites)
        found, tr = find_sites(model, model_args, model_kwargs, conditioning=hmc_sites, sites=names, key=rng_key,
                               who="ebm.gibbs_fn")
        plan = make_plan(model, model_args, model_kwargs, found, tr, conditioning=hmc_sites, blocks=blocks)
        target = model_target(model, model_args, model_kwargs, found, hmc_sites, "all", plan)
        x = {s.name: jnp.asarray(gibbs_sites[s.name]).astype(s.dtype)[None] for s in found}
        words = streams.split_key(rng_key, 1)[1][0]
        betas = jnp.ones((1,), jnp.result_type(float))
        x = plan_sweep(plan, target, words, x, betas)
        out = dict(gibbs_sites)
        out.update({k: v[0].astype(jnp.asarray(gibbs_sites[k]).dtype) for k, v in x.items()})
        return out

    return update
