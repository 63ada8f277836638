"""Text → model inputs: `input_ids`, `attention_mask` and the per-token sensory tensor [B, L, D].

The one place where text becomes tensors (training, inference and export all use `SensoryProcessor`).

Words are found on the token ids themselves, so the fast tokenizer does the only per-character work:
a token starts a word when it carries the tokenizer's word-start marker ("▁" for SentencePiece, "Ġ" for byte-level
BPE, no "##" for WordPiece) or follows a punctuation/special token; punctuation, special and pad tokens belong to no
word and carry zeros. The unknown token ([UNK], which MiniLM gives most Chinese characters) is a word of its own
kind: it is kept as a word (so `explain_words` lists it) but is never looked up, so it is `missing`.
Each word is identified by a 64-bit hash of its token ids, looked up once in the lexicon
(memoised), and every sub-word token inherits its word's vector. Multi-word entries ("ice cream", "t-shirt") are
matched longest-first over adjacent words. Everything per token is vectorised with NumPy, which keeps alignment
cheap next to tokenisation (see BENCHMARKS.md).

Sensory modes, for the paper's ablations: `norms` (the lexicon's values), `random` (each distinct word gets values
drawn uniformly from 0-5, a pure function of the word and the seed, so identical in every process), `shuffled` (the
norms permuted across entries with a seeded permutation; predicted words draw a norms row by their hash),
`none` (zeros: the paper's T5 baseline).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.errors import ModelLoadError, OptionError, check_choice, option
from sensoryt5.legacy import current_keys
from sensoryt5.lexicon import SOURCES, SensoryLexicon, normalise
from sensoryt5.lexicons import is_built_in
from sensoryt5.long_text import Windows, check_long_text, default_stride, plan_windows
from sensoryt5.norms import LANCASTER, SENSORIMOTOR

MODES: tuple[str, ...] = ("norms", "random", "shuffled", "none")
PROCESSOR_FILE = "sensory_processor.json"
LEXICON_FILE = "sensory_lexicon.csv"  # a CSV lexicon's copy in a saved model folder
_MISSING = SOURCES.index("missing")
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)
_PHRASE_BASE = np.uint64(0xC2B2AE3D27D4EB4F)
_HYPHENS = frozenset({"-", "\u2010", "\u2011", "\u2012", "\u2013"})


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer (SplitMix64 finaliser), vectorised; same output on every machine."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def stable_hash(text: str, seed: int = 0) -> int:
    """A 64-bit hash of `text` that does not depend on the process (unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\x00{text}".encode(), digest_size=8).digest(), "little")


def _dim_code(dim: str) -> int:
    """A dimension's code in the random stream: 1-11 for the Lancaster dimensions (the values every earlier run
    drew), a hash of the name for another lexicon's."""
    return SENSORIMOTOR.index(dim) + 1 if dim in SENSORIMOTOR else stable_hash(dim, -1)


def random_vectors(words: Sequence[str], dims: Sequence[str], seed: int = 0, high: float = 5.0) -> np.ndarray:
    """Random SensoryT5 values: [len(words), len(dims)] uniform in [0, high) (the Lancaster range by default; the
    processor passes its lexicon's top), a pure function of (word, dim, seed)."""
    keys = np.array([stable_hash(w, seed) for w in words], dtype=np.uint64)[:, None]  # [N, 1]
    dim_codes = np.array([_dim_code(d) for d in dims], dtype=np.uint64)[None, :]  # [1, D]
    with np.errstate(over="ignore"):
        bits = _splitmix64(keys ^ (dim_codes * _HASH_BASE))
    return ((bits >> np.uint64(11)).astype(np.float64) * (high / 2.0**53)).astype(np.float32)


def shuffled_rows(n_entries: int, seed: int = 0) -> np.ndarray:
    """A seeded permutation of the norms rows, identical on every machine and NumPy version."""
    keys = _splitmix64(np.arange(n_entries, dtype=np.uint64) ^ np.uint64(stable_hash("shuffled", seed)))
    return np.argsort(keys, kind="stable")


@dataclass(frozen=True)
class _TokenTables:
    """Per-vocabulary flags of a tokenizer, computed once: which ids are breaks, hyphens, word starts."""

    is_break: np.ndarray  # [V] bool: special (except unknown), pad, punctuation-only or marker-only tokens
    is_unknown: np.ndarray  # [V] bool: the tokenizer's unknown token
    is_hyphen: np.ndarray  # [V] bool
    starts_word: np.ndarray  # [V] bool: carries a word-start marker (or is not a WordPiece continuation)


def _token_tables(tokenizer: Any) -> _TokenTables:
    """Classify every vocabulary id of a Hugging Face fast tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(f"{type(tokenizer).__name__} is not a fast (tokenizers-backed) tokenizer; "
                         "sensory alignment needs one")
    size = len(tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
    model_kind = type(backend.model).__name__
    if model_kind == "WordPiece":
        prefix = backend.model.continuing_subword_prefix
        starts = [not t.startswith(prefix) for t in tokens]
        bodies = [t[len(prefix):] if not s else t for t, s in zip(tokens, starts)]
    else:
        marker = max(("\u2581", "\u0120"), key=lambda m: sum(t.startswith(m) for t in tokens))
        if sum(t.startswith(marker) for t in tokens) < size // 20:
            raise ValueError(f"cannot find word boundaries for the {model_kind} tokenizer "
                             f"{type(tokenizer).__name__} (no '▁' or 'Ġ' word-start marker)")
        starts = [t.startswith(marker) for t in tokens]
        bodies = [t.lstrip(marker) for t in tokens]
    special = np.zeros(size, dtype=bool)
    special[[i for i in tokenizer.all_special_ids if i is not None and i < size]] = True
    is_unknown = np.zeros(size, dtype=bool)
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id < size:
        is_unknown[tokenizer.unk_token_id] = True
    is_break = (np.array([not any(ch.isalnum() for ch in body) for body in bodies]) | special) & ~is_unknown
    is_hyphen = np.array([body in _HYPHENS for body in bodies])
    return _TokenTables(is_break=is_break, is_unknown=is_unknown, is_hyphen=is_hyphen,
                        starts_word=np.array(starts, dtype=bool))


@dataclass
class WordLayout:
    """Where the words of a tokenised batch are: one entry per word, in reading order."""

    word_tokens: np.ndarray  # [T] flat positions (into B*L) of tokens that belong to a word
    token_word: np.ndarray  # [T] word number (0..W-1) of each of those tokens
    first: np.ndarray  # [W] flat position of each word's first token
    last: np.ndarray  # [W] flat position of each word's last token
    hashes: np.ndarray  # [W] uint64 hash of each word's token ids


def word_layout(input_ids: np.ndarray, tables: _TokenTables) -> WordLayout:
    """Find the words of a batch of token ids [B, L], vectorised."""
    batch, length = input_ids.shape
    flat = input_ids.reshape(-1)
    is_word = ~tables.is_break[flat]  # [B*L]
    prev_word = np.zeros_like(is_word)
    prev_word[1:] = is_word[:-1]
    prev_word[::length] = False
    starts = is_word & (tables.starts_word[flat] | ~prev_word)
    word_tokens = np.flatnonzero(is_word)  # [T]
    start_flags = starts[word_tokens]
    token_word = np.cumsum(start_flags) - 1  # [T]
    first_idx = np.flatnonzero(start_flags)  # [W] index into word_tokens
    n_tokens = len(word_tokens)
    last_idx = np.append(first_idx[1:], n_tokens) - 1 if n_tokens else first_idx
    if n_tokens == 0:
        empty = np.zeros(0, dtype=np.int64)
        return WordLayout(empty, empty, empty, empty, np.zeros(0, dtype=np.uint64))
    position = np.arange(n_tokens) - first_idx[token_word]  # position of each token inside its word
    powers = np.ones(length, dtype=np.uint64)
    with np.errstate(over="ignore"):
        powers[1:] = _HASH_BASE
        powers = np.cumprod(powers, dtype=np.uint64)
        contributions = (flat[word_tokens].astype(np.uint64) + np.uint64(1)) * powers[position]
    hashes = np.add.reduceat(contributions, first_idx, dtype=np.uint64)
    return WordLayout(word_tokens=word_tokens, token_word=token_word, first=word_tokens[first_idx],
                      last=word_tokens[last_idx], hashes=hashes)


class SensoryProcessor:
    """Tokenizer + lexicon → `input_ids`, `attention_mask`, `sensory` [B, L, D] (a sensory tensor per token).

    Args:
        tokenizer: a Hugging Face fast tokenizer (WordPiece, SentencePiece/Unigram or byte-level BPE).
        lexicon: the sensory lexicon; its dimensions are the tensor's last axis.
        sensory_mode: "norms", "random", "shuffled" or "none".
        max_length: truncation length in tokens.
        seed: seed of the `random` and `shuffled` modes.
        ablate: dimensions set to zero for every word (leave-one-sense-out that keeps the tensor's shape, so a
            model trained on it has the same size, initialisation and random stream as one with every sense).
    """

    def __init__(self, tokenizer: Any, lexicon: SensoryLexicon, sensory_mode: str = "norms", max_length: int = 128,
                 seed: int = 0, ablate: Sequence[str] = ()) -> None:
        check_choice("sensory mode", sensory_mode, MODES)
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {max_length}")
        check_ablate(ablate, lexicon.dims)
        self.tokenizer, self.lexicon, self.sensory_mode = tokenizer, lexicon, sensory_mode
        self.max_length, self.seed = max_length, seed
        self.return_tensors = "pt"  # what `__call__` returns by default
        self.ablate = [d for d in lexicon.dims if d in ablate]  # in the lexicon's column order
        self._kept = np.array([d not in ablate for d in lexicon.dims])  # [D] bool
        self._tables = _token_tables(tokenizer)
        self._keys = np.zeros(0, dtype=np.uint64)  # sorted word hashes seen so far
        self._key_slots = np.zeros(0, dtype=np.int64)  # slot of each hash
        self._slot_of_word: dict[str, int] = {}
        self._slot_words: list[str] = []
        self._slot_vectors = np.zeros((0, lexicon.n_dims), dtype=np.float32)  # [S, D], mode applied
        self._slot_sources = np.zeros(0, dtype=np.int8)  # [S] index into SOURCES
        self._slot_parts = np.zeros(0, dtype=np.int64)  # [S] multi-word part id, -1 if in no entry
        self._build_phrase_index()

    @property
    def n_dims(self) -> int:
        """Size of the sensory tensor's last axis."""
        return self.lexicon.n_dims

    def _build_phrase_index(self) -> None:
        """Index the multi-word entries by hashes of their part ids, one table per entry length."""
        self._part_ids: dict[str, int] = {}
        self._phrases: dict[tuple[int, ...], int] = {}
        for parts, row in self.lexicon.multiword_rows.items():
            ids = tuple(self._part_ids.setdefault(p, len(self._part_ids)) for p in parts)
            self._phrases[ids] = row
        self._phrase_hashes = {
            n: np.unique([self._phrase_hash(np.array([ids]))[0] for ids in self._phrases if len(ids) == n])
            for n in sorted({len(ids) for ids in self._phrases}, reverse=True)
        }
        rows = np.array(list(self._phrases.values()), dtype=np.int64)
        self._phrase_vectors = dict(zip(self._phrases.values(), self._entry_vectors(rows)))

    @staticmethod
    def _phrase_hash(part_windows: np.ndarray) -> np.ndarray:
        """Hash of windows of part ids [N, n] → [N] uint64."""
        acc = np.zeros(part_windows.shape[0], dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(part_windows.shape[1]):
                acc = acc * _PHRASE_BASE + part_windows[:, j].astype(np.uint64) + np.uint64(1)
        return acc

    def _entry_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Mode-applied vectors of norms entries [len(rows), D]."""
        if self.sensory_mode == "shuffled":
            rows = self._permutation[rows]
        if self.sensory_mode == "random":
            return self._random_vectors([self.lexicon.norms.words[r] for r in rows])
        vectors = self.lexicon.table[rows]
        return np.zeros_like(vectors) if self.sensory_mode == "none" else vectors

    def _random_vectors(self, words: Sequence[str]) -> np.ndarray:
        """The `random` mode's values of `words` [N, D], uniform up to the top of the lexicon's range."""
        return random_vectors(words, self.lexicon.dims, self.seed, high=self.lexicon.norms.value_range[1])

    @property
    def _permutation(self) -> np.ndarray:
        if not hasattr(self, "_perm"):
            self._perm = shuffled_rows(len(self.lexicon.norms.words), self.seed)
        return self._perm

    def _register(self, words: list[str]) -> np.ndarray:
        """Look up new normalised words, append them as slots, return their slot numbers."""
        new = [w for w in dict.fromkeys(words) if w not in self._slot_of_word]
        if new:
            lookable = [w for w in new if w]
            vectors, sources, entries = self.lexicon.lookup_many(lookable) if lookable else (None, [], [])
            by_word = dict(zip(lookable, zip(sources, entries, range(len(lookable)))))
            table = np.zeros((len(new), self.n_dims), dtype=np.float32)
            codes = np.full(len(new), _MISSING, dtype=np.int8)
            parts = np.full(len(new), -1, dtype=np.int64)
            for i, word in enumerate(new):
                if word not in by_word:
                    continue
                source, entry, j = by_word[word]
                codes[i] = SOURCES.index(source)
                table[i] = vectors[j]
                parts[i] = self._part_id(word, entry)
            table = self._apply_mode(new, table, codes, [by_word.get(w, (None, None))[1] for w in new])
            start = len(self._slot_words)
            self._slot_words.extend(new)
            self._slot_of_word.update({w: start + i for i, w in enumerate(new)})
            self._slot_vectors = np.concatenate([self._slot_vectors, table])
            self._slot_sources = np.concatenate([self._slot_sources, codes])
            self._slot_parts = np.concatenate([self._slot_parts, parts])
        return np.array([self._slot_of_word[w] for w in words], dtype=np.int64)

    def _part_id(self, word: str, entry: str | None) -> int:
        """Multi-word part id of a word, falling back to its matched entry (so "creams" can end "ice cream")."""
        if word in self._part_ids:
            return self._part_ids[word]
        return self._part_ids.get(entry, -1) if entry is not None else -1

    def _apply_mode(self, words: list[str], vectors: np.ndarray, codes: np.ndarray,
                    entries: list[str | None]) -> np.ndarray:
        """Replace looked-up vectors [N, D] by the mode's values."""
        if self.sensory_mode == "none":
            return np.zeros_like(vectors)
        if self.sensory_mode == "random":
            return self._random_vectors(words) * np.array([bool(w) for w in words])[:, None]
        if self.sensory_mode == "shuffled":
            n_entries = len(self.lexicon.norms.words)
            for i, (word, entry) in enumerate(zip(words, entries)):
                if entry is not None:
                    vectors[i] = self.lexicon.table[self._permutation[self.lexicon.entry_rows[entry]]]
                elif codes[i] != _MISSING:
                    vectors[i] = self.lexicon.table[stable_hash(word, self.seed) % n_entries]
        return vectors

    def _word_slots(self, input_ids: np.ndarray, layout: WordLayout) -> np.ndarray:
        """Slot number of every word [W], registering words seen for the first time."""
        idx = np.searchsorted(self._keys, layout.hashes)
        idx_clipped = np.minimum(idx, max(len(self._keys) - 1, 0))
        known = (idx < len(self._keys)) & (self._keys[idx_clipped] == layout.hashes) if len(self._keys) else \
            np.zeros(len(layout.hashes), dtype=bool)
        if not known.all():
            unknown = np.flatnonzero(~known)
            new_hashes, first_seen = np.unique(layout.hashes[unknown], return_index=True)
            flat = input_ids.reshape(-1)
            words = []
            for w in unknown[first_seen]:
                ids = flat[layout.first[w]:layout.last[w] + 1]
                ids = ids[~self._tables.is_break[ids]]
                if self._tables.is_unknown[ids].any():  # the text is lost: nothing to look up, so missing
                    words.append("")
                    continue
                text = self.tokenizer.convert_tokens_to_string(self.tokenizer.convert_ids_to_tokens(ids.tolist()))
                words.append(normalise(text))
            slots = self._register(words)
            keys = np.concatenate([self._keys, new_hashes])
            order = np.argsort(keys, kind="stable")
            self._keys, self._key_slots = keys[order], np.concatenate([self._key_slots, slots])[order]
            idx = np.searchsorted(self._keys, layout.hashes)
        return self._key_slots[idx]

    def _match_phrases(self, input_ids: np.ndarray, layout: WordLayout, slots: np.ndarray
                       ) -> list[tuple[int, int, int]]:
        """Multi-word entries in the batch, longest first: (first word, n words, norms row) triples."""
        n_words = len(slots)
        if n_words < 2:
            return []
        flat = input_ids.reshape(-1)
        length = input_ids.shape[1]
        gap = layout.first[1:] - layout.last[:-1]  # [W-1]
        same_row = layout.first[1:] // length == layout.last[:-1] // length
        hyphen_between = np.zeros(n_words - 1, dtype=bool)
        two = np.flatnonzero(gap == 2)
        hyphen_between[two] = self._tables.is_hyphen[flat[layout.last[:-1][two] + 1]]
        adjacent = same_row & ((gap == 1) | hyphen_between)  # [W-1]
        parts = self._slot_parts[slots]  # [W]
        taken = np.zeros(n_words, dtype=bool)
        matches: list[tuple[int, int, int]] = []
        for n, table in self._phrase_hashes.items():
            if n_words < n:
                continue
            count = n_words - n + 1
            valid = np.ones(count, dtype=bool)
            for j in range(n):
                valid &= parts[j:j + count] >= 0
            for j in range(n - 1):
                valid &= adjacent[j:j + count]
            starts = np.flatnonzero(valid)
            if not len(starts):
                continue
            windows = np.stack([parts[starts + j] for j in range(n)], axis=1)  # [C, n]
            hits = starts[np.isin(self._phrase_hash(windows), table)]
            for start in hits:
                row = self._phrases.get(tuple(parts[start:start + n].tolist()))
                if row is not None and not taken[start:start + n].any():
                    taken[start:start + n] = True
                    matches.append((int(start), n, row))
        return matches

    def _words(self, input_ids: np.ndarray) -> tuple[WordLayout, np.ndarray, np.ndarray]:
        """Layout, per-word vectors [W, D] and per-word source codes [W] of a batch of token ids."""
        layout = word_layout(input_ids, self._tables)
        slots = self._word_slots(input_ids, layout)
        vectors = self._slot_vectors[slots]
        codes = self._slot_sources[slots]
        for start, n, row in self._match_phrases(input_ids, layout, slots):
            vectors[start:start + n] = self._phrase_vectors[row]
            codes[start:start + n] = SOURCES.index("multiword") if " " in self.lexicon.norms.words[row] \
                else SOURCES.index("exact")
        return layout, vectors * self._kept, codes

    def sensory_tensor(self, input_ids: np.ndarray) -> np.ndarray:
        """The sensory tensor [B, L, D] float32 for token ids [B, L]: each word token its word's vector."""
        batch, length = input_ids.shape
        sensory = np.zeros((batch * length, self.n_dims), dtype=np.float32)
        if self.sensory_mode != "none":
            layout, vectors, _ = self._words(input_ids)
            sensory[layout.word_tokens] = vectors[layout.token_word]
        return sensory.reshape(batch, length, self.n_dims)

    def __call__(self, texts: str | Sequence[str], return_tensors: str | None = None, padding: bool | str = True,
                 max_length: int | None = None) -> dict[str, Any]:
        """Tokenise `texts` and align the sensory tensor: {input_ids, attention_mask, sensory}.

        `return_tensors` is "pt" (torch) or "np"; None: the processor's `return_tensors` attribute ("pt", or
        "np" in an ONNX classifier, which never imports torch). Empty or whitespace-only texts give all-zero
        sensory rows.
        """
        return_tensors = return_tensors or self.return_tensors
        batch = _as_text_list(texts)
        if not batch:
            raise ValueError("no texts given")
        encoded = self.tokenizer(batch, padding=padding, truncation=True, max_length=max_length or self.max_length,
                                 return_tensors="np")
        return self._features(encoded["input_ids"], encoded["attention_mask"], return_tensors)

    def _features(self, input_ids: np.ndarray, attention_mask: np.ndarray, return_tensors: str) -> dict[str, Any]:
        """{input_ids, attention_mask, sensory} of padded token ids [B, L], as torch ("pt") or NumPy ("np")."""
        if return_tensors not in ("pt", "np"):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        features = {"input_ids": input_ids, "attention_mask": attention_mask, "sensory": self.sensory_tensor(input_ids)}
        if return_tensors == "pt":
            import torch

            return {k: torch.from_numpy(v) for k, v in features.items()}
        return features

    @property
    def _special_layout(self) -> tuple[int, int]:
        """How many special tokens the tokenizer puts before and after one text's tokens (BERT: 1, 1; T5: 0, 1)."""
        if not hasattr(self, "_layout"):
            sequence = self.tokenizer(["a"], verbose=False).sequence_ids(0)
            content = [p for p, s in enumerate(sequence) if s is not None]
            self._layout = (content[0], len(sequence) - 1 - content[-1])
        return self._layout

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's token count [N] before truncation, special tokens included (what batching sorts by)."""
        encoded = self.tokenizer(_as_text_list(texts), truncation=False, verbose=False)
        return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)

    def windows(self, texts: str | Sequence[str], long_text: str = "truncate", stride: int | None = None,
                return_tensors: str | None = None) -> Windows:
        """Tokenise `texts` once, without truncation, and build the windows the model reads (see
        `sensoryt5.long_text`): with `truncate` one per text, its first `max_length` tokens (what `__call__`
        gives); with `chunk` one or more per text of at most `max_length` tokens, cut between words and overlapping
        by about `stride` tokens (default: a quarter of `max_length`). The `Windows` also hold each text's
        untruncated token count (special tokens included), so `truncated` costs no second tokenisation.
        `return_tensors` is as for `__call__`.
        """
        batch = _as_text_list(texts)
        if not batch:
            raise ValueError("no texts given")
        check_long_text(long_text, stride)
        stride = default_stride(self.max_length) if stride is None else stride
        if stride > self.max_length // 2:
            raise OptionError(f"{option('stride', stride)}: the overlap must be at most half the model's window "
                              f"of {self.max_length} tokens ({self.max_length // 2})")
        encoded = self.tokenizer(batch, truncation=False, verbose=False)
        before, after = self._special_layout
        capacity = self.max_length - before - after  # content tokens per window
        from_end = self.tokenizer.truncation_side == "left" and long_text == "truncate"
        rows: list[list[int]] = []
        owner, n_tokens, chunks = [], [], []
        for i, ids in enumerate(encoded["input_ids"]):
            content = ids[before:len(ids) - after]
            if long_text == "chunk" and len(ids) > self.max_length:
                spans = plan_windows(encoded.word_ids(i)[before:len(ids) - after], capacity, stride, chunk=True)
            else:
                spans = [(max(len(content) - capacity, 0), len(content)) if from_end else (0, capacity)]
            rows.extend(ids[:before] + content[start:end] + ids[len(ids) - after:] for start, end in spans)
            owner.extend([i] * len(spans))
            n_tokens.append(len(ids))
            chunks.append(len(spans))
        padded = self.tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="np")
        features = self._features(padded["input_ids"], padded["attention_mask"], return_tensors or self.return_tensors)
        return Windows(features=features,
                       owner=np.array(owner, dtype=np.int64), n_tokens=np.array(n_tokens, dtype=np.int64),
                       chunks=np.array(chunks, dtype=np.int64), max_length=self.max_length)

    def explain_words(self, text: str) -> list[dict[str, Any]]:
        """The words of one text as the model sees them: text, token positions, source and (mode-applied) vector.

        A word with an unknown token ([UNK]) shows its original characters ("香蕉"), taken from the text."""
        text = _as_text_list(text)[0]
        encoded = self.tokenizer([text], truncation=True, max_length=self.max_length, return_tensors="np",
                                 return_offsets_mapping=True)
        input_ids, offsets = encoded["input_ids"], encoded["offset_mapping"][0]  # [1, L], [L, 2]
        layout, vectors, codes = self._words(input_ids)
        flat = input_ids.reshape(-1)
        words = []
        for w in range(len(layout.first)):
            positions = layout.word_tokens[layout.token_word == w]
            tokens = self.tokenizer.convert_ids_to_tokens(flat[positions].tolist())
            shown = self.tokenizer.convert_tokens_to_string(tokens).strip()
            if self._tables.is_unknown[flat[positions]].any():
                shown = text[offsets[positions[0], 0]:offsets[positions[-1], 1]].strip()
            words.append({
                "word": shown,
                "token_positions": positions.tolist(),
                "source": SOURCES[codes[w]],
                "vector": dict(zip(self.lexicon.dims, (round(float(v), 4) for v in vectors[w]))),
            })
        return words

    def coverage(self, texts: Sequence[str], batch_size: int = 1024) -> dict[str, Any]:
        """Share of word tokens found exact / lemma / multiword / predicted / missing over `texts` (no truncation)."""
        counts = self.word_stats(texts, batch_size)[0].sum(axis=0)  # [S]
        total = int(counts.sum())
        shares = {s: (float(c) / total if total else 0.0) for s, c in zip(SOURCES, counts)}
        return {"words": total, **shares, "found": sum(shares[s] for s in ("exact", "lemma", "multiword"))}

    def word_stats(self, texts: Sequence[str], batch_size: int = 1024,
                   progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per text, its word tokens counted by source and the sum of their vectors (no truncation).

        Returns counts [N, len(SOURCES)] int64 (the words of each text found exact / lemma / multiword, predicted,
        missing) and sums [N, D] float64 (the mode-applied vectors summed over each text's words; `missing` words
        add zeros). `progress(n)` is called after each batch with the number of texts it held.
        """
        batch = _as_text_list(texts)
        counts = np.zeros((len(batch), len(SOURCES)), dtype=np.int64)
        sums = np.zeros((len(batch), self.n_dims), dtype=np.float64)
        for start in range(0, len(batch), batch_size):
            chunk = batch[start:start + batch_size]
            input_ids = self.tokenizer(chunk, padding=True, return_tensors="np")["input_ids"]  # [n, L]
            layout, vectors, codes = self._words(input_ids)  # [W, D], [W]
            text_of_word = start + layout.first // input_ids.shape[1]  # [W] row of each word
            np.add.at(counts, (text_of_word, codes), 1)
            np.add.at(sums, text_of_word, vectors)
            if progress is not None:
                progress(len(chunk))
        return counts, sums

    def text_coverage(self, texts: Sequence[str], batch_size: int = 256) -> list[float]:
        """Per text, the share of its words that have sensory values: found in the norms (exact, lemma, multiword)
        or predicted by the OOV regressor; 0.0 for a text with no words.

        Words are counted as the model sees them (tokenised, truncated to `max_length`; each word of a matched
        multi-word entry counts once); `missing` words (unknown to the norms and not predicted, e.g. non-Latin
        script or [UNK]) lower it. Batched over `batch_size` texts.
        """
        batch = _as_text_list(texts)
        shares: list[float] = []
        for start in range(0, len(batch), batch_size):
            chunk = batch[start:start + batch_size]
            encoded = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="np")
            input_ids = encoded["input_ids"]
            layout, _, codes = self._words(input_ids)
            text_of_word = layout.first // input_ids.shape[1]  # [W] row of each word
            words = np.bincount(text_of_word, minlength=len(chunk))  # [n]
            covered = np.bincount(text_of_word, weights=codes != _MISSING, minlength=len(chunk))  # [n]
            shares.extend(np.divide(covered, words, out=np.zeros(len(chunk)), where=words > 0).tolist())
        return shares

    def settings(self) -> dict[str, Any]:
        """What `save_pretrained` records: sensory mode, seed, max length, ablated dimensions and the lexicon
        settings (a CSV lexicon as `LEXICON_FILE`, its copy in the folder)."""
        settings = {"sensory_mode": self.sensory_mode, "seed": self.seed, "max_length": self.max_length,
                    "ablate": self.ablate, **self.lexicon.settings()}
        if not is_built_in(self.lexicon.lexicon):  # the copy `save_pretrained` writes, and where it came from
            settings.update(lexicon=LEXICON_FILE, lexicon_source=Path(self.lexicon.lexicon).name)
        return settings

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the tokenizer files and `sensory_processor.json` into `folder` (the JSON atomically); a CSV
        lexicon is copied beside as `LEXICON_FILE`, so that the folder reloads without the original file, and the
        OOV regressor of a table other than Lancaster (whose regressor ships with the package), once it has been
        used, is saved beside as its cache file, so that another machine predicts unknown words with the same
        regressor (a processor that never looked up an unknown word, e.g. `--sensory none`, fits none to save)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(folder))
        if not is_built_in(self.lexicon.lexicon):
            source = Path(self.lexicon.lexicon)
            if source.resolve() != (folder / LEXICON_FILE).resolve():
                with atomic_open(folder / LEXICON_FILE, "wb") as handle:
                    handle.write(source.read_bytes())
        saved_regressor = _regressor_file(folder, self.lexicon)
        if saved_regressor is not None and self.lexicon.regressor_loaded and not saved_regressor.is_file():
            self.lexicon.regressor.save(saved_regressor)
        write_json(folder / PROCESSOR_FILE, self.settings())

    @classmethod
    def from_pretrained(cls, folder: str | Path, **overrides: Any) -> SensoryProcessor:
        """Rebuild the processor saved in `folder` (tokenizer + settings); keyword arguments override settings."""
        from transformers import AutoTokenizer

        folder = Path(folder)
        settings = json.loads((folder / PROCESSOR_FILE).read_text(encoding="utf-8"))
        settings = current_keys(settings)
        settings.update(overrides)
        lexicon = SensoryLexicon(dims=tuple(settings["sensory_dims"]), oov_embedder=settings.get("oov_embedder"),
                                 lexicon=saved_lexicon(folder, settings))
        saved_regressor = _regressor_file(folder, lexicon)
        if saved_regressor is not None and saved_regressor.is_file():
            lexicon.cache_dir = folder  # read before the first look-up: the regressor is loaded lazily
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        return cls(tokenizer, lexicon, sensory_mode=settings["sensory_mode"], max_length=settings["max_length"],
                   seed=settings.get("seed", 0), ablate=settings.get("ablate", ()))


def _regressor_file(folder: Path, lexicon: SensoryLexicon) -> Path | None:
    """Where a model folder keeps the OOV regressor of `lexicon`: its cache file name inside `folder`; None for the
    Lancaster norms (the package ships theirs) or without a regressor."""
    from sensoryt5.oov import cache_path

    if lexicon.lexicon == LANCASTER or lexicon.oov_embedder is None:
        return None
    return cache_path(lexicon.oov_embedder, folder, lexicon.norms)


def saved_lexicon(folder: Path, settings: dict[str, Any]) -> str:
    """The lexicon a saved processor names: a built-in's name, or the path of the CSV copied into `folder`
    (ModelLoadError when that copy is missing or its content is not the one the model was trained with)."""
    name = str(settings.get("lexicon", LANCASTER))
    if is_built_in(name):
        return name
    path = folder / name
    if not path.is_file():
        raise ModelLoadError(f"{folder} names the lexicon file {name}, which is not in the folder")
    expected = settings.get("norms_sha256")
    if expected is not None and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        raise ModelLoadError(f"{path} is not the lexicon the model was trained with (its sha256 differs)")
    return str(path)


def check_ablate(ablate: Sequence[str], dims: Sequence[str]) -> None:
    """OptionError unless `ablate` names some, but not all, of `dims`."""
    for dim in ablate:
        check_choice("dimension to ablate", dim, dims)
    if set(ablate) == set(dims):
        raise OptionError(f"cannot ablate every dimension ({', '.join(dims)}); use sensory mode none instead")


def _as_text_list(texts: Any) -> list[str]:
    """Validate one text or a sequence of texts; TypeError names the first offending item."""
    if isinstance(texts, str):
        return [texts]
    if texts is None or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a string or a sequence of strings, got {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not a string: {text!r}")
    return list(texts)


def default_processor(lexicon: SensoryLexicon | None = None) -> SensoryProcessor:
    """A `norms` processor with the MiniLM tokenizer and `lexicon` (default: the default lexicon)."""
    from transformers import AutoTokenizer

    from sensoryt5.backbones import DEFAULT_BACKBONE, resolve_backbone

    return SensoryProcessor(AutoTokenizer.from_pretrained(resolve_backbone(DEFAULT_BACKBONE)),
                            lexicon if lexicon is not None else SensoryLexicon())


def coverage_report(texts: Sequence[str], processor: SensoryProcessor | None = None) -> dict[str, Any]:
    """Lexicon coverage of `texts`, by default with the MiniLM tokenizer and the default lexicon."""
    return (processor if processor is not None else default_processor()).coverage(texts)
