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

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

DEFAULT_STEPS = 48
"""Integration steps (Gauss-Legendre) by default; chosen by the convergence check (see the module docstring)."""
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
        delta: [B] captum's convergence delta: sum of attributions − (score − baseline_score).
    """

    embedding: np.ndarray
    sensory: np.ndarray
    score: np.ndarray
    baseline_score: np.ndarray
    delta: np.ndarray


def explained_output(model: Any) -> str:
    """What attributions explain for `model`: "probability" (softmax, single-label) or "sigmoid" (multi-label)."""
    return "sigmoid" if model.config.problem_type == "multi_label_classification" else "probability"


def integrated_gradients(model: Any, tokenizer: Any, features: dict[str, Any], targets: Sequence[int],
                         n_steps: int = DEFAULT_STEPS) -> TokenAttributions:
    """Integrated Gradients of class `targets[b]` for each text b of a processed batch `features` (input_ids and
    attention_mask [B, L], sensory [B, L, D]), over the token embeddings and the sensory tensor at once.

    `tokenizer` gives the special tokens (kept in the baseline) and the pad token. The model must be in eval mode.
    """
    import torch
    from captum.attr import IntegratedGradients

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
    target = torch.as_tensor(list(targets), device=device)  # [B]
    sigmoid = explained_output(model) == "sigmoid"

    def scores(*inputs: torch.Tensor) -> torch.Tensor:
        """Class scores [N, C] for interpolated inputs (embeddings [N, L, e], sensory [N, L, D]) and the mask."""
        *sensory, attention_mask = inputs[1:]
        logits = model(inputs_embeds=inputs[0], attention_mask=attention_mask,
                       sensory=sensory[0] if sensory else None).logits
        return torch.sigmoid(logits) if sigmoid else torch.softmax(logits, dim=-1)

    if model.fusion is None:
        inputs, baselines = (embeds,), (baseline_embeds,)
    else:
        sensory = features["sensory"].to(device=device, dtype=dtype)  # [B, L, D]
        inputs, baselines = (embeds, sensory), (baseline_embeds, sensory * SENSORY_BASELINE_SCALE)
    attributions, delta = IntegratedGradients(scores).attribute(
        inputs, baselines=baselines, target=target, additional_forward_args=(mask,), n_steps=n_steps,
        method="gausslegendre", return_convergence_delta=True)
    with torch.no_grad():
        rows = torch.arange(len(target), device=device)
        score = scores(*inputs, mask)[rows, target]  # [B]
        baseline_score = scores(*baselines, mask)[rows, target]  # [B]
    embedding_part = attributions[0].sum(dim=-1).double().cpu().numpy()  # [B, L]
    if len(attributions) > 1:
        sensory_part = attributions[1].double().cpu().numpy()  # [B, L, D]
    else:
        sensory_part = np.zeros((*embedding_part.shape, model.config.n_sensory))
    return TokenAttributions(embedding=embedding_part, sensory=sensory_part,
                             score=score.double().cpu().numpy(), baseline_score=baseline_score.double().cpu().numpy(),
                             delta=delta.double().cpu().numpy())
