"""``SatCLIPFeatures``: location embeddings as a scikit-learn transformer.

    >>> from sklearn.linear_model import RidgeCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from satclip.sklearn import SatCLIPFeatures
    >>> model = make_pipeline(SatCLIPFeatures("satclip-bluemarble-l10"), RidgeCV())
    >>> model.fit(frame[["lon", "lat"]], frame["y"]).score(test[["lon", "lat"]], test["y"])

Input: a DataFrame with longitude and latitude columns (named by ``lon`` and ``lat``, or found
by name), a GeoDataFrame of points in any CRS (its geometry, when ``lon`` and ``lat`` are not
given) or an (N, 2) array of (lon, lat) degrees. Output: an (N, dim) float array, columns
``satclip_0..``, standardised by default to zero mean and unit variance per column on the
points ``fit`` saw (``standardize=False``: the model's raw embeddings). Each model has its
own scale (a spread of ~0.005 per column for the recommended one, ~2.3 for
``satclip-bluemarble-l10``), and estimators whose penalty or kernel assumes unit-scale
features (``RidgeCV()``, ``LogisticRegression()``, ``SVR()`` at their defaults) would
underfit them badly.
The model is a name or a file path (``satclip.load``), loaded on first use and not pickled, so
the transformer clones, pickles and grid-searches over ``model`` like any estimator. Needs the
``eval`` extra (scikit-learn).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satclip._optional import missing_extra

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:
    raise missing_extra("scikit-learn", "eval", "satclip.sklearn", e) from e

from satclip._compat import renamed
from satclip._coords import LAT_NAMES, LON_NAMES, coordinate_columns, geometry_coordinates, is_geo
from satclip._registry import did_you_mean
from satclip._time import column_times, time_column
from satclip.embedder import Embedder, embed_at_times
from satclip.errors import InputError
from satclip.pretrained import RECOMMENDED, ModelSpec, resolve


class SatCLIPFeatures(TransformerMixin, BaseEstimator):
    """Embed (lon, lat) rows with a satclip model.

    Args:
        model: a loaded model or what :func:`satclip.load` takes (a pretrained name, a model
            file, ``sh40``, ``geoclip``, ...); by default the recommended one
            (``satclip.pretrained.RECOMMENDED``).
        lon_col: the longitude column of a DataFrame; None finds it by name (``lon``,
            ``Longitude``, ``decimalLongitude``, ... in any case). An array's first column is
            the longitude.
        lat_col: the latitude column of a DataFrame, likewise (an array's second column).
        batch_size: points per batch (None: the model's default).
        standardize: scale each embedding column to zero mean and unit variance over the
            points given to ``fit`` (scikit-learn's ``StandardScaler``); False gives the
            model's raw embeddings, as ``enc.embed`` does.
        month_col: a DataFrame's column of month numbers 1-12, each row's time of year for a
            seasonal model (``date_col``: of dates instead); None gives a seasonal model's
            annual embedding.
        date_col: a DataFrame's column of dates (ISO text, dates, timestamps).
    """

    @renamed(lon="lon_col", lat="lat_col")
    def __init__(
        self,
        model: Embedder | ModelSpec = RECOMMENDED,
        lon_col: str | None = None,
        lat_col: str | None = None,
        batch_size: int | None = None,
        standardize: bool = True,
        month_col: str | None = None,
        date_col: str | None = None,
    ) -> None:
        self.model = model
        self.lon_col = lon_col
        self.lat_col = lat_col
        self.batch_size = batch_size
        self.standardize = standardize
        self.month_col = month_col
        self.date_col = date_col

    def fit(self, X: Any, y: Any = None) -> SatCLIPFeatures:
        """Load the model, check the input's columns and, with ``standardize``, learn each
        embedding column's mean and spread on ``X``."""
        self._fit(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        # Embeds X once, where TransformerMixin's fit(X).transform(X) would embed it twice.
        return self._fit(X)

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_out_")
        return self._scaled(self._embed(self._lonlat(X, fitting=False), self._times(X)))

    def _fit(self, X: Any) -> np.ndarray:
        lonlat, times = self._lonlat(X, fitting=True), self._times(X)
        self.encoder_ = self._load()
        self.n_features_out_ = self.encoder_.dim
        emb = self._embed(lonlat, times)
        self.scaler_ = StandardScaler().fit(emb) if self.standardize else None
        return self._scaled(emb)

    def _embed(self, lonlat: np.ndarray, times: np.ndarray | None) -> np.ndarray:
        if getattr(self, "encoder_", None) is None:  # unpickled: the model is loaded again
            self.encoder_ = self._load()
        if times is None:
            return self.encoder_.embed_array(lonlat, self.batch_size)
        return embed_at_times(self.encoder_, lonlat, times, self.batch_size)

    def _times(self, X: Any) -> np.ndarray | None:
        """Each row's year fraction from ``month_col`` / ``date_col``, or None."""
        # getattr: a pickle made before month_col and date_col existed has neither
        time = time_column(getattr(self, "month_col", None), getattr(self, "date_col", None))
        if time is None:
            return None
        column, kind = time
        if not hasattr(X, "columns"):
            raise InputError(
                f"{kind}_col={column!r} needs a DataFrame with that column, got {type(X).__name__}"
            )
        if column not in X.columns:
            raise InputError(f"the frame has no {kind} column {column!r}; columns: {list(X.columns)[:10]}")
        values = X[column].to_numpy() if hasattr(X[column], "to_numpy") else np.asarray(X[column])
        return column_times(values, column, kind, label=f"{kind}_col={column!r}")

    def _scaled(self, emb: np.ndarray) -> np.ndarray:
        scaler = getattr(self, "scaler_", None)  # None also in a pickle made before standardize
        # copy=False: the embeddings are this call's own, so they are scaled in place.
        return emb if scaler is None else scaler.transform(emb, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "n_features_out_")
        return np.array([f"emb_{i}" for i in range(self.n_features_out_)], dtype=object)

    def _load(self) -> Embedder:
        return resolve(self.model)

    def _lonlat(self, X: Any, fitting: bool) -> np.ndarray:
        """(N, 2) float64 lon/lat from a frame's two columns or a two-column array, with
        scikit-learn's own checks (sparse, complex, empty, non-finite, feature counts)."""
        if self.lon_col is None and self.lat_col is None and is_geo(X):  # a GeoDataFrame: its points
            X = np.stack(geometry_coordinates(X), axis=1)
        elif hasattr(X, "columns"):  # a DataFrame: only its coordinate columns count
            columns = list(X.columns)
            fix = "SatCLIPFeatures(lon_col=..., lat_col=...)"
            names = coordinate_columns(columns, self.lon_col, self.lat_col, fix)
            missing = [
                n or axis
                for n, axis in zip(names, ("lon", "lat"), strict=True)
                if n is None or n not in columns
            ]
            if missing:
                raise InputError(
                    f"the frame has no column(s) {missing}{did_you_mean(str(missing[0]), map(str, columns))}; "
                    f"name the coordinate columns with {fix} "
                    f"(found by name when not given: {', '.join(LON_NAMES + LAT_NAMES)}, any case; "
                    f"columns: {columns[:10]})"
                )
            X = X[list(names)]
        arr = validate_data(self, X, reset=fitting, dtype=np.float64)
        if arr.shape[1] != 2:
            raise InputError(
                f"expected (lon, lat) rows of shape (N, 2) or a DataFrame with longitude and "
                f"latitude columns, got {arr.shape[1]} feature(s)"
            )
        return arr

    def __getstate__(self) -> dict[str, Any]:
        # The model is named, not pickled: a pickle stays small and loads it again on first use.
        state = dict(super().__getstate__())
        state.pop("encoder_", None)
        return state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.requires_fit = True
        return tags
