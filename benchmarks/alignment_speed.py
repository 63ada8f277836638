"""Cost of sensory alignment: `SensoryProcessor(tokenizer, SensoryLexicon())(texts)` against the tokenizer alone,
`tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")`, on real texts.

Texts: the first 10,000 Empathetic Dialogues training situations (about 20 words each). Both sides return torch
tensors of the same padded batch; the processor also builds the sensory tensor [B, L, 6]. Target: median ratio
<= 1.25 (alignment adds at most 25% to tokenisation).

The processor memoises every word it has met: its first call looks each new word up in the norms (exact, lemma,
multi-word) and has the OOV regressor predict the rest, once. The timed rounds run after an untimed warm-up that
fills this memo (the steady state of training epochs and of a server); the cold first call, made by a fresh
processor and lexicon, is reported separately in the notes.

Tokenizers: the MiniLM WordPiece tokenizer (the target) and a T5-style SentencePiece (unigram) tokenizer trained
here on the same texts (no T5 checkpoint can be downloaded where this project is developed; reported only).
A second figure per tokenizer, reported only, takes the tokenizer's NumPy output (`return_tensors="np"`, what the
processor itself asks for) as the baseline: the alignment's own share, without the cost of building torch tensors.
`--quick`: 1,000 texts; without a cached OOV regressor the quick run uses `oov_embedder=None` rather than fitting
one (about two minutes).

    python -m benchmarks.alignment_speed [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Figure, paired_timings

N_TEXTS, QUICK_TEXTS = 10_000, 1_000
REPEATS = 5
MAX_LENGTH = 128
TARGET_RATIO = 1.25
T5_VOCAB = 4000  # at most: SentencePiece keeps fewer pieces when the texts do not support so many


def benchmark_texts(n: int) -> list[str]:
    """The first `n` Empathetic Dialogues training situations."""
    from sensoryt5.data import load_dataset

    return list(load_dataset("empathetic_dialogues")["train"]["text"][:n])


def minilm_tokenizer() -> Any:
    """The bundled all-MiniLM-L6-v2 WordPiece tokenizer."""
    from transformers import AutoTokenizer

    from sensoryt5.backbones import resolve_backbone

    return AutoTokenizer.from_pretrained(resolve_backbone("minilm"))


def sentencepiece_tokenizer(texts: list[str]) -> Any:
    """A T5 tokenizer over a unigram SentencePiece model trained on `texts` (as tests/conftest.py builds one)."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(texts), encoding="utf-8")
        spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(Path(tmp) / "spiece"),
                                       vocab_size=T5_VOCAB, model_type="unigram", pad_id=0, eos_id=1, unk_id=2,
                                       bos_id=-1, character_coverage=1.0, hard_vocab_limit=False,
                                       minloglevel=2)
        pieces = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "spiece.model"))
    vocab = [(pieces.id_to_piece(i), pieces.get_score(i)) for i in range(pieces.get_piece_size())]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def oov_embedder(quick: bool) -> str | None:
    """The default OOV embedder, except in a quick run without a cached or shipped regressor (fitting takes minutes)."""
    from sensoryt5.oov import bundled_path, cache_path

    ready = cache_path("minilm").is_file() or bundled_path("minilm").is_file()
    return None if quick and not ready else "minilm"


def cold_first_call(tokenizer: Any, texts: list[str], oov: str | None) -> dict[str, Any]:
    """Seconds of a fresh processor's first call on `texts`, and the shares of words found and OOV-predicted."""
    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.lexicon import SensoryLexicon

    start = time.perf_counter()
    processor = SensoryProcessor(tokenizer, SensoryLexicon(oov_embedder=oov), max_length=MAX_LENGTH)
    processor(texts)
    seconds = time.perf_counter() - start
    coverage = processor.coverage(texts)
    return {"cold_first_call_s": round(seconds, 3), "word_tokens": coverage["words"],
            "share_found": round(coverage["found"], 4), "share_predicted": round(coverage["predicted"], 4)}


def measure(name: str, tokenizer: Any, texts: list[str], oov: str | None, target: bool) -> list[Figure]:
    """Paired timings of the processor (memo warmed) against the tokenizer alone on `texts`: returning torch
    tensors (the target when `target`), and, reported only, against the NumPy call the processor itself makes
    (`return_tensors="np"`), which isolates the alignment's own cost."""
    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.lexicon import SensoryLexicon

    cold = cold_first_call(tokenizer, texts, oov)
    processor = SensoryProcessor(tokenizer, SensoryLexicon(oov_embedder=oov), max_length=MAX_LENGTH)
    processor(texts)  # fills the word memo: every timed call below finds each word memoised

    def aligned() -> Any:
        return processor(texts)

    def tokenised(tensors: str = "pt") -> Any:
        return tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors=tensors)

    shape = tuple(aligned()["sensory"].shape)
    if shape[:2] != tuple(tokenised()["input_ids"].shape):
        raise RuntimeError(f"the processor and the tokenizer disagree on the batch shape: {shape}")
    figures = []
    for tensors in ("pt", "np"):
        load_before = os.getloadavg()[0]
        candidate, baseline = paired_timings(aligned, partial(tokenised, tensors), repeats=REPEATS, warmup=1)
        figure = Figure(
            name=name if tensors == "pt" else f"{name}/vs-numpy-tokeniser",
            candidate="SensoryProcessor(tokenizer, SensoryLexicon())(texts), torch tensors, word memo warmed",
            baseline=f'tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="{tensors}")',
            unit="s/pass",
            candidate_times=candidate,
            baseline_times=baseline,
            target=f"ratio <= {TARGET_RATIO:.2f}" if target and tensors == "pt" else "",
            notes={
                "texts": len(texts), "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
                "batch_shape": list(shape), "oov_embedder": oov,
                "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            },
        )
        if tensors == "pt":
            figure.notes.update({
                **cold,
                "cold_ratio_to_tokeniser_median": round(cold["cold_first_call_s"] / float(np.median(baseline)), 2),
                "memo": "timed calls follow a warm-up call that memoised every word; the cold first call (a fresh "
                        "processor and lexicon: norms and lemma look-ups, OOV predictions) is reported separately",
            })
        if figure.target:
            figure.passed = figure.summary()["ratio_median"] <= TARGET_RATIO
        figures.append(figure)
    return figures


def run(quick: bool = False) -> list[Figure]:
    """MiniLM WordPiece (the target) and SentencePiece (reported) figures on 10,000 texts (quick: 1,000)."""
    from sensoryt5.backbones import quiet_weight_loading

    texts = benchmark_texts(QUICK_TEXTS if quick else N_TEXTS)
    oov = oov_embedder(quick)
    with quiet_weight_loading():
        return [*measure("alignment_speed/minilm-wordpiece", minilm_tokenizer(), texts, oov, target=True),
                *measure("alignment_speed/t5-sentencepiece", sentencepiece_tokenizer(texts), texts, oov,
                         target=False)]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
