"""The model card of a trained model folder: `README.md` with Hugging Face Hub metadata and a body that says what
the model is, how well it does, how it was trained, how to load it, what it is for and what it cannot do.

Everything comes from the folder itself: `config.json`, `train_metrics.json` (settings, dev scores, lexicon
coverage) and the `eval-*/metrics.json` files `sensoryt5 evaluate` writes there (test scores, when run before the
card is written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from sensoryt5.atomic import atomic_open

CARD_FILE = "README.md"
LIBRARY_NAME = "sensoryt5"
PIPELINE_TAG = "text-classification"

# Bundled data set -> (hub id used as `datasets` metadata, hub licence id, licence in words).
BUNDLED_DATA: dict[str, tuple[str, str, str]] = {
    "empathetic_dialogues": ("facebook/empathetic_dialogues", "cc-by-nc-4.0",
                             "CC BY-NC 4.0: non-commercial use only"),
    "isear": ("isear", "other", "research use only (on request from its authors; no open licence)"),
    "emoint": ("emoint", "other", "research use only (no licence stated; Twitter's terms apply to the tweets)"),
    "goemotions": ("google-research-datasets/go_emotions", "apache-2.0", "Apache-2.0 (the text: Reddit's terms)"),
    "goemotions-multilabel": ("google-research-datasets/go_emotions", "apache-2.0",
                              "Apache-2.0 (the text: Reddit's terms)"),
}
USER_DATA_LICENCE = "user's data: see its own licence"
SCORES: tuple[tuple[str, str], ...] = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("micro_f1", "micro-F1"),
                                       ("weighted_f1", "weighted-F1"))


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _data_source(dataset: str) -> tuple[str, str | None, str]:
    """(`datasets` metadata entry, hub licence id or None, licence in words) of a `--dataset` value."""
    from sensoryt5.data import bundled_name
    from sensoryt5.data.hub import HUB_PREFIX

    bundled = bundled_name(dataset)
    if bundled in BUNDLED_DATA:
        return BUNDLED_DATA[bundled]
    if dataset.startswith(HUB_PREFIX):
        return dataset[len(HUB_PREFIX):].partition(":")[0], None, USER_DATA_LICENCE
    return Path(dataset).name, None, USER_DATA_LICENCE


def _evaluations(folder: Path, dataset: str, dev: dict[str, Any], dev_examples: int | None
                 ) -> list[dict[str, Any]]:
    """Scores by split, each row with its `split`, `dataset` and `label`: dev from training, then every
    `eval-*/metrics.json` in the folder (test first)."""
    rows = [{**dev, "n": dev_examples, "split": "validation", "dataset": dataset, "label": "validation (dev)"}]
    reports = [_read_json(path) for path in sorted(folder.glob("eval-*/metrics.json"))]
    for report in sorted(reports, key=lambda r: r.get("split") != "test"):
        shown = _shown(report.get("dataset", "?"))
        rows.append({**report, "dataset": shown, "label": f"{report.get('split', '?')} ({shown})"})
    return rows if dev else rows[1:]


def _shown(name_or_path: str) -> str:
    """A data set or backbone as the card shows it: an absolute local path by its last part only."""
    return Path(name_or_path).name if Path(name_or_path).is_absolute() else name_or_path


def _format(value: Any) -> str:
    return f"{100 * value:.2f}" if isinstance(value, float) else ("—" if value is None else str(value))


def build_model_card(folder: str | Path) -> ModelCard:
    """The model card of the model folder `folder` (read from its config, training metrics and evaluations)."""
    from sensoryt5.backbones import hub_name

    folder = Path(folder)
    model_config = _read_json(folder / "config.json")
    metrics = _read_json(folder / "train_metrics.json")
    train_config = metrics.get("config", {})
    dataset = _shown(train_config.get("dataset", "?"))
    data_id, licence_id, licence_words = _data_source(dataset)
    backbone = train_config.get("backbone") or model_config.get("backbone_name_or_path") or "?"
    base_model = hub_name(backbone)
    backbone = _shown(backbone)
    backbone_type = model_config.get("backbone_config", {}).get("model_type", "?")
    sensory = model_config.get("sensory_mode", train_config.get("sensory_mode", "?"))
    fusion = model_config.get("fusion", train_config.get("fusion", "?"))
    labels = metrics.get("labels") or [model_config.get("id2label", {})[k]
                                       for k in sorted(model_config.get("id2label", {}), key=int)]
    evaluations = _evaluations(folder, dataset, metrics.get("dev", {}), metrics.get("dev_examples"))

    data = ModelCardData(
        library_name=LIBRARY_NAME,
        pipeline_tag=PIPELINE_TAG,
        base_model=base_model,
        datasets=[data_id],
        language=["en"],
        license=licence_id,
        license_name="research-only" if licence_id == "other" else None,
        metrics=["accuracy", "f1"],
        tags=["sensoryt5", "emotion-classification", "sensorimotor-norms", f"fusion-{fusion}", f"sensory-{sensory}",
              backbone_type],
        model_name=folder.name,
        eval_results=[
            EvalResult(task_type=PIPELINE_TAG, dataset_type=_data_source(row["dataset"])[0],
                       dataset_name=row["dataset"], dataset_split=row["split"], metric_type="f1",
                       metric_name="macro-F1", metric_value=row["macro_f1"])
            for row in evaluations if isinstance(row.get("macro_f1"), float)
        ] or None,
    )
    sections = [
        f"# {folder.name}",
        f"A SensoryT5 emotion classifier (arXiv 2403.15574): the `{backbone}` backbone ({backbone_type}) whose "
        f"hidden states are fused with per-word Lancaster Sensorimotor Norms vectors (fusion `{fusion}`, sensory "
        f"values `{sensory}`), fine-tuned on `{dataset}`. Written by `sensoryt5 train`.",
        _labels_section(labels, metrics.get("multi_label", model_config.get("problem_type", "").startswith("multi"))),
        _scores_section(evaluations, dataset),
        _sensory_section(model_config, train_config, metrics.get("coverage")),
        _training_section(metrics, train_config, backbone),
        _usage_section(folder.name),
        _intended_use_section(),
        _limitations_section(model_config, sensory, fusion, backbone_type),
        "## Licence of the training data\n\n"
        f"`{dataset}`: {licence_words}. The Lancaster Sensorimotor Norms are CC BY 4.0 (Lynott et al., 2020). "
        "Use of this model is bound by the terms of its training data.",
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _labels_section(labels: list[str], multi_label: bool) -> str:
    kind = "multi-label: any number per text" if multi_label else "single-label: one per text"
    return f"## Labels\n\n{len(labels)} labels ({kind}): " + ", ".join(f"`{label}`" for label in labels) + "."


def _scores_section(evaluations: list[dict[str, Any]], dataset: str) -> str:
    names = [(key, title) for key, title in SCORES if any(key in row for row in evaluations)]
    lines = ["## Scores", "", "In points (100 × the score).", "",
             "| split | texts | " + " | ".join(title for _, title in names) + " |",
             "|---|---|" + "---|" * len(names)]
    lines += [f"| {row['label']} | {_format(row.get('n'))} | " + " | ".join(_format(row.get(key)) for key, _ in names)
              + " |" for row in evaluations]
    if not any(row["split"] == "test" for row in evaluations):
        lines += ["", f"No test scores when this card was written: `sensoryt5 evaluate MODEL --dataset {dataset} "
                      "--split test` measures them."]
    return "\n".join(lines)


def _sensory_section(model_config: dict[str, Any], train_config: dict[str, Any],
                     coverage: dict[str, Any] | None) -> str:
    lexicon = model_config.get("lexicon_config", {})
    ablate = lexicon.get("ablate") or train_config.get("ablate") or []
    embedder = lexicon.get("oov_embedder")
    oov = f"values predicted by the OOV regressor on {embedder} embeddings" if embedder else "no value (zeros)"
    lines = ["## Sensory settings", "",
             f"- sensory values: `{model_config.get('sensory_mode')}` (norms: the lexicon's values; random / "
             "shuffled: controls; none: the baseline without the sensory branch)",
             f"- lexicon: {lexicon.get('lexicon_source') or lexicon.get('lexicon', 'lancaster')}",
             f"- fusion: `{model_config.get('fusion')}`",
             f"- dimensions: {', '.join(model_config.get('sensory_dims', []))}",
             f"- set to zero for every word: {', '.join(ablate) or 'none'}",
             f"- words not in the lexicon: {oov}",
             f"- maximum length: {model_config.get('max_length')} tokens"]
    if coverage:
        lines += ["", f"Lexicon coverage of the {coverage['words']:,} word tokens of the training texts:", "",
                  "| found (exact / lemma / multiword) | predicted | missing |", "|---|---|---|",
                  f"| {100 * coverage['found']:.1f}% ({100 * coverage['exact']:.1f} / {100 * coverage['lemma']:.1f} "
                  f"/ {100 * coverage['multiword']:.1f}) | {100 * coverage['predicted']:.1f}% | "
                  f"{100 * coverage['missing']:.1f}% |"]
    return "\n".join(lines)


def _training_section(metrics: dict[str, Any], train_config: dict[str, Any], backbone: str) -> str:
    command = metrics.get("command") or "(the training command was not recorded)"
    language = "bash" if command.startswith("sensoryt5 ") else "python"
    runtime = metrics.get("wall_time_s")
    return "\n".join([
        "## Training", "",
        f"```{language}", command, "```", "",
        f"Backbone `{backbone}`; {metrics.get('train_examples', '?')} training texts, "
        f"{metrics.get('epochs_run') or 0:g} epochs (the best epoch chosen on dev macro-F1, "
        f"{_format(metrics.get('best_dev_macro_f1'))}); learning rate "
        f"{metrics.get('learning_rate', train_config.get('learning_rate'))}, "
        f"batch size {train_config.get('batch_size')}, seed {train_config.get('seed')}; on "
        f"{metrics.get('device', '?')} × {metrics.get('world_size', 1)} with torch {metrics.get('torch', '?')}"
        + (f", {runtime / 60:.1f} min." if isinstance(runtime, (int, float)) else "."),
    ])


def _usage_section(name: str) -> str:
    return "\n".join([
        "## How to use", "",
        f"Download the folder (`huggingface_hub.snapshot_download(REPO_ID)`) or use it where it is (`{name}`):", "",
        "```python",
        "from sensoryt5 import SensoryClassifier", "",
        f'clf = SensoryClassifier.from_pretrained("{name}")',
        'clf.predict(["I smelled fresh bread and heard loud music."], top_k=3)',
        'clf.explain("The soup smelled wonderful.")  # each word\'s contribution (Integrated Gradients), by sense',
        "```", "",
        "With transformers' pipeline (importing `sensoryt5` registers the `sensoryt5` model type):", "",
        "```python",
        "import sensoryt5  # noqa: F401",
        "from transformers import pipeline", "",
        f'classify = pipeline("text-classification", model="{name}")',
        'classify("The soup smelled wonderful.", top_k=None)',
        "```", "",
        f"On the command line: `sensoryt5 predict {name} \"The soup smelled wonderful.\"`.",
    ])


def _intended_use_section() -> str:
    return ("## Intended use\n\n"
            "Research on fine-grained emotion classification of English text and on whether sensorimotor word norms "
            "help it: comparing against the same backbone without the sensory branch (`--sensory none`) and with "
            "random sensory values (`--sensory random`). Not for decisions about people (screening, diagnosis, "
            "moderation) and not for other languages.")


def _limitations_section(model_config: dict[str, Any], sensory: str, fusion: str, backbone_type: str) -> str:
    lines = [
        "## Limitations", "",
        "- The Lancaster Sensorimotor Norms are English-only: words of other languages get no value or a predicted "
        "one, so the sensory branch carries nothing meaningful for them.",
        "- In the sensoryt5 study (its README, \"Results\", and `results/`), no fusion gains reliably over the same "
        "backbone without the sensory branch: no variant reaches a +1.0 point mean macro-F1 gain across the four "
        "data sets, and only `input` on EmoInt has a 95% interval above zero. The paper's fusion gains nothing "
        "from the sensory values: the same model fed random vectors instead of the norms scores the same "
        "(norms minus random +0.04, +0.03, −0.08 and −0.12 points on ISEAR, EmoInt, Empathetic Dialogues and "
        "GoEmotions). Do not read this model's scores as evidence that the senses help.",
        "- The labels are those of the training data, with its annotation noise and its domain (see the data "
        "set's own documentation); scores on other text will be lower.",
    ]
    if sensory in ("random", "shuffled"):
        lines.append(f"- This model is a control: its sensory values are `{sensory}`, not the norms.")
    if backbone_type in ("t5", "mt5", "umt5") and model_config.get("t5_states") == "decoder" and fusion in (
            "paper", "residual", "gate"):
        lines.append("- On the T5 decoder path every position gets the same state, so the token-level fusion "
                     f"`{fusion}` cannot change the logits whatever the sensory values are.")
    return "\n".join(lines)


def write_model_card(folder: str | Path) -> Path:
    """Write the model card of the model folder `folder` to `folder/README.md` (atomically); returns its path."""
    path = Path(folder) / CARD_FILE
    with atomic_open(path) as handle:
        handle.write(build_model_card(folder).content)
    return path
