"""scripts/seed_means.py: a try's mean rank in a shipped model's place (the research notes' rank rows)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "seed_means.py"
FIELDS = ["encoder", "task", "metric", "probe", "split", "fold", "score", "n_train", "n_test", "seconds"]


def _write(path: Path, scores: dict[tuple[str, str, str], list[float]]) -> str:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for (enc, split, task), folds in scores.items():
            for i, s in enumerate(folds):
                w.writerow([enc, task, "r2", "linear", split, f"fold{i}", s, 10, 5, 0.1])
    return str(path)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_a_run_takes_the_named_encoders_place(tmp_path: Path) -> None:
    # Reference: "shipped" is best on t1, geoclip on t2; "old" is dropped from the ranks.
    ref = _write(
        tmp_path / "ref.csv",
        {
            ("shipped", "block", "t1"): [0.9, 0.7],
            ("shipped", "block", "t2"): [0.5],
            ("geoclip", "block", "t1"): [0.6],
            ("geoclip", "block", "t2"): [0.7],
            ("wrap", "block", "t1"): [0.1],
            ("wrap", "block", "t2"): [0.2],
            ("old", "block", "t1"): [1.0],
            ("old", "block", "t2"): [1.0],
        },
    )
    # The try: worst on t1 (fold mean 0.05), best on t2 → ranks 3 and 1, mean 2.00;
    # geoclip then ranks 1 on t1 and 2 on t2 → 1.50.
    run = _write(tmp_path / "run.csv", {("try", "block", "t1"): [0.0, 0.1], ("try", "block", "t2"): [0.8]})
    out = _run("X=" + run, "--ranks-in", ref, "--in-place-of", "shipped", "--drop", "old")
    assert out.returncode == 0, out.stderr
    assert "| block, t1 | 0.050 (0.050 – 0.050) |" in out.stdout
    assert "| X, run 1 | 2.00 / 1.50 |" in out.stdout
    # Other peers' ranks in the same table, in the order asked: wrap ranks 2 on t1, 3 on t2.
    out = _run(
        "X=" + run, "--ranks-in", ref, "--in-place-of", "shipped", "--drop", "old", "--peers", "wrap,geoclip"
    )
    assert out.returncode == 0, out.stderr
    assert "| block: run / wrap / geoclip |" in out.stdout
    assert "| X, run 1 | 2.00 / 2.50 / 1.50 |" in out.stdout


@pytest.mark.parametrize("flag", ["--in-place-of", "--drop", "--peers"])
def test_an_encoder_not_in_the_reference_is_named(tmp_path: Path, flag: str) -> None:
    ref = _write(tmp_path / "ref.csv", {("shipped", "block", "t1"): [0.5]})
    run = _write(tmp_path / "run.csv", {("try", "block", "t1"): [0.4]})
    args = ["--in-place-of", "shipped"] if flag != "--in-place-of" else []
    out = _run("X=" + run, "--ranks-in", ref, *args, flag, "shiped")
    assert out.returncode != 0
    assert "'shiped' is not an encoder of the reference results" in out.stderr


def test_a_peer_that_is_replaced_has_no_rank(tmp_path: Path) -> None:
    ref = _write(tmp_path / "ref.csv", {("shipped", "block", "t1"): [0.5], ("old", "block", "t1"): [0.1]})
    run = _write(tmp_path / "run.csv", {("try", "block", "t1"): [0.4]})
    for peer in ("shipped", "old"):
        out = _run(
            "X=" + run, "--ranks-in", ref, "--in-place-of", "shipped", "--drop", "old", "--peers", peer
        )
        assert out.returncode != 0
        assert f"{peer!r} is replaced or dropped" in out.stderr


def test_regimes_come_in_one_order_whatever_the_hash_seed(tmp_path: Path) -> None:
    # Few-label regimes used to tie in the sort and follow a set's order, which changes with
    # PYTHONHASHSEED: a table's header then differed between two runs of the same command.
    scores = {
        (enc, regime, "t1"): [value]
        for enc, value in (("shipped", 0.5), ("geoclip", 0.4))
        for regime in ("random", "block", "block, 100 labels", "block, 1000 labels", "continent, 100 labels")
    }
    ref = _write(tmp_path / "ref.csv", scores)
    run = _write(tmp_path / "run.csv", {("try", regime, "t1"): [0.45] for _, regime, _ in scores})
    headers = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run(
            [sys.executable, str(SCRIPT), "X=" + run, "--ranks-in", ref, "--in-place-of", "shipped"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert out.returncode == 0, out.stderr
        headers.add(next(line for line in out.stdout.splitlines() if line.startswith("| recipe, run")))
    assert headers == {
        "| recipe, run | block: run / geoclip | block, 1000 labels: run / geoclip | block, 100 labels: run / geoclip"
        " | continent, 100 labels: run / geoclip | random: run / geoclip |"
    }
