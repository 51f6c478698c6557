"""Replica-exchange diagnostics: swap acceptance per ladder pair and replica round trips."""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import _arviz_compat as compat

__all__ = ["tempering", "round_trips"]

_REQUEST = 'mcmc.run(..., extra_fields=("swap_accept", "replica_index"))'


def _last_extreme(replica_index: np.ndarray):
    """Per (chain, draw, replica): -1 if the replica's last visited end was the bottom
    (lowest temperature, slot 0), +1 if the top (slot n-1), 0 before it reached either."""
    rep = np.asarray(replica_index)
    n_chains, n_draws, n = rep.shape
    if not np.array_equal(np.sort(rep, axis=-1), np.broadcast_to(np.arange(n), rep.shape)):
        raise ValueError(
            "`replica_index` must hold, at every draw, a permutation of the replica ids 0..n-1 "
            "(the id of the replica at each temperature)"
        )
    position = np.argsort(rep, axis=-1)  # position[c, d, r] = temperature slot of replica r
    label = np.where(position == 0, -1, np.where(position == n - 1, 1, 0)).astype(np.int8)
    seen = np.where(label != 0, np.arange(n_draws)[None, :, None], -1)
    seen = np.maximum.accumulate(seen, axis=1)  # index of the latest draw at an end
    last = np.where(seen >= 0, np.take_along_axis(label, np.maximum(seen, 0), axis=1), 0)
    return last.astype(np.int8), label


def round_trips(replica_index) -> np.ndarray:
    """Number of completed round trips per chain, from ``replica_index`` (chain, draw, n).

    ``replica_index[c, t, k]`` is the id of the replica at temperature slot k (slot 0 =
    the target, lowest temperature). A round trip is a replica's journey bottom -> top ->
    bottom (slot 0 to slot n-1 and back to slot 0). Per replica, the sequence of ends it
    visits is reduced to its alternations B, T, B, T, ...; every arrival T -> B is a round
    trip except one that is not preceded by a B (a replica that starts nearer the top).
    Only recorded draws are seen: with ``thinning`` > 1 or sparse swaps, short excursions
    between draws are missed. Vectorised over chains, draws and replicas.
    """
    last, label = _last_extreme(replica_index)
    arrivals = (last[:, 1:] == -1) & (last[:, :-1] == 1)  # T -> B completions
    count = arrivals.sum(axis=1)  # (chain, replica)
    first = np.take_along_axis(label, np.argmax(label != 0, axis=1)[:, None, :], axis=1)[:, 0]
    count = count - ((first == 1) & (count > 0))  # the first T -> B of a top starter is half a trip
    return count.sum(axis=1)


def tempering(idata) -> xr.Dataset:
    """Swap acceptance per ladder pair and replica round trips of a replica-exchange run.

    Needs ``sample_stats.swap_accept`` (chain, draw, pair) and/or
    ``sample_stats.replica_index`` (chain, draw, temperature); request them with
    ``mcmc.run(..., extra_fields=("swap_accept", "replica_index"))``. Returns a Dataset with

    - ``swap_accept`` (pair) and ``swap_accept_chain`` (chain, pair): mean Metropolis swap
      probability :math:`\\langle\\min(1, e^{(\\beta_k-\\beta_{k+1})(E_k-E_{k+1})})\\rangle`
      of the neighbouring temperatures k, k+1;
    - ``communication_barrier``: the estimated global communication barrier
      :math:`\\Lambda = \\sum_k (1 - \\text{swap\\_accept}_k)` of non-reversible parallel tempering
      (Syed et al. 2021), and ``round_trip_rate_bound`` :math:`1/(2 + 2\\Lambda)`, the round-trip
      rate per sweep that an equally spaced ladder of this barrier attains (their Theorem 3);
    - ``round_trips`` (chain), ``round_trips_total``: completed bottom -> top -> bottom
      trips, see :func:`round_trips`;
    - ``round_trip_rate``: round trips per sweep per chain, ``round_trips_total / (M N)``;
    - ``round_trip_time``: mean sweeps one replica needs per round trip,
      :math:`n_T M N / \\text{round\\_trips\\_total}` (inf if none);
    - ``up_fraction`` (temperature): :math:`f(T) = n_\\uparrow/(n_\\uparrow + n_\\downarrow)`, the
      fraction of replicas at T whose last visited end was the bottom (Katzgraber et al.
      2006); 1 at the target, 0 at the top, close to linear in between for a well
      spaced ladder, with a plateau where the ladder is a bottleneck.
    """
    stats = compat.get_group(idata, "sample_stats", required=False)
    has = [n for n in ("swap_accept", "replica_index") if stats is not None and n in stats]
    if not has:
        raise ValueError(
            "tempering diagnostics need the extra fields 'swap_accept' and/or 'replica_index' "
            f"of a replica-exchange run: request them with {_REQUEST} and convert with "
            "ebm_numpyro.diagnostics.to_inference_data"
        )
    out: dict = {}
    coords = {k: stats.coords[k] for k in ("chain", "temperature", "pair") if k in stats.coords}
    for k in ("temperature_low", "temperature_high", "temperature_value"):
        if k in stats.coords:
            coords[k] = stats.coords[k]
    if "swap_accept" in stats:
        acc = stats["swap_accept"].transpose("chain", "draw", "pair")
        if acc.sizes["pair"] == 0:
            raise ValueError("a single temperature has no ladder: nothing to swap")
        values = np.asarray(acc, dtype=np.float64)
        out["swap_accept"] = ("pair", np.nanmean(values, axis=(0, 1)))
        out["swap_accept_chain"] = (("chain", "pair"), np.nanmean(values, axis=1))
        barrier = float(np.sum(1.0 - out["swap_accept"][1]))
        out["communication_barrier"] = ((), barrier)
        out["round_trip_rate_bound"] = ((), 1.0 / (2.0 + 2.0 * barrier))
    if "replica_index" in stats:
        rep = np.asarray(stats["replica_index"].transpose("chain", "draw", "temperature"))
        n_chains, n_draws, n = rep.shape
        if n < 2:
            raise ValueError("a single temperature has no ladder: no round trips")
        per_chain = round_trips(rep)
        total = int(per_chain.sum())
        last, _ = _last_extreme(rep)
        direction = np.take_along_axis(last, rep.astype(np.int64), axis=2)  # at each slot
        n_up = (direction == -1).sum(axis=(0, 1))
        n_down = (direction == 1).sum(axis=(0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            up_fraction = n_up / (n_up + n_down)
            trip_time = n * n_chains * n_draws / total if total else np.inf
        out["round_trips"] = ("chain", per_chain)
        out["round_trips_total"] = ((), total)
        out["round_trip_rate"] = ((), total / (n_chains * n_draws))
        out["round_trip_time"] = ((), float(trip_time))
        out["up_fraction"] = ("temperature", up_fraction)
    return xr.Dataset(out, coords=coords)
