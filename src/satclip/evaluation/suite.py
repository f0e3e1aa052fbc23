"""Run encoders × tasks × splits with a probe; write per-fold CSV, a markdown table and charts."""

from __future__ import annotations

import csv
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from satclip._compat import renamed, warn_renamed
from satclip._files import atomic_open, save_figure, write_text
from satclip.errors import InputError
from satclip.evaluation.encoders import INTERACT_SUFFIX, ModelsLike, interact_month, resolve_models
from satclip.evaluation.probes import PROBES, fit_score
from satclip.evaluation.splits import folds
from satclip.evaluation.tasks import Task, list_tasks, load_task

FIELDS = [
    "encoder",
    "task",
    "metric",
    "probe",
    "split",
    "labels",
    "fold",
    "score",
    "n_train",
    "n_test",
    "seconds",
]
# Few-label regimes draw their labelled points from each fold's training part with these seeds.
LABEL_SEEDS = (0, 1, 2)


def parse_labels(values: Sequence[int | str]) -> list[int | str]:
    """Label regimes: ``"all"`` (the whole training part of each fold) or a positive count."""
    out: list[int | str] = []
    for v in values:
        if isinstance(v, str) and v.strip() == "all":
            out.append("all")
            continue
        try:
            n = int(v)
        except (TypeError, ValueError):
            n = 0
        if n < 2 or isinstance(v, float):
            raise InputError(
                f"n_train takes 'all' or label counts of at least 2, e.g. [100, 1000, 'all']; got {v!r}"
            )
        out.append(n)
    if not out:
        raise InputError("n_train is empty: give 'all' or label counts, e.g. [100, 1000, 'all']")
    return list(dict.fromkeys(out))


def _label_draws(train: np.ndarray, labels: int | str) -> list[tuple[str, np.ndarray]]:
    """(suffix, indices) of the labelled points a regime takes from a fold's training part."""
    if labels == "all":
        return [("", train)]
    n = int(labels)
    if n >= len(train):
        return []  # this fold has no more labels than that: the "all" regime covers it
    return [
        (f"/s{seed}", np.sort(np.random.default_rng(seed).choice(train, n, replace=False)))
        for seed in LABEL_SEEDS
    ]


def regime(row: dict[str, Any]) -> str:
    """How rows are grouped in tables: the split, and the label count where it is not all."""
    labels = str(row.get("labels", "all"))
    return row["split"] if labels == "all" else f"{row['split']}, {labels} labels"


def parse_names(text: str, valid: list[str] | tuple[str, ...], what: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["all"]:
        return list(valid)
    bad = [n for n in names if n not in valid]
    if bad:
        raise InputError(f"unknown {what} {bad}; choose from: {', '.join(valid)} (or 'all')")
    return names


@renamed(encoders="models")
def run(
    models: ModelsLike,
    tasks: Sequence[str | Task],
    probe: str = "linear",
    splits: list[str] | None = None,
    progress: bool = True,
    block_deg: float | None = None,
    n_train: Sequence[int | str] = ("all",),
) -> list[dict[str, Any]]:
    """Per-fold scores for every model, task (a built-in name or a :class:`Task`) and split.

    ``models``: a list of models, each what :func:`satclip.load` takes (``"sh40"``, a
    pretrained name, a model file, ``"geoclip"``) or a model object (an encoder just trained,
    any object with ``embed_array``), labelled in the rows by its spec or class name; or a dict
    ``{label: model}``. ``"idw"`` adds the interpolation reference row (the labels interpolated
    on the coordinates themselves), ``"imagery"`` the imagery reference row (the pretraining
    imagery's pixels at each point as probe features, :mod:`satclip.evaluation.imagery`). With a
    monthly task among ``tasks`` every model but ``idw`` also gets a ``"LABEL ×month"`` row
    there: its embedding times the annual cycle as probe features
    (:func:`satclip.evaluation.encoders.interact_month`).

    ``n_train``: label regimes: ``"all"`` fits each probe on the whole training part of a fold;
    a count ``n`` fits it on ``n`` points drawn from that part with each of three seeds (and is
    tested on the same test part), the few-label regime of a user with a small survey."""
    from tqdm import tqdm

    splits = splits or ["random"]
    if probe not in PROBES:
        raise InputError(f"unknown probe {probe!r}; choose one of {', '.join(PROBES)}")
    regimes = parse_labels(n_train)
    # Loads every model first: a bad name fails before scoring. A row's features may be None
    # for a task (no row there; see interact_month).
    resolved = resolve_models(models)
    features: dict[str, Callable[[np.ndarray, np.ndarray | None], np.ndarray | None]] = dict(resolved)
    rows: list[dict[str, Any]] = []
    loaded = {t.name: t for t in (load_task(t) if isinstance(t, str) else t for t in tasks)}
    if any(t.time is not None for t in loaded.values()):  # the ×month rows (see encoders)
        features |= {
            name + INTERACT_SUFFIX: interact_month(fn)
            for name, fn in resolved.items()
            if getattr(fn, "probe", None) is None  # not the idw reference row
        }
    jobs = [
        (t, s, f"{fold}{suffix}", labels, part, test)
        for t in loaded
        for s in splits
        for fold, train, test in folds(loaded[t], s, block_deg)
        for labels in regimes
        for suffix, part in _label_draws(train, labels)
    ]
    with tqdm(total=len(jobs) * len(features), disable=not progress, desc=f"evaluating ({probe})") as bar:
        for name, fn in features.items():
            used = getattr(fn, "probe", None) or probe  # the idw row has a probe of its own
            cache: dict[str, np.ndarray | None] = {}
            for task_name, split, fold, labels, train, test in jobs:
                task = loaded[task_name]
                if task.time is None and getattr(fn, "monthly_only", False):
                    bar.update(1)
                    continue
                if task_name not in cache:
                    cache[task_name] = fn(task.lonlat, task.time)
                x = cache[task_name]
                if x is None:  # a row this model does not get (a ×month row too wide to fit)
                    bar.update(1)
                    continue
                bar.set_postfix_str(f"{name} {task_name} {split}")
                bar.update(1)
                t0 = time.perf_counter()
                score = fit_score(used, task.kind, x[train], task.y[train], x[test], task.y[test])
                seconds = round(time.perf_counter() - t0, 2)
                row: dict[str, Any] = {
                    "encoder": name,
                    "task": task_name,
                    "metric": task.metric,
                    "probe": used,
                    "split": split,
                    "labels": labels,
                }
                row |= {
                    "fold": fold,
                    "score": score,
                    "n_train": len(train),
                    "n_test": len(test),
                    "seconds": seconds,
                }
                rows.append(row)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[float, float, int]]:
    """(regime, task, encoder) → (mean, std, folds); the regime is the split and, in a
    few-label regime, its label count ("block, 100 labels")."""
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        groups[(regime(r), r["task"], r["encoder"])].append(r["score"])
    return {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in groups.items()}


def mean_ranks(summary: dict[tuple[str, str, str], tuple[float, float, int]]) -> dict[tuple[str, str], float]:
    """(split, encoder) → mean rank over tasks (1 = best), by mean score per task."""
    by_task: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for (split, task, enc), (mean, _, _) in summary.items():
        by_task[(split, task)][enc] = mean
    ranks: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (split, _), scores in by_task.items():
        order = sorted(scores, key=lambda e: -scores[e])
        for i, enc in enumerate(order):
            ranks[(split, enc)].append(i + 1)
    return {k: float(np.mean(v)) for k, v in ranks.items()}


def markdown(rows: list[dict[str, Any]]) -> str:
    summary = summarise(rows)
    ranks = mean_ranks(summary)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    metric = {r["task"]: r["metric"] for r in rows}
    probe = next((r["probe"] for r in rows if r["probe"] != "idw"), "idw")
    out = []
    for split in dict.fromkeys(regime(r) for r in rows):
        ref = "; `idw`: the labels interpolated on the coordinates" if "idw" in encoders else ""
        if "imagery" in encoders:
            ref += "; `imagery`: the pretraining imagery read at the point"
        if any(e.endswith(INTERACT_SUFFIX) for e in encoders):
            ref += f";{INTERACT_SUFFIX}: the embedding times the annual cycle as well"
        out.append(f"### split: {split} (probe: {probe}{ref}; mean ± std over folds; best in bold)\n")
        head = ["encoder", *[f"{t} ({metric[t]})" for t in tasks], "mean rank"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        best = {
            t: max((summary[(split, t, e)][0] for e in encoders if (split, t, e) in summary), default=None)
            for t in tasks
        }
        for e in encoders:
            cells = [e]
            for t in tasks:
                if (split, t, e) not in summary:
                    cells.append("–")
                    continue
                m, s, _ = summary[(split, t, e)]
                cell = f"{m:.3f} ± {s:.3f}"
                cells.append(f"**{cell}**" if m == best[t] else cell)
            cells.append(f"{ranks.get((split, e), float('nan')):.2f}")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


@renamed(out_dir="out")
def write_outputs(rows: list[dict[str, Any]], out: str | os.PathLike[str]) -> Path:
    """results.csv (per fold), results.md (table) and one bar chart per task."""
    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    write_text(out / "results.md", markdown(rows))
    summary = summarise(rows)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    splits = list(dict.fromkeys(regime(r) for r in rows))
    for task in dict.fromkeys(r["task"] for r in rows):
        # Regimes share a group's width, so that nine regimes do not make a chart 66 inches wide.
        fig = Figure(figsize=(2.0 + 0.9 * len(encoders) * min(len(splits), 3), 3.6))
        ax = fig.subplots()
        width = 0.8 / len(splits)
        for j, split in enumerate(splits):
            xs, means, stds = [], [], []
            for i, e in enumerate(encoders):
                if (split, task, e) in summary:
                    m, s, _ = summary[(split, task, e)]
                    xs.append(i + j * width)
                    means.append(m)
                    stds.append(s)
            ax.bar(xs, means, width, yerr=stds, capsize=3, label=split)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(encoders))], encoders, rotation=20, ha="right")
        metric = next(r["metric"] for r in rows if r["task"] == task)
        ax.set_ylabel(metric)
        lowest = min([0.0, *(v[0] for k, v in summary.items() if k[1] == task)])
        # One extrapolating fold can give an R² of -20: clipped at -1 (results.md has the value),
        # the other bars stay readable.
        ax.set_ylim(bottom=max(lowest - 0.05, -1.0), top=1.05)  # R² and accuracy are at most 1
        ax.set_title(task)
        ax.legend(fontsize=7, ncols=3 if len(splits) > 3 else 1)
        fig.tight_layout()
        save_figure(fig, out / f"{task}.png", dpi=100)
    return out


@renamed(encoders="models")
def evaluate(
    models: ModelsLike,
    task: str | os.PathLike[str] | Task | Any,
    target: str | None = None,
    kind: str | None = None,
    probe: str = "linear",
    splits: Sequence[str] = ("random", "block"),
    block_deg: float | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    geometry_col: str | None = None,
    crs: Any | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    progress: bool = False,
    n_train: Sequence[int | str] = ("all",),
    month_col: str | None = None,
    date_col: str | None = None,
) -> Any:
    """Per-fold scores of ``models`` on one task, as a pandas DataFrame (columns as in
    ``results.csv``: encoder, task, metric, probe, split, fold, score, n_train, n_test, seconds).

    ``models``: as in :func:`run`: specs and model objects mixed, or a dict ``{label: model}``
    (one spec alone is one model).

    ``n_train``: label regimes as in :func:`run` (``[100, 1000, "all"]``: with 100 and 1 000
    labelled points, three draws each, and with all of them).

    ``task``: a built-in task name, a :class:`Task`, a file of labelled points (CSV, Parquet,
    GeoParquet, Excel, vector files) or a DataFrame, whose ``target`` column is the label; ``kind``, the
    coordinate options, ``delimiter``, ``sheet`` and ``month_col``/``date_col`` (a monthly task)
    are those of :func:`satclip.evaluation.custom.task_from_file` (a frame's coordinate columns
    are found by name when ``lon_col``/``lat_col`` are not given).

        >>> evaluate(["satclip-bluemarble-viirs-l40-v4", "sh40"], "houses.csv", target="value")
        >>> evaluate({"mine": my_encoder, "onnx": "m.onnx", "sh40": "sh40"}, frame, target="value")

    (Before 0.2 the task came first; ``evaluate(task, [models])`` still works, with a
    ``FutureWarning``.)
    """
    import pandas as pd

    if isinstance(task, list | tuple) and not isinstance(models, list | tuple):
        warn_renamed("evaluate()", "evaluate(task, encoders)", "evaluate(models, task)")
        models, task = task, models

    if isinstance(task, Task):
        resolved: str | Task = task
    elif hasattr(task, "columns"):  # a DataFrame in memory
        if target is None:
            raise InputError("a DataFrame task needs target=, the column that holds the label")
        from satclip.evaluation.custom import task_from_frame

        resolved = task_from_frame(
            task, target, kind, lon_col=lon_col, lat_col=lat_col, month_col=month_col, date_col=date_col
        )
    elif isinstance(task, str) and task in list_tasks() and target is None:
        resolved = task
    else:
        if target is None:
            raise InputError(f"{task}: a task file needs target=, the column that holds the label")
        from satclip.evaluation.custom import task_from_file

        resolved = task_from_file(
            task, target, kind, lon_col=lon_col, lat_col=lat_col, geometry_col=geometry_col,
            crs=crs, delimiter=delimiter, sheet=sheet, month_col=month_col, date_col=date_col,
        )  # fmt: skip
    rows = run(
        models, [resolved], probe, list(splits), progress=progress, block_deg=block_deg, n_train=n_train
    )
    return pd.DataFrame(rows, columns=FIELDS)
