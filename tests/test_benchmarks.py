"""`python -m benchmarks`: the quick run (as CI runs it) writes a complete BENCHMARKS.md; the report's parts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.__main__ import MODULES, ModuleRun, recorded_gpu, render  # noqa: E402

SECTIONS = ("## Machine", "## Summary", *(f"## {name}" for name in MODULES), "## GPU", "## OOV regressor study")
RATIO = re.compile(r"^(\d+\.\d{3}) \((\d+\.\d{3})–(\d+\.\d{3})\)$")


def summary_rows(text: str) -> list[list[str]]:
    """The cells of the Summary table's rows."""
    table = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| benchmark")]


@pytest.mark.slow
def test_quick_run_writes_every_section_with_numeric_ratios(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)], cwd=REPO,
                            capture_output=True, text=True, timeout=1500, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f"\n{section}\n" in text, section
    assert "ERROR" not in text
    assert f"`python -m benchmarks --quick --output {output}`" in text and "wall time **" in text
    for key in ("CPU", "cores", "torch", "GPU", "load average at start", "load average at end"):
        assert re.search(rf"^\| {key}[^|]* \| .+ \|$", text, re.MULTILINE), key
    rows = summary_rows(text)
    assert {row[0] for row in rows} >= set(MODULES)
    for _benchmark, figure, ratio, target, outcome in rows:
        match = RATIO.match(ratio)
        assert match, (figure, ratio)
        median, low, high = map(float, match.groups())
        assert 0 < low <= median <= high, figure
        assert outcome in ({"**PASS**", "**FAIL**"} if target != "–" else {"reported"}), (figure, outcome)
    serve = next(row for row in rows if row[0] == "serve_load")
    assert serve[4] == "**PASS**" and "failed_requests: 0" in text  # zero failed requests
    gpu = text.split("\n## GPU\n", 1)[1]
    assert "**Live run**" in gpu or ("**Recorded run, not this run**" in gpu and "NVIDIA H200" in gpu)
    assert "](benchmarks/results/oov_study.md)" in text and "Held-out figure" in text


def test_a_failed_module_is_reported_and_the_recorded_gpu_run_is_labelled():
    figure = {"name": "demo/figure", "candidate": "ours", "baseline": "theirs", "unit": "s", "target": "ratio <= 1.00",
              "passed": False, "notes": {"memory": {"peak_rss_mib": 12.5}}, "repetitions": 5, "ratio_median": 1.2,
              "ratio_min": 1.1, "ratio_max": 1.3, "candidate_median": 1.2, "baseline_median": 1.0}
    runs = [ModuleRun("model_step", [figure], 3.0, 100.0), ModuleRun("serve_load", error="exit code 1: boom")]
    text = render(runs, None, {"GPU": "none", "threads per benchmark process": "1 (OMP_NUM_THREADS)"},
                  "python -m benchmarks", 12.0, quick=False)
    assert "| model_step | demo/figure | 1.200 (1.100–1.300) | ratio <= 1.00 | **FAIL** |" in text
    assert "| serve_load | – | – | – | **ERROR**: exit code 1: boom |" in text
    assert "memory.peak_rss_mib: 12.5" in text
    figures, sentence = recorded_gpu()
    assert figures and sentence.startswith("**Recorded run, not this run**") and "NVIDIA H200" in sentence
    assert "**Recorded run, not this run**" in text.split("\n## GPU\n", 1)[1]
