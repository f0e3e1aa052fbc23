"""Evaluation splits: ``random`` (80/20 over seeds), ``block`` (spatial-block K-fold, 10° blocks,
as CoordBench; smaller for a regional task) and ``continent`` (train on all other continents, test on one held out; not for
cal_housing, all in one continent, nor countries and regions, whose classes never cross one; a
held-out continent where a regression target is constant is left out, as R² cannot score it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from satclip.errors import InputError
from satclip.evaluation.tasks import Task
from satclip.geography import block_ids

SPLITS = ("random", "block", "continent")
RANDOM_SEEDS = (0, 1, 2)
BLOCK_FOLDS = 5
BLOCK_DEG = 10.0
MIN_CONTINENT_POINTS = 100
# Tasks whose classes are places inside one continent: holding a continent out leaves its test
# classes unseen in training, so the score would measure nothing.
NO_CONTINENT_SPLIT = frozenset({"countries", "regions"})


def folds(
    task: Task, split: str, block_deg: float | None = None
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(fold name, train indices, test indices) for a split of a task.

    ``block_deg`` sets the block split's block size in degrees (default 10°, halved for a
    regional task until there are two blocks per fold)."""
    n = len(task.y)
    if split == "random":
        # A monthly task's rows are places × months: its places are split, all months of a place
        # on one side (the block and continent splits do that by themselves).
        _, place = (
            np.unique(task.lonlat, axis=0, return_inverse=True) if task.time is not None else (None, None)
        )
        for seed in RANDOM_SEEDS:
            if place is None:
                perm = np.random.default_rng(seed).permutation(n)
                k = n // 5
                yield f"seed{seed}", np.sort(perm[k:]), np.sort(perm[:k])
                continue
            places = place.max() + 1
            test_places = np.random.default_rng(seed).permutation(places)[: places // 5]
            in_test = np.isin(place.ravel(), test_places)
            yield f"seed{seed}", np.flatnonzero(~in_test), np.flatnonzero(in_test)
    elif split == "block":
        from sklearn.model_selection import GroupKFold

        # 10° blocks; a regional task (cal_housing spans three) halves them until there are
        # at least two blocks per fold.
        deg = BLOCK_DEG if block_deg is None else block_deg
        if not deg > 0:
            raise InputError(f"block_deg must be a positive number of degrees, got {block_deg!r}")
        groups = block_ids(task.lonlat[:, 0], task.lonlat[:, 1], deg)
        while len(np.unique(groups)) < 2 * BLOCK_FOLDS:
            deg /= 2
            groups = block_ids(task.lonlat[:, 0], task.lonlat[:, 1], deg)
        # Shuffle block ids so folds are not latitude bands (GroupKFold balances sizes).
        _, inverse = np.unique(groups, return_inverse=True)
        shuffled = np.random.default_rng(0).permutation(inverse.max() + 1)[inverse]
        for i, (train, test) in enumerate(
            GroupKFold(n_splits=BLOCK_FOLDS).split(task.lonlat, groups=shuffled)
        ):
            yield f"fold{i}", train, test
    elif split == "continent":
        if task.name in NO_CONTINENT_SPLIT:
            return
        known = task.continent != ""
        names, counts = np.unique(task.continent[known], return_counts=True)
        held_out = names[counts >= MIN_CONTINENT_POINTS]
        if len(held_out) < 2:
            return  # one continent only (cal_housing): nothing to hold out
        for c in held_out:
            test = np.flatnonzero(task.continent == c)
            if task.kind == "regression" and np.ptp(task.y[test]) == 0:
                # R² is undefined on a constant target (no towns in Antarctica): scikit-learn
                # scores any prediction there 0.0, which would lift every encoder's mean alike.
                continue
            train = np.flatnonzero(known & (task.continent != c))
            yield c, train, test
    else:
        raise InputError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
