"""Compare training recipes over seeds: the "mean (range)" tables of MODELS.md.

    .venv/bin/python scripts/seed_means.py "EMA=e47/results.csv,e48/results.csv,e49/results.csv" \
        "constant LR + EMA=e50/results.csv,e51/results.csv,e52/results.csv"

Each argument is ``LABEL=CSV,CSV,...``: one recipe, one ``satclip evaluate`` results.csv per seed
(each holding one encoder). For every split and task, a run's score is its mean over folds, as in
EVALUATION.md; the table gives the mean over a recipe's runs and their range. Recipes must be
compared over seeds: one run's continent means move by whole units with the seed alone.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np

from satclip.evaluation.suite import summarise

Scores = dict[tuple[str, str], float]
TASK_ORDER = ("elevation", "air_temp", "climate_zones", "population", "cal_housing", "countries", "regions")


def run_scores(path: str) -> Scores:
    """(split, task) → fold mean of the one encoder in a results.csv."""
    with open(path, newline="") as f:
        rows = [{**r, "score": float(r["score"])} for r in csv.DictReader(f)]
    encoders = {r["encoder"] for r in rows}
    if len(encoders) != 1:
        raise SystemExit(f"{path}: expected the results of one encoder (one seed), found {sorted(encoders)}")
    return {(split, task): mean for (split, task, _), (mean, _, _) in summarise(rows).items()}


def table(recipes: dict[str, list[Scores]]) -> str:
    keys = sorted(
        {k for runs in recipes.values() for run in runs for k in run},
        key=lambda k: (k[0] != "block", TASK_ORDER.index(k[1]) if k[1] in TASK_ORDER else 99, k[1]),
    )
    lines = [
        "| split, task | "
        + " | ".join(f"{label} ({len(runs)} runs)" for label, runs in recipes.items())
        + " |"
    ]
    lines.append("|---" * (len(recipes) + 1) + "|")
    for key in keys:
        cells = []
        for runs in recipes.values():
            values = np.array([run[key] for run in runs if key in run])
            cells.append(
                f"{values.mean():.3f} ({values.min():.3f} – {values.max():.3f})" if len(values) else "–"
            )
        lines.append(f"| {key[0]}, {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipes", nargs="+", metavar="LABEL=CSV,CSV,...")
    args = parser.parse_args()
    recipes: dict[str, list[Scores]] = defaultdict(list)
    for arg in args.recipes:
        label, sep, paths = arg.rpartition("=")  # a label may hold "=" (T=0.1)
        if not sep or not paths:
            parser.error(f"{arg!r} is not LABEL=CSV,CSV,... (one results.csv per seed)")
        recipes[label] += [run_scores(p) for p in paths.split(",") if p]
    print(table(recipes))


if __name__ == "__main__":
    main()
