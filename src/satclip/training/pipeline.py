"""The main job: build (or reuse) the Blue Marble dataset, train ``bluemarble-quick``, evaluate
it against raw harmonics and ``wrap``, and write everything into one run folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

from satclip.training.config import load_config
from satclip.training.run import train

EVAL_TASKS = ["elevation", "air_temp", "climate_zones", "population"]


def pipeline(
    out: str | os.PathLike[str],
    config: str = "bluemarble-quick",
    overrides: list[str] | None = None,
    eval_split: str = "block",
    progress: bool = True,
) -> Path:
    from satclip.evaluation import suite
    from satclip.maps import embedding_map
    from satclip.pretrained import load

    run = Path(out)
    cfg = load_config(config, overrides)
    say = print if progress else (lambda *a, **k: None)
    t0 = time.perf_counter()
    say(f"[1/4] data + [2/4] training {cfg.name} into {run} (resumes if interrupted)")
    model_path = train(cfg, run, progress=progress)
    say(f"      trained in {time.perf_counter() - t0:.0f} s -> {model_path}")
    say(f"[3/4] evaluating on {', '.join(EVAL_TASKS)} ({eval_split} split, linear probe)")
    L = cfg.location.legendre_polys
    rows = suite.run(
        [str(model_path), f"sh{L}", "wrap"], EVAL_TASKS, "linear", [eval_split], progress=progress
    )
    for r in rows:
        if r["encoder"] == str(model_path):
            r["encoder"] = cfg.name
    suite.write_outputs(rows, run / "evaluation")
    say(suite.markdown(rows))
    say("[4/4] drawing the embedding map")
    embedding_map(load(model_path), out=run / "embedding_map.png", title=f"{cfg.name}: first 3 PCs as RGB")
    say(f"done in {time.perf_counter() - t0:.0f} s: {run}")
    return run
