"""Using a trained model: predict (order, top_k, multi-label thresholds), explain, predict_file and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_first_hour_data import one_error_line

from sensoryt5.classifier import SENSE_COLOURS, SensoryClassifier
from sensoryt5.errors import InputError
from sensoryt5.streaming import TextFileReader

TEXTS = ["sweet honey cake at home", "loud thunder", "rotten smelly garbage again and again and again",
         "I smelled fresh bread and heard loud music in the street", "ok", "cold", "dark scary shadow there",
         "happy music party", "slimy greasy mould on the old cheese in the fridge"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, env=env,
                          timeout=300)


# ---------------------------------------------------------------------------------------------------------------
# predict


def test_batched_predictions_come_back_in_input_order(clf, monkeypatch):
    batches: list[list[str]] = []
    runner = clf._runner
    monkeypatch.setattr(clf, "_runner", lambda features: batches.append(features["input_ids"].shape) or
                        runner(features))
    batched = clf.predict_proba(TEXTS, batch_size=4)  # [9, 3]
    monkeypatch.undo()
    single = np.concatenate([clf.predict_proba([text]) for text in TEXTS])
    assert batched.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    # the texts differ enough that a permutation would be caught, and batching really reordered them
    assert min(np.abs(batched[i] - batched[j]).max() for i in range(len(TEXTS)) for j in range(i)) > 1e-4
    assert [shape[0] for shape in batches] == [4, 4, 1]
    assert batches[0][1] >= batches[1][1] >= batches[2][1]  # longest texts first: less padding
    ranked = clf.predict(TEXTS, batch_size=4)
    assert [r[0]["label"] for r in ranked] == [clf.labels[i] for i in single.argmax(axis=1)]


def test_top_k_and_scores(clf):
    everything = clf.predict("sweet honey cake")[0]
    assert {p["label"] for p in everything} == set(clf.labels)
    assert sum(p["score"] for p in everything) == pytest.approx(1.0, abs=1e-5)
    assert everything[0]["score"] > everything[1]["score"] > everything[2]["score"]
    two = clf.predict(["sweet honey cake", "loud thunder"], top_k=2)
    assert [len(r) for r in two] == [2, 2]
    assert [p["label"] for p in two[0]] == [p["label"] for p in everything[:2]]
    assert [p["score"] for p in two[0]] == pytest.approx([p["score"] for p in everything[:2]], abs=1e-5)
    with pytest.raises(ValueError, match="top_k"):
        clf.predict("x", top_k=0)


def test_the_model_learned_the_toy_signal(clf):
    predicted = [r[0]["label"] for r in clf.predict(["sweet honey cake", "loud thunder noise",
                                                     "rotten smelly garbage"])]
    assert predicted == ["joy", "fear", "disgust"]


def test_predict_rejects_text_that_is_not_a_string_or_not_unicode(clf):
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        clf.predict(["fine", None])
    with pytest.raises(ValueError, match="lone surrogate"):
        clf.predict(["bad \ud800 text"])


@pytest.fixture(scope="module")
def multi_label_dir(tmp_path_factory, tiny_bert_folder) -> tuple[Path, np.ndarray]:
    """An untrained multi-label model whose third threshold splits the probabilities of `TEXTS` in two."""
    from transformers import AutoTokenizer

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.lexicon import SensoryLexicon
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    folder = tmp_path_factory.mktemp("multi")
    model = SensoryT5ForSequenceClassification.from_backbone(
        str(tiny_bert_folder), id2label={0: "always", 1: "never", 2: "some"},
        problem_type="multi_label_classification", label_thresholds=[0.0, 1.0, 0.5]).eval()
    processor = SensoryProcessor(AutoTokenizer.from_pretrained(str(tiny_bert_folder)),
                                 SensoryLexicon(oov_embedder=None), max_length=32)
    probabilities = SensoryClassifier(model, processor).predict_proba(TEXTS)
    model.config.label_thresholds = [0.0, 1.0, float(np.median(probabilities[:, 2]))]
    model.save_pretrained(str(folder))
    processor.save_pretrained(folder)
    return folder, probabilities


def test_multi_label_models_return_every_label_over_its_threshold(multi_label_dir):
    folder, _ = multi_label_dir
    multi = SensoryClassifier.from_pretrained(folder, device="cpu")
    assert multi.multi_label and multi.thresholds[:2] == [0.0, 1.0]
    probabilities = multi.predict_proba(TEXTS)
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # one sigmoid per label, not a softmax
    predictions = multi.predict(TEXTS)
    some = [p["label"] == "some" for r in predictions for p in r]
    assert 0 < sum(some) < len(TEXTS)  # the threshold splits the texts
    for row, ranked in zip(probabilities, predictions):
        expected = {name for name, p, t in zip(multi.labels, row, multi.thresholds) if p >= t}
        assert {p["label"] for p in ranked} == expected
        assert "always" in expected and "never" not in expected
        assert [p["score"] for p in ranked] == sorted((p["score"] for p in ranked), reverse=True)
    assert all(len(r) <= 1 for r in multi.predict(TEXTS, top_k=1))


# ---------------------------------------------------------------------------------------------------------------
# explain


def test_explain_words_sources_senses_and_attention(clf):
    text = "We ate ice cream, smelled fresh bread, heard zxqvw!"
    assert all("attention" not in word for word in clf.explain(text)["words"])  # only on request
    result = clf.explain(text, top_k=2, attention=True)
    words = {w["word"]: w for w in result["words"]}
    assert list(words) == ["we", "ate", "ice", "cream", "smelled", "fresh", "bread", "heard", "zxqvw"]
    for word in result["words"]:
        assert set(word) == {"word", "token_positions", "source", "vector", "start", "end", "sense", "strength",
                             "contribution", "sensory_contribution", "senses", "attention"}
        assert text[word["start"]:word["end"]].lower() == word["word"]
        assert list(word["vector"]) == list(SENSE_COLOURS)
    assert words["ice"]["source"] == words["cream"]["source"] == "multiword"
    assert words["heard"]["source"] == "lemma" and words["smelled"]["source"] == "exact"
    assert words["smelled"]["sense"] == "olfactory" and words["smelled"]["strength"] == max(
        words["smelled"]["vector"].values()) > 4
    assert words["heard"]["sense"] == "auditory"
    assert words["zxqvw"]["source"] == "missing" and words["zxqvw"]["sense"] is None
    assert words["zxqvw"]["strength"] == 0.0 and not any(words["zxqvw"]["vector"].values())
    assert len(words["zxqvw"]["token_positions"]) > 1  # several word pieces, one word
    attention = np.array([w["attention"] for w in result["words"]])
    assert (attention > 0).all() and attention.sum() <= 1.0 + 1e-6
    assert attention.sum() < 0.999  # [CLS], [SEP] and punctuation take a share too
    direct = clf.predict(text, top_k=2)[0]
    assert [p["label"] for p in result["predictions"]] == [p["label"] for p in direct]
    np.testing.assert_allclose([p["score"] for p in result["predictions"]], [p["score"] for p in direct], atol=1e-5)


@pytest.mark.parametrize("text", ["", " \n\t"])
def test_blank_text_is_an_error_naming_its_index(clf, text):
    with pytest.raises(InputError, match=r"^the text is blank$"):
        clf.explain(text)
    with pytest.raises(InputError, match=r"^texts\[1\] is blank$"):
        clf.predict(["sweet honey cake", text])


# ---------------------------------------------------------------------------------------------------------------
# predict_file

ROWS = [("a1", "sweet honey cake, at home"), ("a2", "loud thunder\nover the hills"), ("a3", "fresh"),
        ("a4", 'she said "rotten" twice'), ("a5", "cold"), ("a6", "happy music party"), ("a7", "dark scary shadow"),
        ("a8", "I smelled fresh bread")]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["id", "text"])
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        frame.assign(text=frame.text.str.replace("\n", " ")).to_csv(path, sep="\t", index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path)


@pytest.mark.parametrize("suffix, rows", [(".csv", [2, 3, 5, 6, 7, 8, 9, 10]), (".tsv", list(range(2, 10))),
                                          (".jsonl", list(range(1, 9))), (".parquet", list(range(1, 9)))])
def test_predict_file_round_trip_in_chunks(clf, tmp_path, monkeypatch, suffix, rows):
    source = tmp_path / f"in{suffix}"
    _write(source, ROWS)
    calls: list[int] = []
    scores = clf.scores
    monkeypatch.setattr(clf, "scores", lambda texts, **kw: calls.append(len(texts)) or scores(texts, **kw))
    summary = clf.predict_file(source, tmp_path / "out.jsonl", chunk_size=3, top_k=2, id_column="id")
    assert summary == {"rows": 8, "output": str(tmp_path / "out.jsonl"), "skipped": {}, "uncovered": 0,
                       "truncated": 0}
    assert calls == [3, 3, 2]  # three chunks
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [text.replace("\n", " ") if suffix == ".tsv" else text for _, text in ROWS]
    assert [line["row"] for line in lines] == rows
    assert [line["id"] for line in lines] == [ident for ident, _ in ROWS]
    assert [line["text"] for line in lines] == texts
    expected = clf.predict(texts, top_k=2)
    for line, ranked in zip(lines, expected):
        assert [p["label"] for p in line["predictions"]] == [p["label"] for p in ranked]
        np.testing.assert_allclose([p["score"] for p in line["predictions"]], [p["score"] for p in ranked],
                                   atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, "out.jsonl"])


def test_reader_streams_without_reading_the_whole_file(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("text,other\n")
        for i in range(40_000):
            handle.write(f"row number {i} with some words,{i}\n")
        handle.write("last,row,has,too,many,fields\n")
    with TextFileReader(path, chunk_size=100) as reader:
        chunks = iter(reader)
        first = next(chunks)
        assert first.rows[:2] == [2, 3] and first.texts[0] == "row number 0 with some words"
        assert len(first.texts) == 100 and first.ids is None
        assert 0 < reader.position < reader.total / 20  # only a buffer's worth has been read
        with pytest.raises(InputError) as error:
            for _ in chunks:
                pass
    assert error.value.row == 40_002 and "6 field(s)" in str(error.value)


@pytest.mark.parametrize("name, content, row, column, message", [
    ("missing.csv", None, None, None, "no such file"),
    ("notext.csv", b"id,body\n1,hello\n", 1, "text", "no column 'text'"),
    ("latin1.csv", b"text\nfine\ncaf\xe9 au lait\n", 3, "text", "byte 0xe9 is not valid UTF-8"),
    ("quote.csv", b'text,id\n"fine",1\n"broken,2\n', 3, "text", "broken quoting"),
    ("fields.csv", b"text,id\nfine,1\ntoo,many,fields\n", 3, "id", "3 field(s)"),
    ("nulltext.jsonl", b'{"text": "fine"}\n\n{"text": null}\n', 3, "text", "the text is missing"),
    ("number.jsonl", b'{"text": "fine"}\n{"text": 42}\n', 2, "text", "text is a int"),
    ("nokey.jsonl", b'{"text": "fine"}\n{"body": "x"}\n', 2, "text", "no key 'text'"),
    ("badjson.jsonl", b'{"text": "fine"}\n{"text": \n', 2, None, "invalid JSON"),
    ("array.jsonl", b'[{"text": "fine"}]\n', 1, None, "JSON array"),
    ("notes.txt", b"text\nhello\n", None, None, "unsupported file type"),
    ("empty.csv", b"", None, None, "the file is empty"),
])
def test_bad_input_is_located(clf, tmp_path, name, content, row, column, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as error:
        clf.predict_file(path, tmp_path / "out.jsonl", chunk_size=1)
    assert message in str(error.value)
    assert (error.value.file, error.value.row, error.value.column) == (str(path), row, column)
    assert not (tmp_path / "out.jsonl").exists()


def test_parquet_problems_are_located(clf, tmp_path):
    path = tmp_path / "in.parquet"
    pd.DataFrame({"text": ["fine", "also fine", None]}).to_parquet(path)
    with pytest.raises(InputError) as error:
        clf.predict_file(path, tmp_path / "out.jsonl", chunk_size=2)
    assert (error.value.row, error.value.column) == (3, "text") and "the text is missing" in str(error.value)
    with pytest.raises(InputError, match="no column 'body'; the columns are 'text'"):
        clf.predict_file(path, tmp_path / "out.jsonl", text_column="body")
    (tmp_path / "fake.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read Parquet"):
        clf.predict_file(tmp_path / "fake.parquet", tmp_path / "out.jsonl")


def test_output_is_atomic_when_a_run_fails_midway(clf, tmp_path, monkeypatch):
    source = tmp_path / "in.csv"
    _write(source, ROWS)
    output = tmp_path / "out.jsonl"
    output.write_text("previous results\n")
    scores, calls = clf.scores, []

    def failing(texts, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return scores(texts, **kw)

    monkeypatch.setattr(clf, "scores", failing)
    with pytest.raises(KeyboardInterrupt):
        clf.predict_file(source, output, chunk_size=3)
    assert calls == [3, 3]
    assert output.read_text() == "previous results\n"  # the old file is untouched
    output.unlink()
    with pytest.raises(KeyboardInterrupt):
        calls.clear()
        clf.predict_file(source, output, chunk_size=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no final file, no temporary file


def test_output_path_is_checked(clf, tmp_path):
    source = tmp_path / "in.csv"
    _write(source, ROWS[:2])
    with pytest.raises(InputError, match="output folder .* does not exist"):
        clf.predict_file(source, tmp_path / "missing" / "out.jsonl")
    with pytest.raises(InputError, match="the output file is the input file"):
        clf.predict_file(source, source)
    assert source.read_text().startswith("id,text")


# ---------------------------------------------------------------------------------------------------------------
# command line


@pytest.fixture(scope="module")
def cli_app():
    """The predict and explain commands on their own Typer app, to run in-process (no model reload per call)."""
    import typer

    from sensoryt5.cli import predict_cmd

    app = typer.Typer()
    app.command()(predict_cmd.predict)
    app.command()(predict_cmd.explain)
    return app


def _invoke(app, *args: str):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_cli_predict_texts_json(cli_app, model_dir, clf):
    printed = json.loads(_invoke(cli_app, "predict", str(model_dir), "sweet honey cake", "loud thunder", "--json",
                                 "--top-k", "2").stdout)
    assert [item["text"] for item in printed] == ["sweet honey cake", "loud thunder"]
    for item, ranked in zip(printed, clf.predict(["sweet honey cake", "loud thunder"], top_k=2)):
        assert [p["label"] for p in item["predictions"]] == [p["label"] for p in ranked]
        assert item["predictions"][0]["score"] == pytest.approx(ranked[0]["score"], abs=1e-5)
    table = _invoke(cli_app, "predict", str(model_dir), "rotten smelly garbage").stdout
    assert "rotten smelly garbage" in table and "disgust" in table


def test_cli_explain_shows_contributions_and_draws_bars(cli_app, model_dir, clf):
    text = "I smelled fresh bread and heard zxqvw"
    shown = _invoke(cli_app, "explain", str(model_dir), text, "--top-k", "3").stdout
    result = clf.explain(text, top_k=3)
    assert f"Explaining {result['explained']['label']}: probability" in shown and "Integrated Gradients" in shown
    assert f"towards {result['explained']['label']}" in shown and "attention" not in shown
    for word in result["words"]:
        assert f"{word['contribution']:+.4f}" in shown
    assert "olfactory" in shown and "missing" in shown and "lemma" in shown
    assert shown.count("█") > 10
    assert "attention weight" in _invoke(cli_app, "explain", str(model_dir), text, "--attention").stdout
    top = clf.explain(text, top_k=3)["predictions"]
    assert all(p["label"] in shown and f"{p['score']:.3f}" in shown for p in top)
    as_json = json.loads(_invoke(cli_app, "explain", str(model_dir), text, "--json").stdout)
    assert [w["word"] for w in as_json["words"]] == ["i", "smelled", "fresh", "bread", "and", "heard", "zxqvw"]


def test_cli_explain_shades_words_by_signed_contribution(clf):
    from rich.console import Console

    from sensoryt5.classifier import CONTRIBUTION_COLOURS, contribution_colour
    from sensoryt5.cli.predict_cmd import _shaded_text

    result = clf.explain("smelled loud zxqvw")
    scale = max(abs(word["contribution"]) for word in result["words"])
    styled = {str(result["text"][span.start:span.end]): str(span.style) for span in _shaded_text(result).spans}
    assert styled == {result["text"][w["start"]:w["end"]]: f"black on {contribution_colour(w['contribution'] / scale)}"
                      for w in result["words"]}
    largest = max(result["words"], key=lambda w: abs(w["contribution"]))
    end = CONTRIBUTION_COLOURS["positive" if largest["contribution"] >= 0 else "negative"]
    assert contribution_colour(largest["contribution"] / scale) == end and contribution_colour(0.0) == "#ffffff"
    rendered = Console(force_terminal=True, color_system="truecolor", width=80)
    with rendered.capture() as captured:
        rendered.print(_shaded_text(result))
    red, green, blue = (int(end[i:i + 2], 16) for i in (1, 3, 5))
    assert f"48;2;{red};{green};{blue}m" in captured.get()  # the strongest word's background


def test_cli_predict_file_end_to_end(model_dir, tmp_path):
    source = tmp_path / "in.jsonl"
    _write(source, ROWS)
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(tmp_path / "out.jsonl"),
                  "--chunk-size", "3", "--id-column", "id", "--progress")
    assert result.returncode == 0, result.stderr
    assert "Wrote 8 predictions" in result.stdout and "100%" in result.stderr  # the progress bar
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [ident for ident, _ in ROWS]


@pytest.mark.parametrize("command", [["predict", "some text"], ["explain", "some text"], ["serve"]])
def test_cli_refuses_a_missing_model_folder(tmp_path, command):
    line = one_error_line(_cli(command[0], str(tmp_path / "nothing"), *command[1:]))
    assert f"model folder {tmp_path / 'nothing'} does not exist" in line


def test_cli_refuses_pickle_only_checkpoints(model_dir, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(model_dir, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    line = one_error_line(_cli("explain", str(folder), "some text"))
    assert "pytorch_model.bin" in line and "safetensors only" in line and "arbitrary code" in line


def test_cli_names_a_missing_column_and_wrong_usage(model_dir, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,hello\n")
    line = one_error_line(_cli("predict", str(model_dir), "--input", str(source), "--output",
                                str(tmp_path / "out.jsonl")))
    assert f"file {source}, row 1, column 'text': no column 'text'" in line
    assert not (tmp_path / "out.jsonl").exists()
    line = one_error_line(_cli("predict", str(model_dir), "text", "--input", str(source), "--output", "x.jsonl"))
    assert "not both" in line
    line = one_error_line(_cli("predict", str(model_dir), "--input", str(source)))
    assert "--input needs --output" in line
