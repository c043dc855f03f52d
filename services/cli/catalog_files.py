"""Reading catalogs from disk: a folder of images, a CSV or a JSONL file.

A product has 1 to 16 photos: in a folder, `CATEGORY/PRODUCT_ID.jpg` (one photo) or
`CATEGORY/PRODUCT_ID/*.jpg` (its photos, in name order); in a CSV, `image` may hold several
paths separated by `|`; in JSONL, `"images": [...]` instead of `"image"`. An optional
`group_id` names the product's variant group (its style: the same dress in other colours).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.cli.client import CliError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
COLUMNS = ("product_id", "title", "category", "brand", "price", "currency", "image", "group_id")
# Between the photos of one product in a CSV's image column.
PHOTO_SEPARATOR = "|"


@dataclass(frozen=True)
class CatalogEntry:
    """One product of a catalog file or folder, as the CLI sends it: `image` is its first
    photo, `more_images` the others."""

    product_id: str
    image: Path
    title: str = ""
    category: str = ""
    brand: str = ""
    price: float | None = None
    currency: str = ""
    more_images: tuple[Path, ...] = ()
    group_id: str = ""

    @property
    def images(self) -> tuple[Path, ...]:
        return (self.image, *self.more_images)


def read_catalog(path: Path) -> list[CatalogEntry]:
    """Folder: file stem = product id, parent folder = category. CSV/JSONL: COLUMNS, with
    `image` relative to the file's folder (or absolute)."""
    if path.is_dir():
        return list(_folder(path))
    if not path.is_file():
        raise CliError(f"no such catalog: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise CliError(f"{path}: a catalog is a folder of images, a .csv or a .jsonl file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    except OSError as exc:
        raise CliError(f"cannot read catalog {path}: {exc.strerror or exc}") from exc
    if suffix == ".csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise CliError(f"{path}: not a readable CSV ({exc})") from exc
        return [_entry(row, path.parent, f"{path}:{n}") for n, row in enumerate(rows, 2)]
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}:{n}: not JSON: {exc.msg}") from exc
            if not isinstance(row, dict):
                raise CliError(f"{path}:{n}: a product is a JSON object, not {type(row).__name__}")
            entries.append(_entry(row, path.parent, f"{path}:{n}"))
    return entries


def _folder(root: Path) -> Iterator[CatalogEntry]:
    """PRODUCT_ID.jpg, CATEGORY/PRODUCT_ID.jpg, or CATEGORY/PRODUCT_ID/*.jpg (its photos)."""
    products: dict[tuple[str, str], list[Path]] = {}
    for file in sorted(root.rglob("*")):
        if not (file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES):
            continue
        parts = file.relative_to(root).parts
        if len(parts) >= 3:
            key = (parts[0], parts[1])
        else:
            key = (parts[0] if len(parts) == 2 else "", file.stem)
        products.setdefault(key, []).append(file)
    for (category, product_id), photos in products.items():
        yield CatalogEntry(
            product_id=product_id,
            image=photos[0],
            category=category,
            more_images=tuple(photos[1:]),
        )


def _entry(row: dict[str, object], base: Path, where: str) -> CatalogEntry:
    product_id = str(row.get("product_id") or "").strip()
    images = _images(row, where, product_id)
    price_text = str(row.get("price") or "").strip()
    try:
        price = float(price_text) if price_text else None
    except ValueError as exc:
        raise CliError(f"{where}: price {price_text!r} is not a number") from exc
    paths = [(base / image).resolve() for image in images]
    return CatalogEntry(
        product_id=product_id,
        image=paths[0],
        title=str(row.get("title") or ""),
        category=str(row.get("category") or ""),
        brand=str(row.get("brand") or ""),
        price=price,
        currency=str(row.get("currency") or ""),
        more_images=tuple(paths[1:]),
        group_id=str(row.get("group_id") or "").strip(),
    )


def _images(row: dict[str, object], where: str, product_id: str) -> list[str]:
    """The row's photo paths: `image` (several separated by `|` in a CSV) or, in JSON,
    `images` (a list of paths)."""
    listed = row.get("images")
    if listed is not None and row.get("image"):
        raise CliError(f"{where}: give image or images for product {product_id!r}, not both")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
            raise CliError(f"{where}: images of product {product_id!r} is not a list of paths")
        images = [i.strip() for i in listed if i.strip()]
    else:
        images = [i.strip() for i in str(row.get("image") or "").split(PHOTO_SEPARATOR)]
        images = [i for i in images if i]
    if not images:
        raise CliError(f"{where}: no image for product {product_id!r}")
    return images
