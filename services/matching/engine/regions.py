"""Kemendagri region codes as integer ids, so "which code covers which" becomes array work.

A region A covers region B when B == A or B starts with A + "." (a kecamatan covers its
kelurahan). The same rule as shared/regions.py's `covers`, restated here so the engine
imports nothing from the services around it.
"""
from __future__ import annotations

import numpy as np

DEPTHS = 4  # provinsi, kabupaten/kota, kecamatan, desa/kelurahan
LEVEL_NAMES = ("provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan")


def ancestors(code: str) -> list[str]:
    """The code and every code above it, widest first: 32, 32.75, 32.75.11, 32.75.11.1004."""
    parts = code.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class RegionTable:
    """Every region code met in one run, with its parent and depth, numbered 0..n-1."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.codes: list[str] = []
        self._parents: list[int] = []

    def __len__(self) -> int:
        return len(self.codes)

    def add(self, code: str) -> int:
        """The id of `code`, adding it and all its ancestors when new."""
        found = self._ids.get(code)
        if found is not None:
            return found
        parent = -1
        for prefix in ancestors(code):
            region_id = self._ids.get(prefix)
            if region_id is None:
                region_id = len(self.codes)
                self._ids[prefix] = region_id
                self.codes.append(prefix)
                self._parents.append(parent)
            parent = region_id
        return parent

    def add_all(self, codes: list[str]) -> np.ndarray:
        """The ids of `codes`, in order."""
        for code in dict.fromkeys(codes):  # each distinct code once
            self.add(code)
        return np.fromiter(map(self._ids.__getitem__, codes), np.int64, len(codes))

    def freeze(self) -> None:
        """Build the arrays used below, once every code is in."""
        self.parent = np.asarray(self._parents, dtype=np.int64)
        self.depth = np.fromiter((code.count(".") + 1 for code in self.codes), dtype=np.int64,
                                 count=len(self.codes))

    def ancestor_matrix(self, region_ids: np.ndarray) -> np.ndarray:
        """For each region, its ancestors-or-self by depth: column d holds the ancestor at
        depth d + 1 (provinsi first), or -1 where the region is shallower."""
        out = np.full((len(region_ids), DEPTHS), -1, dtype=np.int64)
        current = region_ids.copy()
        depth = self.depth[current] if len(current) else current
        # Walk up from each region, writing its ancestor at the depth it sits at.
        rows = np.arange(len(current))
        while len(current):
            out[rows, depth - 1] = current
            current = self.parent[current]
            keep = current >= 0
            rows, current = rows[keep], current[keep]
            depth = self.depth[current]
        return out
