"""The main job: build (or reuse) the Blue Marble dataset, train ``bluemarble-quick``, evaluate
it against raw harmonics, ``wrap``, ``idw`` and the ``imagery`` row, and write everything into
one run folder.

Its steps and the score table are logged at INFO on the ``satclip.training.pipeline`` logger
(``satclip run`` shows them; in Python, ``logging.basicConfig(level=logging.INFO)`` does).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from satclip.training.config import load_config
from satclip.training.run import train

EVAL_TASKS = ["elevation", "air_temp", "climate_zones", "population"]

log = logging.getLogger(__name__)


def pipeline(
    out: str | os.PathLike[str],
    config: str = "bluemarble-quick",
    overrides: list[str] | None = None,
    eval_split: str = "block",
    progress: bool = True,
) -> Path:
    """The run folder ``out``, holding the model, its evaluation and its map; ``progress`` shows
    the training and evaluation progress bars."""
    from satclip.evaluation import suite
    from satclip.maps import embedding_map
    from satclip.pretrained import load

    run = Path(out)
    cfg = load_config(config, overrides)
    t0 = time.perf_counter()
    log.info("[1/4] data + [2/4] training %s into %s (resumes if interrupted)", cfg.name, run)
    model_path = train(cfg, run, progress=progress)
    log.info("      trained in %.0f s -> %s", time.perf_counter() - t0, model_path)
    log.info("[3/4] evaluating on %s (%s split, linear probe)", ", ".join(EVAL_TASKS), eval_split)
    L = cfg.location.legendre_polys
    rows = suite.run(
        [str(model_path), f"sh{L}", "wrap", "idw", "imagery"],
        EVAL_TASKS,
        "linear",
        [eval_split],
        progress=progress,
    )
    for r in rows:
        if r["encoder"] == str(model_path):
            r["encoder"] = cfg.name
    suite.write_outputs(rows, run / "evaluation")
    log.info("%s", suite.markdown(rows))
    log.info("[4/4] drawing the embedding map")
    embedding_map(load(model_path), out=run / "embedding_map.png", title=f"{cfg.name}: first 3 PCs as RGB")
    log.info("done in %.0f s: %s", time.perf_counter() - t0, run)
    return run
