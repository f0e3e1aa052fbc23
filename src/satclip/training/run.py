"""``satclip train`` and ``satclip export``: a Lightning run in a run folder, resumable.

A run folder holds ``config.yaml``, ``checkpoints/`` (``best.ckpt`` on validation loss,
``last.ckpt`` every ``checkpoint_every_n_steps`` steps and at each epoch end), ``metrics.csv``
(+ TensorBoard logs if tensorboard is installed), ``loss.png``, and ``model.safetensors``, the
location encoder alone. Rerunning the same command in the same folder resumes from last.ckpt.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satclip._files import save_figure
from satclip.errors import InputError, InputFileNotFoundError
from satclip.training.config import DataConfig, TrainConfig, save_config


def _datasets(cfg: TrainConfig) -> tuple[Any, Any]:
    from torch.utils.data import Subset

    from satclip.data import BlueMarbleDataset, S2100KDataset, split_indices
    from satclip.data.bluemarble import BlueMarbleConfig, build_bluemarble, channel_names, true_colour_triples
    from satclip.data.datasets import SeasonalViews
    from satclip.data.transforms import CenterCrop

    d = cfg.data
    val_tf = CenterCrop(d.crop) if d.crop else None
    train_ds: BlueMarbleDataset | S2100KDataset
    val_ds: BlueMarbleDataset | S2100KDataset
    if d.dataset == "bluemarble":
        root = Path(d.root)
        build = BlueMarbleConfig(
            n=d.n, size=d.size, seed=cfg.seed, months=d.months, layers=d.layers, scales=d.scales
        )
        if not (root / "manifest.json").exists():
            build_bluemarble(build, root)
        val_ds = BlueMarbleDataset(root, val_tf)
        channels = val_ds.manifest["channels"]
        if channels != channel_names(build):
            raise InputError(
                f"{root} holds channels {', '.join(channels)}, but the config's data.months / data.layers / "
                f"data.scales ({list(d.months)} / {list(d.layers)} / {list(d.scales)}) ask for "
                f"{', '.join(channel_names(build))}; set them to match the build, or point data.root at a new folder"
            )
        seasons = (
            SeasonalViews(channels, d.annual_share, random=True, pairs=d.season_pairs) if d.seasonal else None
        )
        shown = seasons.channels if seasons else len(channels)
        if shown != cfg.image.in_channels:
            what = "each seasonal sample shows" if seasons else "has"
            raise InputError(
                f"{root} {what} {shown} channels ({', '.join(channels[:6])}{', ...' if len(channels) > 6 else ''}) "
                f"but image.in_channels is {cfg.image.in_channels}; pass image.in_channels={shown}"
            )
        # Only the true-colour triples are colour-jittered, not the night lights.
        groups = [[0, 1, 2]] if seasons else true_colour_triples(channels)
        train_ds = BlueMarbleDataset(root, _train_transform(d, groups), seasons)
        if seasons:
            val_ds = BlueMarbleDataset(root, val_tf, SeasonalViews(channels, d.annual_share, random=False))
    elif d.dataset == "s2-100k":
        if d.color_jitter > 0:
            raise InputError(
                "data.color_jitter applies to Blue Marble's true-colour channels; S2-100K's 13 bands have "
                "none, so set data.color_jitter=0"
            )
        train_ds, val_ds = S2100KDataset(d.root, _train_transform(d, [])), S2100KDataset(d.root, val_tf)
    else:
        raise InputError(f"unknown dataset {d.dataset!r}; choose bluemarble or s2-100k")
    lon, lat = train_ds.lonlat[:, 0], train_ds.lonlat[:, 1]
    train_idx, val_idx = split_indices(lon, lat, d.split, d.val_fraction, seed=cfg.seed)
    return Subset(train_ds, train_idx.tolist()), Subset(val_ds, val_idx.tolist())


def _train_transform(d: DataConfig, color_groups: list[list[int]]) -> Any:
    from satclip.data.transforms import default_train_transform

    return default_train_transform(
        crop=d.crop,
        jitter_km=d.jitter_km,
        blur=d.blur,
        color_jitter=d.color_jitter,
        color_groups=color_groups,
    )


def _precision(cfg: TrainConfig) -> int | str:
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16-mixed" if torch.cuda.is_available() and cfg.accelerator != "cpu" else "32-true"


@contextmanager
def _process_state_kept() -> Iterator[None]:
    """Put back what a Lightning run changes for the whole process: the global random generators
    (``seed_everything``), its seed variables, and the determinism switches and cuBLAS variable of
    ``Trainer(deterministic=True)``. The caller's random streams and kernels are theirs; a run has
    its own seed. The CUDA generators are put back only if CUDA was in use before: reading them
    would start CUDA, which a run on CPU (or one that forks workers) must not do."""
    py_rng, np_rng, torch_rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    env = {k: os.environ.get(k) for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG")}
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    try:
        yield
    finally:
        random.setstate(py_rng)
        np.random.set_state(np_rng)
        torch.set_rng_state(torch_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark


def train(cfg: TrainConfig, run_dir: str | os.PathLike[str], progress: bool = True) -> Path:
    """Train (or resume) in ``run_dir``; returns the exported location-encoder file. The
    process's random generators and torch settings are as they were when it returns."""
    with _process_state_kept():
        return _train(cfg, run_dir, progress)


def _train(cfg: TrainConfig, run_dir: str | os.PathLike[str], progress: bool) -> Path:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader

    from satclip.training.module import SatCLIPModule

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run / "config.yaml")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    train_ds, val_ds = _datasets(cfg)
    d = cfg.data
    loader_kw: dict[str, Any] = {"batch_size": d.batch_size, "num_workers": d.num_workers}
    if d.num_workers > 0:
        loader_kw["persistent_workers"] = True
    train_dl = DataLoader(
        train_ds, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(cfg.seed), **loader_kw
    )
    val_dl = DataLoader(val_ds, shuffle=False, **loader_kw)
    ckpt_dir = run / "checkpoints"
    # Two callbacks write last.ckpt (Lightning takes steps or epochs, not both, per callback).
    # Without enable_version_counter=False the second to write found the first's file and wrote
    # last-v1.ckpt, so last.ckpt, which a rerun resumes from, lagged up to an epoch behind.
    callbacks: list[Any] = [
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val_loss", mode="min", save_top_k=1),
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="last",
            enable_version_counter=False,
            every_n_train_steps=cfg.checkpoint_every_n_steps,
        ),
        ModelCheckpoint(
            dirpath=ckpt_dir, filename="last", enable_version_counter=False, save_on_train_epoch_end=True
        ),
    ]
    if cfg.optim.ema_decay:
        from lightning.pytorch.callbacks import EMAWeightAveraging

        callbacks.append(
            EMAWeightAveraging(decay=cfg.optim.ema_decay, update_starting_at_step=cfg.optim.ema_start_step)
        )
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    loggers: list[Any] = [CSVLogger(run, name="", version="logs")]
    if importlib.util.find_spec("tensorboard") is not None:  # optional: CSV always, TensorBoard if installed
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(run, name="", version="tensorboard"))
    trainer = pl.Trainer(
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=_precision(cfg),  # type: ignore[arg-type]
        accumulate_grad_batches=cfg.optim.accumulate_grad_batches,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=progress,
        enable_model_summary=False,
        check_val_every_n_epoch=cfg.val_every_n_epochs,
        log_every_n_steps=10,
        deterministic=cfg.accelerator == "cpu",
        default_root_dir=run,
    )
    resume = ckpt_dir / "last.ckpt"
    trainer.fit(SatCLIPModule(cfg), train_dl, val_dl, ckpt_path=str(resume) if resume.exists() else None)
    if trainer.global_rank != 0:
        return run / "model.safetensors"
    plot_losses(run)
    return export(run, run / "model.safetensors")


def read_metrics(run: Path) -> list[dict[str, str]]:
    path = run / "logs" / "metrics.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def plot_losses(run: Path) -> Path | None:
    """loss.png: training loss per step and validation loss per epoch."""
    from matplotlib.figure import Figure

    rows = read_metrics(run)
    if not rows:
        return None
    steps = [(int(r["step"]), float(r["train_loss_step"])) for r in rows if r.get("train_loss_step")]
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r.get("val_loss")]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    if steps:
        s, v = zip(*steps, strict=True)
        ax.plot(s, v, lw=0.8, alpha=0.6, label="train (step)")
    if val:
        s, v = zip(*val, strict=True)
        ax.plot(s, v, "o-", label="validation (epoch)")
    ax.set_xlabel("step")
    ax.set_ylabel("CLIP loss")
    ax.set_title(run.name)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, run / "loss.png")


def export(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], which: str = "best") -> Path:
    """The location encoder of a run's ``best`` (or ``last``) checkpoint as a satclip model file;
    ``run_dir`` may also be one checkpoint file of a run."""
    from satclip.checkpoints import convert_run, save
    from satclip.training.config import from_dict

    run = Path(run_dir)
    ckpt_path = run if run.is_file() else run / "checkpoints" / f"{which}.ckpt"
    if not ckpt_path.exists():
        ckpt_path = run / "checkpoints" / "last.ckpt"
    if not ckpt_path.exists():
        raise InputFileNotFoundError(
            f"{run}: no checkpoints/best.ckpt or last.ckpt; is this a satclip run folder?"
        )
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    enc = convert_run(ckpt, ckpt_path)
    cfg = from_dict(ckpt["hyper_parameters"]["config"])
    enc.training_index = training_locations(cfg)
    out = Path(out)
    return save(enc, out)


def training_locations(cfg: TrainConfig) -> np.ndarray | None:
    """The (lon, lat) of a run's training split, saved with the model for out-of-distribution
    flags; None (with a warning) when the dataset is no longer where the run read it."""
    from satclip.data import BlueMarbleDataset, S2100KDataset, split_indices

    d = cfg.data
    try:
        ds = BlueMarbleDataset(d.root) if d.dataset == "bluemarble" else S2100KDataset(d.root)
    except (FileNotFoundError, ValueError) as e:
        warnings.warn(f"no training index saved with the model (dataset unreadable: {e})", stacklevel=2)
        return None
    lon, lat = ds.lonlat[:, 0], ds.lonlat[:, 1]
    train_idx, _ = split_indices(lon, lat, d.split, d.val_fraction, seed=cfg.seed)
    return ds.lonlat[train_idx]
