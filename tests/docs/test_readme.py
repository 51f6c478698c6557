"""The README's Python examples run as written (keeps the README true)."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"  # this file: tests/docs/


@pytest.mark.slow
@pytest.mark.arviz
def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python examples"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["idata"] is not None
    assert float(namespace["ebm"].diagnostics.max_abs_z(namespace["ebm"].diagnostics.compare_exact(namespace["idata"], namespace["lattice"], 1.5))) < 10
