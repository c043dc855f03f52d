"""What a search returns, and its cache encoding."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from vrs.catalog import Product
from vrs.image_source import ImageInput
from vrs.store.filters import ProductFilter


@dataclass(frozen=True)
class Match:
    product: Product
    distance: float


@dataclass(frozen=True)
class SearchResult:
    matches: tuple[Match, ...]
    model_id: str
    from_cache: bool = False

    def encode(self) -> bytes:
        return json.dumps(
            {
                "model_id": self.model_id,
                "matches": [{"d": m.distance, "p": asdict(m.product)} for m in self.matches],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> SearchResult:
        data = json.loads(raw)
        return cls(
            matches=tuple(Match(Product(**m["p"]), float(m["d"])) for m in data["matches"]),
            model_id=str(data["model_id"]),
        )

    def cached(self) -> SearchResult:
        return replace(self, from_cache=True)


@dataclass(frozen=True)
class SearchOptions:
    k: int | None = None
    filter: ProductFilter = field(default_factory=ProductFilter)
    max_distance: float | None = None
    # None: exact when the filtered set is small, else the HNSW index; True/False force one.
    exact: bool | None = None


@dataclass(frozen=True)
class ImageQuery:
    image: ImageInput
    options: SearchOptions = field(default_factory=SearchOptions)
    # The collection of this model; "": the server's.
    model_id: str = ""


@dataclass(frozen=True)
class ProductQuery:
    product_id: str
    options: SearchOptions = field(default_factory=SearchOptions)
    # The collection of this model; "": the server's.
    model_id: str = ""
