"""Texts longer than the model's window (`max_length` tokens): truncate them, or split them into windows.

`truncate` (the default) keeps each text's first `max_length` tokens, as the tokenizer's own truncation does.
`chunk` splits a longer text into windows of at most `max_length` tokens (the tokenizer's special tokens included
in each), overlapping by about `stride` tokens and cut only between words (the tokenizer's `word_ids`), so every
word keeps the tokens, and the sensory vector, it has in the whole text. The windows run through the model as
batches and their logits are aggregated per text (`mean` or `max`, before the softmax or sigmoid).
A text is `truncated` when it has more tokens than the window, whichever the mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from sensoryt5.errors import OptionError, option

LONG_TEXT_MODES: tuple[str, ...] = ("truncate", "chunk")
AGGREGATES: tuple[str, ...] = ("mean", "max")


def default_stride(max_length: int) -> int:
    """The overlap of consecutive windows when none is given: a quarter of the window."""
    return max_length // 4


def check_long_text(long_text: str, stride: int | None = None, chunk_aggregate: str | None = None) -> None:
    """OptionError naming the option unless `long_text` is a mode, and `stride`/`chunk_aggregate` are valid and
    given only with `chunk`."""
    if long_text not in LONG_TEXT_MODES:
        raise OptionError(f"{option('long_text', long_text)} is not a long-text mode; choose from "
                          f"{', '.join(LONG_TEXT_MODES)}")
    if chunk_aggregate is not None and chunk_aggregate not in AGGREGATES:
        raise OptionError(f"{option('chunk_aggregate', chunk_aggregate)} is not an aggregate; choose from "
                          f"{', '.join(AGGREGATES)}")
    if stride is not None and stride < 0:
        raise OptionError(f"{option('stride', stride)}: the overlap must be at least 0 tokens")
    if long_text != "chunk":
        given = [name for name, value in (("stride", stride), ("chunk_aggregate", chunk_aggregate))
                 if value is not None]
        if given:
            raise OptionError(f"{option(given[0])} needs {option('long_text', 'chunk')}")


def plan_windows(word_ids: Sequence[int | None], capacity: int, stride: int, chunk: bool) -> list[tuple[int, int]]:
    """Content-token spans [(start, end), ...] of one text's windows; `word_ids` [T] are its content tokens' words.

    Without `chunk`: the first `capacity` tokens. With `chunk`: windows of at most `capacity` tokens that end
    between two words (a word longer than a window is the one thing cut) and start at the word boundary nearest
    `stride` tokens before the previous window's end, so they overlap by at most `stride` tokens.
    """
    total = len(word_ids)
    if not chunk or total <= capacity:
        return [(0, min(total, capacity))]
    if capacity < 1:
        raise ValueError("the window has no room for text besides the special tokens; raise max_length")
    words = np.array([-1 if w is None else w for w in word_ids])  # [T]
    cuts = np.flatnonzero(np.diff(words) != 0) + 1  # positions where a new word starts
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        if start + capacity >= total:
            spans.append((start, total))
            return spans
        inside = cuts[(cuts > start) & (cuts <= start + capacity)]
        end = int(inside[-1]) if len(inside) else start + capacity
        spans.append((start, end))
        later = cuts[(cuts >= end - stride) & (cuts > start)]
        start = int(later[0]) if len(later) and later[0] <= end else end


def aggregate_logits(logits: np.ndarray, owner: np.ndarray, n_texts: int, how: str = "mean") -> np.ndarray:
    """Per-text logits [N, C] from per-window logits [W, C]; `owner` [W] is each window's text (every text has
    at least one window); `how` is "mean" or "max"."""
    if how not in AGGREGATES:
        raise OptionError(f"{option('chunk_aggregate', how)} is not an aggregate; choose from {', '.join(AGGREGATES)}")
    if how == "max":
        out = np.full((n_texts, logits.shape[1]), -np.inf, dtype=logits.dtype)  # [N, C]
        np.maximum.at(out, owner, logits)
        return out
    sums = np.zeros((n_texts, logits.shape[1]), dtype=np.float64)  # [N, C]
    np.add.at(sums, owner, logits)
    return (sums / np.bincount(owner, minlength=n_texts)[:, None]).astype(logits.dtype)


@dataclass
class Windows:
    """A processed batch of windows: `features` (input_ids/attention_mask [W, L], sensory [W, L, D]), the text of
    each window `owner` [W], and per text its token count `n_tokens` [N] (special tokens included, untruncated)
    and number of windows `chunks` [N]."""

    features: dict[str, Any]
    owner: np.ndarray
    n_tokens: np.ndarray
    chunks: np.ndarray
    max_length: int

    @property
    def truncated(self) -> np.ndarray:
        """Per text [N] bool: longer than the window (its end is cut off, or it was split into windows)."""
        return self.n_tokens > self.max_length


@dataclass
class Scores:
    """Predictions of a batch of texts: `probabilities` [N, C], `n_tokens` [N] (each text's untruncated token
    count), `chunks` [N] (windows per text; None with `truncate`) and the window `max_length`."""

    probabilities: np.ndarray
    n_tokens: np.ndarray
    chunks: np.ndarray | None
    max_length: int

    def __len__(self) -> int:
        return len(self.probabilities)

    def __getitem__(self, rows: slice) -> Scores:
        """The scores of a slice of the texts (the micro-batcher hands each request its rows)."""
        return Scores(self.probabilities[rows], self.n_tokens[rows],
                      None if self.chunks is None else self.chunks[rows], self.max_length)

    @property
    def truncated(self) -> list[bool]:
        """Per text: longer than the window."""
        return [bool(n > self.max_length) for n in self.n_tokens]

    def fields(self) -> list[dict[str, Any]]:
        """Per text, what a record says about its length: {"truncated"} and, with `chunk`, {"chunks"}."""
        if self.chunks is None:
            return [{"truncated": flag} for flag in self.truncated]
        return [{"truncated": flag, "chunks": int(n)} for flag, n in zip(self.truncated, self.chunks)]
