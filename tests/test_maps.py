import numpy as np

import satclip
from satclip.maps import embedding_map, pca_rgb


def test_pca_rgb_is_fitted_on_the_selected_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 8))
    x[:500, 0] *= 100  # the unselected half varies along another axis
    fit = np.zeros(1000, dtype=bool)
    fit[500:] = True
    x[500:, 3] *= 10
    rgb = pca_rgb(x, fit)
    assert rgb.shape == (1000, 3) and rgb.min() >= 0 and rgb.max() <= 1
    # The first component follows axis 3 (the selected rows' main axis), not axis 0.
    assert abs(np.corrcoef(rgb[500:, 0], x[500:, 3])[0, 1]) > 0.9


def test_embedding_map_png(tmp_path, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "cache"))
    out = embedding_map(satclip.load("satclip-bluemarble-l10"), tmp_path / "map.png", resolution=5.0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
