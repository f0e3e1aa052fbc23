"""The shared PCA (satclip._pca) against scikit-learn, and streamed batches against one batch."""

import json

import numpy as np
import pytest

from satclip._pca import Pca, fit_batches

DIM = 12


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """3000 correlated rows with well separated variances and a mean far from zero."""
    rng = np.random.default_rng(42)
    rotation, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    scales = np.geomspace(20.0, 0.5, DIM)  # distinct eigenvalues: each component is well defined
    return (rng.normal(size=(3000, DIM)) * scales) @ rotation + rng.normal(scale=50.0, size=DIM)


def matched_signs(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``reference`` with each row's sign flipped to agree with ``ours`` (eigenvectors have no sign)."""
    return reference * np.sign(np.sum(ours * reference, axis=1))[:, None]


@pytest.mark.parametrize("batch", [3000, 257])
def test_matches_scikit_learn(data, batch):
    decomposition = pytest.importorskip("sklearn.decomposition")
    k = 5
    ref = decomposition.PCA(n_components=k, svd_solver="full").fit(data)
    pca = fit_batches((data[i : i + batch] for i in range(0, len(data), batch)), k)
    assert pca.components.shape == (k, DIM) and pca.sample_size == len(data)
    np.testing.assert_allclose(pca.mean, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(pca.components, matched_signs(pca.components, ref.components_), atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-10)
    signs = np.sign(np.sum(pca.components * ref.components_, axis=1))
    np.testing.assert_allclose(pca.apply(data), ref.transform(data) * signs, atol=1e-8)


def test_streamed_batches_equal_one_batch(data):
    one = fit_batches([data], 4, seed=7)
    # Uneven batches, an empty one among them: the sums must not depend on how rows are split.
    parts = [data[:1], data[1:500], data[500:500], data[500:1999], data[1999:]]
    streamed = fit_batches(iter(parts), 4, seed=7)
    assert streamed.sample_size == one.sample_size == len(data) and streamed.seed == one.seed == 7
    for name in ("mean", "components", "explained_variance", "explained_variance_ratio"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(one, name), rtol=1e-12, atol=1e-13)


def test_signs_projection_and_attrs(data):
    pca = fit_batches([data], 3)
    comps = pca.components
    np.testing.assert_allclose(comps @ comps.T, np.eye(3), atol=1e-12)
    assert np.all(comps[np.arange(3), np.abs(comps).argmax(axis=1)] > 0)
    np.testing.assert_allclose(pca.apply(data), (data - pca.mean) @ comps.T, atol=1e-9)
    # float32 in, float32 out: a raster tile is projected in the encoder's precision.
    assert pca.apply(data.astype(np.float32)).dtype == np.float32
    attrs = json.loads(json.dumps(pca.attrs()))
    np.testing.assert_array_equal(attrs["pca_components"], comps)
    assert attrs["pca_sample_size"] == len(data) and attrs["pca_seed"] is None
    assert isinstance(pca, Pca)
    with pytest.raises(AttributeError):
        pca.seed = 1  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(
    ("batches", "k", "match"),
    [
        ([], 1, "at least one row"),
        ([np.zeros((0, 3))], 1, "at least one row"),
        ([np.ones((4, 3))], 4, "from 1 to the dimension 3"),
        ([np.ones((4, 3))], 0, "from 1 to the dimension 3"),
        ([np.ones((4, 3)), np.ones((4, 2))], 1, "differ in width"),
        ([np.ones(3)], 1, r"\(rows, dim\)"),
    ],
)
def test_bad_input_is_rejected(batches, k, match):
    with pytest.raises(ValueError, match=match):
        fit_batches(batches, k)
