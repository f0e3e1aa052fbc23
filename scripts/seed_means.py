"""Compare training recipes over seeds: the "mean (range)" tables of the
research notes (docs/research/models-night-lights.md).

    .venv/bin/python scripts/seed_means.py "EMA=e47/results.csv,e48/results.csv,e49/results.csv" \
        "constant LR + EMA=e50/results.csv,e51/results.csv,e52/results.csv"

Each argument is ``LABEL=CSV,CSV,...``: one recipe, one ``satclip evaluate`` results.csv per seed
(each holding one encoder). For every split and task, a run's score is its mean over folds, as in
EVALUATION.md; the table gives the mean over a recipe's runs and their range. Recipes must be
compared over seeds: one run's continent means move by whole units with the seed alone.

With ``--ranks-in docs/evaluation/results.csv --in-place-of ENCODER [--drop ENCODER ...]`` it also
gives each run's mean rank per split with that run's scores put in ENCODER's place among the
encoders of EVALUATION.md's table (the "mean rank ... in `-v2`'s place" rows of the research notes), and
GeoCLIP's rank beside it, which moves with the rows around it (``--peers geoclip,idw``: those
encoders' ranks, in that order).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np

from satclip.evaluation.suite import mean_ranks, summarise

Scores = dict[tuple[str, str], float]
SPLIT_ORDER = ("block", "continent", "random")
TASK_ORDER = ("elevation", "air_temp", "climate_zones", "population", "cal_housing", "countries", "regions")


def _split_key(regime: str) -> tuple[int, str, bool, int]:
    """Splits in SPLIT_ORDER, each with all labels first, then fewer ("block, 100 labels"): one
    order in every run of the script (a set's order changes with Python's hash seed)."""
    split, _, labels = regime.partition(", ")
    order = SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER)
    return order, split, bool(labels), -int(labels.split()[0]) if labels else 0


def read_rows(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return [{**r, "score": float(r["score"])} for r in csv.DictReader(f)]


def run_scores(path: str) -> Scores:
    """(split, task) → fold mean of the one encoder in a results.csv."""
    rows = read_rows(path)
    encoders = {r["encoder"] for r in rows}
    if len(encoders) != 1:
        raise SystemExit(f"{path}: expected the results of one encoder (one seed), found {sorted(encoders)}")
    return {(split, task): mean for (split, task, _), (mean, _, _) in summarise(rows).items()}


def table(recipes: dict[str, list[Scores]]) -> str:
    keys = sorted(
        {k for runs in recipes.values() for run in runs for k in run},
        key=lambda k: (_split_key(k[0]), TASK_ORDER.index(k[1]) if k[1] in TASK_ORDER else 99, k[1]),
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


def ranks_table(
    recipes: dict[str, list[Scores]],
    reference: list[dict],
    in_place_of: str,
    drop: list[str],
    peers: tuple[str, ...] = ("geoclip",),
) -> str:
    """Each run's mean rank per split, in ``in_place_of``'s place among ``reference``'s encoders,
    and each of ``peers``' rank in the same table."""
    known = {r["encoder"] for r in reference}
    for name in [in_place_of, *drop, *peers]:
        if name not in known:
            raise SystemExit(
                f"{name!r} is not an encoder of the reference results; they hold {sorted(known)}"
            )
    gone = [p for p in peers if p in {in_place_of, *drop}]
    if gone:
        raise SystemExit(
            f"{gone[0]!r} is replaced or dropped, so it has no rank to show; leave it out of --peers"
        )
    kept = [r for r in reference if r["encoder"] not in {in_place_of, *drop}]
    base = summarise(kept)
    scored = {(split, task) for split, task, _ in base}
    splits = sorted({split for split, _ in scored}, key=_split_key)
    heading = " / ".join(("run", *peers))
    lines = ["| recipe, run | " + " | ".join(f"{s}: {heading}" for s in splits) + " |"]
    lines.append("|---" * (len(splits) + 1) + "|")
    for label, runs in recipes.items():
        for i, run in enumerate(runs):
            summary = dict(base)
            for key, mean in run.items():
                if key in scored:  # tasks the reference never scored cannot be ranked
                    summary[(*key, "<run>")] = (mean, 0.0, 1)
            ranks = mean_ranks(summary)
            cells = [
                " / ".join(f"{ranks.get((s, e), float('nan')):.2f}" for e in ("<run>", *peers))
                if (s, "<run>") in ranks
                else "–"
                for s in splits
            ]
            lines.append(f"| {label}, run {i + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipes", nargs="+", metavar="LABEL=CSV,CSV,...")
    parser.add_argument(
        "--ranks-in", metavar="CSV", help="a results.csv of several encoders to rank each run among"
    )
    parser.add_argument(
        "--in-place-of", metavar="ENCODER", help="the encoder of --ranks-in whose row each run takes"
    )
    parser.add_argument(
        "--drop", action="append", default=[], metavar="ENCODER", help="leave out of the ranks"
    )
    parser.add_argument(
        "--peers",
        default="geoclip",
        metavar="ENCODER,...",
        help="encoders of --ranks-in whose ranks are shown beside each run's (default geoclip)",
    )
    args = parser.parse_args()
    if bool(args.ranks_in) != bool(args.in_place_of):
        parser.error("--ranks-in and --in-place-of go together")
    recipes: dict[str, list[Scores]] = defaultdict(list)
    for arg in args.recipes:
        label, sep, paths = arg.rpartition("=")  # a label may hold "=" (T=0.1)
        if not sep or not paths:
            parser.error(f"{arg!r} is not LABEL=CSV,CSV,... (one results.csv per seed)")
        recipes[label] += [run_scores(p) for p in paths.split(",") if p]
    print(table(recipes))
    if args.ranks_in:
        print()
        peers = tuple(p for p in args.peers.split(",") if p)
        print(ranks_table(recipes, read_rows(args.ranks_in), args.in_place_of, args.drop, peers))


if __name__ == "__main__":
    main()
