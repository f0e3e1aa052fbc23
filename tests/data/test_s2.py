"""The STAC path of ``satclip data s2``, run end to end on a local static catalogue of COGs."""

import numpy as np
import pytest
import rasterio

from satclip.data import S2100KDataset, s2
from satclip.data.s2 import S2Config, build_s2
from tests.data.stac_fixture import BBOX, write_stac_catalog


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return write_stac_catalog(tmp_path_factory.mktemp("stac"))


def _cfg(catalog, **kw):
    return S2Config(n=6, size=32, catalog=str(catalog), bbox=BBOX, **kw)


def test_builds_the_s2_100k_layout_following_the_published_rules(cache, catalog, tmp_path):
    out = build_s2(_cfg(catalog), tmp_path / "s2", progress=False)
    assert not (tmp_path / "s2.partial").exists()
    ds = S2100KDataset(out)
    assert len(ds) == 6 and sum(ds.skipped.values()) == 0
    for path, (lon, lat) in zip(ds.files, ds.lonlat, strict=True):
        with rasterio.open(path) as src:
            data = src.read()
            assert src.count == 12 and src.crs.to_epsg() == 32631 and src.res == (10.0, 10.0)
            assert data.shape == (12, 32, 32)
            # The recorded location is the patch centre.
            x, y = rasterio.warp.transform("EPSG:4326", src.crs, [lon], [lat])
            row, col = src.index(x[0], y[0])
            assert abs(row - 16) <= 1 and abs(col - 16) <= 1
        assert not (data == 7777).any(), "the cloudy and out-of-range scenes are never used"
        assert (data == 0).all(axis=0).mean() <= 0.10, "no patch has more than 10 % nodata"
    assert ds[0]["image"].shape == (13, 32, 32)


def test_interrupted_run_resumes_to_the_same_dataset(cache, catalog, tmp_path, monkeypatch):
    reference = build_s2(_cfg(catalog), tmp_path / "ref", progress=False)
    real = s2._write_patch
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(s2, "_write_patch", failing)
    out = tmp_path / "s2"
    with pytest.raises(KeyboardInterrupt):
        build_s2(_cfg(catalog), out, progress=False)
    assert not out.exists()
    monkeypatch.setattr(s2, "_write_patch", real)
    build_s2(_cfg(catalog), out, progress=False)
    assert (out / "index.csv").read_text() == (reference / "index.csv").read_text()
    for i in range(6):
        with (
            rasterio.open(out / "images" / f"patch_{i}.tif") as a,
            rasterio.open(reference / "images" / f"patch_{i}.tif") as b,
        ):
            np.testing.assert_array_equal(a.read(), b.read())


def test_no_usable_scene_is_a_clear_error(cache, catalog, tmp_path):
    cfg = _cfg(catalog, max_cloud=0.5, max_attempts_per_patch=3)
    with pytest.raises(ValueError, match="found only 0 usable patches"):
        build_s2(cfg, tmp_path / "s2", progress=False)


def test_planetary_computer_signing_is_applied(catalog):
    cat = s2._Catalog(_cfg(catalog, sign="planetary-computer"))
    item = cat.search(2.35, 48.86)[0]
    # Local hrefs are not blob-storage URLs, so the signer returns them unchanged.
    assert cat.signed(item).assets["B04"].href == item.assets["B04"].href
    assert s2._Catalog(_cfg(catalog)).sign == "none"


@pytest.mark.parametrize("params,message", [({"bbox": (10, 0, 5, 1)}, "bbox"), ({"sign": "aws"}, "sign")])
def test_bad_config(params, message):
    with pytest.raises(ValueError, match=message):
        S2Config(**params)


def test_command_line(cache, catalog, tmp_path, capsys):
    from satclip.cli import main

    bbox = ",".join(map(str, BBOX))
    argv = ["data", "s2", "--n", "2", "--size", "32", "--catalog", str(catalog), "--bbox", bbox, "-q"]
    assert main([*argv, "--out", str(tmp_path / "s2")]) == 0
    assert len(S2100KDataset(tmp_path / "s2")) == 2
    with pytest.raises(SystemExit) as exit_info:  # argparse rejects a malformed bbox
        main([*argv[:-3], "--bbox", "1,2,3", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "W,S,E,N" in capsys.readouterr().err
