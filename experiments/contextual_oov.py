"""Issue 23, part 5 (the paper's open question 2): does context predict an unknown word's sensory ratings better
than the word alone?

The static regressor (`sensoryt5.oov`, shipped) sees a word by itself: MiniLM's per-layer means of the word's
sub-tokens plus a kNN on neighbours' norms. The contextual predictor sees the word where it occurs: the same
per-layer sub-token means (7 x 384 features), taken inside the training texts of the four bundled data sets and
averaged over the word's occurrences (at most `--max-occurrences` each), then the same MLP (`oov.fit_mlp`,
`DEFAULT_CONFIG`). Both are scored on the same words: the OOV study's held-out 10% of single-word norms entries
(`oov.heldout_split(0)`, which the shipped regressor never saw) that occur in the corpus; the contextual MLP is
fitted on the 90% training words that occur in it. Since that is fewer words than the shipped regressor saw, a
second row fits the static features' MLP on exactly those words (context against no context, same training
words), and a last row, static + contextual, feeds both feature sets to one MLP. Pearson r per perceptual sense
and their mean; each row's mean r minus the shipped regressor's and minus the static MLP's on the same words, with
95% bootstrap intervals over held-out words (1,000 resamples).

    python -m experiments.contextual_oov [--output results/next-checks/contextual-oov] [--max-occurrences 20]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.lexicon import normalise
from sensoryt5.metrics import bootstrap_percentiles
from sensoryt5.norms import PERCEPTUAL, SENSORIMOTOR, load_norms
from sensoryt5.reproduce import machine

DATASETS = ("isear", "emoint", "goemotions", "empathetic_dialogues")
PERCEPTUAL_COLUMNS = [SENSORIMOTOR.index(d) for d in PERCEPTUAL]


def corpus() -> list[str]:
    """The training texts of the four bundled single-label data sets (never their dev or test texts)."""
    from sensoryt5.data import load_dataset

    return [text for name in DATASETS for text in load_dataset(name)["train"]["text"]]


def contextual_features(texts: list[str], wanted: set[str], max_occurrences: int, batch_size: int = 64,
                        max_length: int = 128) -> dict[str, np.ndarray]:
    """word → its mean [7 * 384] over up to `max_occurrences` occurrences in `texts` (per-layer means of the word's
    sub-tokens in context), for the words of `wanted` that occur."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    from sensoryt5.backbones import resolve_backbone

    path = resolve_backbone("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in tqdm(range(0, len(texts), batch_size), desc="embedding the corpus", unit="batch"):
        batch = [texts[i] for i in order[start:start + batch_size]]
        enc = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                        return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping").numpy()  # [b, t, 2]
        spans = [_word_spans(enc.word_ids(b), offsets[b], text, wanted, counts, max_occurrences)
                 for b, text in enumerate(batch)]
        if not any(spans):
            continue
        with torch.inference_mode():
            states = torch.stack(model(**enc, output_hidden_states=True).hidden_states, 1).float().numpy()
        for b, words in enumerate(spans):  # states[b]: [7, t, 384]
            for word, tokens in words:
                vector = states[b][:, tokens].mean(1).reshape(-1)  # [7 * 384]
                sums[word] = sums[word] + vector if word in sums else vector
    return {word: (sums[word] / counts[word]).astype(np.float32) for word in sums}


def _word_spans(word_ids: list[int | None], offsets: np.ndarray, text: str, wanted: set[str], counts: dict[str, int],
                max_occurrences: int) -> list[tuple[str, list[int]]]:
    """The (word, token positions) of one text's words that are wanted and not yet seen `max_occurrences` times."""
    tokens_of: dict[int, list[int]] = {}
    for position, word_id in enumerate(word_ids):
        if word_id is not None:
            tokens_of.setdefault(word_id, []).append(position)
    found = []
    for tokens in tokens_of.values():
        word = normalise(text[offsets[tokens[0]][0]:offsets[tokens[-1]][1]])
        if word in wanted and counts.get(word, 0) < max_occurrences:
            counts[word] = counts.get(word, 0) + 1
            found.append((word, tokens))
    return found


def pearson(predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Pearson r per column of [n, c] arrays → [c]."""
    p = predicted - predicted.mean(0)
    o = observed - observed.mean(0)
    return (p * o).sum(0) / np.sqrt((p * p).sum(0) * (o * o).sum(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("results/next-checks/contextual-oov"))
    parser.add_argument("--max-occurrences", type=int, default=20)
    parser.add_argument("--max-texts", type=int, default=None, help="Only the first N corpus texts (a smoke run).")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sensoryt5 import oov

    started = time.time()
    norms = load_norms()
    train_rows, held_rows = oov.heldout_split(0)
    texts = corpus()[:args.max_texts]
    wanted = {norms.words[i] for i in np.concatenate([train_rows, held_rows])}
    features = contextual_features(texts, wanted, args.max_occurrences)
    train = [i for i in train_rows if norms.words[i] in features]
    held = [i for i in held_rows if norms.words[i] in features]
    held_words = [norms.words[i] for i in held]
    observed = norms.values[held][:, PERCEPTUAL_COLUMNS].astype(np.float64)  # [n_held, 6]

    contextual_x = np.stack([features[norms.words[i]] for i in train])  # [n_train, 2688]
    contextual = oov.fit_mlp(contextual_x, norms.values[train]).predict(
        np.stack([features[w] for w in held_words]))[:, PERCEPTUAL_COLUMNS]
    shipped = oov.OOVRegressor.load_or_fit("minilm")
    static_embedder = oov.MiniLMEmbedder()
    static = shipped.predict(held_words)[:, PERCEPTUAL_COLUMNS]
    static_train = static_embedder.embed([norms.words[i] for i in train], progress=True).dense
    static_held = static_embedder.embed(held_words).dense
    both = oov.fit_mlp(np.hstack([static_train, contextual_x]), norms.values[train]).predict(
        np.hstack([static_held, np.stack([features[w] for w in held_words])]))[:, PERCEPTUAL_COLUMNS]
    static_same = oov.fit_mlp(static_train, norms.values[train]).predict(static_held)[:, PERCEPTUAL_COLUMNS]
    predictions = {"static (shipped regressor, word alone)": np.clip(static, 0, 5),
                   "static MLP on the contextual row's training words": np.clip(static_same, 0, 5),
                   "contextual (MLP on in-context layer means)": np.clip(contextual, 0, 5),
                   "static + contextual (one MLP on both)": np.clip(both, 0, 5)}

    def mean_r(pred: np.ndarray, idx: np.ndarray) -> float:
        return float(pearson(pred[idx], observed[idx]).mean())

    rows = {}
    references = {"static": predictions["static (shipped regressor, word alone)"],
                  "static_same_words": predictions["static MLP on the contextual row's training words"]}
    for name, pred in predictions.items():
        per_sense = pearson(pred, observed)
        rows[name] = {"r": dict(zip(PERCEPTUAL, map(float, per_sense))), "mean_r": float(per_sense.mean())}
        for label, reference in references.items():
            low, high = bootstrap_percentiles(len(held), lambda idx, p=pred, q=reference: np.array(
                mean_r(p, idx) - mean_r(q, idx)))
            rows[name][f"minus_{label}"] = {"difference": float(per_sense.mean() - pearson(reference, observed).mean()),
                                            "ci_low": float(low), "ci_high": float(high)}
    result = {"held_out_words": len(held), "train_words": len(train), "held_out_split_words": len(held_rows),
              "corpus_texts": len(texts), "datasets": list(DATASETS), "max_occurrences": args.max_occurrences,
              "rows": rows, "wall_time_s": time.time() - started,
              "machine": machine(), "command": "python -m experiments.contextual_oov "
                                                  f"--max-occurrences {args.max_occurrences}"
                                                  + (f" --max-texts {args.max_texts}" if args.max_texts else "")}
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "result.json", result)
    with atomic_open(args.output / "table.md") as handle:
        handle.write(markdown(result) + "\n")
    print(markdown(result))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))


def markdown(result: dict) -> str:
    """The table: Pearson r per perceptual sense, mean, and mean minus static with its interval."""
    lines = ["| predictor | " + " | ".join(PERCEPTUAL) + " | mean r | − shipped static [95% CI] | − static on the "
             "same words [95% CI] |", "|---|" + "---:|" * (len(PERCEPTUAL) + 1) + "---|---|"]
    for name, row in result["rows"].items():
        cells = [f"{c['difference']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
                 for c in (row["minus_static"], row["minus_static_same_words"])]
        lines.append(f"| {name} | " + " | ".join(f"{row['r'][d]:.3f}" for d in PERCEPTUAL)
                     + f" | {row['mean_r']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
