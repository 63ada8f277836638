"""The sensory lexicon: word → sensory vector over chosen dimensions, and how it was found.

The table is the Lancaster norms unless another is chosen (`lexicon=`, `--lexicon`: the NRC Emotion Lexicon or a
user's CSV, see `lexicons.py`); the rules below are the same for every table.

Look-up order for one word (case-insensitive): `exact` entry of the table, `lemma` (lemminflect:
"bananas" → banana, "smelled" → smell, "happier" → happy), `predicted` by the OOV regressor (words with at least
one letter and only Latin-script letters, when a regressor is enabled), else `missing`.

The norms are English. A word with a letter outside the Latin script ("香蕉", "банан", "موز") is never predicted:
the regressor was fitted on English words only, so it is `missing` (zeros). A Latin-script word of another
language ("très", "Apfel") cannot be told apart from an unknown English word and is predicted like one.

A phrase ("ice cream", "t-shirt") is looked up among the
2,896 `multiword` entries. Finding multi-word entries in running text (longest first) is done on token ids by
`alignment.py`; this module answers for single words and phrases.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from sensoryt5.lexicons import is_built_in, load_lexicon
from sensoryt5.norms import LANCASTER, PERCEPTUAL, SENSORIMOTOR, parse_dims

if TYPE_CHECKING:
    from sensoryt5.oov import Embedder, OOVRegressor

SOURCES: tuple[str, ...] = ("exact", "lemma", "multiword", "predicted", "missing")
FOUND_SOURCES: frozenset[str] = frozenset({"exact", "lemma", "multiword"})
_LEMMA_POS_ORDER = ("NOUN", "VERB", "ADJ", "ADV", "PROPN", "AUX")
_PART_SPLIT = re.compile(r"[\s\-\u2010\u2011\u2012\u2013]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
MAX_WORD_CHARS = 100


def normalise(word: str) -> str:
    """Lower-case, NFKC-normalise and strip surrounding punctuation: "Banana," → "banana"."""
    text = unicodedata.normalize("NFKC", word).translate(_APOSTROPHES).strip().lower()
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return text[start:end]


def phrase_key(phrase: str) -> tuple[str, ...]:
    """The parts of a multi-word entry or phrase, split on spaces and hyphens: "T-shirt" → ("t", "shirt")."""
    return tuple(part for part in _PART_SPLIT.split(normalise(phrase)) if part)


def entry_source(entry: str) -> str:
    """Source label of a matched norms entry: `multiword` for the entries with a space, else `exact`."""
    return "multiword" if " " in entry else "exact"


def is_latin_letter(char: str) -> bool:
    """Whether `char` is a letter of the Latin script (a-z, with or without diacritics: é, ß, ø, ł)."""
    return char.isalpha() and (char.isascii() or "LATIN " in unicodedata.name(char, ""))


def is_predictable(word: str) -> bool:
    """Whether the OOV regressor should be asked for `word`: it has at least one letter, and all its letters
    are Latin-script (the norms, and so the regressor, are English)."""
    letters = [ch for ch in word if ch.isalpha()]
    return bool(letters) and all(is_latin_letter(ch) for ch in letters)


@dataclass(frozen=True)
class WordLookup:
    """The result of looking up one word or phrase."""

    word: str  # as given
    source: str  # one of SOURCES
    entry: str | None  # the norms entry used (exact, lemma or multiword), None if predicted/missing
    vector: np.ndarray  # [n_dims] float32; zeros when missing

    def as_dict(self, dims: Sequence[str]) -> dict[str, object]:
        """JSON-friendly form: word, source, entry and one key per dimension."""
        return {
            "word": self.word,
            "source": self.source,
            "entry": self.entry,
            **{d: round(float(v), 4) for d, v in zip(dims, self.vector)},
        }


class SensoryLexicon:
    """Look-up in a word table (the Lancaster norms by default) over chosen dimensions, with an optional OOV
    regressor fitted on that table.

    Args:
        dims: dimension names, `all`, a named set ("perceptual" / "action" / "sensorimotor" for Lancaster), or None
            for the table's default (the 6 perceptual dimensions of Lancaster; every column of another table).
        oov_embedder: embedder of the OOV regressor (e.g. "minilm"), or None to report unknown words as missing.
        cache_dir: where the fitted regressor is cached (default `$SENSORYT5_CACHE` or `~/.cache/sensoryt5`).
        lexicon: `lancaster`, `nrc-emolex` or the path of a CSV lexicon (see `sensoryt5.lexicons`).
    """

    def __init__(self, dims: str | Sequence[str] | None = None, oov_embedder: str | None = "minilm",
                 cache_dir: str | Path | None = None, lexicon: str | Path = LANCASTER) -> None:
        self.norms = load_lexicon(lexicon)
        self.lexicon = self.norms.name if is_built_in(str(lexicon)) else str(lexicon)
        self.dims = parse_dims(dims if dims is None or isinstance(dims, str) else tuple(dims), self.norms)
        self.oov_embedder = oov_embedder
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._columns = self.norms.column_indices(self.dims)
        self.table = self.norms.values[:, self._columns]  # [n_entries, n_dims]
        self.entry_rows: dict[str, int] = {w: i for i, w in enumerate(self.norms.words)}
        self.multiword_rows: dict[tuple[str, ...], int] = {}
        for row, entry in enumerate(self.norms.words):
            if " " in entry or "-" in entry:
                self.multiword_rows[phrase_key(entry)] = row
        self._lemma_memo: dict[str, int] = {}
        self._embedder: Embedder | None = None  # replaces the `oov_embedder` one (see `use_embedder`)

    @property
    def n_dims(self) -> int:
        """Number of sensory dimensions returned per word."""
        return len(self.dims)

    def settings(self) -> dict[str, object]:
        """The settings a saved model records so that its processor rebuilds the same lexicon (`lexicon`: the
        built-in's name or the CSV's path as given; `SensoryProcessor.save_pretrained` copies a CSV beside)."""
        return {"lexicon": self.lexicon, "sensory_dims": list(self.dims), "oov_embedder": self.oov_embedder,
                "norms_sha256": self.norms.sha256}

    @cached_property
    def regressor(self) -> OOVRegressor | None:
        """The OOV regressor, loaded (or fitted, with a progress bar) on first use; None when disabled."""
        if self.oov_embedder is None:
            return None
        from sensoryt5.oov import OOVRegressor

        regressor = OOVRegressor.load_or_fit(self.oov_embedder, cache_dir=self.cache_dir, norms=self.norms)
        return regressor.with_embedder(self._embedder) if self._embedder is not None else regressor

    @property
    def regressor_loaded(self) -> bool:
        """Whether the OOV regressor has been loaded or fitted (by a look-up of an unknown word, or `regressor`)."""
        return "regressor" in self.__dict__

    def use_embedder(self, embedder: Embedder) -> None:
        """Embed unknown words with `embedder` (the same features as `oov_embedder`'s, computed another way, e.g.
        `sensoryt5.oov_onnx.OnnxMiniLMEmbedder`); call it before the first look-up."""
        self._embedder = embedder

    def lookup(self, word: str) -> WordLookup:
        """Look up one word or multi-word phrase."""
        vectors, sources, entries = self.lookup_many([word])
        return WordLookup(word=word, source=sources[0], entry=entries[0], vector=vectors[0])

    def lookup_many(self, words: Sequence[str]) -> tuple[np.ndarray, list[str], list[str | None]]:
        """Look up many words at once (OOV predictions batched).

        Returns vectors [len(words), n_dims] float32, the source of each word and the norms entry used.
        Raises TypeError for a non-string item and ValueError for an empty or whitespace-only one.
        """
        rows = np.full(len(words), -1, dtype=np.int64)
        sources: list[str] = ["missing"] * len(words)
        to_predict: list[int] = []
        for i, word in enumerate(words):
            if not isinstance(word, str):
                raise TypeError(f"item {i} is {type(word).__name__}, not a string: {word!r}")
            if not word.strip():
                raise ValueError(f"item {i} is an empty or whitespace-only word: {word!r}")
            key = normalise(word[:MAX_WORD_CHARS * 10])
            rows[i], sources[i] = self._find(key)
            if sources[i] == "missing" and self.oov_embedder is not None and is_predictable(key):
                to_predict.append(i)
        vectors = np.zeros((len(words), self.n_dims), dtype=np.float32)
        found = rows >= 0
        vectors[found] = self.table[rows[found]]
        if to_predict:
            predicted = self.regressor.predict([normalise(words[i])[:MAX_WORD_CHARS] for i in to_predict])
            vectors[to_predict] = predicted[:, self._columns]
            for i in to_predict:
                sources[i] = "predicted"
        entries = [self.norms.words[r] if r >= 0 else None for r in rows]
        return vectors, sources, entries

    def _find(self, key: str) -> tuple[int, str]:
        """Row and source of a normalised word or phrase in the norms (row -1 when not found)."""
        if not key:
            return -1, "missing"
        parts = phrase_key(key)
        if len(parts) > 1 and key not in self.entry_rows:
            row = self.multiword_rows.get(parts, -1)
            if row < 0:
                lemma_row = self.lemma_row(parts[-1])
                if lemma_row >= 0:
                    row = self.multiword_rows.get(parts[:-1] + (self.norms.words[lemma_row],), -1)
            return (row, entry_source(self.norms.words[row])) if row >= 0 else (-1, "missing")
        row = self.entry_rows.get(key, -1)
        if row >= 0:
            return row, entry_source(key)
        row = self.lemma_row(key)
        return (row, "lemma") if row >= 0 else (-1, "missing")

    def lemma_row(self, word: str) -> int:
        """Row of the first lemma of `word` (dictionary lemmas, then lemminflect's rules) that is in the norms."""
        if word in self._lemma_memo:
            return self._lemma_memo[word]
        import lemminflect

        row = -1
        if word.isascii() and len(word) <= MAX_WORD_CHARS:
            by_pos = lemminflect.getAllLemmas(word)
            if not by_pos:
                by_pos = {pos: lemminflect.getAllLemmasOOV(word, pos)[pos] for pos in ("NOUN", "VERB")}
            ordered = [pos for pos in _LEMMA_POS_ORDER if pos in by_pos] + sorted(set(by_pos) - set(_LEMMA_POS_ORDER))
            for pos in ordered:
                for lemma in by_pos[pos]:
                    candidate = self.entry_rows.get(lemma.lower(), -1)
                    if candidate >= 0 and lemma.lower() != word:
                        row = candidate
                        break
                if row >= 0:
                    break
        self._lemma_memo[word] = row
        return row


__all__ = ["SOURCES", "FOUND_SOURCES", "SENSORIMOTOR", "PERCEPTUAL", "SensoryLexicon", "WordLookup", "normalise",
           "phrase_key", "is_predictable", "is_latin_letter"]
