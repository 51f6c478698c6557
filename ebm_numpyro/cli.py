"""The ``ebm-numpyro`` command (also ``python -m ebm_numpyro``).

Subcommands, each printing its tables and writing a PNG figure and netCDF data into
``--out`` (default ``./ebm-numpyro-out``, relative to the working directory)::

    ebm-numpyro demo          # the main demonstration: about a minute on 2 CPU cores
    ebm-numpyro ising         # tempered Gibbs on a periodic lattice against Kaufman's exact values
    ebm-numpyro cd-bias       # the exact CD-k bias of a small RBM on bars-and-stripes
    ebm-numpyro train-rbm     # fit an RBM with CD-k, PCD-k or the exact gradient

Everything is computed by the public API (``ebm.TemperedGibbs`` under ``numpyro.infer.MCMC``,
``ebm.diagnostics``, ``ebm.exact``, ``ebm.learning``); this module only parses options,
prints and writes files. A bad option value is a one-line error naming the option and the
allowed values (exit status 2), checked before anything is imported or compiled.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import NamedTuple

__all__ = ["main", "build_parser"]

DEFAULT_OUT = os.path.join(".", "ebm-numpyro-out")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_MAX_SIZE = 512
_BARS_AND_STRIPES = {4: 2, 9: 3, 16: 4}  # visible units -> side of the square image
_MAX_CD_BIAS_UNITS = 24  # visible + hidden: transition matrices of 2^24 entries (128 MiB)
_MAX_HIDDEN = 20  # train-rbm evaluates the exact log-likelihood by enumerating the hidden layer
#: train-rbm's Adam step size by method: PCD's persistent chains need a slower-moving model (at 0.05
#: the 3x3 bars-and-stripes RBM peaks at log-likelihood -4.5 and ends at -6.5, worse than it starts;
#: at 0.02 with 100 chains it ends at -4.1, as CD-1 does)
_LEARNING_RATE = {"cd": 0.05, "exact": 0.05, "pcd": 0.02}


class Defaults(NamedTuple):
    """The demo's settings (``ebm-numpyro demo`` runs ``ising`` and ``cd-bias`` with these)."""

    size: int = 32
    temperatures: tuple = ("geometric", 2.0, 3.2, 14)
    chains: int = 4
    samples: int = 20000
    warmup: int = 1000
    visible: int = 9
    hidden: int = 4
    ks: tuple = (1, 2, 5, 10, 20, 50)
    train_epochs: int = 100


DEMO = Defaults()


# --- option values: validated at parse time, without importing JAX ----------------------
def _integer(minimum, maximum=None, note=""):
    """argparse ``type``: an integer in [minimum, maximum], else a one-line error."""
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {allowed}{note}; got {text!r}")
        return value

    return parse


def _lattice_size(text):
    """argparse ``type`` of ``--size``: an even side from 4 to 512 (the checkerboard sweep)."""
    value = _integer(4, _MAX_SIZE, " and even (the checkerboard sweep)")(text)
    if value % 2:
        raise argparse.ArgumentTypeError(
            f"must be an even integer from 4 to {_MAX_SIZE} (the checkerboard sweep); got {text!r}"
        )
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number; got {text!r}")
    return value


_LADDER_HELP = "T_MIN:T_MAX:N (a geometric ladder of N temperatures) or T0,T1,... (increasing)"


def _temperatures(text):
    """argparse ``type`` of ``--temperatures``: ``("geometric", t_min, t_max, n)`` or
    ``("list", (t0, t1, ...))``, positive, finite and increasing (the target, lowest, first)."""
    bad = argparse.ArgumentTypeError(
        f"must be positive finite temperatures, lowest (the target) first: {_LADDER_HELP}, "
        f"e.g. 1.8:3.2:16 or 2.0,2.3,2.6; got {text!r}"
    )
    try:
        if ":" in text:
            t_min, t_max, n = text.split(":")
            spec = ("geometric", _positive_float(t_min), _positive_float(t_max), int(n))
            if not (spec[2] > spec[1] and spec[3] >= 2):
                raise bad
            return spec
        values = tuple(_positive_float(t) for t in text.split(","))
    except (ValueError, argparse.ArgumentTypeError):
        raise bad from None
    if any(b <= a for a, b in zip(values, values[1:])):
        raise bad
    return ("list", values)


def _ks(text):
    """argparse ``type`` of ``--ks``: increasing integers >= 1, comma-separated."""
    try:
        ks = tuple(int(k) for k in text.split(","))
    except ValueError:
        ks = ()
    if not ks or ks[0] < 1 or any(b <= a for a, b in zip(ks, ks[1:])):
        raise argparse.ArgumentTypeError(
            f"must be increasing integers >= 1 separated by commas, e.g. 1,2,5,10; got {text!r}"
        )
    return ks


def _visible(text):
    """argparse ``type`` of ``--visible``: 4, 9 or 16 (bars-and-stripes of side 2, 3 or 4)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value not in _BARS_AND_STRIPES:
        raise argparse.ArgumentTypeError(
            f"must be 4, 9 or 16 (bars-and-stripes images of 2x2, 3x3 or 4x4 pixels); got {text!r}"
        )
    return value


# --- the parser -----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message (see: prog --help)``, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _common(seed_default=0):
    """Options every subcommand takes: --seed, --out, --no-progress."""
    parent = _Parser(add_help=False)
    parent.add_argument("--seed", type=_integer(0), default=seed_default, metavar="S",
                        help="random seed, an integer >= 0 (default %(default)s)")
    parent.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help="folder for the PNG figure and the netCDF data (default %(default)s; "
                             "created if missing; not inside the ebm_numpyro package)")
    parent.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    return parent


def _add_ising_options(parser):
    d = DEMO
    parser.add_argument("--size", type=_lattice_size, default=d.size, metavar="L",
                        help=f"side of the periodic L x L lattice, even, 4 to {_MAX_SIZE} (default %(default)s)")
    parser.add_argument("--temperatures", "--temperature", type=_temperatures, default=d.temperatures,
                        metavar="LADDER",
                        help=f"{_LADDER_HELP}; the samples are at the first (default 2.0:3.2:14; T_c = 2.269)")
    parser.add_argument("--chains", type=_integer(1, 64), default=d.chains, metavar="M",
                        help="independent chains, vectorized (default %(default)s)")
    parser.add_argument("--samples", type=_integer(20), default=d.samples, metavar="N",
                        help="draws per chain after warmup, one sweep each (default %(default)s)")
    parser.add_argument("--warmup", type=_integer(0), default=d.warmup, metavar="N",
                        help="warmup sweeps per chain (default %(default)s)")


def _add_cd_bias_options(parser):
    d = DEMO
    parser.add_argument("--visible", type=_visible, default=d.visible, metavar="V",
                        help="visible units: 4, 9 or 16, bars-and-stripes images of side 2, 3, 4 (default %(default)s)")
    parser.add_argument("--hidden", type=_integer(1, 15), default=d.hidden, metavar="H",
                        help="hidden units, 1 to 15 (default %(default)s)")
    parser.add_argument("--ks", type=_ks, default=d.ks, metavar="K,K,...",
                        help="CD steps k, increasing (default 1,2,5,10,20,50)")
    parser.add_argument("--train-epochs", type=_integer(0), default=d.train_epochs, metavar="E",
                        help="epochs of exact maximum-likelihood training before the bias is computed "
                             "(0: the random initial RBM; default %(default)s)")


def _add_train_rbm_options(parser):
    parser.add_argument("--method", choices=("cd", "pcd", "exact"), default="cd",
                        help="negative phase: CD-k, persistent CD-k or exact enumeration (default %(default)s)")
    parser.add_argument("--k", type=_integer(1), default=1, metavar="K",
                        help="Gibbs steps per update for cd and pcd (default %(default)s)")
    parser.add_argument("--epochs", type=_integer(1), default=300, metavar="E",
                        help="training epochs (default %(default)s)")
    parser.add_argument("--hidden", type=_integer(1, _MAX_HIDDEN), default=8, metavar="H",
                        help=f"hidden units, 1 to {_MAX_HIDDEN} (the exact log-likelihood enumerates them; "
                             "default %(default)s)")
    parser.add_argument("--dataset", choices=("bars-and-stripes", "digits"), default="bars-and-stripes",
                        help="bars-and-stripes (all images, --visible pixels) or scikit-learn's 8x8 digits "
                             "thresholded to {0,1} (needs scikit-learn; default %(default)s)")
    parser.add_argument("--visible", type=_visible, default=9, metavar="V",
                        help="bars-and-stripes pixels: 4, 9 or 16 (default %(default)s)")
    parser.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                        help=f"Adam step size (default {_LEARNING_RATE['cd']} for cd and exact, "
                             f"{_LEARNING_RATE['pcd']} for pcd: persistent chains lag behind a fast-moving model)")
    parser.add_argument("--chains", type=_integer(1), default=100, metavar="C",
                        help="persistent chains of pcd (default %(default)s)")
    parser.add_argument("--batch-size", type=_integer(1), default=32, metavar="B",
                        help="minibatch size (default %(default)s; at most the data set)")


_EPILOG = """\
examples:
  ebm-numpyro demo                                   # about a minute on 2 CPU cores
  ebm-numpyro ising --size 16 --temperatures 1.6:3.4:12 --chains 4 --samples 5000
  ebm-numpyro ising --temperatures 2.0,2.27,2.6 --out runs/ising
  ebm-numpyro cd-bias --visible 16 --hidden 4 --ks 1,2,5,10,20
  ebm-numpyro train-rbm --method pcd --k 1 --epochs 500 --hidden 8
  python -m ebm_numpyro ising --help

Every subcommand prints its tables and writes a PNG figure and netCDF data into --out;
reopen the sampler's run with arviz.from_netcdf(path), the others with xarray.open_dataset(path).
"""

_COMMANDS = {
    "demo": (
        "the main demonstration: tempered Gibbs on a 32x32 Ising lattice across T_c and the exact CD-k bias",
        "Runs `ising` and `cd-bias` with their defaults: a 32x32 periodic Ising lattice on a geometric\n"
        "ladder of 14 temperatures from 2.0 to 3.2 (T_c = 2.269) with ebm.TemperedGibbs under\n"
        "numpyro.infer.MCMC (4 chains), the ArviZ mixing table, the energy per spin at every\n"
        "temperature against Kaufman's exact 32x32 value with z-scores from the MCSE, and the exact\n"
        "CD-k bias of an RBM trained on 3x3 bars-and-stripes. Writes demo.png, demo_ising.nc and\n"
        "demo_cd_bias.nc into --out.",
        "  ebm-numpyro demo\n  ebm-numpyro demo --out /tmp/ebm --seed 1",
    ),
    "ising": (
        "tempered Gibbs on a periodic 2-D Ising lattice, checked against Kaufman's exact values",
        "Samples the periodic L x L Ising model (J = 1, no field) with ebm.TemperedGibbs (heat-bath\n"
        "checkerboard sweeps and replica exchange along the ladder) under numpyro.infer.MCMC; prints\n"
        "the ArviZ mixing table at the target (lowest) temperature, the swap acceptance along the\n"
        "ladder, and the energy and heat capacity per spin at every temperature against Kaufman's\n"
        "exact finite-lattice values with z-scores from the MCSE. Writes ising.png and ising.nc.",
        "  ebm-numpyro ising --size 16 --temperatures 1.6:3.4:12\n"
        "  ebm-numpyro ising --size 64 --temperatures 2.1:2.5:24 --chains 2 --samples 2000\n"
        "  ebm-numpyro ising --temperatures 2.0 --out runs/single   # one temperature, no exchange",
    ),
    "cd-bias": (
        "the exact CD-k bias of a small RBM on bars-and-stripes",
        "Trains a small RBM on all bars-and-stripes images by exact maximum likelihood, then computes\n"
        "exactly (no sampling) the expected CD-k gradient minus the true log-likelihood gradient for\n"
        "every k (ebm.learning.cd_bias). Writes cd_bias.png and cd_bias.nc.",
        "  ebm-numpyro cd-bias\n  ebm-numpyro cd-bias --visible 16 --hidden 6 --ks 1,3,10,30,100",
    ),
    "train-rbm": (
        "train an RBM with CD-k, PCD-k or the exact gradient (ebm.learning.fit)",
        "Fits an RBM with Adam on bars-and-stripes or binarised digits and records the exact\n"
        "log-likelihood along the way (held-out images for digits). Writes train_rbm.png and\n"
        "train_rbm.nc (parameters and log-likelihood curve).",
        "  ebm-numpyro train-rbm --method cd --k 1 --epochs 300\n"
        "  ebm-numpyro train-rbm --method pcd --k 5 --dataset digits --hidden 16 --epochs 20",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``ebm-numpyro`` argument parser with its four subcommands."""
    parser = _Parser(
        prog="ebm-numpyro",
        description="Statistical mechanics for energy-based models in NumPyro: samplers, exact answers, "
                    "ArviZ diagnostics.",
        epilog=_EPILOG,
        formatter_class=_formatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    adders = {"demo": (), "ising": (_add_ising_options,), "cd-bias": (_add_cd_bias_options,),
              "train-rbm": (_add_train_rbm_options,)}
    for name, (summary, description, examples) in _COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=description, epilog="examples:\n" + examples,
                           formatter_class=_formatter, parents=[_common()])
        for add in adders[name]:
            add(p)
        p.set_defaults(subparser=p)
    return parser


def _check(parser, args):
    """Checks across options and of the environment, before any work (one-line errors)."""
    out = os.path.abspath(args.out)
    if os.path.commonpath([out, _PACKAGE_DIR]) == _PACKAGE_DIR:
        parser.error(f"argument --out: must not be inside the ebm_numpyro package ({_PACKAGE_DIR}); got {args.out!r}")
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"argument --out: must be a folder; {args.out!r} is a file")
    if args.command == "cd-bias" and args.visible + args.hidden > _MAX_CD_BIAS_UNITS:
        parser.error(f"arguments --visible and --hidden: at most {_MAX_CD_BIAS_UNITS} units together "
                     f"(exact transition matrices of 2^(V+H) entries); got {args.visible} + {args.hidden}")
    if args.command == "train-rbm" and args.dataset == "digits" and not _has_module("sklearn"):
        parser.error("argument --dataset: digits needs scikit-learn (pip install scikit-learn)")
    if not (_has_module("h5netcdf") or _has_module("netCDF4")):
        parser.error("writing netCDF needs h5netcdf or netCDF4 (pip install h5netcdf)")


def _has_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main(argv=None) -> int:
    """Entry point of ``ebm-numpyro`` and ``python -m ebm_numpyro``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(args.subparser, args)
    _headless_matplotlib()
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    written = _RUN[args.command](args)
    print("\nwrote " + ", ".join(os.path.relpath(p) for p in written)
          + f" ({time.perf_counter() - start:.0f} s)")
    return 0


def _headless_matplotlib():
    """Without a display (and no backend chosen), pyplot draws with Agg. The figures are made
    with ``matplotlib.figure.Figure`` and saved, so no window is ever opened."""
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not display and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = "Agg"


# --- the jobs -------------------------------------------------------------------------------
class IsingRun(NamedTuple):
    """What ``ising`` computes: the InferenceData and the diagnostics read from it."""

    idata: object
    mixing: object
    tempering: object  # None for a single temperature
    kaufman: object


def _ladder(spec):
    import numpy as np

    import ebm_numpyro as ebm

    if spec[0] == "geometric":
        return np.asarray(ebm.geometric_ladder(*spec[1:]), np.float64)
    return np.asarray(spec[1], np.float64)


def _heading(text):
    print(f"\n== {text}")


def _sample_ising(size, temperatures, chains, samples, warmup, seed, progress):
    """``ebm.TemperedGibbs`` on the L x L lattice under ``numpyro.infer.MCMC``; returns the MCMC."""
    import jax
    from numpyro.infer import MCMC

    import ebm_numpyro as ebm

    lattice = ebm.Ising.square_lattice(size)
    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperatures=temperatures)
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains,
                chain_method="vectorized", progress_bar=progress)
    fields = ("potential_energy", "energies") + (("swap_accept", "replica_index") if len(temperatures) > 1 else ())
    mcmc.run(jax.random.key(seed), extra_fields=fields)
    return mcmc


def _print_frame(frame, digits=4):
    print(frame.to_string(float_format=lambda x: f"{x:.{digits}g}"))


def _print_kaufman(comparison):
    import pandas as pd

    import ebm_numpyro as ebm

    columns = {}
    for name, label in (("energy_per_spin", "E/N"), ("heat_capacity_per_spin", "C/N")):
        for stat in ("sampled", "exact", "mcse", "z"):
            columns[f"{label} {stat}"] = comparison[name].sel(statistic=stat).values
    frame = pd.DataFrame(columns, index=pd.Index(comparison["temperature"].values.round(4), name="T"))
    _print_frame(frame)
    z, limit = ebm.diagnostics.max_abs_z(comparison), ebm.diagnostics.z_threshold(comparison)
    verdict = "consistent with the exact values" if z < limit else "INCONSISTENT with the exact values"
    print(f"max |z| = {z:.2f}; Bonferroni threshold at 1% for {2 * comparison.sizes['temperature']} "
          f"values: {limit:.2f} -> {verdict}")


def _ising(args, title):
    """Sample, convert and print the diagnostics of the ``ising`` job; returns an IsingRun."""
    import ebm_numpyro as ebm

    temperatures = _ladder(args.temperatures)
    _heading(f"{title}: 2-D Ising model, {args.size}x{args.size} periodic lattice, "
             f"{len(temperatures)} temperatures {temperatures[0]:.4g} ... {temperatures[-1]:.4g} "
             f"(T_c = 2.269), {args.chains} chains x {args.samples} sweeps after {args.warmup} warmup")
    mcmc = _sample_ising(args.size, temperatures, args.chains, args.samples, args.warmup, args.seed, args.progress)
    idata = ebm.diagnostics.to_inference_data(mcmc)
    mixing = ebm.diagnostics.mixing(idata)
    _heading(f"Mixing at the target temperature T = {temperatures[0]:.4g} (ArviZ: bulk/tail ESS, R-hat; "
             "tau = integrated autocorrelation time in sweeps)")
    _print_frame(mixing.to_dataframe())
    if temperatures[0] < ebm.exact.onsager_critical_temperature() and len(temperatures) > 1:
        print("(below T_c the magnetization changes sign only through replica exchange: its tau is "
              "of the order of the round-trip time along the ladder)")
    tempering = None
    if len(temperatures) > 1:
        tempering = ebm.diagnostics.tempering(idata)
        _heading("Replica exchange: swap acceptance per neighbouring pair of temperatures")
        _print_frame(tempering[["temperature_low", "temperature_high", "swap_accept"]].to_dataframe(), 3)
        print(f"round trips (lowest -> highest -> lowest temperature): {int(tempering['round_trips_total'])}")
    kaufman = ebm.diagnostics.compare_kaufman(idata, args.size)
    _heading(f"Energy E/N and heat capacity C/N per spin against Kaufman's exact {args.size}x{args.size} "
             "values (z = (sampled - exact) / MCSE)")
    _print_kaufman(kaufman)
    return IsingRun(idata, mixing, tempering, kaufman)


def _bars_and_stripes(visible):
    import ebm_numpyro as ebm

    return ebm.datasets.bars_and_stripes(_BARS_AND_STRIPES[visible])


def _initial_rbm(data, hidden, seed):
    """Small random weights (sd 0.1) and visible biases at the data's base rates."""
    import numpy as np

    import ebm_numpyro as ebm

    weights = np.random.default_rng(seed).normal(scale=0.1, size=(data.shape[1], hidden))
    return ebm.RBM(weights, ebm.learning.base_rate_bias(data))


def _cd_bias(args, title):
    """Train a small RBM exactly, then print and return its exact CD-k bias (``learning.cd_bias``)."""
    import jax
    import optax

    import ebm_numpyro as ebm

    side = _BARS_AND_STRIPES[args.visible]
    data = _bars_and_stripes(args.visible)
    _heading(f"{title}: exact CD-k bias of an RBM with {args.visible} visible and {args.hidden} hidden units "
             f"on all {len(data)} {side}x{side} bars-and-stripes images, after {args.train_epochs} epochs "
             "of exact maximum-likelihood training")
    model = _initial_rbm(data, args.hidden, args.seed)
    if args.train_epochs:
        model = ebm.learning.fit(
            model, data, method="exact", optimizer=optax.adam(0.05), epochs=args.train_epochs,
            batch_size=len(data), key=jax.random.key(args.seed), log_likelihood=None, progress=args.progress,
        ).model
    bias = ebm.learning.cd_bias(model, data, ks=args.ks)
    print(f"exact mean log-likelihood {float(ebm.exact.log_likelihood(model, data)):.4f} "
          f"(the best possible is -log {len(data)} = {-math.log(len(data)):.4f}); "
          "bias = E[CD-k gradient] - exact gradient:")
    _print_frame(ebm.diagnostics.cd_bias_report(bias))
    return bias


def _figure(rows, cols):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.4 * cols, 3.4 * rows), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def _ising_panels(axes, run):
    import ebm_numpyro as ebm

    ebm.diagnostics.plot_kaufman(run.kaufman, axes=axes[:2])
    if run.tempering is not None:
        ebm.diagnostics.plot_swap_acceptance(run.tempering, ax=axes[2])
    else:
        axes[2].set_axis_off()


def _save_figure(fig, path):
    fig.savefig(path, dpi=120)
    return path


def _write_netcdf(data, path):
    """InferenceData (ArviZ 0.23), DataTree (ArviZ 1.x) or Dataset, all with ``to_netcdf``."""
    if os.path.exists(path):
        os.remove(path)  # h5netcdf appends to an existing file's groups otherwise
    data.to_netcdf(path)
    return path


def run_demo(args):
    """``ebm-numpyro demo``: ``ising`` and ``cd-bias`` with the demo's defaults, one figure."""
    for name, value in DEMO._asdict().items():
        setattr(args, name, value)
    run = _ising(args, "1/2")
    bias = _cd_bias(args, "2/2")
    fig, axes = _figure(2, 2)
    _ising_panels([axes[0, 0], axes[0, 1], axes[1, 0]], run)
    _plot_cd_bias(bias, axes[1, 1])
    return [
        _save_figure(fig, os.path.join(args.out, "demo.png")),
        _write_netcdf(run.idata, os.path.join(args.out, "demo_ising.nc")),
        _write_netcdf(bias, os.path.join(args.out, "demo_cd_bias.nc")),
    ]


def run_ising(args):
    """``ebm-numpyro ising``."""
    run = _ising(args, "ising")
    fig, axes = _figure(1, 3)
    _ising_panels(axes[0], run)
    return [
        _save_figure(fig, os.path.join(args.out, "ising.png")),
        _write_netcdf(run.idata, os.path.join(args.out, "ising.nc")),
    ]


def _plot_cd_bias(bias, ax):
    import ebm_numpyro as ebm

    ebm.diagnostics.plot_cd_bias(bias, ax=ax)


def run_cd_bias(args):
    """``ebm-numpyro cd-bias``."""
    bias = _cd_bias(args, "cd-bias")
    fig, axes = _figure(1, 1)
    _plot_cd_bias(bias, axes[0, 0])
    return [
        _save_figure(fig, os.path.join(args.out, "cd_bias.png")),
        _write_netcdf(bias, os.path.join(args.out, "cd_bias.nc")),
    ]


def _rbm_data(args):
    """``(train, evaluation, best)``: the data, the log-likelihood's data, and the best possible
    mean log-likelihood when known (bars-and-stripes: -log of the number of images)."""
    import ebm_numpyro as ebm

    if args.dataset == "digits":
        train, test = ebm.datasets.digits_binary(seed=args.seed)
        return train, test, None
    data = _bars_and_stripes(args.visible)
    return data, data, -math.log(len(data))


def _method_label(args):
    if args.method == "pcd":
        return f"PCD-{args.k} ({args.chains} chains)"
    return "exact gradient" if args.method == "exact" else f"CD-{args.k}"


def _learning_rate(args):
    return _LEARNING_RATE[args.method] if args.learning_rate is None else args.learning_rate


def _train_rbm(args):
    import jax
    import optax

    import ebm_numpyro as ebm

    train, evaluation, best = _rbm_data(args)
    _heading(f"train-rbm: RBM with {train.shape[1]} visible and {args.hidden} hidden units on {len(train)} "
             f"{args.dataset} images, {_method_label(args)}, "
             f"Adam({_learning_rate(args)}), {args.epochs} epochs of batch {min(args.batch_size, len(train))}")
    result = ebm.learning.fit(
        _initial_rbm(train, args.hidden, args.seed), train, method=args.method, k=args.k, num_chains=args.chains,
        optimizer=optax.adam(_learning_rate(args)), epochs=args.epochs, batch_size=args.batch_size,
        key=jax.random.key(args.seed), eval_data=evaluation, eval_every=max(1, args.epochs // 100),
        log_likelihood="exact", progress=args.progress,
    )
    return result, best


def _rbm_dataset(result, args, best):
    """The trained parameters and the log-likelihood curve as one ``xarray.Dataset``."""
    import numpy as np
    import xarray as xr

    model, history = result.model, result.history
    attrs = {"method": args.method, "k": args.k, "dataset": args.dataset, "learning_rate": _learning_rate(args),
             "batch_size": args.batch_size, "seed": args.seed, "label": _method_label(args)}
    if best is not None:
        attrs["best_log_likelihood"] = best
    return xr.Dataset(
        {
            "weights": (("visible", "hidden"), np.asarray(model.weights)),
            "visible_bias": ("visible", np.asarray(model.visible_bias)),
            "hidden_bias": ("hidden", np.asarray(model.hidden_bias)),
            "log_likelihood": ("epoch", np.asarray(history["log_likelihood"], np.float64)),
        },
        coords={"epoch": np.asarray(history["epoch"])},
        attrs=attrs,
    )


def run_train_rbm(args):
    """``ebm-numpyro train-rbm``."""
    result, best = _train_rbm(args)
    ds = _rbm_dataset(result, args, best)
    rows = sorted(set(range(0, ds.sizes["epoch"], max(1, ds.sizes["epoch"] // 10))) | {ds.sizes["epoch"] - 1})
    print("exact mean log-likelihood" + (" of the held-out images" if args.dataset == "digits" else "")
          + (f" (best possible {best:.4f}):" if best is not None else ":"))
    _print_frame(ds["log_likelihood"].isel(epoch=rows).to_dataframe())
    fig, axes = _figure(1, 1)
    ax = axes[0, 0]
    ax.plot(ds["epoch"], ds["log_likelihood"], "-", label=ds.attrs["label"])
    if best is not None:
        ax.axhline(best, ls=":", color="0.4", label=f"best possible ({best:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log-likelihood (exact)")
    ax.set_title(f"RBM on {args.dataset}")
    ax.legend(fontsize=8)
    return [
        _save_figure(fig, os.path.join(args.out, "train_rbm.png")),
        _write_netcdf(ds, os.path.join(args.out, "train_rbm.nc")),
    ]


_RUN = {"demo": run_demo, "ising": run_ising, "cd-bias": run_cd_bias, "train-rbm": run_train_rbm}
