"""Per-emotion sensory profile of a data set: how much of each emotion's words the lexicon covers, and how its
words rate on each sense compared with the whole data set.

For every emotion (label; a multi-label text counts under every label it has) and over the word tokens of that
emotion's texts, as `SensoryProcessor.word_stats` sees them (the processor's tokenizer words, no truncation;
`sensoryt5 data profile` uses MiniLM's):

- the share of word tokens found in the Lancaster norms (`exact`, `lemma`, `multiword`), `predicted` by the OOV
  regressor, or `missing`; `found` and `covered` (found or predicted) are their sums;
- each sense's mean rating over the covered word tokens (a ratio of sums: every token weighs the same), and its
  difference from the same mean over all the split's texts.

The 95% intervals are percentile bootstrap intervals over texts (`metrics.bootstrap_percentiles`): each resample
draws the split's texts with replacement and recomputes every number, the data set's mean included, so an
interval of a difference holds both sides' sampling. `write_profile` writes `profile.json`, `profile.md` and the
heat map `profile.png` (emotion × sense, the difference, cells whose interval excludes 0 marked with *).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from sensoryt5.alignment import SensoryProcessor
from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.lexicon import FOUND_SOURCES, SOURCES
from sensoryt5.metrics import bootstrap_percentiles

SHARES: tuple[str, ...] = (*SOURCES, "found", "covered")  # the coverage shares reported per emotion
_COVERED = np.array([s != "missing" for s in SOURCES])  # [S] sources that carry sensory values
_FOUND = np.array([s in FOUND_SOURCES for s in SOURCES])  # [S]


def membership(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """[N, E] bool: which emotions each text has, from label ids [N] or a multi-hot matrix [N, E]."""
    if labels.ndim == 2:
        return labels > 0.5
    matrix = np.zeros((len(labels), n_labels), dtype=bool)
    matrix[np.arange(len(labels)), labels] = True
    return matrix


def _estimates(weights: np.ndarray, members: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Every profile number for text weights [N] (1 each, or how often a resample drew each text), flattened:
    shares [E+1, len(SHARES)] then sense means [E+1, D] then differences [E, D]; the last row of the first two
    is the whole split."""
    groups = np.vstack([members.T, np.ones(len(weights), dtype=bool)]) * weights  # [E+1, N]
    tokens = groups @ counts  # [E+1, S]
    totals = tokens.sum(axis=1, keepdims=True)  # [E+1, 1]
    covered = tokens[:, _COVERED].sum(axis=1, keepdims=True)  # [E+1, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.hstack([tokens, tokens[:, _FOUND].sum(axis=1, keepdims=True), covered]) / totals
        means = (groups @ sums) / covered  # [E+1, D]
    return np.concatenate([shares.ravel(), means.ravel(), (means[:-1] - means[-1]).ravel()])


def _interval(value: float, low: float, high: float) -> dict[str, float | None]:
    """{value, low, high} rounded to 4 decimals, None for NaN (an emotion without covered words)."""
    return {k: None if math.isnan(v) else round(float(v), 4) for k, v in
            (("value", value), ("low", low), ("high", high))}


def profile_texts(texts: Sequence[str], members: np.ndarray, labels: Sequence[str], processor: SensoryProcessor,
                  n_resamples: int = 1000, seed: int = 0,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The per-emotion coverage and sense profile of `texts` with emotions `members` [N, E] (see the module doc).

    `processor` gives the words, their sources and vectors (use sensory mode `norms` and no ablation);
    `progress(n)` is called as batches of n texts are processed. Returns a JSON-ready dict: `senses`, `overall`
    (texts, words, shares, means) and `emotions` (per label: texts, words, shares, means, difference), each
    share/mean/difference as {value, low, high}.
    """
    if members.shape != (len(texts), len(labels)):
        raise ValueError(f"members has shape {members.shape}, expected ({len(texts)}, {len(labels)})")
    counts, sums = processor.word_stats(texts, progress=progress)  # [N, S], [N, D]
    senses = list(processor.lexicon.dims)
    n_groups, n_dims = len(labels) + 1, len(senses)
    point = _estimates(np.ones(len(texts)), members, counts, sums)
    low, high = bootstrap_percentiles(
        len(texts), lambda idx: _estimates(np.bincount(idx, minlength=len(texts)), members, counts, sums),
        n_resamples, seed)
    cut = [n_groups * len(SHARES), n_groups * len(SHARES) + n_groups * n_dims]
    shares, means, differences = zip(*(np.split(a, cut) for a in (point, low, high)))
    shares = [s.reshape(n_groups, len(SHARES)) for s in shares]
    means = [m.reshape(n_groups, n_dims) for m in means]
    differences = [d.reshape(n_groups - 1, n_dims) for d in differences]
    words = counts.sum(axis=1)  # [N]

    def group(g: int, with_difference: bool) -> dict[str, Any]:
        rows = members[:, g] if with_difference else np.ones(len(texts), dtype=bool)
        record: dict[str, Any] = {
            "texts": int(rows.sum()), "words": int(words[rows].sum()),
            "shares": {s: _interval(*(a[g, j] for a in shares)) for j, s in enumerate(SHARES)},
            "means": {s: _interval(*(a[g, j] for a in means)) for j, s in enumerate(senses)}}
        if with_difference:
            record["difference"] = {s: _interval(*(a[g, j] for a in differences)) for j, s in enumerate(senses)}
        return record

    return {"senses": senses, "sources": list(SOURCES), "level": 0.95, "n_resamples": n_resamples, "seed": seed,
            "overall": group(n_groups - 1, False),
            "emotions": [{"label": label, **group(g, True)} for g, label in enumerate(labels)]}


def excludes_zero(interval: dict[str, float | None]) -> bool:
    """Whether a {value, low, high} interval lies wholly above or below 0."""
    low, high = interval["low"], interval["high"]
    return low is not None and high is not None and (low > 0 or high < 0)


def difference_cell(interval: dict[str, float | None], digits: int = 3) -> str:
    """A difference as the tables show it: "+0.123*" (* when its interval excludes 0), "–" when undefined."""
    if interval["value"] is None:
        return "–"
    return f"{interval['value']:+.{digits}f}" + ("*" if excludes_zero(interval) else "")


def markdown(profile: dict[str, Any]) -> str:
    """Two Markdown tables: coverage shares per emotion, then each sense's mean difference with its interval."""
    senses = profile["senses"]
    name = f"{profile.get('dataset', 'data')} ({profile.get('split', 'all')})"
    lines = [f"# Sensory profile of {name}", "",
             f"Word tokens (MiniLM tokenizer words) per emotion: the share found in the Lancaster norms "
             f"(exact, lemma, multi-word), predicted by the OOV regressor ({profile.get('oov') or 'none'}) or "
             f"missing; then each sense's mean rating over the covered (found or predicted) tokens minus the "
             f"data set's mean, with {profile['level']:.0%} bootstrap intervals over texts "
             f"({profile['n_resamples']} resamples, seed {profile['seed']}); * marks an interval that excludes 0.",
             "", "| emotion | texts | words | exact | lemma | multiword | predicted | missing | found | covered |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [*profile["emotions"], {"label": "**all**", **profile["overall"]}]
    for row in rows:
        cells = [f"{row['shares'][s]['value']:.1%}" if row["shares"][s]["value"] is not None else "–"
                 for s in SHARES]
        lines.append(f"| {row['label']} | {row['texts']:,} | {row['words']:,} | " + " | ".join(cells) + " |")
    lines += ["", "| emotion | " + " | ".join(f"Δ {s} [95% CI]" for s in senses) + " |",
              "|---|" + "---:|" * len(senses)]
    for row in profile["emotions"]:
        cells = [f"{difference_cell(d)} [{d['low']:+.3f}, {d['high']:+.3f}]" if d["value"] is not None else "–"
                 for d in (row["difference"][s] for s in senses)]
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    means = profile["overall"]["means"]
    lines.append("| **data set mean** | " + " | ".join(f"{means[s]['value']:.3f}" if means[s]["value"] is not None
                                                      else "–" for s in senses) + " |")
    return "\n".join(lines) + "\n"


def heat_map(profile: dict[str, Any], path: Path) -> None:
    """Emotion × sense heat map of the difference from the data set's mean (see `interval_heat_map`)."""
    name = f"{profile.get('dataset', 'data')} ({profile.get('split', 'all')})"
    interval_heat_map([row["label"] for row in profile["emotions"]], profile["senses"],
                      [[row["difference"][s] for s in profile["senses"]] for row in profile["emotions"]],
                      f"{name}: sense mean minus data set mean\n(* 95% bootstrap interval excludes 0)", path)


def interval_heat_map(rows: Sequence[str], senses: Sequence[str], cells: Sequence[Sequence[dict[str, Any]]],
                      title: str, path: Path) -> None:
    """A rows × senses heat map of {value, low, high} cells (PuOr, a diverging palette that reads for colour-blind
    users, centred on 0; each cell annotated, * where its interval excludes 0), saved as PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array([[np.nan if c["value"] is None else c["value"] for c in line] for line in cells])  # [R, D]
    limit = float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 1.0
    limit = limit or 1.0
    fig, ax = plt.subplots(figsize=(1.1 * len(senses) + 3, 0.32 * len(rows) + 1.8))
    image = ax.imshow(matrix, cmap="PuOr", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(senses)), senses, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    for i, line in enumerate(cells):
        for j, cell in enumerate(line):
            if cell["value"] is not None:
                ax.text(j, i, difference_cell(cell, digits=3 if limit < 10 else 1), ha="center", va="center",
                        fontsize=7, color="white" if abs(cell["value"]) > limit * 0.6 else "black")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)


def write_profile(profile: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write `profile.json`, `profile.md` and `profile.png` into `folder` (created); returns their paths."""
    return write_report(folder, "profile", profile, markdown(profile), lambda path: heat_map(profile, path))


def write_report(folder: str | Path, stem: str, payload: dict[str, Any], text: str,
                 draw: Callable[[Path], None]) -> list[Path]:
    """Write STEM.json (`payload`), STEM.md (`text`) and STEM.png (`draw(path)`) into `folder`, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.md", folder / f"{stem}.png"]
    write_json(paths[0], payload)
    with atomic_open(paths[1]) as handle:
        handle.write(text)
    draw(paths[2])
    return paths
