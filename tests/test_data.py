"""Data sets: bundled splits and counts against the raw files, the user's files, bad input, hub offline, CLI."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
import subprocess
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sensoryt5 import data
from sensoryt5.cli import data_cmd
from sensoryt5.data import bundled
from sensoryt5.errors import InputError

GOEMOTIONS_FILES = {"train": "train.tsv.gz", "validation": "dev.tsv.gz", "test": "test.tsv.gz"}
EMOINT_COUNTS = {  # SOURCE.md: emotion → (train, dev gold, test gold)
    "anger": (857, 84, 760), "fear": (1147, 110, 995), "joy": (823, 79, 714), "sadness": (786, 74, 673),
}


def raw_lines(folder: str, file: str) -> list[str]:
    """A bundled gzipped file's lines, read independently of `sensoryt5.data`."""
    raw = resources.files("sensoryt5").joinpath(f"resources/datasets/{folder}/{file}").read_bytes()
    return gzip.decompress(raw).decode("utf-8").splitlines()


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> Path:
    """A CSV with a header, through the csv module (quoting as a spreadsheet would)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def balanced_rows(per_label: dict[str, int]) -> list[tuple[str, str]]:
    """`n` distinct texts for each label."""
    return [(f"text {i} about {label}", label) for label, n in per_label.items() for i in range(n)]


def raises_input_error(match: str, *args, **kwargs) -> InputError:
    """The InputError that `load_dataset(*args, **kwargs)` raises; its message must contain `match` verbatim."""
    with pytest.raises(InputError) as caught:
        data.load_dataset(*args, **kwargs)
    assert match in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)
    return caught.value


# --------------------------------------------------------------------------------------------------- bundled sets


def test_list_datasets():
    assert data.list_datasets() == ["goemotions", "goemotions-multilabel", "empathetic_dialogues", "isear", "emoint"]


def test_goemotions_single_label_rows_match_the_raw_files():
    dd = data.load_dataset("goemotions")
    names = resources.files("sensoryt5").joinpath("resources/datasets/goemotions/emotions.txt").read_text().split()
    assert len(names) == 28 and names[-1] == "neutral"
    assert data.label_names(dd) == names
    for split, file in GOEMOTIONS_FILES.items():
        fields = [line.split("\t") for line in raw_lines("goemotions", file)]
        single = [f for f in fields if "," not in f[1]]
        assert len(dd[split]) == len(single)
        assert Counter(dd[split]["label"]) == Counter(int(f[1]) for f in single)
        assert dd[split]["id"][:3] == [f[2] for f in single[:3]]
    assert data.describe(dd)["splits"] == {"train": 43_410 - 7_102, "validation": 5_426 - 878, "test": 5_427 - 837}
    assert dd["train"][0] == {"text": "My favourite food is anything I didn't have to cook myself.", "label": 27,
                              "id": "eebbqej"}


def test_goemotions_multilabel_is_multi_hot():
    dd = data.load_dataset("goemotions-multilabel")
    assert data.describe(dd)["splits"] == {"train": 43_410, "validation": 5_426, "test": 5_427}
    assert data.is_multi_label(dd) and len(data.label_names(dd)) == 28
    assert str(dd["train"].features["labels"]) == "List(Value('float32'), length=28)"
    for split, file in GOEMOTIONS_FILES.items():
        ids = [line.split("\t")[1].split(",") for line in raw_lines("goemotions", file)]
        matrix = data.label_array(dd[split])
        assert matrix.shape == (len(ids), 28) and matrix.dtype == np.float32
        assert (matrix.sum(1) > 1).sum() == {"train": 7_102, "validation": 878, "test": 837}[split]
        expected = Counter(int(i) for row in ids for i in row)
        assert {i: int(n) for i, n in enumerate(matrix.sum(0))} == dict(sorted(expected.items()))


def test_empathetic_dialogues_hypemo_split():
    dd = data.load_dataset("empathetic_dialogues")
    summary = data.describe(dd)
    assert summary["splits"] == {"train": 17_802, "validation": 2_761, "test": 2_541}
    for split, file in {"train": "train.csv.gz", "validation": "valid.csv.gz", "test": "test.csv.gz"}.items():
        rows = list(csv.DictReader(raw_lines("empathetic_dialogues", file)))
        assert len(rows) == len(dd[split]) and Counter(int(r["label"]) for r in rows) == Counter(dd[split]["label"])
    labels_txt = resources.files("sensoryt5").joinpath("resources/datasets/empathetic_dialogues/labels.txt")
    assert summary["labels"] == labels_txt.read_text().split()
    assert summary["labels"][:3] == ["sad", "trusting", "terrified"] and len(summary["labels"]) == 32
    assert set(dd["train"].column_names) == {"text", "label"}
    ranges = {"train": (325, 922), "validation": (50, 148), "test": (50, 127)}
    for split, (low, high) in ranges.items():
        counts = summary["label_counts"][split].values()
        assert (min(counts), max(counts)) == (low, high)
    assert dd["train"][1]["text"] == "i used to scare for darkness"  # leading space stripped
    assert dd["train"][1]["label"] == 11


def test_isear_filtering_counts_and_rule():
    report = data.isear_filter_report()
    assert report == {"raw_rows": 7_666, "placeholder_answers": 163, "duplicate_texts_same_label": 54,
                      "duplicate_texts_conflicting_labels": 17, "kept_rows": 7_432}
    assert report["raw_rows"] - report["placeholder_answers"] - report["duplicate_texts_same_label"] \
        - report["duplicate_texts_conflicting_labels"] == report["kept_rows"]
    lines = raw_lines("isear", "isear.csv.gz")[1:]
    assert len(lines) == report["raw_rows"] and sum(len(line.split("|")) > 43 for line in lines) == 163
    sit = ["|".join(line.split("|")[40:-2]) for line in lines]
    assert Counter(line.split("|")[36] for line in lines) == {
        "joy": 1094, "fear": 1095, "anger": 1096, "sadness": 1096, "disgust": 1096, "shame": 1096, "guilt": 1093}
    assert sum(s.strip() == "[ No response.]" for s in sit) == 78
    answered = [(" ".join(s.replace("á", " ").replace("|", " ").split()), line.split("|")[36])
                for s, line in zip(sit, lines)]
    answered = [(text, label) for text, label in answered if not data.is_isear_placeholder(text)]
    assert len(answered) == 7_666 - 163
    labels_of = {}
    for text, label in answered:
        labels_of.setdefault(text, []).append(label)
    conflicting = sum(len(ls) for ls in labels_of.values() if len(set(ls)) > 1)
    extra_copies = sum(len(ls) - 1 for ls in labels_of.values() if len(set(ls)) == 1)
    assert (extra_copies, conflicting) == (54, 17)
    for placeholder in ("[ No response.]", "NO RESPONSE", "[ No reponse.]", "[ Never experienced.]",
                        "[ I have never felt this emotion.]", "Doesn't apply.", "[ Do not know.]", "None.",
                        "[ Same as in anger.]", "Can't remember that feeling.", "[ No description.]"):
        assert data.is_isear_placeholder(placeholder), placeholder
    for answer in ("[ When I see that the toilet is unclean.]", "[ Depressions.]", "Nothing ventured.",
                   "When I could not remember what to say about a presentation task at an accounts meeting.",
                   "I cannot remember a situation in which I felt ashamed. I was eating with some people.",
                   "The same as for SHAME and DISGUST. I was asked to resign my sorority."):
        assert not data.is_isear_placeholder(answer), answer
    assert data.clean_isear_text("met and á especially when á|we") == "met and especially when we"


def test_isear_splits_are_stratified_and_clean():
    dd = data.load_dataset("isear")
    summary = data.describe(dd)
    assert summary["splits"] == {"train": 5_946, "validation": 743, "test": 743}
    assert summary["labels"] == ["joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"]
    totals = {label: sum(summary["label_counts"][s][label] for s in data.SPLITS) for label in summary["labels"]}
    for split in ("validation", "test"):
        assert summary["label_counts"][split] == {label: int(0.1 * n + 0.5) for label, n in totals.items()}
    texts = [t for split in dd.values() for t in split["text"]]
    assert len(texts) == len(set(texts)) == 7_432
    assert not any("á" in t or "|" in t or "  " in t or re.search("no response", t, re.I) for t in texts)
    ids = [i for split in dd.values() for i in split["id"]]
    assert len(set(ids)) == 7_432
    assert summary["report"]["placeholder_answers"] == 163 and summary["report"]["split_seed"] == 0


def test_isear_split_is_deterministic_and_seeded():
    first = data.load_dataset("isear", split_seed=0)
    bundled._load_bundled_cached.cache_clear()
    again = data.load_dataset("isear", split_seed=0)
    other = data.load_dataset("isear", split_seed=1)
    assert all(first[s]["id"] == again[s]["id"] for s in data.SPLITS)
    assert first["test"]["id"] != other["test"]["id"]
    assert set(first["test"]["id"]) != set(other["test"]["id"])
    # Pinned: the split must be the same on every machine and library version.
    assert first["test"]["id"][:5] == ["0110023", "0110045", "0110046", "0110074", "0110077"]
    assert other["test"]["id"][:5] == ["0110023", "0110081", "0110097", "0110122", "0110133"]


def test_emoint_splits_and_intensity():
    dd = data.load_dataset("emoint")
    summary = data.describe(dd)
    for emotion, counts in EMOINT_COUNTS.items():
        files = [f"{emotion}-ratings-0to1.{suffix}.txt.gz" for suffix in ("train", "dev.gold", "test.gold")]
        assert tuple(len(raw_lines("emoint", file)) for file in files) == counts
    for position, split in enumerate(data.SPLITS):
        assert summary["label_counts"][split] == {e: counts[position] for e, counts in EMOINT_COUNTS.items()}
    assert summary["splits"] == {"train": 3_613, "validation": 347, "test": 3_142}
    first = dd["train"][0]
    assert first["id"] == "10000" and first["label"] == 0 and first["intensity"] == pytest.approx(0.938)
    assert first["text"].endswith("#angry #mad ##")
    intensities = np.concatenate([np.asarray(dd[s]["intensity"]) for s in data.SPLITS])
    assert intensities.min() >= 0.0 and intensities.max() <= 1.0
    assert summary["report"] == {"mask_label_hashtags": False}


def test_emoint_hashtag_masking_covers_every_row():
    plain, masked = data.load_dataset("emoint"), data.load_dataset("emoint", mask_label_hashtags=True)
    assert masked["train"][0]["text"].endswith("#emotion #emotion ##")
    assert masked["train"][2]["text"].endswith("#emotion #poorcustomerservice")  # #fuming; other tags stay
    family = {w for words in data.EMOINT_EMOTION_HASHTAGS.values() for w in words}
    for split in data.SPLITS:
        for text in masked[split]["text"]:
            assert not {tag.lower() for tag in re.findall(r"#(\w+)", text)} & family, text
    # A joy-family tag in an anger row is masked too: masking never depends on the row's own label.
    row = next(i for i, t in enumerate(plain["train"]["text"]) if re.search(r"#happy\b", t, re.I))
    assert plain["train"][row]["label"] != plain["train"].features["label"].str2int("joy")
    assert "#happy" not in masked["train"][row]["text"].lower() and "#emotion" in masked["train"][row]["text"]
    assert data.describe(masked)["report"]["rows_with_masked_hashtags"] == {"train": 483, "validation": 44,
                                                                           "test": 423}
    assert data.mask_emotion_hashtags("#Sad day #sadness2 #angrybirds #JOY!") == "#emotion day #sadness2 " \
                                                                                 "#angrybirds #emotion!"
    raises_input_error("emoint only", "isear", mask_label_hashtags=True)


def test_bundled_load_works_offline_parses_once_and_returns_independent_copies():
    script = ("from sensoryt5.data import load_dataset; "
              "print(sum(len(load_dataset(n)['train']) for n in ('goemotions', 'goemotions-multilabel')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    expected = sum(len(data.load_dataset(n)["train"]) for n in ("goemotions", "goemotions-multilabel"))
    assert int(result.stdout) == expected  # no network, no environment beyond PATH
    first = data.load_dataset("emoint")
    first["train"].set_format("numpy")
    assert isinstance(data.load_dataset("emoint")["train"][0]["text"], str)
    hits = bundled._load_bundled_cached.cache_info().hits
    data.load_dataset("goemotions")
    assert bundled._load_bundled_cached.cache_info().hits == hits + 1  # parsed once per process


def test_metadata_survives_dataset_operations():
    dd = data.load_dataset("goemotions-multilabel")
    subset = dd["validation"].select([4, 0]).map(lambda row: {"text": row["text"].lower()})
    assert data.label_names(subset) == data.label_names(dd) and data.is_multi_label(subset)
    np.testing.assert_array_equal(data.label_array(subset), data.label_array(dd["validation"])[[4, 0]])
    single = data.load_dataset("isear")["test"]
    assert data.label_array(single.select([2, 1])).tolist() == single["label"][2:0:-1]


def test_bundled_names_reject_file_options():
    raises_input_error("apply to your own files", "goemotions", text_column="body")
    assert data.describe(data.load_dataset("Empathetic-Dialogues"))["splits"]["test"] == 2_541


# --------------------------------------------------------------------------------------------------- user files


def test_single_csv_is_split_80_10_10_stratified_and_seeded(tmp_path):
    path = write_csv(tmp_path / "mine.csv", balanced_rows({"joy": 50, "anger": 30, "fear": 20}))
    dd = data.load_dataset(path)
    summary = data.describe(dd)
    assert summary["labels"] == ["anger", "fear", "joy"]
    assert summary["splits"] == {"train": 80, "validation": 10, "test": 10}
    assert summary["label_counts"]["test"] == {"anger": 3, "fear": 2, "joy": 5}
    assert summary["report"]["carved_from_train"] == {"splits": ["validation", "test"], "share": 0.1,
                                                      "split_seed": 0}
    texts = [set(dd[s]["text"]) for s in data.SPLITS]
    assert len(texts[0] | texts[1] | texts[2]) == 100 and not texts[1] & texts[2]
    assert data.load_dataset(path)["test"]["text"] == dd["test"]["text"]
    assert data.load_dataset(path, split_seed=7)["test"]["text"] != dd["test"]["text"]


def test_formats_give_the_same_data(tmp_path):
    rows = balanced_rows({"2": 10, "10": 10, "1": 10})
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    frame.assign(label=frame["label"].astype(int)).to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    frame.assign(label=frame["label"].astype(int)).to_parquet(tmp_path / "d.parquet")
    loaded = [data.load_dataset(tmp_path / f"d.{ext}") for ext in ("csv", "tsv", "jsonl", "parquet")]
    assert data.label_names(loaded[0]) == ["1", "2", "10"]  # integer labels in numeric order
    for dd in loaded[1:]:
        assert data.label_names(dd) == ["1", "2", "10"]
        assert all(dd[s].to_dict() == loaded[0][s].to_dict() for s in data.SPLITS)


def test_custom_columns_given_labels_and_multi_label(tmp_path):
    path = write_csv(tmp_path / "m.csv", [(f"post {i}", "joy;fear" if i % 2 else "fear") for i in range(20)],
                     header=("body", "tags"))
    dd = data.load_dataset(path, text_column="body", label_column="tags", label_separator=";",
                           labels=["joy", "fear", "anger"])
    assert data.label_names(dd) == ["joy", "fear", "anger"] and data.is_multi_label(dd)
    assert data.describe(dd)["label_counts"]["train"] == {"joy": 8, "fear": 16, "anger": 0}
    row = dd["train"][dd["train"]["text"].index("post 1")]
    assert row == {"text": "post 1", "labels": [1.0, 1.0, 0.0]}
    error = raises_input_error("label 'fear' is not one of the given labels=", path, text_column="body",
                               label_column="tags", label_separator=";", labels=["joy"])
    assert (error.row, error.column) == (2, "tags")


def test_jsonl_label_lists_are_multi_label(tmp_path):
    lines = [json.dumps({"text": f"t{i}", "label": ["a", "b"] if i % 3 else "a"}) for i in range(30)]
    (tmp_path / "l.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    dd = data.load_dataset(tmp_path / "l.jsonl")
    assert data.is_multi_label(dd) and data.label_names(dd) == ["a", "b"]
    assert sum(data.describe(dd)["splits"].values()) == 30


def test_split_files_folder_and_keywords(tmp_path):
    folder = tmp_path / "splits"
    folder.mkdir()
    write_csv(folder / "train.csv", balanced_rows({"joy": 30, "sad": 20}))
    write_csv(folder / "dev.csv", [("a dev text", "joy"), ("another", "sad")])
    write_csv(folder / "test.csv", [("a test text", "sad")])
    (folder / "notes.txt").write_text("ignored")
    dd = data.load_dataset(folder)
    assert data.describe(dd)["splits"] == {"train": 50, "validation": 2, "test": 1}
    assert dd["validation"]["text"] == ["a dev text", "another"]
    only_test = data.load_dataset(train=folder / "train.csv", test=folder / "test.csv")
    assert data.describe(only_test)["splits"] == {"train": 45, "validation": 5, "test": 1}
    assert only_test["test"]["text"] == ["a test text"]
    raises_input_error("pass either", folder, train=folder / "train.csv")
    (tmp_path / "no_train").mkdir()
    raises_input_error("no train file", tmp_path / "no_train")


def test_hub_offline_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    error = raises_input_error("hub is unreachable", "hf:someone/emotions")
    assert "local file" in str(error) and time.perf_counter() - start < 5
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.perf_counter()
    error = raises_input_error("no connection to 127.0.0.1 within 3 s", "hf:someone/emotions")
    assert time.perf_counter() - start < 5 and "local file" in str(error)


def test_hub_data_is_mapped_like_a_file(monkeypatch):
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "emotion": datasets.ClassLabel(names=["sad", "happy"])})
    hub = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sentence": [f"s{i}" for i in range(20)], "emotion": [0, 1] * 10},
                                            features=features),
        "dev": datasets.Dataset.from_dict({"sentence": ["d"], "emotion": [1]}, features=features),
        "test": datasets.Dataset.from_dict({"sentence": ["t", "u"], "emotion": [0, -1]}, features=features),
    })
    requested = []
    monkeypatch.setattr(data.datasets, "load_dataset", lambda *args: requested.append(args) or hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline: only the (stand-in) local cache is asked
    error = raises_input_error("empty or missing label", "hf:someone/emo:simple", text_column="sentence",
                               label_column="emotion")
    assert (error.file, error.row, error.column) == ("hf:someone/emo:simple [test]", 2, "emotion")
    assert requested[0] == ("someone/emo", "simple")
    dd = data.load_dataset("hf:someone/emo:simple", text_column="sentence", label_column="emotion",
                           skip_invalid=True)
    assert data.label_names(dd) == ["sad", "happy"]  # the hub's ClassLabel order, not sorted
    assert data.describe(dd)["splits"] == {"train": 20, "validation": 1, "test": 1}
    assert dd["validation"][0] == {"text": "d", "label": 1}
    assert data.describe(dd)["report"]["skipped_rows"] == {"test": {"empty label": 1}}


# --------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("content, message, row, column", [
    ("text,label\nfine,joy\n   ,sad\n", "the text is blank", 3, "text"),
    ("text,label\nfine,joy\n,sad\n", "the text is blank", 3, "text"),
    ('text,label\n"two\nlines",joy\nok,\n', "empty or missing label", 4, "label"),  # row = editor line
    ("text,label\nfine,joy\nsemicolon;sad\n", "1 field(s) but the header has 2 (text, label); mixed delimiters",
     3, "label"),
    ("text,label\nfine,joy\nI laughed, a lot,joy\n", "3 field(s) but the header has 2", 3, "label"),
    ('text,label\nfine,joy\n"never closed,sad\nmore,joy\n', "broken quoting (unexpected end of data)", 3, "text"),
    ('text,label\nfine,joy\nok,"sa"d\n', "broken quoting (',' expected after '\"')", 3, "label"),
])
def test_bad_csv_rows_name_file_row_and_column(tmp_path, content, message, row, column):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    error = raises_input_error(message, path)
    assert (error.file, error.row, error.column) == (str(path), row, column)
    assert str(error).startswith(f"file {path}, row {row}, column {column!r}: ")


def test_non_utf8_bytes_name_file_row_and_column(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\nfine,joy\ncafé au lait,joy\n".encode("latin-1"))
    error = raises_input_error("byte 0xe9 is not valid UTF-8; save the file as UTF-8", path)
    assert (error.row, error.column) == (3, "text")
    jsonl = tmp_path / "latin1.jsonl"
    jsonl.write_bytes(b'{"text": "ok", "label": "joy"}\n\n{"text": "fine", "label": "caf\xe9"}\n')
    error = raises_input_error("byte 0xe9 is not valid UTF-8", jsonl)
    assert (error.row, error.column) == (3, "label")


def test_missing_file_and_missing_column(tmp_path):
    error = raises_input_error("no such file", tmp_path / "absent.csv")
    assert error.file == str(tmp_path / "absent.csv")
    path = write_csv(tmp_path / "cols.csv", [("hi", "joy")], header=("sentence", "label"))
    error = raises_input_error("no column 'text'; the columns are 'sentence', 'label'", path)
    assert (error.row, error.column) == (1, "text")
    tabbed = tmp_path / "tabbed.csv"
    tabbed.write_text("text\tlabel\nhi\tjoy\n", encoding="utf-8")
    raises_input_error("is the file's delimiter the one its extension says?", tabbed)
    repeated = write_csv(tmp_path / "repeated.csv", [("hi", "joy")], header=("text", "text"))
    assert raises_input_error("the header names column 'text' more than once", repeated).row == 1
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    raises_input_error("unsupported file type '.xlsx'", tmp_path / "sheet.xlsx")
    raises_input_error("no bundled data set or file named 'isaer'", "isaer")


def test_label_only_in_test_is_rejected_with_its_row(tmp_path):
    train = write_csv(tmp_path / "train.csv", balanced_rows({"joy": 5, "sad": 5}))
    test = write_csv(tmp_path / "test.csv", [("fine", "joy"), ("what?", "surprise")])
    error = raises_input_error("label 'surprise' occurs in the test data but not in train", train=train, test=test)
    assert (error.file, error.row, error.column) == (str(test), 3, "label")
    error = raises_input_error("label 'surprise' is not one of the given labels=", train=train, test=test,
                               labels=["sad", "joy", "fear"])
    assert (error.file, error.row) == (str(test), 3)
    dd = data.load_dataset(train=train, test=test, labels=["sad", "joy", "fear", "surprise"])
    assert data.label_names(dd) == ["sad", "joy", "fear", "surprise"] and dd["test"]["label"] == [1, 3]


def test_jsonl_errors_use_line_numbers(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "joy"}\n\n{"text": "  ", "label": "joy"}\n', encoding="utf-8")
    error = raises_input_error("the text is blank", path)
    assert (error.row, error.column) == (3, "text")
    path.write_text('{"text": "a", "label": "joy"}\n{"text": "b", label: 1}\n', encoding="utf-8")
    assert raises_input_error("invalid JSON", path).row == 2


def test_skip_invalid_counts_and_logs_every_skipped_row(tmp_path, caplog):
    rows = balanced_rows({"joy": 10, "sad": 10}) + [("", "joy"), ("no label", "")]
    path = write_csv(tmp_path / "dirty.csv", rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("one;field\n")
    assert raises_input_error("1 field(s) but the header has 2", path).row == 24  # structure is checked first
    with caplog.at_level(logging.WARNING, logger="sensoryt5.data"):
        dd = data.load_dataset(path, skip_invalid=True)
    assert sum(data.describe(dd)["splits"].values()) == 20
    assert data.describe(dd)["report"]["skipped_rows"] == {
        "train": {"blank": 1, "empty label": 1, "wrong field count": 1}}
    assert "skipped 3 invalid row(s)" in caplog.text


def test_too_small_to_split(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", [("a", "joy"), ("b", "sad"), ("c", "joy")])
    raises_input_error("too few rows to carve a validation and a test split out of 3", path)


# --------------------------------------------------------------------------------------------------- CLI


def test_cli_list():
    result = CliRunner().invoke(data_cmd.app, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == data.list_datasets()
    assert lines[3].endswith("(train 5,946, validation 743, test 743)")
    assert "(train 3,613, validation 347, test 3,142)" in lines[4]


def test_cli_describe_json_of_a_bundled_set():
    result = CliRunner().invoke(data_cmd.app, ["describe", "emoint", "--json", "--no-coverage"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["splits"] == {"train": 3_613, "validation": 347, "test": 3_142}
    assert summary["labels"] == ["anger", "fear", "joy", "sadness"]
    assert summary["label_counts"]["test"]["fear"] == 995 and summary["coverage"] is None


def test_cli_describe_user_file_with_coverage(tmp_path):
    texts = [f"the {adjective} {noun}" for adjective in ("loud", "cold", "warm", "sweet", "bright")
             for noun in ("bread", "music", "wind", "light")]  # every word is in the norms: no OOV prediction
    path = write_csv(tmp_path / "c.csv", [(text, "joy" if i % 2 else "sad") for i, text in enumerate(texts)])
    result = CliRunner().invoke(data_cmd.app, ["describe", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["splits"] == {"train": 16, "validation": 2, "test": 2}
    coverage = summary["coverage"]
    shares = [coverage[s] for s in ("exact", "lemma", "multiword", "predicted", "missing")]
    assert sum(shares) == pytest.approx(1.0)
    assert coverage["words"] == 60 and coverage["exact"] == 1.0 and coverage["missing"] == 0.0
    table = CliRunner().invoke(data_cmd.app, ["describe", str(path), "--no-coverage"])
    assert table.exit_code == 0 and "joy" in table.output and "16" in table.output


def test_cli_bad_input_is_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,joy\nsemicolon;sad\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "sensoryt5", "data", "describe", str(path), "--no-coverage"],
                            capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                                                                 "COLUMNS": "400"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: file {path}, row 3, column 'label': 1 field(s)")
