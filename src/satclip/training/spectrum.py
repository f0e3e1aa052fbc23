"""An embedding's spectrum reshaped after training, by a fixed linear map in its last layer.

`satclip-bluemarble-viirs-l40-v3` holds 90 % of its variance in 6 of 256 directions, 99.9 % in 20.
A linear probe on standardised features (ridge, logistic regression) penalises every direction
alike, so the weak directions, which tell one region from the next, are the first it gives up;
with a few hundred labels it gives up nearly all of them. Raising the variances to a power below
one along the embedding's principal axes (λ → λ^exponent, the total kept) flattens the spectrum:
the same information, and a prior under which few labels reach the weak directions. The map is
fitted on the model's own embeddings of area-uniform points (no label, no map of a target) and
folded into the last layer, so it costs nothing at inference
(docs/research/models-beyond-coordinates.md, tries 100–113).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from satclip import _precision
from satclip._fold import folded
from satclip._pca import fit_batches
from satclip.embedder import Embedder
from satclip.encoder import LocationEncoder
from satclip.errors import InputError
from satclip.geography import sample_sphere_points

# Directions whose variance is below this share of the largest are float rounding, not signal:
# they are scaled as if they had this variance, so the map never amplifies rounding noise
# without bound.
VARIANCE_FLOOR = 1e-15


@dataclass(frozen=True)
class SpectrumMap:
    """``(embedding - mean) @ matrix``: the embedding with covariance eigenvalues λᵢ ↦ s·λᵢ^exponent
    along the same axes, ``s`` keeping the total variance; fitted on ``sample_size`` area-uniform
    points drawn with ``seed``."""

    mean: np.ndarray  # (D,) float64
    matrix: np.ndarray  # (D, D) float64, symmetric
    exponent: float
    sample_size: int
    seed: int

    def apply(self, emb: np.ndarray) -> np.ndarray:
        """(N, D) embeddings → (N, D) in float64."""
        return (np.asarray(emb, dtype=np.float64) - self.mean) @ self.matrix


def spectrum_map(emb: np.ndarray, exponent: float, seed: int) -> SpectrumMap:
    """The map that gives the (N, D) embeddings ``emb`` the covariance eigenvalues s·λᵢ^exponent
    (0 < exponent ≤ 1: 1 keeps them, 0 would whiten; ``s`` keeps their sum). ``seed``: the seed
    ``emb``'s points were drawn with, recorded."""
    if not 0.0 < exponent <= 1.0:
        raise InputError(
            f"exponent must be in (0, 1] (1 keeps the spectrum, 0.5 its square root), got {exponent}"
        )
    emb = np.asarray(emb)
    if emb.ndim != 2 or len(emb) <= emb.shape[1]:
        raise InputError(f"a spectrum needs more points than dimensions, got embeddings of shape {emb.shape}")
    pca = fit_batches([emb], k=emb.shape[1], seed=seed)
    lam = np.maximum(pca.explained_variance, VARIANCE_FLOOR * pca.explained_variance[0])
    scale = (lam ** (exponent - 1.0)) * lam.sum() / (lam**exponent).sum()
    v = pca.components.T  # (D, D), columns the principal axes
    matrix = (v * np.sqrt(scale)) @ v.T
    return SpectrumMap(pca.mean, matrix, exponent, len(emb), seed)


def flatten_spectrum(
    model: Embedder,
    exponent: float = 0.5,
    n: int = 100_000,
    seed: int = 0,
    reference: Embedder | None = None,
) -> tuple[LocationEncoder, SpectrumMap]:
    """A copy of ``model`` whose embedding is ``spectrum_map(...).apply(embedding)``, the map
    fitted on ``reference``'s embeddings (default: ``model``'s) of ``n`` area-uniform points and
    folded into the last SIREN layer; and the map. A seasonal model with the ``reference`` it
    was trained on top of keeps that model's map, so that its annual embedding stays the
    reference's, reshaped alike."""
    emb = (reference or model).embed_array(sample_sphere_points(n, seed))
    fitted = spectrum_map(emb, exponent, seed)
    out = folded(model, fitted.matrix.T, -fitted.mean @ fitted.matrix)
    if out is None:
        raise InputError(
            f"{type(model).__name__} has no last linear SIREN layer to fold a map into; "
            "apply SpectrumMap.apply to its embeddings instead"
        )
    out.spec = None  # a new model: not the one it was made from (evaluation rows are labelled by spec)
    return out, fitted


def rounding_error(model: LocationEncoder) -> float:
    """How much float32 arithmetic moves ``model``'s local structure: the median change of the
    difference between each of :func:`satclip._precision.check_inputs`'s points and its partner
    10 km away, float32 against the same weights in float64, as a share of its length.

    Lifting the weak directions lifts their rounding with them: `-v3` 0.05 %, `-v4` 1.7 %
    (docs/research/models-beyond-coordinates.md, try 117); a larger share makes scores that hang
    on the weakest directions (extrapolation with a small penalty) depend on the arithmetic."""
    points = _precision.check_inputs()
    exact = copy.deepcopy(model).double().embed_array(points)
    return _precision.check(model.embed_array(points), exact).local_error
