"""Importing and using satclip leaves the user's process as it found it: matplotlib's backend and
settings, PIL's decompression-bomb limit, environment variables, torch's threads, generators and
switches, warning filters, logging, signal handlers and the like.

Everything runs in one fresh interpreter, so the state of this test process does not matter.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import satclip
from satclip.errors import SatCLIPError

# Run in the child. It snapshots the process, imports every satclip module, runs each quick
# command in-process, snapshots again and prints both snapshots as JSON on its last line.
SCRIPT = r"""
import importlib, json, locale, logging, os, pkgutil, random, signal, sys, warnings
from pathlib import Path

# Third-party libraries that change the process when they are imported (scikit-learn sets
# KMP_* variables; it, torch, SciPy and NumPy add warning filters): imported before the first
# snapshot, as any user of satclip has them. What they do is theirs, not satclip's.
import numpy as np
import scipy.special
import sklearn
import torch

# Through rich, scikit-learn's estimators draw from Python's global random generator on import.
import sklearn.preprocessing

# rasterio points GDAL and PROJ at certifi's CA bundle through the environment.
import rasterio

work, koppen, dataset = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]


def snapshot():
    import matplotlib
    from PIL import Image

    return {
        "matplotlib backend": matplotlib.get_backend(),
        "matplotlib rcParams": {k: repr(v) for k, v in matplotlib.rcParams.items()},
        "pyplot imported": "matplotlib.pyplot" in sys.modules,
        "PIL.Image.MAX_IMAGE_PIXELS": Image.MAX_IMAGE_PIXELS,
        "os.environ": dict(os.environ),
        "cwd": os.getcwd(),
        "torch threads": torch.get_num_threads(),
        "torch interop threads": torch.get_num_interop_threads(),
        "torch deterministic": [
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ],
        "torch cudnn benchmark": torch.backends.cudnn.benchmark,
        "torch default dtype": str(torch.get_default_dtype()),
        "torch grad enabled": torch.is_grad_enabled(),
        "torch float32 matmul precision": torch.get_float32_matmul_precision(),
        "torch random state": torch.get_rng_state().tolist(),
        "numpy random state": [np.random.get_state()[1].tolist(), np.random.get_state()[2]],
        "python random state": repr(random.getstate()),
        "numpy errors": np.geterr(),
        "numpy print options": {k: repr(v) for k, v in np.get_printoptions().items()},
        "warnings.filters": [repr(f) for f in warnings.filters],
        "logging root": [logging.root.level, repr(logging.root.handlers)],
        "recursion limit": sys.getrecursionlimit(),
        "signal handlers": {s.name: repr(signal.getsignal(s)) for s in signal.valid_signals()
                            if hasattr(s, "name") and s not in (signal.SIGKILL, signal.SIGSTOP)},
        "locale": locale.setlocale(locale.LC_ALL),
        "stdout, stderr": [repr(sys.stdout), repr(sys.stderr)],
    }


before = snapshot()
done = []
import time

t0 = time.perf_counter()


def step(what):
    global t0
    done.append(f"{what} ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()


import satclip

for mod in pkgutil.walk_packages(satclip.__path__, "satclip."):
    if not mod.name.endswith("__main__"):  # that one runs the command line
        importlib.import_module(mod.name)
step("import every module")

import pandas as pd
from PIL import Image

from satclip.cli import main

rng = np.random.default_rng(0)
pd.DataFrame({"lon": rng.uniform(-180, 180, 3000), "lat": rng.uniform(-90, 90, 3000)}).to_csv(
    work / "points.csv", index=False
)
model = "satclip-bluemarble-l10"  # in the package: nothing to download
commands = [
    ["list"],
    ["info", "--model", model],
    ["demo"],
    ["embed", str(work / "points.csv"), "-o", str(work / "emb.parquet"), "--model", model, "-q"],
    # --global-pca: no land mask to read (seconds); the drawing is what matters here.
    ["map", "--model", model, "--resolution", "10", "--global-pca", "-o", str(work / "map.png")],
    ["raster", "--model", model, "--bbox", "5,45,7,47", "--resolution", "0.5", "--pca", "3",
     "-o", str(work / "r.tif"), "-q"],
    ["data", "preview", dataset, "-o", str(work / "preview.png"), "--patches", "4"],
]
for argv in commands:
    assert main(argv) == 0, argv
    step("satclip " + argv[0] + (" " + argv[1] if argv[0] == "data" else ""))
with Image.open(work / "map.png") as im:
    assert im.width > 100

satclip.load(model).embed(rng.uniform(-180, 180, 20000), rng.uniform(-90, 90, 20000))
step("satclip.load + embed")

# Evaluation: per-fold scores of a small task and its charts.
from satclip.evaluation import suite
from satclip.evaluation.tasks import Task

lon, lat = rng.uniform(-180, 180, 400), rng.uniform(-60, 70, 400)
task = Task("toy", "regression", np.stack([lon, lat], 1), lat.copy(), np.full(400, "World"))
rows = suite.evaluate(task, ["sh4", "wrap"], splits=["random"]).to_dict("records")
suite.write_outputs(rows, work / "eval")
assert (work / "eval" / "toy.png").exists()
step("evaluate + write_outputs")

# The Köppen map (84 megapixels), which read_image opens with PIL's limit lifted for it alone.
from satclip.evaluation import geodata

if koppen:
    assert geodata.read_image("koppen").size > 80e6
    step("read_image koppen")
else:
    Image.new("L", (100, 80)).save(work / "stand-in.png")
    geodata.fetch = lambda name: work / "stand-in.png"
    geodata.read_image("koppen")
    step("read_image (a stand-in: the Köppen map is not cached and not fetchable)")

# The loss plot of a training run, from its metrics file.
from satclip.training.run import plot_losses

(work / "run" / "logs").mkdir(parents=True)
(work / "run" / "logs" / "metrics.csv").write_text(
    "step,train_loss_step,val_loss\n1,3.0,\n2,2.5,\n2,,2.7\n3,2.0,\n4,1.8,\n4,,2.1\n"
)
assert plot_losses(work / "run") == work / "run" / "loss.png"
step("plot_losses")

print(json.dumps({"before": before, "after": snapshot(), "done": done}))
"""


def _diff(before: dict, after: dict) -> list[str]:
    lines = []
    for key in before:
        a, b = before[key], after[key]
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k, "<unset>") != b.get(k, "<unset>"):
                    lines.append(f"{key}[{k!r}]: {a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r}")
        elif isinstance(a, list) and all(isinstance(x, str) for x in a + b):
            changes = [f"{key}: added {x}" for x in b if x not in a]
            changes += [f"{key}: removed {x}" for x in a if x not in b]
            lines += changes or [f"{key}: reordered"]
        else:
            text = f"{a!r} -> {b!r}"
            lines.append(f"{key}: {text if len(text) < 300 else 'changed'}")
    return lines


@pytest.mark.slow
def test_using_satclip_changes_nothing_in_the_users_process(cache, bluemarble_tiny, tmp_path):
    from satclip.sources import fetch

    try:
        fetch("koppen")
        koppen = True
    except (SatCLIPError, OSError):  # offline with an empty cache: a stand-in image takes its place
        koppen = False
    env = {
        **os.environ,
        # A backend that matplotlib.use("Agg") would visibly replace; no display needed.
        "MPLBACKEND": "svg",
        # The satclip under test, wherever this process imports it from.
        "PYTHONPATH": str(Path(satclip.__file__).parents[1]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(int(koppen)), str(bluemarble_tiny)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["before"]["matplotlib backend"] == "svg"
    changed = _diff(report["before"], report["after"])
    print("\n".join(report["done"]))
    assert not changed, "after: " + "; ".join(report["done"]) + "\nchanged:\n" + "\n".join(changed)
