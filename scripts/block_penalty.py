"""The suite's block split with the probe's penalty chosen the way the split tests (try 114).

    .venv/bin/python scripts/block_penalty.py satclip-bluemarble-viirs-l40-v4,idw,geoclip -o bcv.csv

The suite's linear probe chooses its ridge penalty by leave-one-out over the training rows, and
``idw`` its k by shuffled 3-fold CV: both choose for interpolation, while the block split tests
extrapolation into 10° blocks never seen. Here the same ridge (features standardised on the
training rows, ±1 targets for classes) chooses its penalty among the suite's ``ALPHAS`` by the
least squared error over an inner 5-fold CV on 10° blocks of the training rows (halved until
there are 10 blocks), and ``idw`` its k among ``IDW_K`` by the same folds. Same outer folds and
label draws as ``satclip evaluate --splits block --n-train ...``; writes rows in its results.csv
format. A diagnostic for docs/research/models-beyond-coordinates.md (try 114), not part of the
suite: there it lifts continuous fields and sinks the place classes, whose held-out blocks'
classes are missing from the rest.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Callable

import numpy as np
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GroupKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from satclip.evaluation.encoders import resolve_models
from satclip.evaluation.probes import ALPHAS, IDW_K, RidgeLOO, _pipeline, _thin_svd
from satclip.evaluation.splits import folds
from satclip.evaluation.suite import _label_draws, parse_labels
from satclip.evaluation.tasks import annual_tasks, load_task
from satclip.geography import block_ids

INNER_FOLDS = 5
Predict = Callable[[np.ndarray], np.ndarray]


def inner_blocks(lonlat: np.ndarray, deg: float = 10.0) -> np.ndarray:
    """Block ids of the training rows, halved in size until there are two blocks per inner fold."""
    groups = block_ids(lonlat[:, 0], lonlat[:, 1], deg)
    while len(np.unique(groups)) < 2 * INNER_FOLDS and deg > 0.3:
        deg /= 2
        groups = block_ids(lonlat[:, 0], lonlat[:, 1], deg)
    return groups


def _ridge_path(x: np.ndarray, t: np.ndarray, x_val: np.ndarray) -> list[np.ndarray]:
    """Predictions on ``x_val`` of the centred ridge fitted on (x, t), one per penalty in ALPHAS."""
    x_mean, t_mean = x.mean(0), t.mean(0)
    u, s, vt = _thin_svd(x - x_mean)
    uty, projected = u.T @ (t - t_mean), (x_val - x_mean) @ vt.T
    return [projected @ ((s / (s**2 + a))[:, None] * uty) + t_mean for a in ALPHAS]


def fit_ridge(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classifier: bool) -> Predict:
    """The suite's linear probe with its penalty chosen over inner blocks instead of by LOO."""
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    z = (x - mean) / std  # as the probe's StandardScaler
    if classifier:
        classes = np.unique(y)
        t = -np.ones((len(y), len(classes)))
        t[np.arange(len(y)), np.searchsorted(classes, y)] = 1.0
    else:
        t = np.asarray(y, dtype=np.float64)[:, None]
    errors = np.zeros(len(ALPHAS))
    for train, val in GroupKFold(min(INNER_FOLDS, len(np.unique(groups)))).split(z, groups=groups):
        for i, pred in enumerate(_ridge_path(z[train], t[train], z[val])):
            errors[i] += float(((t[val] - pred) ** 2).sum())
    # RidgeLOO with one penalty to choose from is the ridge with that penalty.
    alpha = ALPHAS[int(np.argmin(errors))]
    return _pipeline(RidgeLOO(np.array([alpha]), classifier=classifier)).fit(x, y).predict


def fit_idw(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classifier: bool) -> Predict:
    knn = KNeighborsClassifier if classifier else KNeighborsRegressor
    ks = [k for k in IDW_K if k <= len(x) * 2 // 3] or [1]
    splits = list(GroupKFold(min(INNER_FOLDS, len(np.unique(groups)))).split(x, groups=groups))

    def inner_score(k: int) -> float:
        scores = []
        for train, val in splits:
            pred = (
                knn(n_neighbors=min(k, len(train)), weights="distance")
                .fit(x[train], y[train])
                .predict(x[val])
            )
            scores.append(accuracy_score(y[val], pred) if classifier else -np.mean((y[val] - pred) ** 2))
        return float(np.mean(scores))

    best = max(ks, key=inner_score)
    return knn(n_neighbors=best, weights="distance").fit(x, y).predict


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", help="comma-separated, as satclip evaluate --models takes them (idw included)")
    p.add_argument("-o", "--out", required=True, help="results.csv to write")
    p.add_argument("--n-train", default="100,1000,all")
    args = p.parse_args()
    regimes = parse_labels(args.n_train.split(","))
    features = resolve_models(args.models.split(","))
    rows = []
    for task_name in annual_tasks():
        task = load_task(task_name)
        classifier = task.kind != "regression"
        for name, fn in features.items():
            x = fn(task.lonlat, None)
            fit = fit_idw if getattr(fn, "probe", None) == "idw" else fit_ridge
            for fold, train, test in folds(task, "block"):
                for labels in regimes:
                    for suffix, part in _label_draws(train, labels):
                        pred = fit(x[part], task.y[part], inner_blocks(task.lonlat[part]), classifier)(
                            x[test]
                        )
                        score = (accuracy_score if classifier else r2_score)(task.y[test], pred)
                        rows.append(
                            {"encoder": name, "task": task_name, "metric": task.metric,
                             "probe": "idw" if fit is fit_idw else "linear", "split": "block",
                             "labels": labels, "fold": fold + suffix, "score": score,
                             "n_train": len(part), "n_test": len(test), "seconds": 0}
                        )  # fmt: skip
            print(task_name, name, flush=True)
    with open(args.out + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
