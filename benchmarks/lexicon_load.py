"""Start-up cost of the lexicon: a new process imports sensoryt5, reads the norms and loads the OOV regressor.

Target (issue: the sensory lexicon): under 0.3 s in a second process, i.e. once the regressor is cached. The figure
is the time inside the new process from before `import sensoryt5.lexicon` to a loaded regressor (the user cache's or
the shipped one); the baseline it is compared with is the same process importing NumPy alone (the floor of any
process that uses the table).

    python -m benchmarks.lexicon_load [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.harness import Figure

TARGET_S = 0.3
LOAD = ("import time; t = time.perf_counter(); from sensoryt5.lexicon import SensoryLexicon; "
        "lexicon = SensoryLexicon(); assert lexicon.regressor is not None; print(time.perf_counter() - t)")
FLOOR = "import time; t = time.perf_counter(); import numpy; print(time.perf_counter() - t)"


def _seconds(code: str) -> float:
    """Seconds measured inside a fresh interpreter running `code`."""
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def run(quick: bool = False) -> list[Figure]:
    """Lexicon + cached regressor load time in new processes (the first call fits the regressor if needed)."""
    _seconds(LOAD)  # fits and caches the regressor when no cache exists yet; also warms the file cache
    repeats = 3 if quick else 7
    loads, floors = [], []
    for _ in range(repeats):
        loads.append(_seconds(LOAD))
        floors.append(_seconds(FLOOR))
    figure = Figure(name="lexicon_load", candidate="import + SensoryLexicon() + cached OOV regressor",
                    baseline="import numpy", unit="s", candidate_times=loads, baseline_times=floors,
                    target=f"candidate median < {TARGET_S} s")
    figure.passed = figure.summary()["candidate_median"] < TARGET_S
    return [figure]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
