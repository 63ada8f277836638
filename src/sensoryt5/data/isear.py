"""ISEAR: placeholder answers and duplicate texts dropped, then a seeded stratified 80/10/10 split."""

from __future__ import annotations

import re
from functools import lru_cache

import datasets
import pandas as pd

from sensoryt5.data.bundled_files import bundled_dict, resource_bytes
from sensoryt5.data.schema import SPLITS
from sensoryt5.data.split import stratified_split

ISEAR_COLUMNS = 43  # 42 named columns and the empty field after the trailing '|'
ISEAR_SIT, ISEAR_LABEL, ISEAR_KEY = 40, 36, 39  # field positions of SIT, Field1 (emotion name) and MYKEY
ISEAR_LABELS: tuple[str, ...] = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")  # EMOT codes 1-7
# A SIT answer is a placeholder (no situation described) when its core -- lower-cased, without the enclosing
# brackets, whitespace and final punctuation -- matches one of these in full. Phrasings were taken from the data;
# a denial followed by a second sentence ("I cannot remember a situation ... . I was eating ...") is kept.
ISEAR_PLACEHOLDER = re.compile(r"""
      .*\bno\ (?:res?ponse|answer)\b.*                  # "[ No response.]", "NO RESPONSE.", "[ No reponse.]"
    | none | blank | nothing | never | no\ description  # one-word non-answers, "[ No description.]"
    | .*\bnot\ applicable\b.* | does\ ?n[o']t\ apply   # "Not applicable to myself.", "Doesn't apply."
    | not\ included\ on\ questionnaire | (?:\.+\ ?)?has\ not\ (?:really\ )?happened
    | (?:i\ )?(?:do\ not|don't|can\ ?not|can't|could\ not|couldn't)\ (?:remember|recall|think\ of|describe|know)\b[^.]*
    | .*\bunable\ to\ remember\b[^.]*                   # "[ I have felt shame but am unable to remember any ...]"
    | (?:honestly,\ )?(?:i\ )?(?:have\ never|have\ not|haven't|never)\ (?:felt|experienced)\b[^.]*
    | haven't\ been\ frightened\b[^.]*
    | (?:the\ )?same\ (?:as|for)\b[^.]* | as\ for\ \w+ | the\ previous\ incident\b.*   # "[ Same as in anger.]"
""", re.VERBOSE)


def clean_isear_text(sit: str) -> str:
    """SIT with the export's line-break artefacts ('á', and '|' inside the text) as spaces, whitespace collapsed."""
    return " ".join(sit.replace("\u00e1", " ").replace("|", " ").split())


def is_isear_placeholder(text: str) -> bool:
    """Whether a cleaned SIT answer describes no situation ("[ No response.]", "Never experienced.", ...)."""
    core = re.sub(r"^[\s\[.]+|[\s\].!\"]+$", "", text).lower()
    return ISEAR_PLACEHOLDER.fullmatch(core) is not None


@lru_cache(maxsize=1)
def _isear_records() -> tuple[pd.DataFrame, dict[str, int]]:
    """ISEAR rows (`id`, `text`, `label`) after dropping placeholders and duplicate texts, and the drop counts.

    Duplicates are exact (after cleaning): the first copy is kept when all copies share one label; a text that
    occurs with different labels is dropped entirely (every copy), since no single label is right for it.
    """
    lines = resource_bytes("isear", "isear.csv.gz").decode("utf-8").split("\n")
    records = []
    for line in lines[1:]:
        fields = line.split("|")
        if len(fields) < ISEAR_COLUMNS:
            raise RuntimeError(f"bundled ISEAR line has {len(fields)} fields: {line[:80]!r}")
        sit = "|".join(fields[ISEAR_SIT:-2])
        records.append((fields[ISEAR_KEY], clean_isear_text(sit), fields[ISEAR_LABEL]))
    frame = pd.DataFrame(records, columns=["id", "text", "label"])
    placeholder = frame["text"].map(is_isear_placeholder)
    answered = frame[~placeholder]
    labels_per_text = answered.groupby("text")["label"].nunique()
    conflicting = answered["text"].isin(labels_per_text.index[labels_per_text > 1])
    consistent = answered[~conflicting]
    kept = consistent[~consistent["text"].duplicated(keep="first")]
    report = {
        "raw_rows": len(frame),
        "placeholder_answers": int(placeholder.sum()),
        "duplicate_texts_same_label": len(consistent) - len(kept),
        "duplicate_texts_conflicting_labels": int(conflicting.sum()),
        "kept_rows": len(kept),
    }
    return kept.reset_index(drop=True), report


def isear_filter_report() -> dict[str, int]:
    """How many ISEAR rows were read, dropped per reason (placeholder answer, duplicate text) and kept."""
    return dict(_isear_records()[1])


def load_isear(split_seed: int) -> datasets.DatasetDict:
    """ISEAR after filtering, split 80/10/10 per emotion with `split_seed`."""
    frame, report = _isear_records()
    frame = frame.assign(label=frame["label"].map(ISEAR_LABELS.index))
    parts = stratified_split(frame["label"].astype(str).tolist(), split_seed)
    splits = {split: frame.iloc[parts[split]] for split in SPLITS}
    return bundled_dict("isear", splits, ISEAR_LABELS, False, {"id": datasets.Value("string")},
                         {**report, "split_seed": split_seed})
