"""The Kemendagri region (wilayah) catalogue: lookup, validation, and which code covers which.

Data: shared/data/wilayah.csv (see shared/data/README.md for its source and licence).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "wilayah.csv"
LEVELS = ("provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan")


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    level: str
    parent_code: str | None


class RegionCatalogue:
    """All regions by code, with their children."""

    def __init__(self, regions: list[Region]) -> None:
        self._by_code = {r.code: r for r in regions}
        self._children: dict[str | None, list[Region]] = {}
        for region in regions:
            self._children.setdefault(region.parent_code, []).append(region)

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Region | None:
        return self._by_code.get(code)

    def is_valid(self, code: str) -> bool:
        return code in self._by_code

    def children(self, code: str | None) -> list[Region]:
        """Regions directly under `code` (None: the provinces)."""
        return list(self._children.get(code, []))

    def ancestors(self, code: str) -> list[str]:
        """The code and every code above it, widest first: 32, 32.75, 32.75.11, 32.75.11.1004."""
        parts = code.split(".")
        return [".".join(parts[: i + 1]) for i in range(len(parts))]

    def path(self, code: str) -> list[Region]:
        """The regions from the province down to `code`, for display."""
        return [r for r in (self.get(c) for c in self.ancestors(code)) if r is not None]


def covers(outer: str, inner: str) -> bool:
    """Whether region `outer` contains region `inner` (a kecamatan covers its kelurahan)."""
    return inner == outer or inner.startswith(outer + ".")


@lru_cache(maxsize=1)
def catalogue() -> RegionCatalogue:
    """The catalogue, read once per process."""
    with DATA_FILE.open(newline="", encoding="utf-8") as handle:
        rows = [
            Region(row["code"], row["name"], row["level"], row["parent_code"] or None)
            for row in csv.DictReader(handle)
        ]
    return RegionCatalogue(rows)
