"""Out-of-distribution flags: nearest-training-point distance vs brute-force haversine, water,
and the training index carried by model files."""

import numpy as np
import pytest
import torch

import satclip
from satclip.ood import EARTH_RADIUS_KM, OODIndex, ood_flags


def _haversine_min_km(q: np.ndarray, ref: np.ndarray) -> np.ndarray:
    lon1, lat1 = np.deg2rad(q[:, :1]), np.deg2rad(q[:, 1:])
    lon2, lat2 = np.deg2rad(ref[:, 0])[None], np.deg2rad(ref[:, 1])[None]
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return (2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))).min(axis=1)


def test_distances_match_brute_force_haversine(sphere_points):
    rng = np.random.default_rng(1)
    train = np.stack([rng.uniform(-180, 180, 2000), np.rad2deg(np.arcsin(rng.uniform(-1, 1, 2000)))], axis=1)
    got = OODIndex(train, water=False)(sphere_points)["ood_km"]
    np.testing.assert_allclose(got, _haversine_min_km(sphere_points, train), rtol=1e-5, atol=1e-3)
    # Across the dateline: 179.9° and -179.9° on the equator are 22 km apart, not 40 000.
    one = OODIndex(np.array([[179.9, 0.0]]), water=False)(np.array([[-179.9, 0.0]]))["ood_km"]
    assert one[0] == pytest.approx(0.2 * np.pi / 180 * EARTH_RADIUS_KM, rel=1e-5)


def test_shipped_model_flags_oceans_and_far_points(cache):  # on_water reads the fetched land mask
    enc = satclip.load("satclip-bluemarble-l10")
    flags = ood_flags(enc, [2.35, -30.0, 150.0], [48.86, 0.0, -85.0])  # Paris, mid-Atlantic, Antarctica
    assert flags["on_water"].tolist() == [False, True, False]
    assert flags["ood_km"][0] < 50 and flags["ood_km"][1] > 500


def test_training_index_round_trips_and_is_required(tmp_path):
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=4)
    enc = satclip.LocationEncoder(sh, satclip.create_network("linear", dim_in=sh.dim, dim_out=4))
    plain = satclip.load(satclip.save(enc, tmp_path / "plain.safetensors"))
    assert plain.training_index is None
    with pytest.raises(ValueError, match="carries no training index"):
        ood_flags(plain, 0, 0)
    index = np.array([[10.0, 20.0], [-30.5, 40.25]])
    back = satclip.load(satclip.save(enc, tmp_path / "i.safetensors", training_index=index))
    np.testing.assert_array_equal(back.training_index, index.astype(np.float32))
    # Saving again keeps it; the network weights are untouched by it.
    again = satclip.load(satclip.save(back, tmp_path / "again.safetensors"))
    np.testing.assert_array_equal(again.training_index, back.training_index)
    assert set(again.state_dict()) == set(enc.state_dict())
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        satclip.save(enc, tmp_path / "bad.safetensors", training_index=np.zeros((3, 3)))
