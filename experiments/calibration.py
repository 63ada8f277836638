"""Does temperature scaling calibrate the scores? ECE (15 bins) and Brier score on test, before and after.

For each model folder named on the command line (NAME=FOLDER): a copy of the folder is calibrated with
`sensoryt5.evaluation.calibrate_model` (the temperature fitted on the dev split of its training data, as `train`
does at its end), then evaluated once on the test split of that data set (`sensoryt5.evaluation.evaluate`), which
reports ECE and Brier score with and without the temperature and draws the reliability diagram. Writes
results/calibration/RESULTS.md (with the hand-written reading.md beside it, if any), results.json and one
reliability diagram per model.

    python -m experiments.calibration isear-none=/work/models/isear-none isear-input=/work/models/isear-input ...
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from sensoryt5.atomic import atomic_open, write_json

OUT = Path("results/calibration")
COMMAND = "PYTHONPATH=src OMP_NUM_THREADS=1 python -m experiments.calibration"


def measure(name: str, folder: Path) -> dict[str, Any]:
    """Calibrate a copy of `folder` on dev and evaluate it on test; the figures and the training settings."""
    from sensoryt5.evaluation import calibrate_model, evaluate
    from sensoryt5.reproduce import machine

    recorded = json.loads((folder / "train_metrics.json").read_text(encoding="utf-8"))
    dataset = recorded["config"]["dataset"]
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("eval-*", "analyze-*", "*.onnx"))
        fit = calibrate_model(copy, dataset)
        report = evaluate(copy, dataset, "test", output_dir=Path(tmp) / "eval")
        OUT.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report["reliability_diagram_file"], OUT / f"reliability-{name}.png")
    return {"name": name, "model": str(folder), "dataset": dataset, "command": recorded.get("command"),
            "fit": fit, "test": report["calibration"],
            "test_macro_f1": report["macro_f1"], "seconds": time.time() - started, "machine": machine()}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The table: per model, the temperature and the test ECE and Brier score before and after."""
    lines = ["# Calibration: temperature scaling fitted on dev, measured on test", "",
             f"Written by `{COMMAND} NAME=FOLDER ...` (" + ", ".join(f"{r['name']}={r['model']}" for r in rows)
             + "; models measured in earlier calls are kept). Each model "
             "(MiniLM, trained by the command quoted below; a temperature fitted in training is fitted again) had its "
             "temperature fitted on the dev split of its data set by `sensoryt5.evaluation.calibrate_model` — what "
             "`train` now does at its end — and was then evaluated once on test. ECE: 15 equal-width bins of the "
             "top-class probability; Brier: multi-class (sum over classes of the squared error, mean over texts).", "",
             "| model | data set | temperature | test ECE before | test ECE after | test Brier before | "
             "test Brier after | test macro-F1 | ECE not worse |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        t = r["test"]
        lines.append(f"| {r['name']} | {r['dataset']} | {t['temperature']:.3f} | {t['ece_before']:.4f} | "
                     f"{t['ece_after']:.4f} | {t['brier_before']:.4f} | {t['brier_after']:.4f} | "
                     f"{r['test_macro_f1']:.4f} | {'yes' if t['ece_after'] <= t['ece_before'] else '**no**'} |")
    lines += ["", "Reliability diagrams: `reliability-<model>.png` in this folder.", "", "## Models", ""]
    for r in rows:
        m = r["machine"]
        lines.append(f"- {r['name']}: `{r['command']}` ({r['model']}); calibration and test evaluation took "
                     f"{r['seconds']:.0f} s on {m['cpu']} ({m['cores']} cores), torch {m['torch']}.")
    reading = OUT / "reading.md"
    if reading.is_file():
        lines += ["", reading.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every NAME=FOLDER given (kept beside the earlier models of results.json), then write the report."""
    pairs = [arg.split("=", 1) for arg in (sys.argv[1:] if argv is None else argv)]
    earlier = json.loads((OUT / "results.json").read_text()) if (OUT / "results.json").is_file() else []
    rows = {row["name"]: row for row in earlier}
    for name, folder in pairs:
        rows[name] = measure(name, Path(folder))
    rows = [rows[name] for name in sorted(rows)]
    write_json(OUT / "results.json", rows)
    with atomic_open(OUT / "RESULTS.md") as handle:
        handle.write(markdown(rows))


if __name__ == "__main__":
    main()
