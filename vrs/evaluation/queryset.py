"""Query sets made from catalog photos, and the product each query should find: shop photos (the
product's photo as a shopper's camera might see it: cropped, tilted, in other light, blurred,
re-compressed, on a background) or scenes (the product small in a cluttered scene, its box
recorded). Which distortion kinds a set went through is its mix (vrs.evaluation.mixes).

A product with several photos gives its queries from them in turn (query n from photo n modulo
their number): a hit is the product found through any of its photos. Its variant group, when it
has one, is written beside it so that `vrs eval` also reports group recall."""

from __future__ import annotations

import csv
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vrs.evaluation.boxes import Box, format_box
from vrs.evaluation.cutouts import Cutout, cut_out
from vrs.evaluation.mixes import (
    SCENE_MIX,
    SHOP_MIX,
    Mix,
    apply,
    check_scene_mix,
    encode,
    split_at_sensor,
)
from vrs.evaluation.scenes import scene_shot

QUERIES_FILE = "queries.csv"
QUERY_COLUMNS = ("image", "product_id", "category", "kind", "box", "group_id")
SHOP, SCENE = "shop", "scene"
DEFAULT_MIXES: dict[str, Mix] = {SHOP: SHOP_MIX, SCENE: SCENE_MIX}
DISTRACTORS = (2, 4)  # other products behind a scene's main product, at least and at most
# Distractors come from at most this many products of a big catalog (their cut-outs are kept).
DISTRACTOR_POOL = 128
_SIDE = 384  # shop photos are phone-photo sized; the model resizes anyway
_DISTRACTOR_SIDE = 256  # a distractor is shown at most 0.8 x 0.6 x 480 pixels long
_SCENE_STREAM = 1  # scenes draw from their own streams, not the shop photos' of the same seed


@dataclass(frozen=True)
class SourcePhoto:
    """A catalog product to make queries from: its first photo, its other photos and its
    variant group."""

    product_id: str
    image: Path
    category: str = ""
    more_images: tuple[Path, ...] = ()
    group_id: str = ""

    def photo(self, n: int) -> Path:
        """The photo query n is made from: the product's photos in turn."""
        photos = (self.image, *self.more_images)
        return photos[n % len(photos)]


@dataclass(frozen=True)
class QueryRow:
    """One line of queries.csv: a query image (relative to the file), the expected product, the
    kind of query (shop or scene) and, for scenes, the product's box in the image."""

    image: str
    product_id: str
    category: str = ""
    kind: str = SHOP
    box: Box | None = None
    group_id: str = ""


def distort(photo: Image.Image, rng: np.random.Generator, mix: Mix = SHOP_MIX) -> bytes:
    """A shop photo of `photo` through `mix` as JPEG bytes; the same rng state gives the same
    bytes."""
    image = photo.convert("RGB")
    image.thumbnail((_SIDE * 2, _SIDE * 2))
    optics, sensor = split_at_sensor(mix)
    image = apply(image, optics, rng)
    # The sensor's kinds (and the noise's grain size) act at the photo's final size.
    image.thumbnail((_SIDE, _SIDE))
    image = apply(image, sensor, rng)
    return encode(image, mix, rng)


def make_query_set(
    photos: Sequence[SourcePhoto],
    out_dir: Path,
    seed: int,
    per_product: int,
    *,
    kind: str = SHOP,
    mix: Mix | None = None,
) -> tuple[list[QueryRow], list[str]]:
    """Writes `per_product` queries of each product under out_dir/images and
    out_dir/queries.csv; deterministic for a seed (each product's own random stream). `mix`
    defaults to the kind's (DEFAULT_MIXES).

    Returns the rows and, for each photo that could not be read, why: it is left out alone."""
    if per_product < 1:
        raise ValueError(f"per_product must be at least 1, got {per_product}")
    if kind not in DEFAULT_MIXES:
        raise ValueError(f"unknown query kind {kind!r} (known: {', '.join(DEFAULT_MIXES)})")
    mix = DEFAULT_MIXES[kind] if mix is None else mix
    if kind == SCENE:
        check_scene_mix(mix)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    distractors = _Distractors(photos, seed)
    rows: list[QueryRow] = []
    failures: list[str] = []
    for index, photo in enumerate(photos):
        sources: dict[Path, Image.Image] = {}
        cutouts: dict[Path, Cutout] = {}
        try:
            for n in range(min(per_product, 1 + len(photo.more_images))):
                sources[photo.photo(n)] = _read(photo.photo(n))
        except Exception as exc:  # any decoder failure: this product is left out, not the set
            failures.append(f"{photo.product_id}: cannot read {photo.photo(len(sources))} ({exc})")
            continue
        stream = zlib.crc32(photo.product_id.encode("utf-8"))
        for n in range(per_product):
            source = sources[photo.photo(n)]
            # Index-based names: product ids may hold characters no file name can.
            name = f"images/q{index:05d}-{n}.jpg"
            box = None
            if kind != SCENE:
                data = distort(source, np.random.default_rng([seed, stream, n]), mix)
            else:
                if photo.photo(n) not in cutouts:
                    cutouts[photo.photo(n)] = cut_out(source)
                main = cutouts[photo.photo(n)]
                rng = np.random.default_rng([seed, stream, n, _SCENE_STREAM])
                shot = scene_shot(main, distractors.draw(photo.product_id, rng), rng, mix)
                data, box = shot.data, shot.box
            (out_dir / name).write_bytes(data)
            rows.append(QueryRow(name, photo.product_id, photo.category, kind, box, photo.group_id))
    write_queries(out_dir / QUERIES_FILE, rows)
    return rows, failures


def write_queries(path: Path, rows: Sequence[QueryRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUERY_COLUMNS)
        for row in rows:
            writer.writerow(
                (
                    row.image,
                    row.product_id,
                    row.category,
                    row.kind,
                    format_box(row.box),
                    row.group_id,
                )
            )


class _Distractors:
    """Cut-outs of the catalog's products to stand behind a scene's product, made when first
    drawn and kept."""

    def __init__(self, photos: Sequence[SourcePhoto], seed: int) -> None:
        self._photos = photos
        pool = np.arange(len(photos))
        if len(pool) > DISTRACTOR_POOL:
            pool = np.sort(np.random.default_rng([seed]).choice(pool, DISTRACTOR_POOL, False))
        self._pool = [int(i) for i in pool]
        self._cutouts: dict[int, Cutout | None] = {}

    def draw(self, product_id: str, rng: np.random.Generator) -> list[Cutout]:
        """2 to 4 cut-outs of other products (fewer when the catalog has fewer readable)."""
        wanted = int(rng.integers(DISTRACTORS[0], DISTRACTORS[1] + 1))
        others = [i for i in self._pool if self._photos[i].product_id != product_id]
        drawn: list[Cutout] = []
        for position in rng.permutation(len(others)):
            cutout = self._cutout(others[int(position)])
            if cutout is not None:
                drawn.append(cutout)
                if len(drawn) == wanted:
                    break
        return drawn

    def _cutout(self, index: int) -> Cutout | None:
        if index not in self._cutouts:
            try:
                photo = _read(self._photos[index].image)
            except Exception:  # the photo's own queries report it; here it is just not drawn
                self._cutouts[index] = None
            else:
                photo.thumbnail((_DISTRACTOR_SIDE, _DISTRACTOR_SIDE))
                self._cutouts[index] = cut_out(photo)
        return self._cutouts[index]


def _read(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        return opened.convert("RGB")
