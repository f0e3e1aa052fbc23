"""Principal component analysis shared by embedding rasters and maps (numpy only).

The covariance is accumulated batch by batch, so a fit holds one batch and a (dim, dim) matrix,
never the whole sample; components are the covariance's eigenvectors with a fixed sign.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from satclip.errors import InputError


@dataclass(frozen=True)
class Pca:
    """``band_k = (embedding - mean) @ components[k]``, fitted on ``sample_size`` rows.

    ``seed`` is the seed the sample was drawn with, or None when it was not drawn at random."""

    mean: np.ndarray  # (dim,) float64
    components: np.ndarray  # (k, dim) float64, orthonormal rows, largest-|entry| positive
    explained_variance: np.ndarray  # (k,) float64, descending, sample variance (ddof=1)
    explained_variance_ratio: np.ndarray  # (k,) float64, share of the total variance
    sample_size: int
    seed: int | None

    def apply(self, emb: np.ndarray) -> np.ndarray:
        """(n, dim) -> (n, k) projections, computed in ``emb``'s (floating) precision."""
        # emb @ C.T - mean @ C.T rather than (emb - mean) @ C.T: the same projection without a
        # second tile-sized temporary.
        comps = self.components.astype(emb.dtype)
        return emb @ comps.T - (self.mean @ self.components.T).astype(emb.dtype)

    def attrs(self) -> dict[str, Any]:
        """The fit as JSON-ready metadata (``pca_*`` keys), enough to redo the projection."""
        return {
            "pca_formula": "band_k = (embedding - pca_mean) @ pca_components[k]",
            "pca_mean": self.mean.tolist(),
            "pca_components": self.components.tolist(),
            "pca_explained_variance": self.explained_variance.tolist(),
            "pca_explained_variance_ratio": self.explained_variance_ratio.tolist(),
            "pca_sample_size": self.sample_size,
            "pca_seed": self.seed,
        }


def fit_batches(batches: Iterable[np.ndarray], k: int, seed: int | None = None) -> Pca:
    """The first ``k`` principal components of the rows of ``batches``, (n_i, dim) arrays.

    The covariance (ddof=1) is accumulated batch by batch, shifted by the first batch's mean for
    precision, so memory is one batch plus a (dim, dim) matrix. ``seed`` is recorded in the
    result only: it says how the caller drew the rows."""
    shift: np.ndarray | None = None
    s = ss = np.zeros(0)
    n = 0
    for batch in batches:
        e = np.asarray(batch, dtype=np.float64)
        if e.ndim != 2:
            raise InputError(f"PCA batches must be (rows, dim) arrays, got shape {e.shape}")
        if shift is None:
            if len(e) == 0:
                continue  # an empty first batch has no mean to shift by
            shift = e.mean(axis=0)
            s, ss = np.zeros(e.shape[1]), np.zeros((e.shape[1], e.shape[1]))
        elif e.shape[1] != len(shift):
            raise InputError(f"PCA batches differ in width: {e.shape[1]} after {len(shift)}")
        d = e - shift
        s += d.sum(axis=0)
        ss += d.T @ d
        n += len(e)
    if shift is None:
        raise InputError("PCA needs at least one row")
    dim = len(shift)
    if not 1 <= k <= dim:
        raise InputError(f"PCA components must number from 1 to the dimension {dim}, got {k}")
    mean_d = s / n
    cov = (ss - n * np.outer(mean_d, mean_d)) / max(n - 1, 1)
    evals, evecs = np.linalg.eigh(cov)  # ascending
    order = np.argsort(evals)[::-1][:k]
    comps = evecs[:, order].T
    # Eigenvectors have no sign of their own: fix one so that the output is reproducible.
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]
    var = np.clip(evals[order], 0, None)
    ratio = var / max(float(np.clip(evals, 0, None).sum()), np.finfo(float).tiny)
    return Pca(shift + mean_d, comps, var, ratio, n, seed)
