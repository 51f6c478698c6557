"""Execute the tutorial notebooks in place, so that they are committed with their outputs.

    python tutorials/execute.py                      # every tutorials/[0-9]*.ipynb
    python tutorials/execute.py tutorials/03_*.ipynb  # some of them

Run it from a checkout whose package is the one you want to record (it puts the repository
root first on the kernel's PYTHONPATH, and unsets MPLBACKEND so that figures are stored
inline as PNG). Each notebook's ``metadata["ebm_numpyro"]`` then records the package
version, :func:`api_fingerprint` of the public API it ran against, the versions of Python,
JAX, NumPyro and ArviZ, and how long it took. ``tests/docs/test_tutorials.py`` fails when a
committed notebook lacks outputs, shows an error or a warning, or was executed against
another API than the current one: re-run this script and commit the notebooks.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
#: the modules whose public names make up the API the tutorials are written against
API_MODULES = ("", "exact", "learning", "diagnostics", "schedules", "losses", "landscape",
               "datasets", "kernels", "models", "parallel")


def notebooks() -> list[Path]:
    """The tutorial notebooks, in reading order."""
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))


def _describe(name: str, obj) -> str:
    try:
        signature = str(inspect.signature(obj))
    except (TypeError, ValueError):
        signature = ""
    if inspect.isclass(obj):
        methods = sorted(m for m in vars(obj) if not m.startswith("_"))
        return f"class {name}{signature} [{', '.join(methods)}]"
    return f"{name}{signature}" if callable(obj) else name


def api_description() -> list[str]:
    """One line per public name of ``ebm_numpyro`` and its submodules, with its signature."""
    import importlib
    import types

    import ebm_numpyro

    lines = [f"version {ebm_numpyro.__version__}"]
    for suffix in API_MODULES:
        module = importlib.import_module("ebm_numpyro" + ("." + suffix if suffix else ""))
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in vars(module) if not n.startswith("_")]
        for name in sorted(names):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                continue
            lines.append(f"{module.__name__}.{_describe(name, obj)}")
    return lines


def api_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of :func:`api_description`: changes with any public signature."""
    text = "\n".join(api_description()).replace(str(ROOT), "<root>")
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)  # reprs of default values carry addresses
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def execute(path: Path, timeout: int = 900) -> float:
    """Execute one notebook in place and record what it ran against; returns the seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    import arviz
    import jax
    import numpyro

    import ebm_numpyro

    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend stores figures as PNG
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(TUTORIALS)}}).execute()
    seconds = time.perf_counter() - start
    nb.metadata["ebm_numpyro"] = {
        "version": ebm_numpyro.__version__,
        "api_fingerprint": api_fingerprint(),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "numpyro": numpyro.__version__,
        "arviz": arviz.__version__,
        "seconds": round(seconds, 1),
    }
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    paths = [Path(p).resolve() for p in argv] or notebooks()
    for path in paths:
        seconds = execute(path)
        print(f"{path.name}: {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
