"""The one rule for a text the model can classify, used by the Python API, the server and `predict --input`.

A text must be a string of valid Unicode (UTF-8 encodable, no byte that was not UTF-8) that is not blank: an empty
or whitespace-only text carries nothing to classify, so it is an error everywhere rather than a silent prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from sensoryt5.errors import InputError


@dataclass(frozen=True)
class TextProblem:
    """Why a text cannot be classified: `reason` is a short key (counted by `predict --skip-invalid`), `message`
    completes a sentence about the text ("is blank")."""

    reason: str
    message: str


def text_problem(text: Any) -> TextProblem | None:
    """What is wrong with `text` (missing, not a string, not UTF-8, a lone surrogate, blank), or None."""
    if not isinstance(text, str):
        if text is None or (isinstance(text, float) and math.isnan(text)):
            return TextProblem("missing", "is missing")
        return TextProblem("not a string", f"is a {type(text).__name__}, not a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = ord(text[error.start])
        if 0xDC80 <= bad <= 0xDCFF:  # a byte that was not UTF-8, kept by errors="surrogateescape"
            return TextProblem("not UTF-8", f"cannot be read: byte 0x{bad - 0xDC00:02x} is not valid UTF-8; save the "
                                            "file as UTF-8")
        return TextProblem("not Unicode", f"cannot be read: it holds a lone surrogate (U+{bad:04X}), which is not "
                                          "valid Unicode")
    if not text.strip():
        return TextProblem("blank", "is blank")
    return None


def check_texts(texts: Sequence[Any], name: str = "texts") -> None:
    """InputError naming the first text that breaks the rule by its index, e.g. "texts[3] is blank"."""
    for i, text in enumerate(texts):
        problem = text_problem(text)
        if problem:
            raise InputError(f"{name}[{i}] {problem.message}")
