"""What a search returns, and its cache encodings."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from vrs.catalog.products import Product
from vrs.evaluation.calibration import MatchLabel
from vrs.images.region import Region, RegionSource, UsedRegion
from vrs.images.source import ImageInput
from vrs.store.filters import ProductFilter
from vrs.store.query import Collapse


@dataclass(frozen=True)
class Match:
    """A product found (`product.image_uri`: the photo that matched, `photo_index` its place
    among the product's photos), its Euclidean distance to the query, and with COLLAPSE_GROUP
    the group's other variants that pass the filters."""

    product: Product
    distance: float
    photo_index: int = 0
    variants: tuple[Product, ...] = ()
    # In SearchResult.over_budget: how far over the maximum price, in the budget's currency.
    over_by: float | None = None
    # How close, by the collection's calibration; None without one.
    label: MatchLabel | None = None


@dataclass(frozen=True)
class SearchResult:
    """The matches of one search, nearest first, the model that ranked them and, for an image
    search, the part of the photo it searched on; when fewer than k fit a maximum price, the
    nearest a little over it, apart (`over_budget`, never mixed into `matches`)."""

    matches: tuple[Match, ...]
    model_id: str
    from_cache: bool = False
    region: UsedRegion | None = None
    over_budget: tuple[Match, ...] = ()

    def encode(self) -> bytes:
        region = self.region
        return json.dumps(
            {
                "model_id": self.model_id,
                "matches": [_encoded(m) for m in self.matches],
                "over_budget": [_encoded(m) for m in self.over_budget],
                "region": None
                if region is None
                else {**asdict(region.region), "source": region.source.value},
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> SearchResult:
        data = json.loads(raw)
        region = data.get("region")
        return cls(
            matches=tuple(_decoded(m) for m in data["matches"]),
            over_budget=tuple(_decoded(m) for m in data.get("over_budget", ())),
            model_id=str(data["model_id"]),
            region=None
            if region is None
            else UsedRegion(
                Region(region["x"], region["y"], region["width"], region["height"]),
                RegionSource(region["source"]),
            ),
        )

    def cached(self) -> SearchResult:
        return replace(self, from_cache=True)


def _encoded(match: Match) -> dict[str, object]:
    return {
        "d": match.distance,
        "p": asdict(match.product),
        "i": match.photo_index,
        "v": [asdict(v) for v in match.variants],
        "o": match.over_by,
        "l": None if match.label is None else match.label.value,
    }


def _decoded(data: dict[str, Any]) -> Match:
    return Match(
        Product(**data["p"]),
        float(data["d"]),
        int(data.get("i", 0)),
        tuple(Product(**v) for v in data.get("v", ())),
        None if data.get("o") is None else float(data["o"]),
        None if data.get("l") is None else MatchLabel(data["l"]),
    )


class ResultCodec(Protocol):
    """How the cache keeps results: encoded once when stored, ideally in the very form an edge
    serves, so a hit is sent as is (see EncodedResult)."""

    # Names the encoding in each cached value: another codec's values are misses, not garbage.
    tag: bytes

    def encode(self, result: SearchResult) -> bytes:
        """`result` as a hit serves it (from_cache set)."""
        ...

    def decode(self, payload: bytes) -> SearchResult: ...


class JsonResultCodec:
    """Results as JSON: for callers without an edge encoding of their own."""

    tag = b"json1"

    def encode(self, result: SearchResult) -> bytes:
        return result.encode()

    def decode(self, payload: bytes) -> SearchResult:
        return SearchResult.decode(payload)


@dataclass(frozen=True)
class EncodedResult:
    """A cache hit, still as its codec encoded it: an edge speaking that encoding sends
    `payload` as is, anyone else decodes it."""

    payload: bytes
    codec: ResultCodec

    def decoded(self) -> SearchResult:
        return self.codec.decode(self.payload).cached()


# A search's answer: computed now, or a cache hit not decoded yet.
Answer = SearchResult | EncodedResult


def decoded(answer: Answer) -> SearchResult:
    return answer.decoded() if isinstance(answer, EncodedResult) else answer


@dataclass(frozen=True)
class SearchOptions:
    """What a query asks besides its subject: how many, within which filter and distance."""

    k: int | None = None
    filter: ProductFilter = field(default_factory=ProductFilter)
    max_distance: float | None = None
    # None: exact when the filtered set is small, else the HNSW index; True/False force one.
    exact: bool | None = None
    # One result per product, or per variant group (with its other variants).
    collapse: Collapse = Collapse.PRODUCT
    # When fewer than k fit a maximum price: the nearest a little over it, apart.
    over_budget: bool = True


@dataclass(frozen=True)
class ImageQuery:
    """Products that look like a photo."""

    image: ImageInput
    options: SearchOptions = field(default_factory=SearchOptions)
    # The collection of this model; "": the server's.
    model_id: str = ""
    # The part of the photo to search on; None: the main item found, or the whole photo.
    region: Region | None = None


@dataclass(frozen=True)
class ProductQuery:
    """Products that look like a catalog product ("more like this")."""

    product_id: str
    options: SearchOptions = field(default_factory=SearchOptions)
    # The collection of this model; "": the server's.
    model_id: str = ""
    # The product's own variants may come back (by default they do not).
    include_variants: bool = False
    # Only products priced below this one (in its currency).
    cheaper: bool = False
