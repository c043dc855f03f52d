"""Reading the sample catalog (catalog.csv beside its images) in tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from vrs.v1 import common_pb2, embedder_pb2


@dataclass(frozen=True)
class Row:
    """A catalog product: `image` its first photo, `more_images` its others; `group_id` its
    variant group (empty: none)."""

    product_id: str
    title: str
    category: str
    brand: str
    price: float
    currency: str
    image: Path
    more_images: tuple[Path, ...] = ()
    group_id: str = ""


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


def upsert_of(row: Row) -> embedder_pb2.ProductUpsert:
    """The row as an upsert: its id, category and price, and its photo's bytes."""
    return embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(
            product_id=row.product_id, category=row.category, price=row.price
        ),
        image=common_pb2.ImageSource(data=row.image.read_bytes()),
    )
