"""Conversion of ``numpyro.infer.MCMC`` runs into ArviZ InferenceData / DataTree.

Layout for the library's discrete kernels (e.g. ``TemperedGibbs``)::

    posterior     spins (chain, draw, *model.event_dims)   ±1 states at the target temperature
                  (units for {0,1} models, x for continuous models)
                  energy (chain, draw)          E(x) of the target-temperature state
                  magnetization (chain, draw)   mean unit value
    sample_stats  swap_accept (chain, draw, pair)          Metropolis swap probability of pair k = (k, k+1)
                  replica_index (chain, draw, temperature) id of the replica at each temperature
                  energy (chain, draw)          copy of posterior.energy (the physical energy,
                                                not an HMC Hamiltonian: BFMI does not apply)
    coordinates   temperature = the ladder (target first); pair = 0..n-2 with
                  temperature_low / temperature_high along it

Energy and magnetization sit in the posterior because they are the scalar quantities whose
mixing one checks (``az.summary``, ``az.plot_trace`` and :func:`mixing` read the posterior).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..models import RBM, DiscreteModel, EnergyModel
from . import _arviz_compat as compat

__all__ = ["to_inference_data", "from_samples", "state_name"]

_POSTERIOR_SCALARS = ("energy", "magnetization")
_LADDER_FIELDS = ("swap_accept", "replica_index")


def state_name(model) -> str:
    """Posterior variable holding the states: ``spins`` (±1), ``units`` ({0,1}) or ``x``."""
    if isinstance(model, DiscreteModel):
        return "spins" if tuple(model.unit_values) == (-1, 1) else "units"
    return "x"


def to_inference_data(mcmc, *, model=None, temperatures=None):
    """Convert a finished ``numpyro.infer.MCMC`` run to ArviZ's container.

    Returns ``arviz.InferenceData`` under ArviZ 0.23 and ``xarray.DataTree`` under ArviZ
    1.x, with the layout described in :mod:`ebm_numpyro.diagnostics.convert`. ``model`` and
    ``temperatures`` default to ``mcmc.sampler.model`` and ``mcmc.sampler.temperatures``.

    Samples are read with ``mcmc.get_samples(group_by_chain=True)`` and extra fields with
    ``mcmc.get_extra_fields(group_by_chain=True)``; request ``extra_fields=("energy",
    "magnetization", "swap_accept", "replica_index")`` in ``mcmc.run`` to get all of them.
    A run without an :class:`~ebm_numpyro.EnergyModel` (e.g. NUTS on a NumPyro model or a
    ``potential_fn``) is converted generically: each sample site (or an array named ``x``)
    goes to the posterior, every extra field to ``sample_stats``.
    """
    sampler = getattr(mcmc, "sampler", None)
    if model is None:
        model = getattr(sampler, "model", None)
        if not isinstance(model, EnergyModel):  # e.g. NUTS(model=<numpyro model function>)
            model = None
    if temperatures is None:
        temperatures = getattr(sampler, "temperatures", None)
    store_states = getattr(sampler, "store_states", None)
    samples = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    return from_samples(
        samples, extra, model=model, temperatures=temperatures, store_states=store_states
    )


def from_samples(samples, extra_fields=None, *, model=None, temperatures=None, store_states=None):
    """Build the InferenceData / DataTree from arrays grouped by chain.

    ``samples``: an array of shape ``(chain, draw) + model.event_shape`` or a dict of such
    arrays (sample sites); ``extra_fields``: dict of arrays with leading ``(chain, draw)``.
    This is what :func:`to_inference_data` calls; use it for states collected outside
    ``MCMC``. ``store_states=False`` says that ``samples`` holds no states (the kernel
    then returns a placeholder scalar per draw, which is dropped).
    """
    if model is not None and not isinstance(model, EnergyModel):
        raise TypeError(
            f"`model` must be an ebm_numpyro EnergyModel or None; got {type(model).__name__}"
        )
    extra = {k: v for k, v in dict(extra_fields or {}).items() if _is_array(v)}
    sizes = _chain_draw_sizes(samples, extra)
    coords = {"chain": np.arange(sizes[0]), "draw": np.arange(sizes[1])}

    posterior: dict[str, tuple] = {}
    stats: dict[str, tuple] = {}
    post_coords: dict = {}
    if model is not None:
        event_shape = tuple(model.event_shape)
        dims = tuple(model.event_dims)
        has_states = store_states is not False and not isinstance(samples, Mapping)
        if has_states:
            arr = np.asarray(samples)
            if arr.shape[2:] != event_shape:
                if event_shape and arr.shape[2:] == ():  # store_states=False placeholder
                    has_states = False
                else:
                    raise ValueError(
                        f"samples have shape {arr.shape}; expected (chain, draw) + "
                        f"{event_shape} for {type(model).__name__}"
                    )
        if has_states:
            posterior[state_name(model)] = (("chain", "draw", *dims), arr)
            post_coords.update({d: np.arange(n) for d, n in zip(dims, event_shape)})
            if isinstance(model, RBM):
                layer = ["visible"] * model.num_visible + ["hidden"] * model.num_hidden
                post_coords["layer"] = (dims[0], np.array(layer))
        if isinstance(samples, Mapping):  # a NumPyro model's sample sites next to an EnergyModel
            for name, value in samples.items():
                if _is_array(value):
                    arr = np.asarray(value)
                    site_dims = ("chain", "draw", *dims) if arr.shape[2:] == event_shape else None
                    posterior[name] = (site_dims or _default_dims(name, arr.ndim), arr)
                    if site_dims:
                        post_coords.update({d: np.arange(n) for d, n in zip(dims, event_shape)})
        for name in _POSTERIOR_SCALARS:
            if name in extra:
                posterior[name] = (("chain", "draw"), _scalar_field(extra, name))
        if "energy" in extra:
            stats["energy"] = posterior["energy"]
    else:
        site_items = samples.items() if isinstance(samples, Mapping) else [("x", samples)]
        for name, value in site_items:
            if _is_array(value):
                arr = np.asarray(value)
                posterior[name] = (_default_dims(name, arr.ndim), arr)

    ladder_coords = _ladder(extra, temperatures, stats)
    skip = set(_LADDER_FIELDS) | (set(_POSTERIOR_SCALARS) if model is not None else set())
    for name, value in extra.items():
        if name not in skip:
            arr = np.asarray(value)
            stats[name] = (_default_dims(name, arr.ndim), arr)

    post = xr.Dataset(posterior, coords={**coords, **post_coords})
    groups = {"posterior": post}
    if stats or ladder_coords:
        groups["sample_stats"] = xr.Dataset(stats, coords={**coords, **ladder_coords})
    if temperatures is not None:
        post.attrs["temperature"] = float(np.asarray(temperatures, dtype=np.float64).reshape(-1)[0])
    attrs = {"inference_library": "numpyro", "creation_library": "ebm_numpyro"}
    if model is not None:
        attrs["model"] = type(model).__name__
    return compat.make_inference_data(groups, attrs)


# --- helpers ---------------------------------------------------------------------------
def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _default_dims(name: str, ndim: int) -> tuple[str, ...]:
    return ("chain", "draw") + tuple(f"{name}_dim_{i}" for i in range(ndim - 2))


def _chain_draw_sizes(samples, extra) -> tuple[int, int]:
    arrays = list(samples.values()) if isinstance(samples, Mapping) else [samples]
    arrays = [a for a in arrays + list(extra.values()) if _is_array(a)]
    if not arrays:
        raise ValueError("no samples and no extra fields to convert")
    shapes = {tuple(np.shape(a)[:2]) for a in arrays}
    if any(np.ndim(a) < 2 for a in arrays) or len(shapes) != 1:
        raise ValueError(
            "samples and extra fields must share leading (chain, draw) axes "
            f"(use group_by_chain=True); got shapes {[np.shape(a) for a in arrays]}"
        )
    return shapes.pop()


def _scalar_field(extra, name) -> np.ndarray:
    arr = np.asarray(extra[name])
    if arr.ndim != 2:
        raise ValueError(f"extra field {name!r} must have shape (chain, draw); got {arr.shape}")
    return arr


def _ladder(extra, temperatures, stats) -> dict:
    """Put swap_accept / replica_index into ``stats``; return the ladder coordinates."""
    n = None
    if temperatures is not None:
        temps = np.asarray(temperatures, dtype=np.float64).reshape(-1)
        n = temps.size
    if "replica_index" in extra:
        rep = np.asarray(extra["replica_index"])
        if rep.ndim != 3 or (n is not None and rep.shape[2] != n):
            raise ValueError(
                f"extra field 'replica_index' must have shape (chain, draw, {n or 'n_temperatures'}); "
                f"got {rep.shape}"
            )
        n = rep.shape[2]
        stats["replica_index"] = (("chain", "draw", "temperature"), rep)
    if "swap_accept" in extra:
        acc = np.asarray(extra["swap_accept"])
        if acc.ndim != 3 or (n is not None and acc.shape[2] != n - 1):
            want = "n_temperatures - 1" if n is None else n - 1
            raise ValueError(
                f"extra field 'swap_accept' must have shape (chain, draw, {want}); got {acc.shape}"
            )
        n = acc.shape[2] + 1
        stats["swap_accept"] = (("chain", "draw", "pair"), acc)
    if n is None:
        return {}
    if temperatures is None:  # ladder unknown: label the rungs 0..n-1
        temps = np.arange(n)
    return {
        "temperature": temps,
        "pair": np.arange(n - 1),
        "temperature_low": ("pair", temps[:-1]),
        "temperature_high": ("pair", temps[1:]),
    }
