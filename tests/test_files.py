"""Atomic writes give files the permissions a plain write would, and never a half-written file."""

import os
import stat

import numpy as np
import pytest
import torch

import satclip
from satclip._files import atomic_path, write_text


@pytest.fixture
def umask():
    """Run with a given umask, restored afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=4)
    return satclip.LocationEncoder(sh, satclip.create_network("linear", dim_in=sh.dim, dim_out=3))


def _writers(tmp_path, encoder):
    """Every kind of output a user gets, by the function that writes it."""
    from satclip.io import embed_file
    from satclip.onnx_export import export_onnx

    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n1,2\n3,4\n")
    return {
        "model.safetensors": lambda p: satclip.save(encoder, p),
        "model.onnx": lambda p: export_onnx(encoder, p),
        "emb.npy": lambda p: embed_file(encoder, src, p, progress=False),
        "emb.parquet": lambda p: embed_file(encoder, src, p, progress=False),
        "notes.txt": lambda p: write_text(p, "x"),
    }


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_get_the_umask_permissions(tmp_path, encoder, umask, mask):
    umask(mask)
    for name, write in _writers(tmp_path, encoder).items():
        out = tmp_path / name
        write(out)
        assert _mode(out) == 0o666 & ~mask, name
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


def test_replacing_a_file_keeps_its_mode(tmp_path, encoder, umask):
    out = tmp_path / "model.safetensors"
    satclip.save(encoder, out)
    os.chmod(out, 0o640)
    satclip.save(encoder, out)
    assert _mode(out) == 0o640


def test_train_export_writes_a_readable_model(tmp_path, encoder, umask):
    # `satclip export` and training write model.safetensors through satclip.save.
    umask(0o022)
    out = satclip.save(encoder, tmp_path / "run" / "model.safetensors")
    assert _mode(out) == 0o644


def test_a_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "x.bin"
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    np.testing.assert_equal(out.exists(), False)


@pytest.mark.parametrize("name", ["model.safetensors", "model.onnx", "emb.npy", "emb.parquet", "notes.txt"])
def test_a_directory_as_the_output_is_refused_before_writing(tmp_path, encoder, name):
    write = _writers(tmp_path, encoder)[name]
    folder = tmp_path / f"out{os.path.splitext(name)[1]}"  # a folder named like the file
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"out\.\w+ is a directory; give the path of a file in it"):
        write(folder)
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name, "p.csv"]  # no temporary left
