"""Reliability of the real command line under kills and interrupts.

Training killed with SIGKILL mid-epoch, or interrupted once with Ctrl-C, resumes (`--resume`) to exactly the model an
uninterrupted run with the same seed produces; a batch prediction killed half-way leaves no output under the final
name, and running it again writes the complete file. Every run is `python -m sensoryt5 ...` in a subprocess, on a
2-layer BERT (hidden 32) and 400 ISEAR texts, so each takes seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sensoryt5.classifier import SensoryClassifier
from sensoryt5.errors import ModelLoadError

ROWS, BATCH, SAVE_STEPS = 400, 8, 8  # 320 training rows (80/10/10 split): 40 steps an epoch, 2 epochs
DEADLINE_S = 300.0
HISTORY_KEYS = ("step", "epoch", "eval_loss", "eval_accuracy", "eval_macro_f1", "eval_weighted_f1")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    """The first 400 ISEAR training texts as a JSON Lines file (split 80/10/10 by `sensoryt5 train`)."""
    from sensoryt5.data import load_dataset

    train = load_dataset("isear")["train"]
    names = train.features["label"].names
    path = tmp_path_factory.mktemp("data") / "isear400.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": names[y]})
                              for t, y in zip(train["text"][:ROWS], train["label"][:ROWS])), encoding="utf-8")
    return path


def _train_command(output: Path, backbone: Path, data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sensoryt5", "train", "--dataset", str(data), "--output", str(output),
            "--backbone", str(backbone), "--oov", "none", "--epochs", "2", "--batch-size", str(BATCH),
            "--max-length", "32", "--save-steps", str(SAVE_STEPS), "--patience", "0", "--seed", "7", "--lr", "5e-3",
            *extra]


def _start(command: list[str], logs: Path) -> subprocess.Popen:
    """Start `command` with stdout/stderr in files (a pipe nobody reads would block the progress bars)."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stdout").open("w") as out, (logs / "stderr").open("w") as err:
        return subprocess.Popen(command, stdout=out, stderr=err, env=ENV)


def _complete_checkpoints(output: Path) -> dict[int, dict]:
    """{global step: trainer state} of every checkpoint whose trainer state was written and parses."""
    found = {}
    for folder in (output / "checkpoints").glob("checkpoint-*"):
        try:
            found[int(folder.name.split("-")[1])] = json.loads((folder / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
    return found


def _wait_for_checkpoint(process: subprocess.Popen, output: Path, min_step: int) -> dict:
    """Block until a complete checkpoint at `min_step` or later exists; its trainer state. Fails if the run ends
    first."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        states = {step: state for step, state in _complete_checkpoints(output).items() if step >= min_step}
        if states:
            return states[min(states)]
        assert process.poll() is None, f"training ended (code {process.returncode}) before a checkpoint >= {min_step}"
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"no checkpoint >= {min_step} within {DEADLINE_S:.0f} s")


def _kill_after_checkpoint(command: list[str], output: Path, min_step: int, logs: Path) -> dict:
    """Run `command`, SIGKILL it as soon as a checkpoint at `min_step` or later is complete; that checkpoint's state."""
    process = _start(command, logs)
    state = _wait_for_checkpoint(process, output, min_step)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not (output / "config.json").exists(), "the run finished before it was killed"
    return state


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=DEADLINE_S)


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _texts(data: Path) -> list[str]:
    return [json.loads(line)["text"] for line in data.read_text(encoding="utf-8").splitlines()]


def _assert_same_model(resumed: Path, reference: Path, texts: list[str]) -> None:
    """Same dev metrics and evaluation history, same best step, bit-identical weights and probabilities on `texts`."""
    ours, theirs = (json.loads((folder / "train_metrics.json").read_text()) for folder in (resumed, reference))
    assert ours["dev"] == theirs["dev"]
    assert ours["best_dev_macro_f1"] == theirs["best_dev_macro_f1"]
    assert Path(ours["best_checkpoint"]).name == Path(theirs["best_checkpoint"]).name
    assert ours["epochs_run"] == theirs["epochs_run"] == 2
    history = [[{k: h[k] for k in HISTORY_KEYS} for h in m["history"]] for m in (ours, theirs)]
    assert history[0] == history[1] and len(history[0]) == 2 * 40 // SAVE_STEPS
    a, b = _weights(resumed), _weights(reference)
    assert a.keys() == b.keys()
    different = [name for name in a if not np.array_equal(a[name], b[name])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    np.testing.assert_array_equal(SensoryClassifier.from_pretrained(resumed, device="cpu").predict_proba(texts),
                                  SensoryClassifier.from_pretrained(reference, device="cpu").predict_proba(texts))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_bert_folder, data_file) -> Path:
    """The uninterrupted run every interrupted one must reproduce."""
    output = tmp_path_factory.mktemp("reference") / "model"
    result = _run(_train_command(output, tiny_bert_folder, data_file))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((output / "train_metrics.json").read_text())
    assert metrics["history"][-1]["step"] == 80 and not (output / "checkpoints").exists()
    return output


def test_sigkill_mid_epoch_then_resume_gives_the_same_model(reference, tiny_bert_folder, data_file, tmp_path):
    output = tmp_path / "model"
    first = _kill_after_checkpoint(_train_command(output, tiny_bert_folder, data_file), output, 1, tmp_path / "1")
    assert first["global_step"] == SAVE_STEPS and 0 < first["epoch"] < 1  # killed in the middle of epoch 1
    with pytest.raises(ModelLoadError, match="config.json is missing"):
        SensoryClassifier.from_pretrained(output)
    resume = _train_command(output, tiny_bert_folder, data_file, "--resume")
    second = _kill_after_checkpoint(resume, output, 48, tmp_path / "2")  # resumed, then killed again in epoch 2
    assert second["global_step"] >= 48 and 1 < second["epoch"] < 2
    result = _run(resume)
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_model(output, reference, _texts(data_file))
    assert not (output / "checkpoints").exists()


def test_resume_skips_a_checkpoint_whose_trainer_state_was_cut_short(reference, tiny_bert_folder, data_file,
                                                                     tmp_path):
    output = tmp_path / "model"
    command = _train_command(output, tiny_bert_folder, data_file)
    killed = _kill_after_checkpoint(command, output, 2 * SAVE_STEPS, tmp_path / "logs")
    newest = output / "checkpoints" / f"checkpoint-{max(_complete_checkpoints(output))}"
    state = newest / "trainer_state.json"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])  # as if killed in the middle of writing it
    assert killed["global_step"] >= 2 * SAVE_STEPS and len(_complete_checkpoints(output)) >= 1
    result = _run([*command, "--resume"])
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_model(output, reference, _texts(data_file))


def test_one_ctrl_c_saves_a_checkpoint_and_resume_completes(reference, tiny_bert_folder, data_file, tmp_path):
    output, logs = tmp_path / "model", tmp_path / "logs"
    command = _train_command(output, tiny_bert_folder, data_file)
    process = _start(command, logs)
    seen = _wait_for_checkpoint(process, output, 1)["global_step"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=DEADLINE_S) == 2
    stderr = (logs / "stderr").read_text()
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--resume" in errors[0] and "checkpoint saved" in errors[0], stderr[-2000:]
    assert errors[0] == stderr.rstrip().splitlines()[-1]  # the last thing printed
    assert "Interrupted: saving a checkpoint" in (logs / "stdout").read_text()
    saved = max(_complete_checkpoints(output))
    assert saved > seen and saved < 80  # a checkpoint written on the interrupt, mid-run
    assert not (output / "config.json").exists()
    with pytest.raises(ModelLoadError, match="--resume"):
        SensoryClassifier.from_pretrained(output)
    result = _run([*command, "--resume"])
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_model(output, reference, _texts(data_file))


def test_killed_batch_prediction_leaves_no_output_and_a_rerun_completes(reference, data_file, tmp_path):
    texts = _texts(data_file) * 10  # 4,000 rows
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)), encoding="utf-8")
    output = tmp_path / "predictions.jsonl"
    command = [sys.executable, "-m", "sensoryt5", "predict", str(reference), "--input", str(source), "--output",
               str(output), "--id-column", "id", "--chunk-size", "100", "--no-progress"]
    process = _start(command, tmp_path / "logs")
    deadline = time.monotonic() + DEADLINE_S
    while not any(p.stat().st_size for p in tmp_path.glob(f".{output.name}.*.tmp")):
        assert process.poll() is None, f"prediction ended (code {process.returncode}) before it was killed"
        assert time.monotonic() < deadline, "no prediction was written in time"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not output.exists()
    partial = list(tmp_path.glob(f".{output.name}.*.tmp"))
    assert len(partial) == 1 and 0 < len(partial[0].read_bytes().splitlines()) < len(texts)  # killed half-way
    result = _run(command)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == list(range(len(texts)))
    assert [line["text"] for line in lines] == texts
    assert all(sum(p["score"] for p in line["predictions"]) == pytest.approx(1.0, abs=1e-4) for line in lines)
