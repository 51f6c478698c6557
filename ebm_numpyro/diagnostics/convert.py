"""Conversion of ``numpyro.infer.MCMC`` runs into ArviZ InferenceData / DataTree.

The layout is ArviZ's own (that of ``az.from_numpyro``), with dims and coordinates that
the kernel describes in one place, :meth:`~ebm_numpyro.kernels.EBMKernel.output_layout`:

    posterior     every entry of the samples (``mcmc.get_samples()``): for the discrete
                  kernels ``physical_energy`` and ``magnetization`` (chain, draw) and, when
                  stored, ``spins`` / ``units`` (chain, draw, *model.event_dims)
    sample_stats  every extra field; NumPyro's ``potential_energy`` becomes ``lp`` =
                  -potential_energy as in ``az.from_numpyro``; ``swap_accept``
                  (chain, draw, pair), ``replica_index`` and ``energies``
                  (chain, draw, temperature) for replica exchange
    coordinates   temperature = the ladder (target first); pair = 0..n-2 with
                  temperature_low / temperature_high along it; the model's event dims

The physical energy is never called ``energy``: ArviZ reads ``sample_stats.energy`` as the
Hamiltonian energy of HMC (``az.bfmi``, ``az.plot_energy``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..kernels import EBMKernel, OutputLayout, state_name
from . import _arviz_compat as compat

__all__ = ["to_inference_data", "from_samples", "state_name"]

_RENAME = {"potential_energy": "lp"}


def to_inference_data(mcmc, *, coords=None, dims=None):
    """Convert a finished ``numpyro.infer.MCMC`` run to ArviZ's container.

    Returns ``arviz.InferenceData`` under ArviZ 0.23 and ``xarray.DataTree`` under ArviZ
    1.x, with the layout described in :mod:`ebm_numpyro.diagnostics.convert`: samples in
    ``posterior`` under their names, extra fields in ``sample_stats`` (request them with
    ``mcmc.run(..., extra_fields=(...))``). The library's kernels name the dims of their
    outputs (:meth:`~ebm_numpyro.kernels.EBMKernel.output_layout`); ``coords`` and ``dims``
    (as in ``az.from_numpyro``) add to or override them. Any other kernel (NUTS, ...) is
    converted the same way with default dims.
    """
    sampler = getattr(mcmc, "sampler", None)
    layout = sampler.output_layout(getattr(mcmc, "last_state", None)) if isinstance(sampler, EBMKernel) else OutputLayout()
    samples = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    return from_samples(samples, extra, layout=layout, coords=coords, dims=dims)


def from_samples(samples, extra_fields=None, *, layout: OutputLayout | None = None, coords=None, dims=None):
    """Build the InferenceData / DataTree from arrays grouped by chain.

    ``samples``: a dict of arrays of shape ``(chain, draw, ...)`` (one per variable), or one
    such array (named ``layout.sample_name``, ``x`` by default); ``extra_fields``: dict of arrays with the same leading axes.
    ``layout`` (a kernel's :meth:`~ebm_numpyro.kernels.EBMKernel.output_layout`), ``coords``
    and ``dims`` name the trailing dims. This is what :func:`to_inference_data` calls; use it
    for states collected outside ``MCMC``.
    """
    layout = layout or OutputLayout()
    all_dims = {**layout.dims, **dict(dims or {})}
    all_coords = {**layout.coords, **dict(coords or {})}
    if not isinstance(samples, Mapping):
        samples = {layout.sample_name: samples}
    samples = {k: np.asarray(v) for k, v in samples.items() if _is_array(v)}
    extra = {k: np.asarray(v) for k, v in dict(extra_fields or {}).items() if _is_array(v)}
    sizes = _chain_draw_sizes(list(samples.values()) + list(extra.values()))
    base = {"chain": np.arange(sizes[0]), "draw": np.arange(sizes[1])}

    def dataset(arrays, sign=None):
        variables, used = {}, {}
        for name, arr in arrays.items():
            out = _RENAME.get(name, name) if sign else name
            names = _dims(name, arr, all_dims.get(name))
            variables[out] = (("chain", "draw", *names), -arr if sign and name in _RENAME else arr)
            for d in names:
                used[d] = None
        dataset_coords = dict(base)
        for key, value in all_coords.items():
            along = value[0] if isinstance(value, tuple) else key
            along = (along,) if isinstance(along, str) else tuple(along)
            if all(d in used or d in base for d in along) and any(d in used for d in along):
                dataset_coords[key] = value
        return xr.Dataset(variables, coords=dataset_coords)

    post = dataset(samples)
    post.attrs.update(layout.attrs)
    groups = {"posterior": post}
    if extra:
        groups["sample_stats"] = dataset(extra, sign=True)
    attrs = {"inference_library": "numpyro", "creation_library": "ebm_numpyro"}
    return compat.make_inference_data(groups, attrs)


# --- helpers ---------------------------------------------------------------------------
def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _dims(name, arr, names):
    """Trailing dim names of ``arr`` (after chain, draw): the given ones or ``{name}_dim_k``."""
    trailing = arr.ndim - 2
    if names is not None:
        names = tuple(names)
        if len(names) != trailing:
            raise ValueError(
                f"variable {name!r} has shape {arr.shape}: {trailing} dims after (chain, draw), "
                f"but its dims are given as {names}"
            )
        return names
    return tuple(f"{name}_dim_{i}" for i in range(trailing))


def _chain_draw_sizes(arrays) -> tuple[int, int]:
    if not arrays:
        raise ValueError("no samples and no extra fields to convert")
    shapes = {tuple(np.shape(a)[:2]) for a in arrays}
    if any(np.ndim(a) < 2 for a in arrays) or len(shapes) != 1:
        raise ValueError(
            "samples and extra fields must share leading (chain, draw) axes "
            f"(use group_by_chain=True); got shapes {[np.shape(a) for a in arrays]}"
        )
    return shapes.pop()
