"""The tutorial notebooks are committed with their outputs, and those outputs are current.

Quick checks that execute nothing (``pytest --all`` re-executes the notebooks with nbmake):
every code cell ran, in order; every notebook shows at least one figure; no output is an
error, and no stderr output holds a warning or a traceback; each notebook records (in
``metadata["ebm_numpyro"]``) the fingerprint of the public API it was executed against, and
that must be today's, so outputs produced by an older API fail here. The README links every
notebook and shows a picture from them (a PNG under docs/images/). To refresh the notebooks:

    python tutorials/execute.py            # all notebooks; or name some
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file: tests/docs/)
REFRESH = "re-execute it: `python tutorials/execute.py {path}` and commit the notebook"


def _execute_module():
    spec = importlib.util.spec_from_file_location("tutorials_execute", ROOT / "tutorials" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXECUTE = _execute_module()
NOTEBOOKS = EXECUTE.notebooks()


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_tutorials_and_the_readme_lists_them():
    assert len(NOTEBOOKS) >= 8, [p.name for p in NOTEBOOKS]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"tutorials/{path.name}" in readme, f"README.md does not link {path.name}"


def test_readme_tutorial_picture_exists():
    """The README's tutorials section shows a picture from them; every image it names exists (< 200 KB)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme)
    tutorials = readme.split("## Tutorials", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"!\[[^\]]*\]\(docs/images/[^)]+\.png\)", tutorials), "the Tutorials section shows no picture"
    for image in images:
        path = ROOT / image
        assert path.is_file(), f"README.md shows {image}, which does not exist"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{image} is not a PNG"
        assert path.stat().st_size < 200_000, f"{image}: {path.stat().st_size} bytes, keep README pictures under 200 KB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_with_clean_outputs(path):
    nb = _load(path)
    refresh = REFRESH.format(path=f"tutorials/{path.name}")
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in code]
    assert all(isinstance(n, int) for n in counts), f"{path.name}: cells without outputs; {refresh}"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: cells not run in order {counts}; {refresh}"
    images = 0
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            assert kind != "error", f"{path.name}, code cell {i}: {out.get('ename')}: {out.get('evalue')}"
            if kind == "stream" and out.get("name") == "stderr":
                text = "".join(out["text"])
                for word in ("Warning", "Traceback", "Error"):
                    assert word not in text, f"{path.name}, code cell {i}: stderr shows {word!r}:\n{text[:500]}"
            if kind in ("display_data", "execute_result") and "image/png" in out.get("data", {}):
                images += 1
    assert images >= 1, f"{path.name}: no figure (image/png output)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_outputs_come_from_the_current_api(path):
    import ebm_numpyro

    recorded = _load(path)["metadata"].get("ebm_numpyro", {})
    refresh = REFRESH.format(path=f"tutorials/{path.name}")
    assert recorded.get("version") == ebm_numpyro.__version__, f"{path.name}: executed with {recorded}; {refresh}"
    assert recorded.get("api_fingerprint") == EXECUTE.api_fingerprint(), (
        f"{path.name}: outputs come from another public API than today's; {refresh}"
    )


def test_api_fingerprint_covers_signatures():
    lines = EXECUTE.api_description()
    assert any(line.startswith("ebm_numpyro.class TemperedGibbs(model=None, potential_fn=None") for line in lines)
    assert any(line.startswith("ebm_numpyro.learning.fit(") for line in lines)
    assert EXECUTE.api_fingerprint() == EXECUTE.api_fingerprint()
