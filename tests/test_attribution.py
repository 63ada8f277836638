"""Integrated Gradients explanations: completeness on every fusion, the sensory part follows the sensory vector, a
model that depends on one word attributes to that word, and the explain command, file mode and HTTP endpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import BertConfig

from sensoryt5.alignment import SensoryProcessor
from sensoryt5.attribution import SENSORY_BASELINE_SCALE, integrated_gradients
from sensoryt5.classifier import SensoryClassifier
from sensoryt5.configuration import SensoryConfig
from sensoryt5.errors import InputError
from sensoryt5.modeling import SensoryT5ForSequenceClassification

TEXT = "I smelled fresh bread and heard loud music, zxqvw!"
LABELS = {0: "joy", 1: "fear", 2: "disgust"}


def _classifier(tokenizer, lexicon, fusion: str, sensory_mode: str = "norms", seed: int = 0,
                multi_label: bool = False) -> SensoryClassifier:
    """A randomly initialised tiny-BERT SensoryT5 with `fusion`, in eval mode, and its processor."""
    torch.manual_seed(seed)
    backbone = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=128)
    config = SensoryConfig(backbone_config=backbone.to_dict(), id2label=LABELS,
                           label2id={v: k for k, v in LABELS.items()}, fusion=fusion, sensory_mode=sensory_mode,
                           problem_type="multi_label_classification" if multi_label else None)
    model = SensoryT5ForSequenceClassification(config).eval()
    return SensoryClassifier(model, SensoryProcessor(tokenizer, lexicon, sensory_mode=sensory_mode, max_length=32))


def _baseline_score(clf: SensoryClassifier, text: str, target: int) -> float:
    """The explained score at the documented baseline, computed here from scratch: pad embeddings except at the
    special tokens, sensory vectors scaled by SENSORY_BASELINE_SCALE."""
    tokenizer, model = clf.processor.tokenizer, clf.model
    features = clf.processor([text])
    ids = features["input_ids"]
    special = torch.tensor([i in tokenizer.all_special_ids for i in ids[0].tolist()])[None, :]
    baseline_ids = torch.where(special, ids, torch.full_like(ids, tokenizer.pad_token_id))
    with torch.no_grad():
        embeds = model.get_input_embeddings()(baseline_ids)
        sensory = features["sensory"] * SENSORY_BASELINE_SCALE if model.fusion is not None else None
        logits = model(inputs_embeds=embeds, attention_mask=features["attention_mask"], sensory=sensory).logits
    scores = torch.sigmoid(logits) if clf.multi_label else torch.softmax(logits, dim=-1)
    return float(scores[0, target])


@pytest.mark.parametrize("fusion,sensory_mode,multi_label", [
    ("paper", "norms", False), ("residual", "norms", False), ("gate", "norms", False), ("late", "norms", False),
    ("input", "norms", False), ("paper", "none", False), ("input", "norms", True),
])
def test_contributions_sum_to_the_score_change_from_the_baseline(minilm_tokenizer, lexicon, fusion, sensory_mode,
                                                                 multi_label):
    clf = _classifier(minilm_tokenizer, lexicon, fusion, sensory_mode, multi_label=multi_label)
    result = clf.explain(TEXT, label="fear")
    explained = result["explained"]
    target = clf.labels.index("fear")
    score = clf.predict_proba([TEXT])[0, target]
    assert explained["label"] == "fear" and explained["output"] == ("sigmoid" if multi_label else "probability")
    assert explained["score"] == pytest.approx(score, abs=1e-6)
    assert explained["baseline_score"] == pytest.approx(_baseline_score(clf, TEXT, target), abs=1e-6)
    total = sum(word["contribution"] for word in result["words"]) + result["other_contribution"]
    change = explained["score"] - explained["baseline_score"]
    assert abs(total - change) <= abs(explained["delta"]) + 1e-6  # completeness, up to the reported delta
    assert abs(explained["delta"]) <= 1e-4  # in probability units, at the default steps
    contributions = [word["contribution"] for word in result["words"]]
    assert np.ptp(contributions) > 0  # words differ
    for word in result["words"]:
        assert word["sensory_contribution"] == pytest.approx(sum(word["senses"].values()), abs=1e-9)
        assert list(word["senses"]) == list(clf.processor.lexicon.dims)
    if sensory_mode == "none":
        assert all(word["sensory_contribution"] == 0 for word in result["words"])
    else:
        assert any(abs(word["sensory_contribution"]) > 0 for word in result["words"])


def test_contributions_are_complete_on_the_t5_path(tiny_t5_folder, lexicon):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_folder)
    model = SensoryT5ForSequenceClassification.from_backbone(str(tiny_t5_folder), id2label=LABELS, fusion="paper",
                                                             t5_states="encoder").eval()
    clf = SensoryClassifier(model, SensoryProcessor(tokenizer, lexicon, max_length=32))
    result = clf.explain("sweet honey and loud thunder")
    explained = result["explained"]
    total = sum(word["contribution"] for word in result["words"]) + result["other_contribution"]
    assert abs(total - (explained["score"] - explained["baseline_score"])) <= abs(explained["delta"]) + 1e-6


def test_the_sensory_part_follows_the_sensory_vector(minilm_tokenizer, lexicon):
    clf = _classifier(minilm_tokenizer, lexicon, "input", seed=1)
    words = clf.processor.explain_words(TEXT)
    by_word = {w["word"]: w for w in words}
    features = clf.processor([TEXT])
    full = integrated_gradients(clf.model, minilm_tokenizer, features, [0])
    bread = by_word["bread"]["token_positions"]
    olfactory = list(lexicon.dims).index("olfactory")
    assert np.all(full.sensory[0, bread, olfactory] != 0)
    missing = by_word["zxqvw"]["token_positions"]
    assert by_word["zxqvw"]["source"] == "missing" and np.all(full.sensory[0, missing] == 0)  # nothing to move

    changed = {**features, "sensory": features["sensory"].clone()}
    changed["sensory"][0, bread, olfactory] = 0.0  # bread no longer smells
    part = integrated_gradients(clf.model, minilm_tokenizer, changed, [0])
    assert np.all(part.sensory[0, bread, olfactory] == 0)  # that sense's part is gone ...
    others = [i for i in range(len(lexicon.dims)) if i != olfactory]
    assert np.all(part.sensory[0, bread][:, others] != 0)  # ... the word's other senses still count
    assert part.score[0] != pytest.approx(full.score[0], abs=1e-9)  # and the model saw the change


def test_a_model_that_depends_on_one_word_gives_it_the_largest_contribution(tmp_path, tiny_bert_folder):
    from sensoryt5.training import TrainingConfig, train

    rng = np.random.default_rng(0)
    fillers = ["table", "window", "paper", "river", "street", "garden", "morning", "letter", "chair", "cloud",
               "market", "bottle", "train", "yellow", "quiet", "simple"]
    rows = []
    for i in range(400):
        words = list(rng.choice(fillers, size=5, replace=False))
        label = "yes" if i % 2 else "no"
        if label == "yes":
            words[rng.integers(5)] = "banana"
        rows.append({"text": " ".join(words), "label": label})
    data = tmp_path / "banana.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    train(TrainingConfig(dataset=str(data), output=str(tmp_path / "model"), backbone=str(tiny_bert_folder),
                         fusion="input", oov_embedder=None, epochs=6, learning_rate=5e-3, batch_size=16,
                         max_length=16, early_stopping_patience=None, seed=0))
    clf = SensoryClassifier.from_pretrained(tmp_path / "model", device="cpu")
    texts = [row["text"] for row in rows[1:80:2]]  # 40 texts with banana
    results = clf.explain_batch(texts, label="yes")
    top = [max(result["words"], key=lambda w: w["contribution"])["word"] for result in results]
    assert all(result["explained"]["score"] > 0.8 for result in results)  # the model learnt the rule
    assert top.count("banana") >= 0.9 * len(texts), top


def test_explain_batch_matches_one_at_a_time_and_checks_its_input(clf):
    texts = ["sweet honey cake", TEXT, "loud thunder noise at home"]
    batched = clf.explain_batch(texts, batch_size=2)
    for text, result in zip(texts, batched):
        alone = clf.explain(text)
        assert result["text"] == text and result["explained"]["label"] == alone["explained"]["label"]
        np.testing.assert_allclose([w["contribution"] for w in result["words"]],
                                   [w["contribution"] for w in alone["words"]], atol=1e-5)
    with pytest.raises(InputError, match="unknown label 'anger'; this model's labels are"):
        clf.explain(TEXT, label="anger")
    with pytest.raises(InputError, match=r"^texts\[1\] is blank$"):
        clf.explain_batch(["fine", "  "])


def test_cli_explain_file_mode_and_bad_label(model_dir, tmp_path):
    from test_first_hour_data import one_error_line
    from test_inference import _cli

    source = tmp_path / "in.csv"
    source.write_text("ident,comment\nx1,sweet honey cake\nx2,loud thunder noise\nx3,rotten smelly garbage\n",
                      encoding="utf-8")
    out = tmp_path / "explained.jsonl"
    result = _cli("explain", str(model_dir), "--input", str(source), "--output", str(out), "--text-column",
                  "comment", "--id-column", "ident", "--label", "joy")
    assert result.returncode == 0, result.stderr
    assert "Wrote 3 explanations" in result.stdout
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["x1", "x2", "x3"] and [r["row"] for r in records] == [2, 3, 4]
    assert all(r["explained"]["label"] == "joy" and r["words"] for r in records)
    bad = _cli("explain", str(model_dir), "sweet honey", "--label", "anger")
    assert bad.returncode == 2
    assert one_error_line(bad).startswith("error: --label 'anger' is not one of this model's labels")
    neither = _cli("explain", str(model_dir))
    assert neither.returncode == 2 and "nothing to explain: pass a text" in one_error_line(neither)


def test_http_explain_takes_a_label_and_refuses_an_unknown_one(clf):
    from fastapi.testclient import TestClient

    from sensoryt5.serving import create_app

    with TestClient(create_app(clf)) as client:
        body = client.post("/v1/explain", json={"text": TEXT, "label": "fear", "n_steps": 8}).json()
        direct = clf.explain(TEXT, label="fear", n_steps=8, top_k=5)
        assert body["explained"] == direct["explained"]
        np.testing.assert_allclose([w["contribution"] for w in body["words"]],
                                   [w["contribution"] for w in direct["words"]], atol=1e-6)
        refused = client.post("/v1/explain", json={"text": TEXT, "label": "anger"})
        assert refused.status_code == 422 and "unknown label 'anger'" in refused.json()["error"]
        assert client.post("/v1/explain", json={"text": TEXT, "n_steps": 1}).status_code == 422
        colours = client.get("/v1/labels").json()["contribution_colours"]
        assert set(colours) == {"positive", "negative"}


def test_steps_double_while_the_delta_exceeds_the_tolerance(clf):
    from sensoryt5.attribution import MAX_STEPS

    texts = ["sweet honey cake", TEXT, "loud thunder noise at home"]
    fixed = clf.explain_batch(texts, n_steps=4, tolerance=None)
    assert all(r["explained"]["n_steps"] == 4 and r["explained"]["tolerance"] is None for r in fixed)
    always = clf.explain_batch(texts, n_steps=4, tolerance=0.0)  # within only if exact to the last bit of float32
    assert all(r["explained"]["n_steps"] == MAX_STEPS or r["explained"]["delta"] == 0.0 for r in always)
    assert any(r["explained"]["n_steps"] == MAX_STEPS for r in always)
    adaptive = clf.explain_batch(texts, n_steps=4, tolerance=1e-4)
    for result in adaptive:
        steps, delta = result["explained"]["n_steps"], result["explained"]["delta"]
        assert steps in (4, 8, 16, 32, 64, 128) and (abs(delta) <= 1e-4 or steps == MAX_STEPS)
        total = sum(w["contribution"] for w in result["words"]) + result["other_contribution"]
        assert total - (result["explained"]["score"] - result["explained"]["baseline_score"]) == pytest.approx(
            delta, abs=1e-6)
