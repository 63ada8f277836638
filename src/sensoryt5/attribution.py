"""Integrated Gradients (captum) for SensoryT5: how much each token, and each token's sensory vector, sense by sense,
moved one class's score.

What is explained: the class's probability (softmax over the classes) for single-label models, the label's sigmoid
for multi-label models. Two inputs are attributed in one call, along one straight path from a baseline:

- the token input embeddings [B, L, e]; baseline: the pad token's embedding at every attended position except the
  special tokens ([CLS], [SEP], </s>), which keep their own (a text of pads between the same markers);
- the sensory tensor [B, L, D]; baseline: every rating 0 on the tokens that have values. The `input` and `late`
  fusions treat a token with an all-zero row as "no value" (a word missing from the norms), which would make the
  path jump at its start; the baseline is therefore `SENSORY_BASELINE_SCALE` × the vector (ratings of about 1e-6),
  which those fusions still count as valued, so the path is continuous and completeness holds.

Completeness: the attributions of both inputs sum to score(input) − score(baseline) up to the convergence delta
that captum reports (`delta`). `DEFAULT_STEPS` comes from the convergence check of
`experiments/explanations.py` (results/explanations/RESULTS.md): the fewest steps whose 95th-percentile |delta|
stayed within 0.01 (one point of probability) on the trained MiniLM models measured. A model without a sensory
branch (`sensory_mode` none) has only the token part.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

DEFAULT_STEPS = 32
"""Integration steps (Gauss-Legendre) every text starts with; chosen by the convergence check (module docstring)."""
DEFAULT_TOLERANCE = 0.01
"""|delta| (probability units, one point) above which a text is integrated again with twice the steps."""
MAX_STEPS = 128
"""The most steps the adaptive integration goes to."""
SENSORY_BASELINE_SCALE = 1e-6
"""The sensory baseline as a share of the input's vectors: ratings of ~0 that the fusions still count as values."""


@dataclass
class TokenAttributions:
    """Integrated Gradients of one batch, per token (numpy, float64).

    Attributes:
        embedding: [B, L] the token embedding's attribution, summed over the embedding width.
        sensory: [B, L, D] the sensory vector's attribution per dimension (zeros without a sensory branch).
        score: [B] the explained class's probability (or sigmoid) for the input.
        baseline_score: [B] the same for the baseline.
        delta: [B] the convergence delta: sum of attributions − (score − baseline_score).
        n_steps: [B] the integration steps each text ended with (see `integrated_gradients`).
    """

    embedding: np.ndarray
    sensory: np.ndarray
    score: np.ndarray
    baseline_score: np.ndarray
    delta: np.ndarray
    n_steps: np.ndarray


def explained_output(model: Any) -> str:
    """What attributions explain for `model`: "probability" (softmax, single-label) or "sigmoid" (multi-label)."""
    return "sigmoid" if model.config.problem_type == "multi_label_classification" else "probability"


def integrated_gradients(model: Any, tokenizer: Any, features: dict[str, Any], targets: Sequence[int],
                         n_steps: int = DEFAULT_STEPS, tolerance: float | None = DEFAULT_TOLERANCE,
                         max_steps: int = MAX_STEPS) -> TokenAttributions:
    """Integrated Gradients of class `targets[b]` for each text b of a processed batch `features` (input_ids and
    attention_mask [B, L], sensory [B, L, D]), over the token embeddings and the sensory tensor at once.

    Adaptive: every text starts with `n_steps`; a text whose |delta| exceeds `tolerance` (probability units) is
    integrated again with twice the steps, up to `max_steps` (`tolerance=None`: `n_steps` for every text). The
    steps each text ended with are in `n_steps` of the result. `tokenizer` gives the special tokens (kept in the
    baseline) and the pad token. The model must be in eval mode.
    """
    import torch

    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2, got {n_steps}")
    device = next(model.parameters()).device
    dtype = model.classifier.weight.dtype
    input_ids = features["input_ids"].to(device)  # [B, L]
    mask = features["attention_mask"].to(device)  # [B, L]
    special = torch.tensor(tokenizer.all_special_ids, device=device)
    kept = torch.isin(input_ids, special) | (mask == 0)  # [B, L]
    baseline_ids = torch.where(kept, input_ids, torch.full_like(input_ids, tokenizer.pad_token_id))  # [B, L]
    embedding = model.get_input_embeddings()
    with torch.no_grad():
        embeds, baseline_embeds = embedding(input_ids).to(dtype), embedding(baseline_ids).to(dtype)  # [B, L, e]
    if model.fusion is None:
        inputs, baselines = (embeds,), (baseline_embeds,)
    else:
        sensory = features["sensory"].to(device=device, dtype=dtype)  # [B, L, D]
        inputs, baselines = (embeds, sensory), (baseline_embeds, sensory * SENSORY_BASELINE_SCALE)
    target = torch.as_tensor(list(targets), device=device)  # [B]
    scores = _score_function(model)
    with torch.no_grad():
        both = scores(*(torch.cat([x, b]) for x, b in zip(inputs, baselines)), torch.cat([mask, mask]))  # [2B, C]
        rows = torch.arange(len(target), device=device)
        score, baseline_score = both[rows, target], both[rows + len(target), target]  # [B], [B]
    parts = [torch.zeros_like(x) for x in inputs]
    steps = torch.full((len(target),), n_steps, device=device)  # [B]
    todo, current = rows, n_steps
    with _frozen(model):
        while len(todo):
            found = _integrate(scores, [x[todo] for x in inputs], [b[todo] for b in baselines], target[todo],
                               mask[todo], current)
            for part, value in zip(parts, found):
                part[todo] = value
            steps[todo] = current
            delta = sum(part[todo].flatten(1).sum(dim=1) for part in parts) - (score[todo] - baseline_score[todo])
            if tolerance is None or 2 * current > max_steps:
                break
            todo, current = todo[delta.abs() > tolerance], 2 * current
    total = sum(part.flatten(1).sum(dim=1) for part in parts)  # [B]
    embedding_part = parts[0].sum(dim=-1).double().cpu().numpy()  # [B, L]
    if len(parts) > 1:
        sensory_part = parts[1].double().cpu().numpy()  # [B, L, D]
    else:
        sensory_part = np.zeros((*embedding_part.shape, model.config.n_sensory))
    return TokenAttributions(embedding=embedding_part, sensory=sensory_part,
                             score=score.double().cpu().numpy(), baseline_score=baseline_score.double().cpu().numpy(),
                             delta=(total - (score - baseline_score)).double().cpu().numpy(),
                             n_steps=steps.cpu().numpy())


def _score_function(model: Any) -> Any:
    """The explained scores [N, C] of interpolated inputs (embeddings [N, L, e], sensory [N, L, D]) and a mask."""
    import torch

    sigmoid = explained_output(model) == "sigmoid"

    def scores(*inputs: torch.Tensor) -> torch.Tensor:
        *sensory, attention_mask = inputs[1:]
        logits = model(inputs_embeds=inputs[0], attention_mask=attention_mask,
                       sensory=sensory[0] if sensory else None).logits
        return torch.sigmoid(logits) if sigmoid else torch.softmax(logits, dim=-1)

    return scores


def _integrate(scores: Any, inputs: list[Any], baselines: list[Any], target: Any, mask: Any,
               n_steps: int) -> tuple[Any, ...]:
    """captum's IntegratedGradients (Gauss-Legendre, `n_steps`) of `scores` for one set of texts."""
    from captum.attr import IntegratedGradients

    return IntegratedGradients(scores).attribute(tuple(inputs), baselines=tuple(baselines), target=target,
                                                 additional_forward_args=(mask,), n_steps=n_steps,
                                                 method="gausslegendre")


@contextmanager
def _frozen(model: Any) -> Iterator[None]:
    """The model's parameters without gradients while attributing (only the inputs' gradients are needed)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
