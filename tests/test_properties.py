"""Property-based tests (hypothesis): arbitrary Unicode never crashes the lexicon, the alignment (WordPiece and
SentencePiece) or `SensoryClassifier.predict`, and their outputs always have the promised shapes and ranges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensoryt5.alignment import SensoryProcessor
from sensoryt5.classifier import SensoryClassifier
from sensoryt5.lexicon import FOUND_SOURCES, SOURCES, SensoryLexicon
from sensoryt5.norms import load_norms

ENTRIES = load_norms().words
UNICODE = st.characters(exclude_categories=("Cs",))  # every code point that can be encoded (no lone surrogates)
NOISE = st.text(UNICODE, max_size=40)
WORDY = st.lists(st.one_of(st.sampled_from(ENTRIES), st.sampled_from([",", "!", "-", "'s", "…", "😀", "\n"]), NOISE),
                 max_size=30).map(" ".join)  # norms entries (single and multi-word) among punctuation and noise
TEXT = st.one_of(st.text(UNICODE, max_size=300), WORDY)
TEXTS = st.lists(TEXT, min_size=1, max_size=4)
CLASSIFIABLE = st.lists(TEXT.filter(str.strip), min_size=1, max_size=4)  # blank texts are refused (texts.py)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(word=st.one_of(st.text(UNICODE, min_size=1, max_size=60), st.sampled_from(ENTRIES)))
@settings(max_examples=300, deadline=None)
def test_lookup_of_any_text_gives_one_valid_vector(lexicon: SensoryLexicon, word: str):
    if not word.strip():
        with pytest.raises(ValueError, match="empty or whitespace-only"):
            lexicon.lookup(word)
        return
    found = lexicon.lookup(word)
    assert found.source in SOURCES and found.source != "predicted"  # the fixture has no OOV regressor
    assert found.vector.shape == (lexicon.n_dims,) and found.vector.dtype == np.float32
    assert np.isfinite(found.vector).all() and (found.vector >= 0).all() and (found.vector <= 5).all()
    if found.source in FOUND_SOURCES:
        np.testing.assert_array_equal(found.vector, lexicon.table[lexicon.entry_rows[found.entry]])
    else:
        assert found.entry is None and not found.vector.any()


@given(entry=st.sampled_from(ENTRIES), case=st.sampled_from([str.upper, str.title, str.lower]))
@settings(max_examples=200, deadline=None)
def test_every_norms_entry_is_found_as_itself_in_any_case(lexicon: SensoryLexicon, entry: str, case):
    found = lexicon.lookup(case(entry))
    assert found.entry == entry and found.source in ("exact", "multiword")
    np.testing.assert_array_equal(found.vector, lexicon.table[lexicon.entry_rows[entry]])


@pytest.fixture(scope="module", params=["wordpiece", "sentencepiece"])
def processor(request, minilm_tokenizer, t5_tokenizer, lexicon) -> SensoryProcessor:
    tokenizer = minilm_tokenizer if request.param == "wordpiece" else t5_tokenizer
    return SensoryProcessor(tokenizer, lexicon, max_length=48)


@given(texts=TEXTS)
@FAST
def test_alignment_shapes_ranges_and_zeros_at_special_and_pad(processor: SensoryProcessor, texts: list[str]):
    out = processor(texts, return_tensors="np")
    ids, mask, sensory = out["input_ids"], out["attention_mask"], out["sensory"]
    plain = processor.tokenizer(texts, padding=True, truncation=True, max_length=48, return_tensors="np")
    np.testing.assert_array_equal(ids, plain["input_ids"])  # alignment never changes the tokenisation
    np.testing.assert_array_equal(mask, plain["attention_mask"])
    assert sensory.shape == (*ids.shape, processor.n_dims) and sensory.dtype == np.float32
    assert np.isfinite(sensory).all() and (sensory >= 0).all() and (sensory <= 5).all()
    special = np.isin(ids, processor.tokenizer.all_special_ids) | (mask == 0)
    assert not sensory[special].any()


@given(texts=TEXTS)
@FAST
def test_alignment_of_a_text_does_not_depend_on_its_batch(processor: SensoryProcessor, texts: list[str]):
    batch = processor(texts, return_tensors="np")
    for i, text in enumerate(texts):
        alone = processor([text], return_tensors="np")
        length = alone["input_ids"].shape[1]
        np.testing.assert_array_equal(batch["input_ids"][i, :length], alone["input_ids"][0])
        np.testing.assert_array_equal(batch["sensory"][i, :length], alone["sensory"][0])
        assert not batch["sensory"][i, length:].any()


@given(texts=TEXTS)
@FAST
def test_a_fresh_processor_agrees_with_one_that_has_memoised_words(processor: SensoryProcessor, texts: list[str]):
    fresh = SensoryProcessor(processor.tokenizer, processor.lexicon, max_length=processor.max_length)
    np.testing.assert_array_equal(fresh(texts, return_tensors="np")["sensory"],
                                  processor(texts, return_tensors="np")["sensory"])


@pytest.fixture(scope="module", params=["bert", "t5"])
def classifier(request, tiny_bert_folder, tiny_t5_folder, lexicon) -> SensoryClassifier:
    """An untrained 4-label SensoryT5 on the tiny BERT or T5 backbone (predictions need no training)."""
    import torch
    from transformers import AutoTokenizer

    from sensoryt5.modeling import SensoryT5ForSequenceClassification

    folder = tiny_bert_folder if request.param == "bert" else tiny_t5_folder
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification.from_backbone(
        str(folder), id2label={0: "joy", 1: "fear", 2: "anger", 3: "sadness"}).eval()
    return SensoryClassifier(model, SensoryProcessor(AutoTokenizer.from_pretrained(str(folder)), lexicon,
                                                     max_length=48))


@given(texts=CLASSIFIABLE, top_k=st.one_of(st.none(), st.integers(1, 5)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_predict_gives_one_ranked_distribution_per_text(classifier: SensoryClassifier, texts: list[str], top_k):
    predictions = classifier.predict(texts, batch_size=3, top_k=top_k)
    assert len(predictions) == len(texts)
    probabilities = classifier.predict_proba(texts)
    assert probabilities.shape == (len(texts), 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    for ranked, row in zip(predictions, probabilities):
        assert len(ranked) == min(top_k or 4, 4)
        scores = [p["score"] for p in ranked]
        assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
        assert len({p["label"] for p in ranked}) == len(ranked) <= 4
        np.testing.assert_allclose(scores, np.sort(row)[::-1][:len(ranked)], atol=1e-5)


@given(texts=CLASSIFIABLE, at=st.integers(0, 3), surrogate=st.integers(0xD800, 0xDFFF))
@settings(max_examples=30, deadline=None)
def test_text_that_is_not_valid_unicode_is_refused_by_name(classifier: SensoryClassifier, texts: list[str], at: int,
                                                           surrogate: int):
    at = min(at, len(texts) - 1)
    texts = [*texts[:at], texts[at] + chr(surrogate), *texts[at + 1:]]
    with pytest.raises(ValueError, match=rf"^texts\[{at}\] cannot be read: "):
        classifier.predict(texts)


@given(texts=CLASSIFIABLE, at=st.integers(0, 4), blank=st.text(" \t\n\r\u00a0\u3000", max_size=5))
@settings(max_examples=30, deadline=None)
def test_blank_text_is_refused_by_index(classifier: SensoryClassifier, texts: list[str], at: int, blank: str):
    at = min(at, len(texts))
    with pytest.raises(ValueError, match=rf"^texts\[{at}\] is blank$"):
        classifier.predict([*texts[:at], blank, *texts[at:]])
