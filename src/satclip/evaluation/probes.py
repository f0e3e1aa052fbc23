"""Probes fitted on frozen features: ``linear``, ``mlp`` and ``knn`` (scikit-learn).

Every probe standardises features on the training part only (a Pipeline). ``linear`` is ridge
regression, or a ridge classifier (one-vs-all least squares) for classes, with the
regularisation chosen by efficient leave-one-out cross-validation on the training part (as RANGE
and CoordBench choose theirs by inner CV); ``mlp`` is one hidden layer of 256 with validation
early stopping, averaged over seeds as in the paper; ``knn`` picks k by 3-fold inner CV.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PROBES = ("linear", "mlp", "knn")
ALPHAS = np.logspace(-3, 5, 17)
MLP_SEEDS = (0, 1, 2)


def _pipeline(model: Any) -> Any:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("model", model)])


def make_probes(probe: str, kind: str) -> list[Any]:
    """Unfitted estimators for a probe and task kind; the score is averaged over them."""
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    regression = kind == "regression"
    if probe == "linear":
        return [_pipeline(RidgeCV(alphas=ALPHAS) if regression else RidgeClassifierCV(alphas=ALPHAS))]
    if probe == "mlp":
        cls = MLPRegressor if regression else MLPClassifier
        kw = {
            "hidden_layer_sizes": (256,),
            "early_stopping": True,
            "validation_fraction": 0.1,
            "max_iter": 200,
        }
        return [_pipeline(cls(random_state=s, **kw)) for s in MLP_SEEDS]
    if probe == "knn":
        knn = KNeighborsRegressor() if regression else KNeighborsClassifier()
        return [GridSearchCV(_pipeline(knn), {"model__n_neighbors": [5, 10, 20]}, cv=3)]
    raise ValueError(f"unknown probe {probe!r}; choose one of {', '.join(PROBES)}")


def fit_score(
    probe: str, kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Mean test score (R² or accuracy) of the probe's estimators."""
    from sklearn.metrics import accuracy_score, r2_score

    scores = []
    for est in make_probes(probe, kind):
        est.fit(x_train, y_train)
        pred = est.predict(x_test)
        scores.append(r2_score(y_test, pred) if kind == "regression" else accuracy_score(y_test, pred))
    return float(np.mean(scores))
