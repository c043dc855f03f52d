"""Reading the sample catalog (catalog.csv beside its images) in tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    product_id: str
    title: str
    category: str
    brand: str
    price: float
    currency: str
    image: Path


def read_catalog(folder: Path) -> list[Row]:
    with (folder / "catalog.csv").open(newline="") as handle:
        return [
            Row(
                r["product_id"],
                r["title"],
                r["category"],
                r["brand"],
                float(r["price"]),
                r["currency"],
                folder / r["image"],
            )
            for r in csv.DictReader(handle)
        ]
