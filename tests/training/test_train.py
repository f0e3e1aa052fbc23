"""Training end to end on CPU with a tiny real Blue Marble dataset; export; kill and resume."""

import csv
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import satclip
from satclip.cli import main
from satclip.data.transforms import ColorJitter
from satclip.training.config import load_config
from satclip.training.run import _datasets

TINY = [
    "location.legendre_polys=6",
    "location.dim_hidden=32",
    "image.image_size=12",
    "data.n=640",
    "data.size=16",
    "data.crop=12",
    "data.batch_size=64",
    "data.num_workers=0",
    "data.val_fraction=0.1",
    "optim.warmup_steps=2",
    # The session's tiny build is true colour only (the preset may ask for more layers).
    "data.layers=[]",
    "image.in_channels=3",
]


@pytest.fixture(scope="module")
def tiny_data(bluemarble_tiny):
    """The session's tiny Blue Marble dataset (640 patches of 16×16): 9 training steps an epoch at
    batch 64 with 10 % held out. Training only reads it."""
    return bluemarble_tiny


def _metrics(run):
    with open(run / "logs" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _process_state():
    import random

    return {
        "random": random.getstate(),
        "numpy.random": (np.random.get_state()[1].tolist(), np.random.get_state()[2]),
        "torch random": torch.get_rng_state().tolist(),
        "deterministic algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn.benchmark": torch.backends.cudnn.benchmark,
        **{k: os.environ.get(k) for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG")},
    }


def test_train_export_and_load(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={tiny_data}", "epochs=2", "-q"]
    seeds_and_switches = _process_state()
    assert main([*argv, "--out", str(run)]) == 0
    # Lightning seeds the global generators and turns on deterministic kernels: none of it outlives the run.
    after = _process_state()
    assert [k for k in after if after[k] != seeds_and_switches[k]] == []
    enc = satclip.load(run / "model.safetensors")
    assert enc.config.encoding.legendre_polys == 6 and enc.dim == 256
    emb = enc.embed([0.0, 100.0], [10.0, -20.0])
    assert emb.shape == (2, 256) and np.isfinite(emb).all()
    # The training split's locations travel with the model, for out-of-distribution flags.
    from satclip.data import BlueMarbleDataset

    all_points = {tuple(p) for p in BlueMarbleDataset(tiny_data).lonlat.astype(np.float32).tolist()}
    index = enc.training_index
    assert index is not None and 0 < len(index) < len(all_points)
    assert {tuple(p) for p in index.tolist()} <= all_points
    rows = _metrics(run)
    assert any(r.get("val_loss") for r in rows) and any(r.get("train_loss_step") for r in rows)
    assert (run / "loss.png").exists() and (run / "checkpoints" / "best.ckpt").exists()
    assert main(["export", str(run), "-o", str(tmp_path / "exported.safetensors")]) == 0
    np.testing.assert_array_equal(
        satclip.load(tmp_path / "exported.safetensors").embed(1.0, 2.0), enc.embed(1.0, 2.0)
    )
    # The run's checkpoint loads in one line too, as the same encoder (no training index), from
    # the location encoder's config saved in it.
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    saved = ckpt["hyper_parameters"]["location_encoder"]
    assert satclip.LocationEncoderConfig.from_dict(saved["config"]) == enc.config
    assert saved["degree_decay"] == load_config("bluemarble-quick").location.degree_decay
    from_ckpt = satclip.load(run / "checkpoints" / "best.ckpt")
    assert from_ckpt.config == enc.config and from_ckpt.training_index is None
    np.testing.assert_array_equal(from_ckpt.embed([0.0, 100.0], [10.0, -20.0]), emb)
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "no checkpoints" in capsys.readouterr().err
    # One checkpoint file of the run exports as the run does.
    last = run / "checkpoints" / "last.ckpt"
    assert main(["export", str(last), "-o", str(tmp_path / "last.safetensors")]) == 0
    assert main(["export", str(run), "--which", "last", "-o", str(tmp_path / "run-last.safetensors")]) == 0
    a, b = satclip.load(tmp_path / "last.safetensors"), satclip.load(tmp_path / "run-last.safetensors")
    assert a.fingerprint() == b.fingerprint()


def test_degree_decay_is_folded_into_the_exported_model(tiny_data, tmp_path):
    from satclip.checkpoints import degree_scale
    from satclip.training.config import from_dict
    from satclip.training.module import SatCLIPModule

    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={tiny_data}", "epochs=1"]
    assert main([*argv, "location.degree_decay=1.0", "-q", "--out", str(run)]) == 0
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    module = SatCLIPModule(from_dict(ckpt["hyper_parameters"]["config"]))
    module.load_state_dict(ckpt["state_dict"])
    module.eval()
    torch.testing.assert_close(module.feature_scale[[0, 1, 4, 35]], torch.tensor([1, 1 / 2, 1 / 3, 1 / 6]))
    assert degree_scale(6, 0.0).eq(1).all()
    lonlat = torch.tensor([[0.0, 10.0], [100.0, -20.0], [-179.5, 89.0]], dtype=torch.float64)
    with torch.no_grad():
        trained = module.location_embedding(lonlat)
        unscaled = module.location_encoder(lonlat)  # the raw first layer, without the fold
    exported = satclip.load(run / "model.safetensors")
    np.testing.assert_allclose(
        exported.embed(lonlat[:, 0], lonlat[:, 1]), trained.numpy(), rtol=1e-5, atol=1e-6
    )
    from_ckpt = satclip.load(run / "checkpoints" / "best.ckpt")  # the scale folded on load as well
    np.testing.assert_array_equal(
        from_ckpt.embed(lonlat[:, 0], lonlat[:, 1]), exported.embed(lonlat[:, 0], lonlat[:, 1])
    )
    assert not np.allclose(unscaled.numpy(), trained.numpy(), atol=1e-3)


def test_ema_weights_are_validated_checkpointed_and_exported(tiny_data, tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={tiny_data}", "epochs=2"]
    ema = ["optim.ema_decay=0.9", "optim.ema_start_step=3", "location.degree_decay=0"]
    assert main([*argv, *ema, "-q", "--out", str(run)]) == 0
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # Lightning keeps the raw weights beside the average, which is what the checkpoint's
    # state_dict (and so validation, best.ckpt and the export) holds.
    key = "location_encoder.network.last_layer.weight"
    averaged, raw = last["state_dict"][key], last["current_model_state"][key]
    assert not torch.allclose(averaged, raw)
    best = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert "current_model_state" in best
    exported = satclip.load(run / "model.safetensors")
    # best and last are the same epoch-2 weights here unless epoch 1 validated better.
    torch.testing.assert_close(exported.network.last_layer.weight, best["state_dict"][key])


def test_last_ckpt_is_the_latest_state_and_the_only_last(tiny_data, tmp_path):
    # 9 steps an epoch, a step checkpoint every 4: the epoch-end save comes after the step saves
    # at 4 and 8, and must overwrite last.ckpt, not write a last-v1.ckpt beside it.
    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={tiny_data}", "epochs=1"]
    assert main([*argv, "checkpoint_every_n_steps=4", "-q", "--out", str(run)]) == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert (
        torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
        == 9
    )


def test_an_average_that_would_never_start_is_refused(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={tiny_data}", "epochs=1"]
    assert main([*argv, "optim.ema_decay=0.9", "optim.ema_start_step=9", "-q", "--out", str(run)]) == 2
    assert "optim.ema_start_step=9 but this run has 9 optimiser steps" in capsys.readouterr().err
    assert not (run / "model.safetensors").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.ema_decay=1.0", "optim.ema_decay must be a number in [0, 1)"),
        ("optim.ema_decay=true", "optim.ema_decay must be a number, got True"),
        ("optim.ema_start_step=-1", "optim.ema_start_step must be a whole number >= 0"),
    ],
)
def test_bad_ema_settings_are_refused_before_any_data_is_read(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_config("bluemarble-quick", [override])


def test_cpu_runs_repeat_exactly(tiny_data, tmp_path):
    from satclip.training.config import load_config
    from satclip.training.run import train

    cfg = load_config("bluemarble-quick", [*TINY, f"data.root={tiny_data}", "epochs=1"])
    a = satclip.load(train(cfg, tmp_path / "a", progress=False))
    b = satclip.load(train(cfg, tmp_path / "b", progress=False))
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


@pytest.mark.slow
def test_killed_run_resumes_and_finishes(tiny_data, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "satclip.cli", "train", "--config", "bluemarble-quick", *TINY]
    cmd += [f"data.root={tiny_data}", "epochs=20", "checkpoint_every_n_steps=12", "--out", str(run), "-q"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while time.time() < deadline and not last.exists():
        time.sleep(0.2)
    assert last.exists(), "no checkpoint written before the kill"
    proc.send_signal(signal.SIGKILL)  # mid-epoch: 9 steps per epoch, checkpoints every 12
    proc.wait()
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert 9 <= killed_at < 180
    assert not (run / "model.safetensors").exists()
    resumed = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    assert f"Restoring states from the checkpoint path at {last}" in resumed.stdout + resumed.stderr
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["global_step"] == 180 and final["epoch"] == 19  # 20 epochs x 9 steps, no more
    steps = [int(r["step"]) for r in _metrics(run) if r.get("train_loss_step")]
    assert steps == sorted(set(steps)), "no step was trained (and logged) twice"
    assert satclip.load(run / "model.safetensors").dim == 256


def test_channels_must_match_the_image_encoder(tiny_data, tmp_path, capsys):
    args = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={tiny_data}", "epochs=1"]
    assert main([*args, "image.in_channels=6", "--out", str(tmp_path / "run"), "-q"]) == 2
    assert "has 3 channels (bmng_r, bmng_g, bmng_b) but image.in_channels is 6" in capsys.readouterr().err


def test_the_config_builds_its_layers_and_refuses_a_build_without_them(cache, tiny_data, tmp_path, capsys):
    """data.layers / data.scales say what a missing dataset is built with, and what an existing
    one must hold: a true-colour build is refused for a night-lights config, naming both."""
    args = ["train", "--config", "bluemarble-quick", *TINY, "epochs=1"]
    night = ["data.layers=night-viirs", "image.in_channels=6"]
    assert main([*args, *night, f"data.root={tiny_data}", "--out", str(tmp_path / "a"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "holds channels bmng_r, bmng_g, bmng_b" in err and "night-viirs_r" in err

    root = tmp_path / "night"
    small = ["data.n=256", "data.batch_size=32", "data.scales=[1,2]", "image.in_channels=12"]
    # Colour jitter on: it must find the true-colour triples of both views, not the lights.
    overrides = [*args[3:], "data.layers=night-viirs", *small, f"data.root={root}", "data.color_jitter=0.3"]
    run = ["--out", str(tmp_path / "b"), "-q"]
    assert main([*args[:3], *overrides, *run]) == 0
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["channels"][3:6] == ["night-viirs_r", "night-viirs_g", "night-viirs_b"]
    assert manifest["channels"][6] == "bmng_r@2x" and len(manifest["channels"]) == 12
    assert satclip.load(tmp_path / "b" / "model.safetensors").dim == 256
    train, _ = _datasets(load_config("bluemarble-quick", overrides))
    jitter = [t for t in train.dataset.transform.transforms if isinstance(t, ColorJitter)]
    assert len(jitter) == 1 and jitter[0].groups == [[0, 1, 2], [6, 7, 8]]


def test_color_jitter_is_refused_for_s2_100k(tmp_path):
    cfg = load_config(
        "bluemarble-quick", ["data.dataset=s2-100k", f"data.root={tmp_path}", "data.color_jitter=0.2"]
    )
    with pytest.raises(ValueError, match="S2-100K's 13 bands have none, so set data.color_jitter=0"):
        _datasets(cfg)


def test_main_job_trains_evaluates_and_draws_into_one_folder(cache, tiny_data, tmp_path, monkeypatch):
    """`satclip run` (the main job) end to end on the tiny build, evaluated on one small task."""
    from satclip.training import pipeline

    monkeypatch.setattr(pipeline, "EVAL_TASKS", ["air_temp"])
    out = tmp_path / "job"
    argv = [
        "run",
        "--out",
        str(out),
        "--config",
        "bluemarble-quick",
        *TINY,
        f"data.root={tiny_data}",
        "epochs=1",
        "-q",
    ]
    assert main(argv) == 0
    assert (out / "model.safetensors").exists() and (out / "embedding_map.png").stat().st_size > 0
    scores = (out / "evaluation" / "results.csv").read_text()
    assert "bluemarble-quick,air_temp" in scores and "sh6,air_temp" in scores and "wrap,air_temp" in scores


SEASONAL = [
    *TINY,
    "data.n=256",
    "data.batch_size=32",
    'data.months=["01", "07"]',
    "data.annual_share=0.3",
    "data.season_pairs=false",
    "distill.weight=0",
]


def test_a_seasonal_run_learns_from_each_month_and_exports_a_seasonal_model(cache, tmp_path):
    from satclip.data import BlueMarbleDataset
    from satclip.data.datasets import SeasonalViews

    root, run = tmp_path / "seasons", tmp_path / "run"
    args = ["train", "--config", "bluemarble-seasonal", *SEASONAL, f"data.root={root}", "epochs=1"]
    assert main([*args, "data.season_pairs=true", "data.season_change=0.5", "--out", str(run), "-q"]) == 0
    logged = [r["train_loss_epoch"] for r in _metrics(run) if r.get("train_loss_epoch")]
    assert logged and all(np.isfinite(float(v)) for v in logged)
    enc = satclip.load(run / "model.safetensors")
    assert enc.seasonal and enc.config.time.harmonics == 2
    jan, jul = enc.embed([10.0], [50.0], month=1), enc.embed([10.0], [50.0], month=7)
    assert not np.array_equal(jan, jul) and np.isfinite(jan).all()
    # Each sample is one place in one month (that month's colours, the month as its time) or
    # the annual colours without a time.
    channels = json.loads((root / "manifest.json").read_text())["channels"]
    views = SeasonalViews(channels, annual_share=0.3, random=False)
    assert [t for _, t in views.views][1:] == [0.5 / 12, 6.5 / 12] and np.isnan(views.views[0][1])
    assert views.views[2][0] == [channels.index(c) for c in ("bmng07_r", "bmng07_g", "bmng07_b")]
    ds = BlueMarbleDataset(root, seasons=views)
    raw = np.load(root / "images.npy", mmap_mode="r")
    for i in range(3):
        sample = ds[i]
        expected_channels, t = views.views[i % 3]
        np.testing.assert_array_equal(sample["image"].numpy(), raw[i][expected_channels] / np.float32(255))
        assert (np.isnan(t) and np.isnan(sample["time"].item())) or sample["time"].item() == t
    train, _ = _datasets(load_config("bluemarble-seasonal", [*SEASONAL, f"data.root={root}"]))
    drawn = {float(train.dataset[0]["time"]) for _ in range(60)}
    assert {0.5 / 12, 6.5 / 12} <= drawn and any(np.isnan(t) for t in drawn)
    # Pairs: two different views of one place per sample, flattened into the batch by the step.
    pairs, _ = _datasets(
        load_config("bluemarble-seasonal", [*SEASONAL, f"data.root={root}", "data.season_pairs=true"])
    )
    for _ in range(20):
        sample = pairs.dataset[5]
        assert sample["image"].shape == (2, 3, 12, 12) and sample["lonlat"].shape == (2, 2)
        a, b = sample["time"].tolist()
        assert not (a == b or (np.isnan(a) and np.isnan(b)))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["location.time_harmonics=0"], "needs both data.seasonal=true and location.time_harmonics > 0"),
        (["data.seasonal=false"], "needs both"),
        (["data.months=[]"], "data.seasonal needs the Blue Marble dataset with data.months"),
        (["data.annual_share=1"], "data.annual_share must be a share in \\[0, 1\\)"),
        (["location.time_harmonics=-1"], "location.time_harmonics must be a whole number >= 0"),
        (
            ["data.seasonal=false", "location.time_harmonics=0", "data.season_pairs=true"],
            "season_pairs needs",
        ),
        (
            ["data.season_pairs=false", "data.season_change=1"],
            "data.season_change needs data.season_pairs=true",
        ),
        (["data.season_change=-1"], "data.season_change must be a number >= 0"),
    ],
)
def test_a_seasonal_config_is_checked_before_any_data_is_read(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config("bluemarble-seasonal", overrides)


@pytest.mark.parametrize("place", [[], ["location.time_place_degree=2"]], ids=["time", "time-by-place"])
def test_a_seasonal_run_can_learn_only_its_time_columns_from_a_static_model(cache, tmp_path, capsys, place):
    """location.init + location.learn=time: the trained model's annual embedding is the init
    model's bit for bit; only the months move it (with place products too)."""
    from satclip.checkpoints import run_encoder_config
    from satclip.encoder import LocationEncoder
    from satclip.training.config import LocationConfig

    # The preset's network: w0_initial 0.03 (dropout may differ: it acts in training only).
    location = LocationConfig(legendre_polys=6, dim_hidden=32, w0_initial=0.03, dropout=0.5)
    static_cfg = run_encoder_config(dataclasses.asdict(location), 256)
    torch.manual_seed(0)
    start = tmp_path / "static.safetensors"
    satclip.save(LocationEncoder.from_config(static_cfg), start)
    root, run = tmp_path / "seasons", tmp_path / "run"
    args = ["train", "--config", "bluemarble-seasonal", *SEASONAL, f"data.root={root}", "epochs=1"]
    keep = [f"location.init={start}", "location.learn=time", "location.degree_decay=0", *place]
    assert main([*args, *keep, "--out", str(run), "-q"]) == 0
    before, after = satclip.load(start), satclip.load(run / "model.safetensors")
    points = np.array([[10.0, 50.0], [-60.0, -3.0], [150.0, -30.0]])
    np.testing.assert_array_equal(after.embed_array(points), before.embed_array(points))
    assert not np.allclose(after.embed_array(points, month=1), after.embed_array(points, month=7))
    first = after.network.first_layer.weight.detach()
    assert first.shape[1] == 36 + after.config.time.dim and after.config.time.place_degree == (
        2 if place else 0
    )
    assert first[:, 36:].ne(0).any(dim=0).all()  # every time column learned (they start at zero)
    bad = [*args, *keep, "location.dim_hidden=16", "--out", str(tmp_path / "bad"), "-q"]
    assert main(bad) != 0
    assert "another network: dim_hidden 32 (this run: 16)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["location.learn=time"], "needs location.init"),
        (["location.learn=some"], "location.learn must be 'all' or 'time'"),
        (["location.init=satclip-bluemarble-l10"], "set location.degree_decay=0"),
        (["location.time_place_degree=41"], "time_place_degree must be a whole number from 0"),
        (
            ["location.time_place_degree=2", "location.time_harmonics=0", "data.seasonal=false"],
            "needs a seasonal",
        ),
    ],
)
def test_a_start_from_a_model_is_checked(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config("bluemarble-seasonal", overrides)
