"""Does the linear probe's penalty explain the negative held-out-continent scores?

    .venv/bin/python scripts/continent_penalty.py ENCODER [ENCODER ...]

For every regression task and held-out continent of the ``continent`` split, three scores (R²):

- ``loo``: the suite's linear probe (ridge, penalty by leave-one-out over the training rows);
- ``by_continent``: the same ridge with the penalty chosen by leave-one-continent-out over the
  training continents, i.e. tuned for extrapolating to an unseen continent;
- ``constant``: predicting the training rows' mean (what a probe that learned nothing scores).

Prints one markdown table per encoder and the mean over continents (the number EVALUATION.md
reports). A diagnostic for the research notes (docs/research/models-night-lights.md), not
part of the suite: the suite keeps leave-one-out, which is what the field's probes use.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import r2_score

from satclip.evaluation.encoders import resolve_models
from satclip.evaluation.probes import ALPHAS, fit_score
from satclip.evaluation.splits import folds
from satclip.evaluation.tasks import load_task

TASKS = ("elevation", "air_temp", "population")


def ridge_predictions(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray
) -> dict[float, np.ndarray]:
    """Ridge predictions on ``x_test`` for every penalty in ALPHAS (features standardised on the
    training rows, as the suite's probe does)."""
    mean, std = x_train.mean(0), x_train.std(0)
    std[std == 0] = 1.0
    a, b = (x_train - mean) / std, (x_test - mean) / std
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    uty = u.T @ (y_train - y_train.mean())
    projected = b @ vt.T
    return {alpha: projected @ (s / (s**2 + alpha) * uty) + y_train.mean() for alpha in ALPHAS}


def penalty_by_continent(x: np.ndarray, y: np.ndarray, continent: np.ndarray) -> float:
    """The penalty with the least squared error over leave-one-continent-out folds."""
    errors = dict.fromkeys(ALPHAS, 0.0)
    for c in np.unique(continent):
        inside = continent != c
        for alpha, pred in ridge_predictions(x[inside], y[inside], x[~inside]).items():
            errors[alpha] += float(np.sum((pred - y[~inside]) ** 2))
    return min(errors, key=errors.__getitem__)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("encoders", nargs="+")
    args = ap.parse_args()
    for name, features in resolve_models(args.encoders).items():
        print(
            f"\n{name}\n\n| task | held out | n | loo | by_continent (penalty) | constant |\n|---|---|---|---|---|---|"
        )
        for task_name in TASKS:
            task = load_task(task_name)
            x, y = features(task.lonlat), task.y
            scores: dict[str, list[float]] = {"loo": [], "by_continent": [], "constant": []}
            for held_out, train, test in folds(task, "continent"):
                alpha = penalty_by_continent(x[train], y[train], task.continent[train])
                scores["loo"].append(fit_score("linear", "regression", x[train], y[train], x[test], y[test]))
                scores["by_continent"].append(
                    r2_score(y[test], ridge_predictions(x[train], y[train], x[test])[alpha])
                )
                scores["constant"].append(r2_score(y[test], np.full(len(test), y[train].mean())))
                print(
                    f"| {task_name} | {held_out} | {len(test)} | {scores['loo'][-1]:.3f} | "
                    f"{scores['by_continent'][-1]:.3f} ({alpha:g}) | {scores['constant'][-1]:.3f} |",
                    flush=True,
                )
            means = " | ".join(f"{np.mean(v):.3f}" for v in scores.values())
            print(f"| {task_name} | **mean** | | {means} |", flush=True)


if __name__ == "__main__":
    main()
