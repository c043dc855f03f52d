"""A shop-like catalog derived from a one-photo catalog: some products get more photos (a
mirrored view and a close-up, cut from their photo) and some become variant groups (copies
recoloured by turning their hue, each its own product with its own price).

What the demos index, so that a new user sees products with several photos and colour
variants. Every derived photo is made from a real one; README calls them derived.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

# Photos and variants per category; the first products of each category are chosen, so the
# derived catalog is the same on every run.
MORE_PHOTOS_PER_CATEGORY = 3
GROUPS_PER_CATEGORY = 2
# Hue turns (of a full turn) and the price of each colour against the original's.
COLOURS: tuple[tuple[str, float, float], ...] = (("red", 0.33, 0.25), ("green", 0.66, 0.4))
PHOTO_SEPARATOR = "|"


@dataclass(frozen=True)
class Derived:
    """The derived catalog's CSV, and what was derived."""

    csv: Path
    multi_photo: tuple[str, ...]
    groups: tuple[str, ...]


def recolour(image: Image.Image, turn: float) -> Image.Image:
    """The image with its hue turned by `turn` (0-1); greys and white stay as they are."""
    hue, saturation, value = image.convert("RGB").convert("HSV").split()
    shift = round(turn * 256) % 256
    hue = hue.point(lambda h: (h + shift) % 256)
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def close_up(image: Image.Image) -> Image.Image:
    """The middle of the photo, enlarged back to its size (a detail shot)."""
    width, height = image.size
    box = (width // 5, height // 5, width - width // 5, height - height // 5)
    return image.convert("RGB").crop(box).resize((width, height), Image.Resampling.BICUBIC)


def derive_catalog(source_csv: Path, folder: Path) -> Derived:
    """Writes `folder`/catalog.csv (every source product) with a copy of each source photo and
    the derived photos under `folder`/photos (one folder to serve images from); returns it with
    the ids of what was derived."""
    with source_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    photos = folder / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    multi = _chosen(rows, 0, MORE_PHOTOS_PER_CATEGORY)
    grouped = _chosen(rows, MORE_PHOTOS_PER_CATEGORY, GROUPS_PER_CATEGORY) | {_priciest_shirt(rows)}
    out: list[dict[str, str]] = []
    for row in rows:
        pid = row["product_id"]
        source = source_csv.parent / row["image"].split(PHOTO_SEPARATOR)[0]
        original = photos / f"{pid}{source.suffix.lower()}"
        shutil.copyfile(source, original)
        entry = {**row, "image": _relative(original, folder), "group_id": row.get("group_id", "")}
        if pid in multi:
            with Image.open(original) as image:
                extra = _save(ImageOps.mirror(image.convert("RGB")), photos / f"{pid}-back.jpg")
                detail = _save(close_up(image), photos / f"{pid}-detail.jpg")
            entry["image"] = PHOTO_SEPARATOR.join(
                _relative(p, folder) for p in (original, extra, detail)
            )
        out.append(entry)
        if pid in grouped:
            entry["group_id"] = f"style-{pid}"
            out.extend(_colour_variants(row, original, folder, entry["group_id"]))
    catalog = folder / "catalog.csv"
    fields = [*rows[0].keys(), *(["group_id"] if "group_id" not in rows[0] else [])]
    with catalog.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(out)
    return Derived(catalog, tuple(sorted(multi)), tuple(sorted(grouped)))


def _colour_variants(
    row: dict[str, str], original: Path, folder: Path, group: str
) -> list[dict[str, str]]:
    pid = row["product_id"]
    variants = []
    with Image.open(original) as image:
        for colour, turn, price_factor in COLOURS:
            path = _save(recolour(image, turn), original.with_name(f"{pid}-{colour}.jpg"))
            variants.append(
                {
                    **row,
                    "product_id": f"{pid}-{colour}",
                    "title": f"{row.get('title', pid)} ({colour})",
                    "price": f"{float(row['price']) * price_factor:.2f}",
                    "image": _relative(path, folder),
                    "group_id": group,
                }
            )
    return variants


def _chosen(rows: Sequence[dict[str, str]], skip: int, take: int) -> set[str]:
    """The product ids at positions skip..skip+take of each category, in file order."""
    seen: dict[str, int] = {}
    chosen = set()
    for row in rows:
        n = seen.get(row.get("category", ""), 0)
        seen[row.get("category", "")] = n + 1
        if skip <= n < skip + take:
            chosen.add(row["product_id"])
    return chosen


def _priciest_shirt(rows: Sequence[dict[str, str]]) -> str:
    """The demo's query (the shirt the shopper cannot afford) gets variants in budget."""
    shirts = [r for r in rows if r.get("category") == "shirt"] or list(rows)
    return max(shirts, key=lambda r: float(r.get("price") or 0))["product_id"]


def _relative(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _save(image: Image.Image, path: Path) -> Path:
    image.save(path, quality=90)
    return path
