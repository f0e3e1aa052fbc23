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


def test_embedding_map_png(tmp_path, cache):
    out = embedding_map(satclip.load("satclip-bluemarble-l10"), tmp_path / "map.png", resolution=5.0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_coastlines_decode_to_lon_lat_polylines(cache):
    from satclip.coastlines import coastlines

    lines = coastlines()
    pts = np.concatenate(lines)
    assert len(lines) > 100 and pts[:, 0].min() >= -180 and pts[:, 0].max() <= 180
    assert pts[:, 1].min() < -80 and pts[:, 1].max() > 80  # Antarctica and the Arctic islands
    # No segment jumps across the map (antimeridian split).
    assert max(np.abs(np.diff(line[:, 0])).max() for line in lines) < 180
    # Cape Agulhas (20.0 E, 34.8 S) lies on the 1:110m coast within ~30 km.
    d = np.hypot(pts[:, 0] - 20.0, pts[:, 1] + 34.83).min()
    assert d < 0.3


def test_map_command_side_by_side(tmp_path, cache):
    from satclip.cli import main

    out = tmp_path / "cmp.png"
    argv = ["map", "--model", "satclip-bluemarble-l10", "--compare", "satclip-bluemarble-l40"]
    assert main([*argv, "-o", str(out), "--resolution", "6"]) == 0
    from PIL import Image

    with Image.open(out) as im:
        assert im.width > 1.8 * im.height  # two panels side by side
