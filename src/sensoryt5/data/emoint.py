"""WASSA-2017 EmoInt as 4-way classification, with the gold intensity and optional masking of emotion hashtags."""

from __future__ import annotations

import csv
import re

import datasets
import pandas as pd

from sensoryt5.data.bundled_files import bundled_dict, read_resource_table

EMOINT_LABELS: tuple[str, ...] = ("anger", "fear", "joy", "sadness")
EMOINT_MASK = "#emotion"
# Hashtags that name an emotion (whole tag, any case), per emotion; `mask_label_hashtags` replaces all of them in
# every row, whatever the row's label, so the mask itself carries no label. Query hashtags that name no emotion
# (#bitter, #revenge, #nightmare, #smile, #hilarious, #blues, #lost, ...) are left alone.
EMOINT_EMOTION_HASHTAGS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "angry", "angrier", "angriest", "angrily", "angered", "mad", "madder", "furious", "fury",
              "fume", "fumed", "fuming", "rage", "raging", "enraged", "outrage", "outraged", "irate", "livid",
              "wrath", "pissed", "pissedoff", "irritated", "annoyed", "hangry", "resentful", "resentment",
              "infuriated", "offended"),
    "fear": ("fear", "fears", "feared", "fearful", "fearing", "afraid", "scared", "scary", "scare", "frightened",
             "frightening", "fright", "terrified", "terrifying", "terror", "horror", "horrified", "horrifying",
             "panic", "panicked", "panicking", "anxious", "anxiety", "nervous", "nervousness", "worried", "worry",
             "worrying", "dread", "dreading", "alarmed", "petrified", "spooked"),
    "joy": ("joy", "joys", "joyful", "joyous", "happy", "happier", "happiest", "happily", "happiness", "behappy",
            "glad", "gladness", "glee", "gleeful", "delight", "delighted", "cheerful", "elated", "elation",
            "ecstatic", "jubilant", "rejoice", "rejoicing", "bliss", "blissful", "mirth", "merry", "overjoyed",
            "thrilled"),
    "sadness": ("sad", "sadder", "saddest", "sadly", "sadness", "unhappy", "unhappiness", "sorrow", "sorrowful",
                "depressed", "depression", "depressing", "gloomy", "gloom", "melancholy", "heartbroken",
                "heartbreak", "miserable", "misery", "grief", "grieving", "despair", "despondent", "mournful",
                "mourning", "downcast", "dejected"),
}
_EMOTION_HASHTAG = re.compile(
    r"#(?:" + "|".join(sorted({w for words in EMOINT_EMOTION_HASHTAGS.values() for w in words}, key=len,
                              reverse=True)) + r")(?!\w)", re.IGNORECASE)


def mask_emotion_hashtags(text: str) -> str:
    """Replace every hashtag in `EMOINT_EMOTION_HASHTAGS` (e.g. #Angry, #sadness) by `#emotion`."""
    return _EMOTION_HASHTAG.sub(EMOINT_MASK, text)


def load_emoint(mask_label_hashtags: bool) -> datasets.DatasetDict:
    """EmoInt train / dev gold / test gold as 4-way classification with the gold `intensity` kept."""
    suffixes = {"train": "train", "validation": "dev.gold", "test": "test.gold"}
    splits, masked = {}, {}
    for split, suffix in suffixes.items():
        parts = [read_resource_table("emoint", f"{emotion}-ratings-0to1.{suffix}.txt.gz", sep="\t", header=None,
                                      names=["id", "text", "emotion", "intensity"], quoting=csv.QUOTE_NONE)
                 for emotion in EMOINT_LABELS]
        frame = pd.concat(parts, ignore_index=True)
        frame["label"] = frame["emotion"].map(EMOINT_LABELS.index)
        frame["intensity"] = frame["intensity"].astype("float32")
        if mask_label_hashtags:
            masked_text = frame["text"].map(mask_emotion_hashtags)
            masked[split] = int((masked_text != frame["text"]).sum())
            frame["text"] = masked_text
        splits[split] = frame
    report = {"mask_label_hashtags": mask_label_hashtags, **({"rows_with_masked_hashtags": masked} if masked else {})}
    extras = {"id": datasets.Value("string"), "intensity": datasets.Value("float32")}
    return bundled_dict("emoint", splits, EMOINT_LABELS, False, extras, report)
