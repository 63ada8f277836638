"""Long texts: truncate (flagged) or chunk into overlapping windows cut between words, logits aggregated per text."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sensoryt5.long_text import aggregate_logits, plan_windows

SENTENCE = "The sour stinking milk was there at home."
LONG = " ".join([SENTENCE] * 10)  # far over the toy model's 32 tokens
SHORT = "sweet honey cake today"


def _cli(*args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True,
                          env=environment, timeout=300)


def test_truncate_windows_are_what_the_processor_gives(clf):
    texts = [LONG, SHORT, "unbelievably " * 40]
    windows = clf.processor.windows(texts)
    expected = clf.processor(texts)
    for key in expected:
        assert torch.equal(windows.features[key], expected[key]), key
    assert windows.truncated.tolist() == [True, False, True]
    assert windows.chunks.tolist() == [1, 1, 1] and windows.owner.tolist() == [0, 1, 2]
    full = clf.processor.tokenizer(texts)["input_ids"]
    assert windows.n_tokens.tolist() == [len(ids) for ids in full]


def test_chunk_windows_fit_cut_between_words_and_keep_each_words_vector(clf):
    processor, tokenizer = clf.processor, clf.processor.tokenizer
    text = " ".join(f"Unbelievably rotten, smelly garbage number {i} in the refrigerator." for i in range(6))
    full = np.array([tokenizer([text])["input_ids"][0]])  # [1, T]
    whole = processor.sensory_tensor(full)[0, 1:-1]  # [T - 2, D] the content tokens' vectors in the whole text
    stride = 6
    windows = processor.windows([text], "chunk", stride=stride, return_tensors="np")
    ids, mask, sensory = (windows.features[k] for k in ("input_ids", "attention_mask", "sensory"))
    assert windows.chunks.tolist() == [len(ids)] and len(ids) > 2 and ids.shape[1] <= processor.max_length
    content = full[0, 1:-1].tolist()
    start, covered = 0, 0
    for row, row_mask, row_sensory in zip(ids, mask, sensory):
        tokens = row[row_mask == 1].tolist()
        assert tokens[0] == tokenizer.cls_token_id and tokens[-1] == tokenizer.sep_token_id
        piece = tokens[1:-1]
        start = next(s for s in range(start, len(content)) if content[s:s + len(piece)] == piece)
        assert start <= covered and covered - start <= stride  # no gap; overlap at most the stride
        assert not tokenizer.convert_ids_to_tokens(piece[0]).startswith("##")  # starts a word
        end = start + len(piece)
        assert end == len(content) or not tokenizer.convert_ids_to_tokens(content[end]).startswith("##")
        np.testing.assert_array_equal(row_sensory[1:1 + len(piece)], whole[start:end])
        covered = end
    assert covered == len(content)


def test_plan_windows_overlaps_by_at_most_the_stride_and_cuts_an_overlong_word():
    words = [w for w in range(30) for _ in range(1 + w % 3)]  # words of 1, 2 or 3 tokens
    spans = plan_windows(words, capacity=10, stride=3, chunk=True)
    assert spans[0][0] == 0 and spans[-1][1] == len(words)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s1 < s2 <= e1 and e1 - s2 <= 3 and e2 - s2 <= 10
        assert words[s2] != words[s2 - 1] and words[e1 - 1] != words[min(e1, len(words) - 1)]
    assert plan_windows(words, capacity=10, stride=3, chunk=False) == [(0, 10)]
    assert plan_windows([0] * 25, capacity=10, stride=3, chunk=True) == [(0, 10), (10, 20), (20, 25)]


def test_aggregate_logits_mean_and_max():
    logits = np.array([[1.0, 0.0], [3.0, -2.0], [5.0, 5.0]], dtype=np.float32)  # [W, C]
    owner = np.array([0, 0, 1])
    np.testing.assert_array_equal(aggregate_logits(logits, owner, 2), [[2.0, -1.0], [5.0, 5.0]])
    np.testing.assert_array_equal(aggregate_logits(logits, owner, 2, "max"), [[3.0, 0.0], [5.0, 5.0]])


def test_a_long_text_gets_its_sentences_label_when_chunked(clf):
    label = clf.predict([SENTENCE])[0][0]["label"]
    scores = clf.scores([LONG], long_text="chunk")
    assert scores.truncated == [True] and scores.chunks[0] > 1
    assert clf.labels[int(scores.probabilities[0].argmax())] == label
    assert clf.predict([LONG], long_text="chunk", chunk_aggregate="max")[0][0]["label"] == label
    assert scores.fields() == [{"truncated": True, "chunks": int(scores.chunks[0])}]


def test_truncate_flags_the_text_and_gives_no_chunks(clf):
    scores = clf.scores([LONG, SHORT])
    assert scores.truncated == [True, False] and scores.chunks is None
    assert scores.fields() == [{"truncated": True}, {"truncated": False}]
    np.testing.assert_array_equal(scores.probabilities, clf.predict_proba([LONG, SHORT]))


def test_a_short_text_is_the_same_under_both_modes(clf):
    truncated = clf.predict_proba([SHORT, SENTENCE])
    for aggregate in ("mean", "max"):
        chunked = clf.scores([SHORT, SENTENCE], long_text="chunk", chunk_aggregate=aggregate)
        np.testing.assert_array_equal(chunked.probabilities, truncated)
        assert chunked.chunks.tolist() == [1, 1] and chunked.truncated == [False, False]


def test_many_windows_run_in_batches_of_batch_size(clf, monkeypatch):
    rows: list[int] = []
    runner = clf._runner
    monkeypatch.setattr(clf, "_runner", lambda features: rows.append(len(features["input_ids"])) or runner(features))
    scores = clf.scores([LONG, SHORT], batch_size=2, long_text="chunk")
    assert max(rows) <= 2 and sum(rows) == int(scores.chunks.sum())
    np.testing.assert_allclose(scores.probabilities, clf.scores([LONG, SHORT], long_text="chunk").probabilities,
                               atol=1e-5)


def test_explain_flags_a_truncated_text(clf):
    results = clf.explain_batch([LONG, SHORT], n_steps=4)
    assert [r["truncated"] for r in results] == [True, False]


def test_bad_python_options_name_the_parameter(clf):
    from sensoryt5.errors import OptionError

    with pytest.raises(OptionError, match="long_text='paragraph'"):
        clf.predict([SHORT], long_text="paragraph")
    with pytest.raises(OptionError, match="stride= needs long_text='chunk'"):
        clf.predict([SHORT], stride=4)
    with pytest.raises(OptionError, match="stride=20: the overlap must be at most half"):
        clf.predict([SHORT], long_text="chunk", stride=20)


def test_server_predict_returns_truncated_and_with_chunk_the_chunks(clf):
    from fastapi.testclient import TestClient

    from sensoryt5.serving import create_app

    with TestClient(create_app(clf)) as client:
        body = client.post("/v1/predict", json={"texts": [LONG, SHORT]}).json()
    assert body["truncated"] == [True, False] and "chunks" not in body
    with TestClient(create_app(clf, long_text="chunk")) as client:
        body = client.post("/v1/predict", json={"texts": [LONG, SHORT], "top_k": 1}).json()
    assert body["truncated"] == [True, False] and body["chunks"][0] > 1 and body["chunks"][1] == 1
    assert body["predictions"][0][0]["label"] == clf.predict([SENTENCE])[0][0]["label"]


def test_cli_predict_json_with_chunk(model_dir):
    result = _cli("predict", str(model_dir), LONG, SHORT, "--json", "--long-text", "chunk", "--stride", "4",
                  "--chunk-aggregate", "max")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["truncated"] for r in records] == [True, False]
    assert records[0]["chunks"] > 1 and records[1]["chunks"] == 1
    assert "were cut to it" not in result.stderr


def test_cli_predict_input_truncates_flags_and_warns(model_dir, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}) for t in (LONG, SHORT)), encoding="utf-8")
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["truncated"] for r in records] == [True, False] and all("chunks" not in r for r in records)
    assert "1 of 2 text(s) are longer than the model's window of 32 tokens" in result.stderr
    assert "--long-text chunk" in result.stderr


def test_cli_evaluate_records_the_mode(model_dir, tmp_path):
    result = _cli("evaluate", str(model_dir), "--dataset", str(model_dir.parent / "toy.jsonl"), "--split", "test",
                  "--output", str(tmp_path / "eval"), "--json", "--long-text", "chunk")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["long_text"] == "chunk" and report["truncated"] == 0
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert all(row["truncated"] is False and row["chunks"] == 1 for row in rows)


@pytest.mark.parametrize("command", [("predict", "MODEL", "a text"), ("evaluate", "MODEL", "--dataset", "isear"),
                                     ("serve", "MODEL")])
def test_a_bad_long_text_value_is_one_line_naming_the_flag(command, tmp_path):
    # the model folder does not exist: naming --long-text rather than the folder shows the check comes first
    args = [str(tmp_path / "no-model") if part == "MODEL" else part for part in command]
    result = _cli(*args, "--long-text", "paragraph")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--long-text paragraph" in result.stderr and "truncate, chunk" in result.stderr


def test_stride_without_chunk_is_one_line_naming_both_flags(tmp_path):
    result = _cli("predict", str(tmp_path / "no-model"), "a text", "--stride", "4")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--stride needs --long-text chunk" in result.stderr


def test_a_multi_label_model_aggregates_logits_before_the_sigmoid(tiny_bert_folder):
    from transformers import AutoTokenizer

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.lexicon import SensoryLexicon
    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification.from_backbone(
        str(tiny_bert_folder), id2label={0: "a", 1: "b"}, problem_type="multi_label_classification").eval()
    processor = SensoryProcessor(AutoTokenizer.from_pretrained(str(tiny_bert_folder)),
                                 SensoryLexicon(oov_embedder=None), max_length=32)
    multi = SensoryClassifier(model, processor)
    windows = processor.windows([LONG], "chunk")
    with torch.inference_mode():
        logits = model(**windows.features).logits.numpy()  # [W, 2]
    for how, expected in (("mean", logits.mean(axis=0)), ("max", logits.max(axis=0))):
        probabilities = multi.predict_proba([LONG], long_text="chunk", chunk_aggregate=how)[0]
        np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-expected)), atol=1e-6)
