"""Probes fitted on frozen features: ``linear``, ``mlp`` and ``knn`` (scikit-learn).

Every probe standardises features on the training part only (a Pipeline). ``linear`` is ridge
regression, or a ridge classifier (one-vs-all least squares) for classes, with the
regularisation chosen by efficient leave-one-out cross-validation on the training part (as RANGE
and CoordBench choose theirs by inner CV); ``mlp`` is one hidden layer of 256 with validation
early stopping, averaged over seeds as in the paper; ``knn`` picks k by 3-fold inner CV.

``idw`` is the probe of the ``idw`` reference row, not of an encoder: it interpolates the
training labels on the unit vectors of the coordinates themselves (k nearest neighbours,
weighted by inverse distance, k by 3-fold inner CV; CoordBench's plain interpolation baseline).
An embedding earns its keep only where a probe on it beats this.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from satclip.errors import InputError

PROBES = ("linear", "mlp", "knn")
ALPHAS = np.logspace(-3, 5, 17)
MLP_SEEDS = (0, 1, 2)
IDW_K = (1, 2, 4, 8, 16, 32, 64)


def _thin_svd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's SVD (LAPACK gesdd), or LAPACK's slower gesvd where gesdd does not converge, as
    it can on an ill-conditioned matrix that gesvd factors (few labels, many features)."""
    if not np.isfinite(x).all():
        raise InputError("the features hold NaN or infinite values; the encoder's output cannot be probed")
    try:
        return np.linalg.svd(x, full_matrices=False)
    except np.linalg.LinAlgError:
        from scipy.linalg import svd

        u, sv, vt = svd(x, full_matrices=False, lapack_driver="gesvd")
        return u, sv, vt


class RidgeLOO(BaseEstimator):
    """Ridge regression (or a ridge classifier on ±1 one-hot targets) with the penalty chosen by
    exact leave-one-out error over ``alphas``, from one thin SVD of the centred features.

    The same model as scikit-learn's RidgeCV / RidgeClassifierCV with their default efficient
    LOO, computed as ŷ_α = U diag(s²/(s²+α)) Uᵀ y and h_α = rowsum(U² s²/(s²+α)): one SVD, then
    O(n·p·k) per alpha, where scikit-learn's GCV spent minutes per fit on 20 000 × 1 600
    features with 196 classes.
    """

    def __init__(self, alphas: np.ndarray = ALPHAS, classifier: bool = False) -> None:
        self.alphas, self.classifier = alphas, classifier

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeLOO:
        x = np.asarray(x, dtype=np.float64)
        if self.classifier:
            self.classes_, idx = np.unique(y, return_inverse=True)
            t = -np.ones((len(y), len(self.classes_)))
            t[np.arange(len(y)), idx] = 1.0
        else:
            t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self.x_mean_, self.t_mean_ = x.mean(axis=0), t.mean(axis=0)
        xc, tc = x - self.x_mean_, t - self.t_mean_
        u, sv, vt = _thin_svd(xc)
        uty = u.T @ tc
        best = (np.inf, None)
        for alpha in self.alphas:
            f = sv**2 / (sv**2 + alpha)
            pred = u @ (f[:, None] * uty)
            # +1/n: the intercept's own leverage, as the centred fit has one.
            h = (u**2) @ f + 1.0 / len(x)
            err = float(np.mean(((tc - pred) / (1 - h)[:, None]) ** 2))
            if err < best[0]:
                best = (err, alpha)
        self.alpha_ = best[1]
        f = sv / (sv**2 + self.alpha_)
        self.coef_ = vt.T @ (f[:, None] * uty)  # (p, k)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.x_mean_) @ self.coef_ + self.t_mean_

    def predict(self, x: np.ndarray) -> np.ndarray:
        d = self.decision_function(x)
        if self.classifier:
            return self.classes_[np.argmax(d, axis=1)]
        return d[:, 0]


class IDWCV(BaseEstimator):
    """Inverse-distance-weighted k-nearest-neighbour interpolation with k chosen by 3-fold
    (shuffled) CV among ``ks`` no larger than a CV training part; features are used as given
    (unit vectors, so Euclidean distance is the chord)."""

    def __init__(self, ks: tuple[int, ...] = IDW_K, classifier: bool = False) -> None:
        self.ks, self.classifier = ks, classifier

    def fit(self, x: np.ndarray, y: np.ndarray) -> IDWCV:
        from sklearn.model_selection import GridSearchCV, KFold
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        knn = KNeighborsClassifier if self.classifier else KNeighborsRegressor
        ks = [k for k in self.ks if k <= len(x) * 2 // 3] or [1]
        folds = KFold(3, shuffle=True, random_state=0)
        search = GridSearchCV(knn(weights="distance"), {"n_neighbors": ks}, cv=folds)
        self.model_ = search.fit(x, y).best_estimator_
        self.k_ = self.model_.n_neighbors
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x)


def _pipeline(model: Any) -> Any:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("model", model)])


def make_probes(probe: str, kind: str) -> list[Any]:
    """Unfitted estimators for a probe and task kind; the score is averaged over them."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    regression = kind == "regression"
    if probe == "linear":
        return [_pipeline(RidgeLOO(ALPHAS, classifier=not regression))]
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
    if probe == "idw":
        return [IDWCV(classifier=not regression)]
    raise InputError(f"unknown probe {probe!r}; choose one of {', '.join(PROBES)}")


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
