"""The one place where benchmark scripts write their results.

By default a benchmark writes ``<name>.json`` under ``./ebm-numpyro-out/benchmarks/`` (relative
to the working directory, outside the tracked tree, ignored by git), so that running a
benchmark leaves ``git status`` clean. ``--out benchmarks/results`` (or the environment
variable ``EBM_NUMPYRO_BENCH_OUT`` for scripts without ``--out``) updates the recorded figures
in ``benchmarks/results/``.
"""

import json
import os

#: the recorded figures, tracked by git
RECORDED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
#: where results go unless told otherwise (untracked; in .gitignore)
DEFAULT_OUT = os.path.join(".", "ebm-numpyro-out", "benchmarks")
OUT_ENV = "EBM_NUMPYRO_BENCH_OUT"


def default_out():
    """``$EBM_NUMPYRO_BENCH_OUT`` if set, else ``./ebm-numpyro-out/benchmarks``."""
    return os.environ.get(OUT_ENV) or DEFAULT_OUT


def add_out_argument(parser):
    """Add the common ``--out DIR`` option to an ``argparse`` parser."""
    parser.add_argument(
        "--out", default=None, metavar="DIR",
        help=f"directory for the JSON results (default ${OUT_ENV} or {DEFAULT_OUT}; "
             "'--out benchmarks/results' updates the recorded figures)",
    )
    return parser


def write_results(payload, name, out=None):
    """Write ``payload`` as indented JSON to ``<out>/<name>.json``; return the path.

    ``out`` is a directory (default :func:`default_out`). A path ending in ``.json`` is
    taken as the file itself.
    """
    out = out or default_out()
    path = out if out.endswith(".json") else os.path.join(out, f"{name}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    print("wrote", os.path.relpath(path))
    return path
