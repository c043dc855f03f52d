"""Shop-photo query sets made from catalog photos: each query is a product photo as a
shopper's camera might see it (cropped, tilted, in other light, blurred, re-compressed, on a
background), and the product it should find."""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

QUERIES_FILE = "queries.csv"
QUERY_COLUMNS = ("image", "product_id", "category")
_SIDE = 384  # queries are phone-photo sized; the model resizes anyway


@dataclass(frozen=True)
class SourcePhoto:
    """A catalog photo to make queries from."""

    product_id: str
    image: Path
    category: str = ""


@dataclass(frozen=True)
class QueryRow:
    """One line of queries.csv: a query image (relative to the file), the expected product."""

    image: str
    product_id: str
    category: str = ""


def distort(photo: Image.Image, rng: np.random.Generator) -> bytes:
    """A shop photo of `photo` as JPEG bytes; the same rng state gives the same bytes."""
    image = photo.convert("RGB")
    image.thumbnail((_SIDE * 2, _SIDE * 2))
    image = _crop(image, rng)
    image = _colour(image, rng)
    image = _tilt(image, rng)
    image = _perspective(image, rng)
    image = _background(image, rng)
    radius = float(rng.uniform(0.0, 1.5))
    if radius > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    image.thumbnail((_SIDE, _SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=int(rng.integers(45, 86)))
    return out.getvalue()


def make_query_set(
    photos: Sequence[SourcePhoto], out_dir: Path, seed: int, per_product: int
) -> tuple[list[QueryRow], list[str]]:
    """Writes `per_product` distorted photos of each product under out_dir/images and
    out_dir/queries.csv; deterministic for a seed (each product's own random stream).

    Returns the rows and, for each photo that could not be read, why: it is left out alone."""
    if per_product < 1:
        raise ValueError(f"per_product must be at least 1, got {per_product}")
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows: list[QueryRow] = []
    failures: list[str] = []
    for index, photo in enumerate(photos):
        try:
            with Image.open(photo.image) as opened:
                source = opened.convert("RGB")
        except Exception as exc:  # any decoder failure: this photo is left out, not the set
            failures.append(f"{photo.product_id}: cannot read {photo.image} ({exc})")
            continue
        stream = zlib.crc32(photo.product_id.encode("utf-8"))
        for n in range(per_product):
            rng = np.random.default_rng([seed, stream, n])
            # Index-based names: product ids may hold characters no file name can.
            name = f"images/q{index:05d}-{n}.jpg"
            (out_dir / name).write_bytes(distort(source, rng))
            rows.append(QueryRow(name, photo.product_id, photo.category))
    write_queries(out_dir / QUERIES_FILE, rows)
    return rows, failures


def write_queries(path: Path, rows: Sequence[QueryRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUERY_COLUMNS)
        for row in rows:
            writer.writerow((row.image, row.product_id, row.category))


def _crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    keep = rng.uniform(0.72, 0.95)
    w, h = max(8, int(width * keep)), max(8, int(height * keep))
    left = int(rng.integers(0, width - w + 1))
    top = int(rng.integers(0, height - h + 1))
    return image.crop((left, top, left + w, top + h))


def _colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.75, 1.25))
    # A colour cast, as under warm or cold light.
    gains = rng.uniform(0.88, 1.12, size=3)
    pixels = np.asarray(image, dtype=np.float32) * gains
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _tilt(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    fill = tuple(int(v) for v in rng.integers(150, 256, size=3))
    return image.rotate(
        rng.uniform(-12.0, 12.0), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill
    )


def _perspective(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    jitter = rng.uniform(-0.06, 0.06, size=8) * np.array([width, height] * 4)
    corners = np.array([0, 0, 0, height, width, height, width, 0], dtype=np.float64) + jitter
    quad = tuple(float(v) for v in corners)
    fill = tuple(int(v) for v in rng.integers(150, 256, size=3))
    return image.transform(
        image.size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR, fillcolor=fill
    )


def _background(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    margin = rng.uniform(0.04, 0.18)
    canvas_w, canvas_h = int(width * (1 + 2 * margin)), int(height * (1 + 2 * margin))
    # A two-colour gradient: a table, a wall, a hand-held sheet of paper.
    start, end = rng.integers(60, 256, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, canvas_h, dtype=np.float32)[:, None, None]
    rows = start[None, None, :] * (1 - ramp) + end[None, None, :] * ramp
    canvas = np.broadcast_to(rows, (canvas_h, canvas_w, 3)).astype(np.uint8)
    background = Image.fromarray(np.ascontiguousarray(canvas))
    left = int(rng.integers(0, canvas_w - width + 1))
    top = int(rng.integers(0, canvas_h - height + 1))
    background.paste(image, (left, top))
    return background
