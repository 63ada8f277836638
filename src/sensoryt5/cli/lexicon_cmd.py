"""`sensoryt5 lexicon ...`: look words up in the sensory lexicon and refit the OOV regressor."""

from __future__ import annotations

import json
from typing import List

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The sensory lexicon (the Lancaster norms by default): look-up and the OOV regressor.",
                  no_args_is_help=True)
console = Console()
OOV = typer.Option("minilm", "--oov", help="Embedder of the OOV regressor, or 'none' to report unknown words as "
                                           "missing.")
LEXICON = typer.Option("lancaster", "--lexicon", help="lancaster, nrc-emolex or a CSV file with a word column and "
                                                     "numeric columns.")


@app.command()
def lookup(
    words: List[str] = typer.Argument(..., help="Words or quoted multi-word phrases, e.g. banana 'ice cream'."),
    dims: str = typer.Option("", help="perceptual, action, sensorimotor (Lancaster), all, or a comma list of the "
                                      "lexicon's columns (default: perceptual for lancaster, every column otherwise)."),
    oov_embedder: str = OOV,
    lexicon_name: str = LEXICON,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """Print each word's sensory vector and how it was found (exact, lemma, multiword, predicted, missing)."""
    from sensoryt5.errors import SensoryT5Error
    from sensoryt5.lexicon import SensoryLexicon, WordLookup

    try:
        embedder = None if oov_embedder.lower() == "none" else oov_embedder
        lexicon = SensoryLexicon(dims=dims or None, oov_embedder=embedder, lexicon=lexicon_name)
        vectors, sources, entries = lexicon.lookup_many(words)
    except ValueError as error:
        raise SensoryT5Error(str(error)) from error
    rows = [WordLookup(word=w, source=s, entry=e, vector=vec).as_dict(lexicon.dims)
            for w, s, e, vec in zip(words, sources, entries, vectors)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    cells = [[row["word"], row["source"], row["entry"] or "", *(f"{row[d]:.3f}" for d in lexicon.dims)]
             for row in rows]
    table = Table()
    for j, name in enumerate(("word", "source", "entry", *lexicon.dims)):  # wider than the terminal, not cut
        table.add_column(name, no_wrap=True, min_width=max(len(name), *(len(line[j]) for line in cells)))
    for line in cells:
        table.add_row(*line)
    console.print(table, crop=False)


@app.command("fit-oov")
def fit_oov(
    embedder: str = typer.Option("minilm", help="Embedder of the OOV regressor."),
    seed: int = typer.Option(0, help="Seed of the held-out 10% split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (dimension names and `mean`)."),
    write_bundled: bool = typer.Option(False, "--write-bundled", help="Also write the refitted regressor into the "
                                       "package (resources/oov/), the file a fresh install loads; needs seed 0."),
    lexicon_name: str = LEXICON,
) -> None:
    """Refit the OOV regressor of a lexicon and print its held-out Pearson r per dimension and the mean (over the 6
    perceptual dimensions for Lancaster, every column otherwise)."""
    from sensoryt5.errors import SensoryT5Error
    from sensoryt5.lexicons import load_lexicon
    from sensoryt5.norms import LANCASTER
    from sensoryt5.oov import OOVRegressor, bundled_path, cache_path, evaluate_heldout

    if write_bundled and seed != 0:
        raise SensoryT5Error(f"--write-bundled needs --seed 0 (the shipped regressor's split), got --seed {seed}")
    norms = load_lexicon(lexicon_name)
    if write_bundled and norms.name != LANCASTER:
        raise SensoryT5Error("--write-bundled is for the Lancaster regressor only (the package ships no other)")
    try:
        scores = evaluate_heldout(embedder=embedder, seed=seed, progress=not as_json, refit=True, norms=norms)
        if write_bundled:
            OOVRegressor.load(cache_path(embedder)).save(bundled_path(embedder))
    except ValueError as error:
        raise SensoryT5Error(str(error)) from error
    if as_json:
        typer.echo(json.dumps({k: round(v, 4) for k, v in scores.items()}, indent=2))
        return
    table = Table("dimension", "held-out Pearson r")
    for name, value in scores.items():
        table.add_row(name, f"{value:.3f}")
    console.print(table)
