"""`sensoryt5 data profile`: per-emotion lexicon coverage and sense means (sensoryt5.profile), on files written here.

Known words with known norms ("thunder", "music", "loud" are strongly auditory; "banana", "sweet" gustatory) and a
made-up word ("blorptastic", never in the norms) make every expectation checkable against the lexicon itself.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_data import write_csv
from test_first_hour_data import one_error_line, sensoryt5

from sensoryt5.alignment import SensoryProcessor
from sensoryt5.lexicon import SOURCES
from sensoryt5.metrics import accuracy_of, bootstrap_interval, bootstrap_percentiles
from sensoryt5.profile import excludes_zero, membership, profile_texts

LOUD = ["I heard thunder and loud music.", "The music was loud.", "Thunder, thunder, loud music!"]
FOOD = ["A sweet banana.", "The banana was sweet.", "Sweet banana bread."]
ODD = ["A blorptastic banana.", "Blorptastic music."]


@pytest.fixture(scope="module")
def processor(minilm_tokenizer, lexicon) -> SensoryProcessor:
    """MiniLM words, the perceptual norms, no OOV regressor (unknown words are missing)."""
    return SensoryProcessor(minilm_tokenizer, lexicon)


def profile_of(processor: SensoryProcessor, groups: dict[str, list[str]], n_resamples: int = 200) -> dict:
    """The profile of texts grouped by label (single-label)."""
    texts = [t for label in groups for t in groups[label]]
    ids = np.array([i for i, label in enumerate(groups) for _ in groups[label]])
    return profile_texts(texts, membership(ids, len(groups)), list(groups), processor, n_resamples=n_resamples)


def test_shares_sum_to_one_and_count_every_word(processor):
    profile = profile_of(processor, {"loud": LOUD, "food": FOOD, "odd": ODD})
    for row in [*profile["emotions"], profile["overall"]]:
        shares = row["shares"]
        assert sum(shares[s]["value"] for s in SOURCES) == pytest.approx(1.0, abs=1e-3)
        assert shares["found"]["value"] + shares["predicted"]["value"] == pytest.approx(shares["covered"]["value"],
                                                                                        abs=1e-3)
    assert profile["overall"]["words"] == processor.coverage(LOUD + FOOD + ODD)["words"]
    by_label = {row["label"]: row for row in profile["emotions"]}
    assert by_label["odd"]["shares"]["missing"]["value"] > 0  # blorptastic
    assert by_label["loud"]["shares"]["missing"]["value"] == 0
    assert sum(row["texts"] for row in profile["emotions"]) == profile["overall"]["texts"] == 8


def test_auditory_emotion_rates_above_the_data_set_mean(processor, lexicon):
    profile = profile_of(processor, {"loud": LOUD * 4, "food": FOOD * 4})
    by_label = {row["label"]: row for row in profile["emotions"]}
    loud, food = by_label["loud"]["difference"], by_label["food"]["difference"]
    assert loud["auditory"]["value"] > 0 and excludes_zero(loud["auditory"])
    assert food["gustatory"]["value"] > 0 and excludes_zero(food["gustatory"])
    assert loud["gustatory"]["value"] < 0 and food["auditory"]["value"] < 0
    overall = profile["overall"]["means"]["auditory"]
    assert overall["low"] <= overall["value"] <= overall["high"]


def test_mean_is_the_lexicon_rating_for_a_one_word_emotion(processor, lexicon):
    profile = profile_of(processor, {"fruit": ["banana", "Banana!"], "noise": ["thunder"]})
    banana = lexicon.lookup("banana").vector
    means = profile["emotions"][0]["means"]
    for sense, rating in zip(lexicon.dims, banana):
        assert means[sense]["value"] == pytest.approx(float(rating), abs=1e-3)


def test_multi_label_texts_count_under_every_label(processor):
    texts = LOUD + FOOD
    multi_hot = np.zeros((len(texts), 2), dtype=np.float32)
    multi_hot[:, 0] = 1.0  # every text is "any"
    multi_hot[len(LOUD):, 1] = 1.0  # the food texts are also "food"
    members = membership(multi_hot, 2)
    assert members.dtype == bool and members.sum() == len(texts) + len(FOOD)
    profile = profile_texts(texts, members, ["any", "food"], processor, n_resamples=50)
    any_row, food_row = profile["emotions"]
    assert any_row["texts"] == len(texts) and food_row["texts"] == len(FOOD)
    assert any_row["words"] == profile["overall"]["words"]
    assert all(abs(d["value"]) < 1e-3 for d in any_row["difference"].values())


def test_word_stats_match_coverage(processor):
    counts, sums = processor.word_stats(LOUD + ODD, batch_size=2)  # [N, S], [N, D]
    coverage = processor.coverage(LOUD + ODD)
    assert counts.shape == (5, len(SOURCES)) and sums.shape == (5, processor.n_dims)
    assert counts.sum() == coverage["words"]
    assert counts[:, SOURCES.index("missing")].sum() / counts.sum() == pytest.approx(coverage["missing"])


def test_bootstrap_percentiles_agree_with_bootstrap_interval():
    rng = np.random.default_rng(1)
    gold, pred = rng.integers(0, 3, 80), rng.integers(0, 3, 80)
    low, high = bootstrap_percentiles(80, lambda idx: np.array([accuracy_of(gold[idx], pred[idx])]), 300, seed=4)
    assert bootstrap_interval(gold, pred, accuracy_of, 300, seed=4) == {"low": low[0], "high": high[0]}
    nan_low, _ = bootstrap_percentiles(10, lambda idx: np.array([np.nan, 1.0]), 20)
    assert np.isnan(nan_low[0]) and nan_low[1] == 1.0


@pytest.fixture
def data_file(tmp_path):
    """A labelled CSV: 20 rows each of loud (auditory words), food (gustatory) and odd (a made-up word)."""
    rows = [(f"{text} ({n})", label) for n in range(20)
            for label, texts in (("loud", LOUD), ("food", FOOD), ("odd", ODD)) for text in texts[:1]]
    return write_csv(tmp_path / "senses.csv", rows, header=("sentence", "emotion"))


def test_cli_writes_the_profile_files(data_file, tmp_path):
    out = tmp_path / "profile"
    result = sensoryt5("data", "profile", data_file, "--text-column", "sentence", "--label-column", "emotion",
                       "--output", out, "--json", "--n-resamples", "100")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "profile.json").read_text(encoding="utf-8"))
    assert printed["split"] == "train" and printed["oov"] == "minilm" and printed["overall"]["texts"] == 48
    odd = next(row for row in printed["emotions"] if row["label"] == "odd")
    assert odd["shares"]["predicted"]["value"] > 0  # blorptastic, predicted by the OOV regressor
    markdown = (out / "profile.md").read_text(encoding="utf-8")
    assert "| loud |" in markdown and "Δ auditory" in markdown
    assert (out / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_table_and_split(data_file):
    result = sensoryt5("data", "profile", data_file, "--text-column", "sentence", "--label-column", "emotion",
                       "--split", "test", "--oov", "none", "--n-resamples", "20")
    assert result.returncode == 0, result.stderr
    assert "loud" in result.stdout and "Δ audi" in result.stdout and "(test)" in result.stdout


@pytest.mark.parametrize(("args", "flag"), [
    (["--label-column", "feeling"], "--label-column"),
    (["--split", "dev"], "--split"),
    (["--oov", "glove9"], "--oov"),
])
def test_cli_bad_options_are_one_line_errors(data_file, args, flag):
    base = ["--text-column", "sentence", "--label-column", "emotion"]
    line = one_error_line(sensoryt5("data", "profile", data_file, *base, *args))
    assert flag in line
