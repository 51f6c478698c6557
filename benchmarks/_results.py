"""The one place where benchmark scripts write their results (``benchmarks/results/*.json``)."""

import json
import os

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def write_results(payload, name=None, path=None):
    """Write ``payload`` as indented JSON to ``path`` or ``results/<name>.json``; return the path."""
    path = path or os.path.join(RESULTS_DIR, f"{name}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    print("wrote", os.path.relpath(path))
    return path
