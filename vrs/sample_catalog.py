"""A product catalog drawn on the fly, for machines without real product photos.

Each category has its own silhouette; colours, sizes and backgrounds vary per product, so a
real CNN finds same-category products nearer than others.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

CATEGORIES = ("shirt", "shoes", "bag", "hat")
BRANDS = ("Northwind", "Fabrikam", "Tailspin", "Contoso", "Litware")
SIZE = 256


def draw_product(category: str, rng: random.Random) -> Image.Image:
    background = tuple(rng.randint(225, 255) for _ in range(3))
    colour = tuple(rng.randint(20, 235) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    s = rng.uniform(0.8, 1.1)
    cx, cy = SIZE / 2 + rng.uniform(-12, 12), SIZE / 2 + rng.uniform(-12, 12)

    def pt(x: float, y: float) -> tuple[float, float]:
        return cx + x * s, cy + y * s

    if category == "shirt":
        body = [
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
        ]
        draw.polygon(body, fill=colour)
        draw.arc([*pt(-22, -100), *pt(22, -70)], 0, 180, fill=(40, 40, 40), width=4)
    elif category == "shoes":
        sole = (30, 30, 30)
        draw.polygon(
            [
                pt(-95, 20),
                pt(-80, -30),
                pt(-20, -45),
                pt(40, -5),
                pt(95, 10),
                pt(95, 40),
                pt(-95, 40),
            ],
            fill=colour,
        )
        draw.rectangle([*pt(-98, 40), *pt(98, 55)], fill=sole)
        for i in range(4):
            draw.line(
                [pt(-50 + 15 * i, -35 + 5 * i), pt(-35 + 15 * i, -20 + 5 * i)], fill=sole, width=3
            )
    elif category == "bag":
        draw.rounded_rectangle([*pt(-75, -35), *pt(75, 85)], radius=18, fill=colour)
        draw.arc([*pt(-45, -95), *pt(45, 5)], 180, 360, fill=(50, 50, 50), width=9)
    else:
        draw.ellipse([*pt(-100, 15), *pt(100, 55)], fill=colour)
        draw.chord([*pt(-55, -70), *pt(55, 70)], 180, 360, fill=colour)
        draw.rectangle([*pt(-55, 5), *pt(55, 18)], fill=(30, 30, 30))
    return image.filter(ImageFilter.GaussianBlur(0.8))


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
