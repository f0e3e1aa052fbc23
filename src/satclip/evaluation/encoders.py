"""The models under test: anything :func:`satclip.load` takes, or any object that embeds.

A model is given as a spec (a pretrained name, a model file, ``sh40``, ``wrap``, ``geoclip``,
...: :func:`satclip.load` resolves it), as a loaded :class:`~satclip.embedder.Embedder` (an
encoder just trained, an ONNX model), or as any object with ``embed_array(lonlat)`` or
``embed(lonlat)`` taking (N, 2) lon/lat degrees. Models given as a mapping are labelled by its
keys; otherwise by their spec, or by their class name.

``"idw"`` is a reference row, not a model: the coordinates' own unit vectors, scored with the
``idw`` probe (inverse-distance-weighted nearest neighbours) whatever probe the others get.
``"imagery"`` is the other: the pretraining imagery read at each point
(:mod:`satclip.evaluation.imagery`), scored with the suite's probe like a model.

On a monthly task (rows with a time of year) every model is also given the month as probe
features (:func:`month_features`: one-hot and the annual cycle's cosine and sine), the fair
baseline for a static model; a seasonal model embeds each row at its own month besides. The
``idw`` row interpolates among the rows of the same month. Each model also gets a second row,
``LABEL ×month`` (:func:`interact_month`): its embedding times the annual cycle too, so that a
linear probe can weigh every dimension differently by season (for embeddings of at most
:data:`INTERACT_MAX_DIM` columns: not raw ``sh40``'s 1 600). That stronger baseline lets a
static embedding answer "summer here, winter there" on its own; it was found while scoring the
seasonal models (EVALUATION.md, "Monthly tasks"), and is kept so the table does not flatter them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from satclip.embedder import Embedder, embed_at_times, is_seasonal
from satclip.errors import InputError, InputTypeError
from satclip.evaluation.imagery import Imagery
from satclip.geography import unit_vectors
from satclip.pretrained import load

FeatureFn = Callable[[np.ndarray, np.ndarray | None], np.ndarray]
"""(N, 2) lon/lat degrees and (N,) year fractions (or None: an annual task) → (N, D) features."""
# How far apart two months sit for the idw row, against at most 2 between two places on the
# unit sphere: its neighbours are rows of the same month.
IDW_MONTH_SCALE = 10.0


def month_features(time: np.ndarray) -> np.ndarray:
    """(N,) year fractions → (N, 14): the month one-hot (12) and cos, sin of 2π·t."""
    t = np.asarray(time, dtype=np.float64)
    month = np.clip(np.floor(t * 12).astype(np.int64), 0, 11)
    one_hot = np.eye(12)[month]
    return np.column_stack([one_hot, np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)])


ModelsLike = Mapping[str, Any] | Iterable[Any] | str | os.PathLike[str]
"""Models to evaluate: a spec, a list of specs and model objects, or a dict {label: model}."""


class Coordinates:
    """The ``idw`` reference row's features: (N, 2) lon/lat degrees → (N, 3) unit vectors, to be
    scored with the probe named by ``probe``."""

    probe = "idw"

    def __call__(self, lonlat: np.ndarray, time: np.ndarray | None = None) -> np.ndarray:
        lonlat = np.asarray(lonlat, dtype=np.float64)
        xyz = unit_vectors(lonlat[:, 0], lonlat[:, 1])
        if time is None:
            return xyz
        angle = 2 * np.pi * np.asarray(time, dtype=np.float64)
        return np.column_stack([xyz, IDW_MONTH_SCALE * np.cos(angle), IDW_MONTH_SCALE * np.sin(angle)])


# The label suffix of a model's month-interaction row on monthly tasks.
INTERACT_SUFFIX = " ×month"
# The widest embedding that gets a ×month row: three times its columns go into one ridge per
# fold, and a thin SVD of 5 000 × 4 800 (raw L = 40 harmonics) takes about a minute here.
INTERACT_MAX_DIM = 1024


def interact_month(fn: FeatureFn) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray | None]:
    """A model's ``×month`` row: on a monthly task [e, e·cos 2πt, e·sin 2πt, month features]
    where ``fn`` gives [e, month features]; None (no row) for an embedding wider than
    :data:`INTERACT_MAX_DIM`. An annual task has none (the model's own row covers it), marked
    by ``monthly_only``."""

    def features(lonlat: np.ndarray, time: np.ndarray | None = None) -> np.ndarray | None:
        if time is None:
            raise InputError("the ×month row is for monthly tasks (rows with a time of year)")
        x = fn(lonlat, time)
        months = month_features(time)
        emb = x[:, : x.shape[1] - months.shape[1]]
        if emb.shape[1] > INTERACT_MAX_DIM:
            return None
        angle = 2 * np.pi * np.asarray(time, dtype=np.float64)[:, None]
        return np.column_stack([emb, emb * np.cos(angle), emb * np.sin(angle), months])

    features.monthly_only = True  # type: ignore[attr-defined]
    return features


def _features(model: Any) -> FeatureFn:
    """(N, 2) lon/lat degrees and year fractions → (N, D) float64 features of one model."""
    if isinstance(model, str) and model in REFERENCES:
        return REFERENCES[model]()
    if isinstance(model, str | os.PathLike):
        model = load(model)
    if isinstance(model, Embedder) or hasattr(model, "embed_array"):
        embed = model.embed_array
    elif hasattr(model, "embed"):
        embed = model.embed
    else:
        raise InputTypeError(
            f"cannot evaluate a {type(model).__name__}: pass what satclip.load takes (a name such as "
            "'sh40' or a model file) or an object with embed_array(lonlat) or embed(lonlat)"
        )

    def features(lonlat: np.ndarray, time: np.ndarray | None = None) -> np.ndarray:
        if time is None:
            return np.asarray(embed(lonlat), dtype=np.float64)
        seasonal = is_seasonal(model)
        emb = embed_at_times(model, lonlat, time) if seasonal else embed(lonlat)
        return np.column_stack([np.asarray(emb, dtype=np.float64), month_features(time)])

    return features


# Reference rows: not models but the suite's honesty checks, each named as a model would be.
REFERENCES: dict[str, Callable[[], FeatureFn]] = {"idw": Coordinates, "imagery": lambda: _features(Imagery())}


def _label(model: Any) -> str:
    if isinstance(model, str | os.PathLike):
        return os.fspath(model)
    return getattr(model, "spec", None) or type(model).__name__


def resolve_models(models: ModelsLike) -> dict[str, FeatureFn]:
    """Label → feature function for every model, loading specs now (so that a bad name fails
    before any scoring). Two models with the same label are refused: pass a mapping to name them."""
    if isinstance(models, str | os.PathLike) or not isinstance(models, Mapping | Iterable):
        models = [models]
    pairs = list(models.items()) if isinstance(models, Mapping) else [(_label(m), m) for m in models]
    if not pairs:
        raise InputError("models is empty: pass at least one model, e.g. ['sh40']")
    labels = [label for label, _ in pairs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise InputError(
            f"two models are both labelled {twice[0]!r}; pass a dict {{label: model}} to name them apart"
        )
    return {label: _features(model) for label, model in pairs}
