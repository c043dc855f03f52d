"""A product catalog drawn on the fly, for machines without real product photos.

Each category has its own silhouette; every product gets its own colour, pattern (stripes,
dots, checks) and logo, so a real CNN finds same-category products near each other and can
still tell one product from another.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

CATEGORIES = ("shirt", "shoes", "bag", "hat")
BRANDS = ("Northwind", "Fabrikam", "Tailspin", "Contoso", "Litware")
SIZE = 256
Colour = tuple[int, int, int]


def _colour(rng: random.Random, low: int = 20, high: int = 235) -> Colour:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def _silhouette(category: str, rng: random.Random) -> Image.Image:
    """The product's shape as a mask (L mode, 255 inside)."""
    mask = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(mask)
    s = rng.uniform(0.8, 1.1)
    cx, cy = SIZE / 2 + rng.uniform(-12, 12), SIZE / 2 + rng.uniform(-12, 12)

    def pt(x: float, y: float) -> tuple[float, float]:
        return cx + x * s, cy + y * s

    if category == "shirt":
        draw.polygon(
            [
                pt(-60, -70),
                pt(-25, -85),
                pt(25, -85),
                pt(60, -70),
                pt(100, -20),
                pt(75, 5),
                pt(55, -15),
                pt(55, 90),
                pt(-55, 90),
                pt(-55, -15),
                pt(-75, 5),
                pt(-100, -20),
            ],
            fill=255,
        )
    elif category == "shoes":
        draw.polygon(
            [
                pt(-95, 20),
                pt(-80, -30),
                pt(-20, -45),
                pt(40, -5),
                pt(95, 10),
                pt(95, 55),
                pt(-95, 55),
            ],
            fill=255,
        )
    elif category == "bag":
        draw.rounded_rectangle([*pt(-75, -35), *pt(75, 85)], radius=18, fill=255)
        draw.arc([*pt(-45, -95), *pt(45, 5)], 180, 360, fill=255, width=9)
    else:
        draw.ellipse([*pt(-100, 15), *pt(100, 55)], fill=255)
        draw.chord([*pt(-55, -70), *pt(55, 70)], 180, 360, fill=255)
    return mask


def _pattern(rng: random.Random, base: Colour) -> Image.Image:
    layer = Image.new("RGB", (SIZE, SIZE), base)
    draw = ImageDraw.Draw(layer)
    accent = _colour(rng)
    kind = rng.choice(["stripes", "vstripes", "dots", "checks", "plain"])
    step = rng.randint(10, 28)
    width = rng.randint(3, max(4, step // 2))
    if kind == "stripes":
        for y in range(0, SIZE, step):
            draw.rectangle([0, y, SIZE, y + width], fill=accent)
    elif kind == "vstripes":
        for x in range(0, SIZE, step):
            draw.rectangle([x, 0, x + width, SIZE], fill=accent)
    elif kind == "dots":
        for y in range(step // 2, SIZE, step):
            for x in range(step // 2, SIZE, step):
                draw.ellipse([x - width, y - width, x + width, y + width], fill=accent)
    elif kind == "checks":
        for y in range(0, SIZE, step):
            for x in range(0, SIZE, step):
                if (x // step + y // step) % 2:
                    draw.rectangle([x, y, x + step, y + step], fill=accent)
    logo = _colour(rng)
    lx, ly, r = rng.randint(90, 160), rng.randint(90, 160), rng.randint(9, 20)
    if rng.random() < 0.5:
        draw.ellipse([lx - r, ly - r, lx + r, ly + r], fill=logo)
    else:
        draw.polygon([(lx, ly - r), (lx + r, ly + r), (lx - r, ly + r)], fill=logo)
    return layer


def draw_product(category: str, rng: random.Random) -> Image.Image:
    background = _colour(rng, 225, 255)
    image = Image.new("RGB", (SIZE, SIZE), background)
    mask = _silhouette(category, rng)
    image.paste(_pattern(rng, _colour(rng)), (0, 0), mask)
    outline = mask.filter(ImageFilter.FIND_EDGES)
    image.paste((30, 30, 30), (0, 0), outline)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def generate(folder: Path, per_category: int = 12, seed: int = 7) -> Path:
    """Writes images/<category>/<id>.jpg and catalog.csv under `folder`; returns the CSV."""
    rng = random.Random(seed)
    rows = []
    for category in CATEGORIES:
        for n in range(1, per_category + 1):
            product_id = f"{category}-{n:03d}"
            relative = Path("images") / category / f"{product_id}.jpg"
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            draw_product(category, rng).save(folder / relative, quality=90)
            brand = rng.choice(BRANDS)
            rows.append(
                [
                    product_id,
                    f"{brand} {category} {n:03d}",
                    category,
                    brand,
                    f"{rng.uniform(9, 150):.2f}",
                    "USD",
                    str(relative),
                ]
            )
    catalog = folder / "catalog.csv"
    with catalog.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "category", "brand", "price", "currency", "image"])
        writer.writerows(rows)
    return catalog
