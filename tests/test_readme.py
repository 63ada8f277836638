"""The README's Python examples run as written, on a small trained model in place of `models/isear` (a block marked
`# needs the Hugging Face hub` is skipped: the hub is not reachable in tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NEEDS_HUB = "# needs the Hugging Face hub"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_readme_has_python_examples_that_use_the_public_api():
    assert len(BLOCKS) >= 2
    assert all("sensoryt5." not in line for block in BLOCKS for line in block.splitlines()
               if line.startswith("from "))  # `from sensoryt5 import ...`, not from the modules


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(block, model_dir):
    if NEEDS_HUB in block:
        pytest.skip("needs the Hugging Face hub")
    assert "models/isear" in block
    code = block.replace('"models/isear"', repr(str(model_dir)))
    exec(compile(code, f"{README.name} block", "exec"), {"__name__": "readme"})
