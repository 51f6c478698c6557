"""The one place that knows the difference between ArviZ 0.23 and ArviZ 1.x.

ArviZ 0.23 (Python 3.11) stores results in ``arviz.InferenceData`` and keeps its
statistics in ``arviz.stats``; ArviZ 1.x (Python >= 3.12) stores them in
``xarray.DataTree`` and re-exports ``arviz_base`` / ``arviz_stats``. Everything else in
``ebm_numpyro`` builds plain ``xarray.Dataset`` objects and goes through the functions
below, so that a future ArviZ change touches this file only:

- :func:`make_inference_data` — ``{group: Dataset}`` -> InferenceData / DataTree;
- :func:`group_names`, :func:`get_group` — group access on either container
  (a bare ``xarray.Dataset`` is accepted as a posterior);
- :func:`ess`, :func:`rhat` — ArviZ's diagnostics on a Dataset with ``chain``/``draw``;
- :func:`autocorr` — FFT autocorrelation of a NumPy array along one axis.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

#: Major version of the installed ArviZ (0 for 0.23.x, 1 for 1.x).
ARVIZ_MAJOR = int(az.__version__.split(".")[0])
#: True when ArviZ returns ``xarray.DataTree`` (ArviZ >= 1.0).
USES_DATATREE = ARVIZ_MAJOR >= 1

SAMPLE_DIMS = ("chain", "draw")

if USES_DATATREE:  # pragma: no cover - exercised on Python >= 3.12 only
    from arviz_stats.base import array_stats as _array_stats

    def _autocorr(ary, axis):
        return _array_stats.autocorr(ary, axis=axis)

    def _new(groups, attrs):
        tree = xr.DataTree.from_dict(dict(groups))
        tree.attrs.update(attrs)
        return tree

else:  # pragma: no cover - exercised on Python 3.11 only

    def _autocorr(ary, axis):
        return az.autocorr(ary, axis=axis)

    def _new(groups, attrs):
        idata = az.InferenceData(**groups)
        for name in groups:  # InferenceData has no root attrs; keep them on every group
            getattr(idata, name).attrs.update(attrs)
        return idata


def make_inference_data(groups: dict[str, xr.Dataset], attrs: dict | None = None):
    """Build ArviZ's container from ready-made Datasets (``posterior``, ``sample_stats``, ...).

    Returns ``arviz.InferenceData`` on ArviZ 0.23 and ``xarray.DataTree`` on ArviZ 1.x.
    ``attrs`` go on the root node (1.x) or on every group (0.23, which has no root).
    """
    return _new({k: v for k, v in groups.items() if v is not None}, dict(attrs or {}))


def group_names(idata) -> tuple[str, ...]:
    """Names of the groups of ``idata`` (``("posterior",)`` for a bare Dataset)."""
    if isinstance(idata, xr.Dataset):
        return ("posterior",)
    if isinstance(idata, xr.DataTree):
        return tuple(idata.children)
    if not USES_DATATREE and isinstance(idata, az.InferenceData):
        return tuple(idata.groups())
    raise TypeError(
        "expected ArviZ InferenceData (ArviZ 0.23), xarray.DataTree (ArviZ 1.x) or an "
        f"xarray.Dataset; got {type(idata).__name__}"
    )


def get_group(idata, name: str, *, required: bool = True) -> xr.Dataset | None:
    """Group ``name`` of ``idata`` as an ``xarray.Dataset`` (``None`` if absent and not required).

    A bare ``xarray.Dataset`` is treated as the ``posterior`` group.
    """
    names = group_names(idata)
    if name not in names:
        if required:
            raise ValueError(f"`idata` has no {name!r} group; its groups are {list(names)}")
        return None
    if isinstance(idata, xr.Dataset):
        return idata
    if isinstance(idata, xr.DataTree):
        return idata[name].to_dataset()
    return getattr(idata, name)


def _as_float(ds: xr.Dataset) -> xr.Dataset:
    return ds.map(lambda v: v.astype(np.float64) if v.dtype.kind in "biu" else v)


def ess(ds: xr.Dataset, method: str = "bulk") -> xr.Dataset:
    """ArviZ effective sample size over ``(chain, draw)``; ``method`` in bulk/tail/mean/sd.

    Both versions implement Vehtari et al. (2021): split chains, (rank-normalised for
    "bulk"/"tail") autocorrelations combined across chains, truncated by Geyer's initial
    monotone sequence. Returns a Dataset without the ``chain``/``draw`` dims.
    """
    return az.ess(_as_float(ds), method=method)


def rhat(ds: xr.Dataset) -> xr.Dataset:
    """ArviZ rank-normalised split R-hat (max of bulk and folded R-hat) over ``(chain, draw)``."""
    return az.rhat(_as_float(ds), method="rank")


def autocorr(ary, axis: int = -1) -> np.ndarray:
    """Autocorrelation ρ̂_t for every lag t along ``axis`` (FFT estimate, ρ̂_0 = 1)."""
    ary = np.asarray(ary, dtype=np.float64)
    return np.asarray(_autocorr(ary, axis=axis if axis >= 0 else ary.ndim + axis))
