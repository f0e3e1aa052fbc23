"""The CPU inference backend measured once per machine and cached (issue 35)."""

import importlib
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from satclip.encodings import _sh_calibration as calibration
from satclip.encodings import create_encoding

sh_module = importlib.import_module("satclip.encodings.spherical_harmonics")
pytest.importorskip("numba")
pytest.importorskip("sphericart.torch")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh cache folder, and no answer remembered in this process before or after."""
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    calibration.forget()
    yield tmp_path
    calibration.forget()


def _timings(numba, sphericart):
    calls = []

    def measure(legendre_polys, dtype):
        calls.append((legendre_polys, dtype))
        return {"numba": numba, "sphericart": sphericart}

    return measure, calls


def _points():
    return torch.tensor([[2.35, 48.86], [-70.0, -33.4], [179.9, 0.0], [0.0, 90.0]], dtype=torch.float32)


def test_auto_takes_sphericart_where_it_was_measured_faster_and_remembers_it(cache_dir, monkeypatch):
    measure, calls = _timings(numba=2.0, sphericart=1.0)
    monkeypatch.setattr(calibration, "measure", measure)
    pts = _points()
    got = sh_module.spherical_harmonics(pts, 40)
    assert torch.equal(got, sh_module.spherical_harmonics(pts, 40, backend="sphericart"))
    assert not torch.equal(got, sh_module.spherical_harmonics(pts, 40, backend="numba"))  # ulps apart
    assert calls == [(40, torch.float32)]
    saved = json.loads((cache_dir / calibration.FILE).read_text())
    ((key, choice),) = saved.items()
    assert choice == "sphericart" and "L 40 | float32" in key and calibration.machine_key() in key
    # The layout inference gives the features: rows for sphericart, not numba's column-major.
    assert (
        create_encoding("sphericalharmonics", legendre_polys=40)
        ._features_buffer(8, torch.float32, torch.device("cpu"))
        .is_contiguous()
    )

    # A new process reads the file instead of measuring again.
    calibration.forget()
    monkeypatch.setattr(calibration, "measure", lambda *a: pytest.fail("measured again"))
    assert torch.equal(sh_module.spherical_harmonics(pts, 40), got)


def test_auto_keeps_numba_where_it_is_faster_or_within_the_margin(cache_dir, monkeypatch):
    measure, calls = _timings(numba=1.0, sphericart=calibration.MARGIN * 1.0 + 1e-6)
    monkeypatch.setattr(calibration, "measure", measure)
    pts = _points()
    assert torch.equal(
        sh_module.spherical_harmonics(pts, 40), sh_module.spherical_harmonics(pts, 40, backend="numba")
    )
    assert sh_module.spherical_harmonics(pts.double(), 40).dtype == torch.float64
    assert calls == [(40, torch.float32), (40, torch.float64)]  # one measurement per dtype
    buf = create_encoding("sphericalharmonics", legendre_polys=40)._features_buffer(
        8, torch.float32, torch.device("cpu")
    )
    assert buf.stride(0) == 1  # column-major, where numba writes fastest


def test_degrees_beyond_sphericart_never_measure(cache_dir, monkeypatch):
    monkeypatch.setattr(calibration, "measure", lambda *a: pytest.fail("measured"))
    pts = _points().double()
    high = sh_module._sh_sphericart.MAX_LEGENDRE_POLYS + 1
    assert torch.equal(
        sh_module.spherical_harmonics(pts, high), sh_module.spherical_harmonics(pts, high, backend="numba")
    )


def test_a_damaged_cache_is_measured_again_and_rewritten(cache_dir, monkeypatch):
    (cache_dir / calibration.FILE).write_text("{not json")
    measure, calls = _timings(numba=1.0, sphericart=3.0)
    monkeypatch.setattr(calibration, "measure", measure)
    assert calibration.cpu_inference_backend(10, torch.float32) == "numba"
    assert len(calls) == 1
    assert list(json.loads((cache_dir / calibration.FILE).read_text()).values()) == ["numba"]


def test_an_unwritable_cache_only_costs_the_measurement(cache_dir, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(cache_dir / "a-file"))
    (cache_dir / "a-file").write_text("")  # the cache folder is a file: nothing can be written
    measure, calls = _timings(numba=3.0, sphericart=1.0)
    monkeypatch.setattr(calibration, "measure", measure)
    assert calibration.cpu_inference_backend(20, torch.float64) == "sphericart"
    calibration.forget()
    assert calibration.cpu_inference_backend(20, torch.float64) == "sphericart"
    assert len(calls) == 2


def test_threads_asking_at_once_share_one_measurement(cache_dir, monkeypatch):
    calls = []

    def slow_measure(legendre_polys, dtype):
        calls.append(legendre_polys)
        time.sleep(0.2)  # long enough for every thread to ask while it runs
        return {"numba": 1.0, "sphericart": 0.5}

    monkeypatch.setattr(calibration, "measure", slow_measure)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: calibration.cpu_inference_backend(12, torch.float32), range(8)))
    assert answers == ["sphericart"] * 8 and calls == [12]


def test_the_machine_key_names_an_unknown_version_instead_of_failing(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert "numba unknown | sphericart-torch unknown" in calibration.machine_key()


def test_the_measurement_times_both_backends(cache_dir):
    seconds = calibration.measure(10, torch.float32)
    assert set(seconds) == {"numba", "sphericart"}
    assert all(0 < s < 1 and math.isfinite(s) for s in seconds.values())
