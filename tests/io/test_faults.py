"""Faults in ``embed_file``: a damaged run folder, a full disk, two writers of one output.

In every case: a clear error, no file under the final name, and the next ``resume=True`` run
finishes with every row exactly once (checked against an uninterrupted run)."""

import errno
import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import satclip
from satclip.io import embed_file, writers

N = 95  # 10 chunks of 10, the last one short


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    return satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=sh.dim, dim_out=8)).eval()


@pytest.fixture
def src(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "p.csv"
    lonlat = np.stack([rng.uniform(-180, 180, N), rng.uniform(-90, 90, N)], axis=1)
    path.write_text("id,lon,lat\n" + "\n".join(f"{i},{x:.6f},{y:.6f}" for i, (x, y) in enumerate(lonlat)))
    return path


def _read(path):
    return np.load(path) if path.suffix == ".npy" else pq.read_table(path)


def _same(a, b):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a.equals(b)


def _reference(tmp_path, encoder, src, suffix):
    ref = tmp_path / f"ref{suffix}"
    embed_file(encoder, src, ref, chunk_rows=10, progress=False)
    return _read(ref)


class _Stop(Exception):
    pass


def _run_until(monkeypatch, encoder, src, out, chunks):
    """Embed ``chunks`` chunks, then stop as a killed process would (the work folder stays)."""
    calls = {"n": 0}
    real = encoder.embed_array

    def embed_array(lonlat, batch_size=None):
        if calls["n"] == chunks:
            raise _Stop
        calls["n"] += 1
        return real(lonlat, batch_size)

    with monkeypatch.context() as m:
        m.setattr(encoder, "embed_array", embed_array)
        with pytest.raises(_Stop):
            embed_file(encoder, src, out, chunk_rows=10, progress=False)
    assert not out.exists()
    return out.parent / f".{out.name}.partial"


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
@pytest.mark.parametrize(
    "damage", ["truncated-state", "garbage-state", "missing-part", "corrupt-part", "short-part", "stray-tmp"]
)
def test_damaged_run_folder_resumes_to_the_uninterrupted_result(
    tmp_path, monkeypatch, encoder, src, suffix, damage, caplog
):
    out = tmp_path / f"out{suffix}"
    work = _run_until(monkeypatch, encoder, src, out, chunks=5)
    state_file = work / "state.json"
    data = work / "data.npy" if suffix == ".npy" else work / "part-000002.arrow"
    if damage == "truncated-state":
        state_file.write_bytes(state_file.read_bytes()[:17])
    elif damage == "garbage-state":
        state_file.write_text(json.dumps({"rows_done": 10**9}))
    elif damage == "missing-part":
        data.unlink()
    elif damage == "corrupt-part":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "short-part":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    else:
        (work / ".part-000005.arrow.123.abcd.tmp").write_bytes(b"half a part")
    assert embed_file(encoder, src, out, chunk_rows=10, resume=True, progress=False) == N
    _same(_read(out), _reference(tmp_path, encoder, src, suffix))
    assert not work.exists()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if "state" in damage:
        assert len(warned) == 1 and "unreadable" in warned[0] and "starting over" in warned[0]
    elif damage != "stray-tmp":
        assert len(warned) == 1 and "missing or corrupt" in warned[0]
    else:
        assert warned == []


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_full_disk_is_a_clear_error_and_resume_finishes(tmp_path, monkeypatch, encoder, src, suffix):
    out = tmp_path / f"out{suffix}"
    calls = {"n": 0}

    def full_after_three(real):
        def write(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kwargs)

        return write

    with monkeypatch.context() as m:
        if suffix == ".npy":
            m.setattr(writers.NpyData, "write", full_after_three(writers.NpyData.write))
        else:
            m.setattr("satclip.io.embed.write_part", full_after_three(writers.write_part))
        with pytest.raises(
            OSError, match=r"No space left on device.*30 rows done are kept.*resume=True"
        ) as info:
            embed_file(encoder, src, out, chunk_rows=10, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert not out.exists()
    assert embed_file(encoder, src, out, chunk_rows=10, resume=True, progress=False) == N
    _same(_read(out), _reference(tmp_path, encoder, src, suffix))


@pytest.mark.parametrize("fail_at", [1, 4, 10])
def test_full_disk_while_merging_keeps_the_parts(tmp_path, monkeypatch, encoder, src, fail_at):
    """The final file is written chunk by chunk beside the parts; when it fails (at the first,
    a middle or the last chunk), the parts written so far are kept, and the resumed run rebuilds
    the final file from them without embedding those chunks again."""
    out = tmp_path / "out.parquet"
    real_add = writers.MergedOutput.add
    adds = {"n": 0}

    def add(self, table):
        adds["n"] += 1
        if adds["n"] == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_add(self, table)

    with monkeypatch.context() as m:
        m.setattr(writers.MergedOutput, "add", add)
        with pytest.raises(OSError, match=f"{min(fail_at * 10, N)} rows done are kept"):
            embed_file(encoder, src, out, chunk_rows=10, progress=False)
    assert not out.exists()
    calls = {"n": 0}
    real = encoder.embed_array

    def counting(lonlat, batch_size=None):
        calls["n"] += 1
        return real(lonlat, batch_size)

    monkeypatch.setattr(encoder, "embed_array", counting)
    assert embed_file(encoder, src, out, chunk_rows=10, resume=True, progress=False) == N
    assert calls["n"] == 10 - fail_at  # only the chunks not yet done are embedded
    monkeypatch.undo()
    _same(_read(out), _reference(tmp_path, encoder, src, ".parquet"))


def test_a_second_writer_of_the_same_output_is_refused(tmp_path, encoder, src):
    from satclip._files import BusyError, exclusive_lock

    out = tmp_path / "out.npy"
    with (
        exclusive_lock(tmp_path / ".out.npy.lock", str(out)),
        pytest.raises(BusyError, match="being written by another process"),
    ):
        embed_file(encoder, src, out, chunk_rows=10, progress=False)
    assert not out.exists()
    assert not (tmp_path / ".out.npy.lock").exists()
    # Once released, the same call goes through.
    assert embed_file(encoder, src, out, chunk_rows=10, progress=False) == N


@pytest.mark.slow
def test_two_processes_on_one_output_never_mix(tmp_path):
    """Two real processes started together: one writes the file, the other is refused (or runs
    after it); the file is the one a single run writes."""
    rng = np.random.default_rng(0)
    n = 60_000
    src = tmp_path / "big.csv"
    lonlat = np.stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)], axis=1)
    with src.open("w") as f:
        f.write("lon,lat\n")
        np.savetxt(f, lonlat, fmt="%.6f", delimiter=",")
    out = tmp_path / "e.npy"
    cmd = [sys.executable, "-m", "satclip.cli", "embed", str(src), "-o", str(out)]
    cmd += ["--model", "satclip-bluemarble-l40", "--chunk-rows", "2048", "-q"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes[0] == 0, results
    if codes[1] != 0:
        assert codes[1] == 2 and any("being written by another process" in e for _, e in results), results
    # float32 matmuls may round differently with other thread counts: close, not bit-equal.
    ref = satclip.load("satclip-bluemarble-l40").embed_array(lonlat)
    np.testing.assert_allclose(np.load(out), ref, rtol=0, atol=1e-5)
    assert not (tmp_path / ".e.npy.partial").exists() and not (tmp_path / ".e.npy.lock").exists()
