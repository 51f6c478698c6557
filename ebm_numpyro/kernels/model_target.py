"""The discrete latent sites of an ordinary NumPyro model as a sampling target.

For a model with discrete latent sites (``Bernoulli``, ``Categorical``, ``DiscreteUniform``,
:class:`~ebm_numpyro.Boltzmann`, ...), the target at fixed model arguments is

.. math::  p_\\beta(x) \\propto p_t(x, y)^{\\beta}\\, p_u(x, y),

the log joint split into its tempered part :math:`\\log p_t` (everything with
``temper="all"``; the latent sites with ``temper="prior"``) and the untempered rest.
:func:`find_sites` reads the sites from one trace, :func:`split_log_density` evaluates the
split log joint at given values (``skip`` leaves sites out), and :class:`ModelTarget` is what
the discrete kernels (:mod:`.tempered`) sample: states are dicts of site values with a leading
slot axis. :func:`deterministic_fn` recomputes ``numpyro.deterministic`` sites (NumPyro's
``postprocess_fn``).
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

from .._checks import check_units
from ..distributions import Boltzmann, UnitValues
from . import streams

__all__ = ["MAX_VALUES", "DiscreteSite", "ModelTarget", "find_sites", "trace_model", "split_log_density",
           "depends_on", "flatten_sites", "unflatten_sites", "model_target", "deterministic_sites",
           "deterministic_fn"]

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


def _unit_values(name, fn, who="TemperedGibbs(model=...)"):
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
        f"latent site {name!r} has support {support}: {who} draws "
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


def find_sites(model, args, kwargs, conditioning=None, sites=None, key=None, who="TemperedGibbs(model=...)"):
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
                f"latent site {name!r} is continuous ({type(site['fn']).__name__}): {who} samples "
                "models whose latent sites are all discrete. For mixed models make it a block of "
                "numpyro.infer.Gibbs([(NUTS(model), ['" + name + "', ...]), (kernel, [discrete sites])]) "
                "or use numpyro.infer.HMCGibbs(NUTS(model), gibbs_fn=ebm.gibbs_fn(model, ...), gibbs_sites=[...])."
            )
        values = _unit_values(name, site["fn"], who)
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


class ModelTarget:
    """The discrete latent sites of a NumPyro model at fixed model arguments:

    .. math::  p_\\beta(x) \\propto p_t(x, y)^{\\beta}\\, p_u(x, y)

    with the log joint split into its tempered part :math:`\\log p_t` and the untempered rest
    (``temper=``, :func:`.model_gibbs.split_log_density`). States are dicts of site values with a
    leading slot axis. ``sites`` are :class:`.model_gibbs.DiscreteSite`; ``log_density(values,
    skip=()) -> (log p_t, log p_u)`` at one slot; ``site_model_at(values)`` gives an
    ``ebm.Boltzmann`` site's energy model; ``plan`` is the kernel's own (a Gibbs sweep plan)."""


    def __init__(self, sites, log_density, site_model_at, plan=None):
        self.sites = tuple(sites)
        self.log_density = log_density
        self.site_model_at = site_model_at
        self.plan = plan

    def start(self, words, n):
        """Uniformly random values of every site for ``n`` slots (site ``k`` from stream ``k``)."""
        return {s.name: streams.uniform_start(words, (n,) + s.shape, s.values, s.dtype, k)
                for k, s in enumerate(self.sites)}

    def prepare(self, init_params, n, vectorized):
        """A dict of site values (leading chain axis when vectorized), broadcast to every slot."""
        names = sorted(s.name for s in self.sites)
        if not isinstance(init_params, dict) or set(init_params) != set(names):
            got = sorted(init_params) if isinstance(init_params, dict) else type(init_params).__name__
            raise ValueError(f"`init_params` of a discrete kernel with model= must be a dict with the values of every "
                             f"latent discrete site {names}; got {got}")
        out = {}
        for site in self.sites:
            v = jnp.asarray(init_params[site.name])
            lead = tuple(v.shape[: v.ndim - len(site.shape)])
            if v.shape[v.ndim - len(site.shape):] != site.shape or len(lead) != int(vectorized):
                raise ValueError(f"`init_params[{site.name!r}]` must have shape "
                                 f"{('(chains,) + ' if vectorized else '')}{site.shape}; got {tuple(v.shape)}")
            check_units(v, site.values, f"init_params[{site.name!r}]")
            v = jnp.expand_dims(v, len(lead))
            out[site.name] = jnp.broadcast_to(v, lead + (n,) + site.shape).astype(site.dtype)
        return out

    def evaluate(self, x):
        """``(E_t, observables)`` of every slot: :math:`E_t = -\\log p_t`, and
        ``{"magnetization": mean of all units, "rest": E_u = -\\log p_u}``."""
        t, u = jax.vmap(self.log_density)(x)
        dtype = jnp.result_type(float)
        t, u = (-t).astype(dtype), (-u).astype(dtype)
        units = [v.reshape(v.shape[0], -1).astype(dtype) for v in x.values()]
        return t, {"magnetization": jnp.mean(jnp.concatenate(units, axis=-1), axis=-1), "rest": u}


def model_target(model, args, kwargs, sites, conditioning=None, temper="all", plan=None) -> ModelTarget:
    """The :class:`ModelTarget` of ``model``'s discrete ``sites`` at fixed arguments (other latent
    sites fixed at ``conditioning``, e.g. the continuous sites under ``HMCGibbs``)."""
    conditioning = dict(conditioning or {})

    def log_density(values, skip=()):
        return split_log_density(model, args, kwargs, {**conditioning, **values}, temper, skip)

    def site_model_at(values):
        def site_model(name):
            fn = trace_model(model, args, kwargs, {**conditioning, **values})[name]["fn"]
            return fn.energy_model, fn.temperature
        return site_model

    return ModelTarget(sites, log_density, site_model_at, plan)


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


