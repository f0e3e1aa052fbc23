"""How far can the pretraining imagery itself carry a linear probe to an unseen continent?

    .venv/bin/python scripts/imagery_ceiling.py [--checkpoint RUN/checkpoints/best.ckpt]
        [--encoders satclip-bluemarble-viirs-l40 geoclip ...] [--layers night-viirs]

A location encoder learns to predict, from (lon, lat), what the image encoder sees there. Its
embedding can carry a probe to a continent the probe never saw only as far as the imagery's
content does. This script measures that ceiling on the suite's regression tasks, continent
split, with the suite's linear probe (standardised features, ridge by leave-one-out):

- ``pixels``: the imagery at each task point, cut as the pretraining cut it (Blue Marble true
  colour plus ``--layers``, 32 x 32 pixels at 7.4 km in the point's local frame): each
  channel's mean and standard deviation over the patch and a 4 x 4 grid of block means;
  ``channel-means`` the first of these alone; ``pixels+wrap`` them beside the coarse location
  (sin/cos of lon and lat);
- ``image-encoder`` (with ``--checkpoint``): that run's image encoder on the centre 28 x 28 of
  the patch, i.e. the embedding a location encoder that matched its image side exactly would give;
- ``constant``: the training continents' mean (a probe that learned nothing);
- every name in ``--encoders``, as ``satclip evaluate`` resolves it.

Prints the mean R² over held-out continents per task and feature set, then the per-continent
scores. A diagnostic for the research notes
(docs/research/models-night-lights.md), not part of the suite.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from sklearn.metrics import r2_score

from satclip.data.bluemarble import cut_patches
from satclip.evaluation.encoders import resolve_models
from satclip.evaluation.probes import fit_score
from satclip.evaluation.splits import folds
from satclip.evaluation.tasks import load_task
from satclip.geography import EQUATOR_KM
from satclip.sources import fetch

TASKS = ("elevation", "air_temp", "population")
SIZE = 32


def imagery_patches(lonlat: np.ndarray, layers: list[str]) -> np.ndarray:
    """(P, C, 32, 32) float32 patches in [0, 1] of Blue Marble + ``layers`` around the points,
    cut exactly as ``satclip data build bluemarble`` cuts them."""
    from PIL import Image

    images = []
    for name in ["bluemarble", *layers]:
        with Image.open(fetch(name)) as im:
            images.append(np.asarray(im.convert("RGB")))
    pixel_km = EQUATOR_KM / images[0].shape[1]
    out = []
    for start in range(0, len(lonlat), 4096):
        chunk = lonlat[start : start + 4096]
        patch = cut_patches(images, chunk[:, 0], chunk[:, 1], SIZE, pixel_km, (1.0,))
        out.append(np.clip(np.rint(patch), 0, 255).astype(np.float32) / 255.0)
    return np.concatenate(out)


def pixel_features(patches: np.ndarray) -> np.ndarray:
    """(P, 8·C) per-channel mean and std over the patch, and a 4 x 4 grid of block means."""
    p, c = patches.shape[:2]
    blocks = patches.reshape(p, c, 4, SIZE // 4, 4, SIZE // 4).mean(axis=(3, 5)).reshape(p, -1)
    return np.concatenate([patches.mean(axis=(2, 3)), patches.std(axis=(2, 3)), blocks], axis=1)


def image_encoder_features(checkpoint: str) -> Callable[[np.ndarray], np.ndarray]:
    """The run's image encoder on the centre 28 x 28 of each patch (as validation crops it)."""
    import torch

    from satclip.training.config import from_dict
    from satclip.training.image_encoders import ImageEncoder

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = from_dict(ckpt["hyper_parameters"]["config"])
    enc = ImageEncoder(cfg.image)
    prefix = "image_encoder."
    enc.load_state_dict({k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)})
    enc.eval()
    crop = cfg.data.crop or SIZE
    lo = (SIZE - crop) // 2

    def features(patches: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(patches[:, :, lo : lo + crop, lo : lo + crop].copy())
            return torch.cat([enc(x[i : i + 2048]) for i in range(0, len(x), 2048)]).numpy()

    return features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", help="a training run's checkpoints/best.ckpt (its image encoder)")
    ap.add_argument("--encoders", nargs="*", default=[], help="location encoders, as in satclip evaluate")
    ap.add_argument("--layers", nargs="*", default=["night-viirs"], help="imagery layers beside Blue Marble")
    args = ap.parse_args()
    image_fn = image_encoder_features(args.checkpoint) if args.checkpoint else None
    location = resolve_models(args.encoders) if args.encoders else {}
    wrap = resolve_models(["wrap"])["wrap"]
    means: dict[tuple[str, str], float] = {}
    lines = []
    for task_name in TASKS:
        task = load_task(task_name)
        patches = imagery_patches(task.lonlat, args.layers)
        pixels = pixel_features(patches)
        channels = patches.shape[1]
        sets = {
            "pixels": pixels,
            "channel-means": pixels[:, :channels],
            "pixels+wrap": np.concatenate([pixels, wrap(task.lonlat)], axis=1),
        }
        if image_fn is not None:
            sets["image-encoder"] = image_fn(patches)
        sets |= {name: fn(task.lonlat) for name, fn in location.items()}
        scores: dict[str, list[float]] = {name: [] for name in [*sets, "constant"]}
        for held_out, train, test in folds(task, "continent"):
            y_train, y_test = task.y[train], task.y[test]
            for name, x in sets.items():
                scores[name].append(fit_score("linear", "regression", x[train], y_train, x[test], y_test))
            scores["constant"].append(r2_score(y_test, np.full(len(test), y_train.mean())))
            row = " | ".join(f"{scores[n][-1]:.3f}" for n in scores)
            lines.append(f"| {task_name} | {held_out} | {len(test)} | {row} |")
        for name, values in scores.items():
            means[(name, task_name)] = float(np.mean(values))
        header = " | ".join(scores)
    names = list(dict.fromkeys(n for n, _ in means))
    print("mean R² over held-out continents\n")
    print("| features | " + " | ".join(TASKS) + " |\n|---|" + "---|" * len(TASKS))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{means[(name, t)]:.3f}" for t in TASKS) + " |")
    print(f"\n| task | held out | n | {header} |\n|---|---|---|" + "---|" * len(names))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
