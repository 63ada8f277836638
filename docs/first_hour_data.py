"""Make the first-hour files: my_feelings.csv (600 rows, columns comment/feeling, mixed-case labels, a few long and
non-English rows) and my_test.csv (240 rows from ISEAR's test split, columns comment/feeling)."""
import csv
import random

from sensoryt5 import load_dataset

isear = load_dataset("isear")
names = isear["train"].features["label"].names
rng = random.Random(7)
rows = [(r["text"], names[r["label"]]) for r in isear["train"].select(range(600))]
cased = []
for i, (text, label) in enumerate(rows):
    style = i % 3
    cased.append((text, label.capitalize() if style == 1 else label.upper() if style == 2 else label))
cased[10] = ("Je suis très heureux aujourd'hui, c'est une belle journée.", "Joy")
cased[11] = ("我今天非常生气，因为他骗了我。", "ANGER")
cased[12] = (" ".join([cased[12][0]] * 40), cased[12][1])
with open("my_feelings.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["comment", "feeling"])
    w.writerows(cased)
test = [(r["text"], names[r["label"]]) for r in isear["test"].select(range(240))]
with open("my_test.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["comment", "feeling"])
    w.writerows(test)
print("wrote my_feelings.csv (600 rows), my_test.csv (240 rows)")
