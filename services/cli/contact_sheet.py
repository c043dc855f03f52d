"""A contact sheet: the query and its results as captioned thumbnails, in one PNG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

TILE = 200
CAPTION = 46
MARGIN = 10
COLUMNS = 6
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class Tile:
    """One picture of a contact sheet, with its caption."""

    image: bytes | None
    lines: tuple[str, ...]
    highlight: bool = False


def layout(tiles: int) -> tuple[int, int]:
    """(columns, rows) of a sheet with `tiles` tiles."""
    columns = min(COLUMNS, max(1, tiles))
    return columns, -(-tiles // columns)


def tile_box(index: int, columns: int) -> tuple[int, int, int, int]:
    """Where tile `index` (its picture) sits on the sheet."""
    col, row = index % columns, index // columns
    left = MARGIN + col * (TILE + MARGIN)
    top = MARGIN + row * (TILE + CAPTION + MARGIN)
    return left, top, left + TILE, top + TILE


def render(tiles: list[Tile], out: Path) -> Path:
    columns, rows = layout(len(tiles))
    width = MARGIN + columns * (TILE + MARGIN)
    height = MARGIN + rows * (TILE + CAPTION + MARGIN)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, tile in enumerate(tiles):
        left, top, right, bottom = tile_box(i, columns)
        sheet.paste(_thumbnail(tile.image), (left, top))
        if tile.highlight:
            draw.rectangle(
                [left - 3, top - 3, right + 2, bottom + 2], outline=(220, 40, 40), width=3
            )
        for n, line in enumerate(tile.lines[:3]):
            draw.text((left + 2, bottom + 3 + 14 * n), line[:34], fill=(20, 20, 20), font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out


def _thumbnail(data: bytes | None) -> Image.Image:
    if data:
        try:
            with Image.open(io.BytesIO(data)) as image:
                return ImageOps.pad(image.convert("RGB"), (TILE, TILE), color=BACKGROUND)
        except OSError:
            pass
    placeholder = Image.new("RGB", (TILE, TILE), (235, 235, 235))
    ImageDraw.Draw(placeholder).text((TILE // 2 - 30, TILE // 2), "no image", fill=(120, 120, 120))
    return placeholder
