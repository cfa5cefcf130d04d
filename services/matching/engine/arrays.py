"""Small NumPy helpers shared by candidate generation, scoring and the solver."""
from __future__ import annotations

import numpy as np


def expand_groups(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of `counts[i]` items starting at `starts[i]`: the run of every item and its
    position, without a Python loop."""
    counts = counts.astype(np.int64, copy=False)
    total = int(counts.sum())
    run = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if total == 0:
        return run, run.copy()
    first = np.cumsum(counts) - counts
    position = np.arange(total, dtype=np.int64) + np.repeat(starts - first, counts)
    return run, position


def join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with left[i] == right[j]: an equi-join of two key columns by sorting
    the right side once and binary-searching the left side into it."""
    if len(left) == 0 or len(right) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    order = np.argsort(right, kind="stable")
    keys = right[order]
    lo = np.searchsorted(keys, left, side="left")
    hi = np.searchsorted(keys, left, side="right")
    counts = hi - lo
    hit = np.flatnonzero(counts)
    run, position = expand_groups(lo[hit], counts[hit])
    return hit[run], order[position]


def member(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each query is in `sorted_keys` (sorted ascending)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), dtype=bool)
    index = np.searchsorted(sorted_keys, queries)
    np.minimum(index, len(sorted_keys) - 1, out=index)
    return sorted_keys[index] == queries

