"""Reading catalogs from disk: a folder of images, a CSV or a JSONL file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.cli.client import CliError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
COLUMNS = ("product_id", "title", "category", "brand", "price", "currency", "image")


@dataclass(frozen=True)
class CatalogEntry:
    """One product of a catalog file or folder, as the CLI sends it."""

    product_id: str
    image: Path
    title: str = ""
    category: str = ""
    brand: str = ""
    price: float | None = None
    currency: str = ""


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
    for file in sorted(root.rglob("*")):
        if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
            category = file.parent.name if file.parent != root else ""
            yield CatalogEntry(product_id=file.stem, image=file, category=category)


def _entry(row: dict[str, object], base: Path, where: str) -> CatalogEntry:
    product_id = str(row.get("product_id") or "").strip()
    image = str(row.get("image") or "").strip()
    if not image:
        raise CliError(f"{where}: no image for product {product_id!r}")
    price_text = str(row.get("price") or "").strip()
    try:
        price = float(price_text) if price_text else None
    except ValueError as exc:
        raise CliError(f"{where}: price {price_text!r} is not a number") from exc
    return CatalogEntry(
        product_id=product_id,
        image=(base / image).resolve(),
        title=str(row.get("title") or ""),
        category=str(row.get("category") or ""),
        brand=str(row.get("brand") or ""),
        price=price,
        currency=str(row.get("currency") or ""),
    )
