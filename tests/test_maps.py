import numpy as np
import pytest

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
    out = embedding_map(satclip.load("satclip-bluemarble-l10"), resolution=5.0, out=tmp_path / "map.png")
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


def test_map_grid_fills_the_bbox_with_whole_pixels():
    from satclip.maps import WORLD, map_grid

    lons, lats = map_grid(WORLD, None)  # default: 720 pixels across, 0.5 degrees for the world
    assert len(lons) == 720 and len(lats) == 360
    np.testing.assert_allclose([lons[0], lons[-1], lats[0], lats[-1]], [-179.75, 179.75, 89.75, -89.75])
    # 0.3 degrees does not divide 10 x 7: pixels are stretched to fill the bbox, centres inside it.
    lons, lats = map_grid((5, 45, 15, 52), 0.3)
    assert (len(lons), len(lats)) == (33, 23)
    np.testing.assert_allclose([lons[0] + lons[-1], lats[0] + lats[-1]], [20, 97])
    lons, _ = map_grid((170, -20, 190, -10), 1.0)  # across the antimeridian
    np.testing.assert_allclose(lons[[0, -1]], [170.5, 189.5])
    with pytest.raises(ValueError, match="bbox west 15.0 must be less than east 5.0"):
        map_grid((15, 45, 5, 52), None)


def test_map_command_of_a_bbox_across_the_antimeridian_and_of_open_ocean(tmp_path, cache):
    from PIL import Image

    from satclip.cli import main

    for name, bbox, shape in [("fiji", "170,-25,190,-10", (4, 3)), ("ocean", "-40,-10,-30,0", (1, 1))]:
        out = tmp_path / f"{name}.png"
        assert main(["map", "--model", "satclip-bluemarble-l10", "--bbox", bbox, "-o", str(out)]) == 0
        with Image.open(out) as im:
            assert abs(im.width / im.height - shape[0] / shape[1]) < 0.25  # the bbox's own aspect


def test_map_of_two_months_shares_its_components(tmp_path, cache, monkeypatch):
    import torch

    from satclip import maps
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    net = satclip.create_network("siren", dim_in=sh.dim + 2, dim_out=8, dim_hidden=16)
    seasonal = satclip.LocationEncoder(sh, net, time=TimeConfig(1)).eval()
    path = satclip.save(seasonal, tmp_path / "s.safetensors")
    seen = []
    real = maps.maps_rgb
    monkeypatch.setattr(maps, "maps_rgb", lambda models, *a: seen.append(models) or real(models, *a))
    from satclip.cli import main

    out = tmp_path / "seasons.png"
    argv = ["map", "--model", str(path), "--month", "1", "--compare-month", "7", "--resolution", "10"]
    assert main([*argv, "-o", str(out), "--no-coastlines"]) == 0
    ((jan, jul),) = seen  # one call: both months coloured by one fit
    assert (jan.time, jul.time) == (0.5 / 12, 6.5 / 12)
    a, b = real([jan, jul], maps.WORLD, 10.0, True)
    assert not np.allclose(a, b)
    # A month makes no sense for a static model: said, not ignored.
    assert main(["map", "--model", "sh4", "--month", "1", "-o", str(tmp_path / "x.png")]) == 2
