"""`vrs similar`: visually similar products for a photo or a catalog product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from services.cli.client import CliError, VrsClient
from services.cli.contact_sheet import Tile, render
from vrs.catalog.ids import normalize_product_id
from vrs.errors import InvalidProduct
from vrs.images.region import Region
from vrs.rpc.convert import label_name, region_to_proto, used_region_from_proto
from vrs.v1 import common_pb2, embedder_pb2, search_pb2


@dataclass(frozen=True)
class SimilarQuery:
    """What `vrs similar` asks: a photo or a product, and the filters."""

    image: Path | None = None
    product_id: str | None = None
    k: int = 10
    min_price: float | None = None
    max_price: float | None = None
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    in_stock: bool = False
    max_distance: float | None = None
    # Search this model's collection; "": the server's.
    model_id: str = ""
    # The part of the photo to search on; None: the main item, found by the server.
    region: Region | None = None
    # One result per variant group (with its other variants) instead of per product.
    collapse_groups: bool = False
    # More like this: the product's own variants may come back.
    include_variants: bool = False
    # More like this: only products priced below it.
    cheaper: bool = False
    # The currency of the price bounds; "": the catalog's only one.
    currency: str = ""
    # When fewer than k fit max_price: the nearest a little over it, in a table of their own.
    over_budget: bool = True

    @property
    def collapse(self) -> search_pb2.Collapse.ValueType:
        return search_pb2.COLLAPSE_GROUP if self.collapse_groups else search_pb2.COLLAPSE_PRODUCT

    def search_filter(self) -> search_pb2.SearchFilter:
        flt = search_pb2.SearchFilter(
            categories=self.categories,
            brands=self.brands,
            in_stock_only=self.in_stock,
            currency=self.currency,
        )
        if self.min_price is not None:
            flt.min_price = self.min_price
        if self.max_price is not None:
            flt.max_price = self.max_price
        return flt


def find_similar(client: VrsClient, query: SimilarQuery) -> search_pb2.SearchResponse:
    if query.image is not None:
        by_image = search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=_read(query.image)),
            k=query.k,
            filter=query.search_filter(),
            model_id=query.model_id,
            region=None if query.region is None else region_to_proto(query.region),
            collapse=query.collapse,
            over_budget=query.over_budget,
        )
        if query.max_distance is not None:
            by_image.max_distance = query.max_distance
        return client.call(client.search.SearchByImage, by_image)
    if query.product_id is None:
        raise CliError("give an image file or --product ID")
    try:
        product_id = normalize_product_id(query.product_id)
    except InvalidProduct as exc:
        raise CliError(str(exc)) from exc
    by_product = search_pb2.SearchByProductRequest(
        product_id=product_id,
        k=query.k,
        filter=query.search_filter(),
        model_id=query.model_id,
        collapse=query.collapse,
        include_variants=query.include_variants,
        over_budget=query.over_budget,
        cheaper=query.cheaper,
    )
    if query.max_distance is not None:
        by_product.max_distance = query.max_distance
    return client.call(client.search.SearchByProduct, by_product)


def table(response: search_pb2.SearchResponse) -> str:
    suffix = " (from cache)" if response.from_cache else ""
    footer = f"model {response.model_id}{suffix}" + _region_line(response)
    over = ""
    if response.over_budget:
        over = "\n\na little over your budget\n" + _rows(response.over_budget, over_by=True)
    if not response.matches:
        return "no similar products match" + over + "\n" + footer
    return _rows(response.matches) + over + "\n" + footer


def _rows(matches: Sequence[search_pb2.Match], over_by: bool = False) -> str:
    variants = any(m.variants for m in matches)
    labels = any(m.match != search_pb2.MATCH_LABEL_UNSPECIFIED for m in matches)
    rows: list[tuple[str, ...]] = [("rank", "product", "distance", "price", "category", "title")]
    if over_by:
        rows[0] += ("over by",)
    if labels:
        rows[0] += ("match",)
    if variants:
        rows[0] += ("also in",)
    for rank, m in enumerate(matches, 1):
        price = (
            f"{m.product.price:.2f} {m.product.currency}".strip()
            if m.product.HasField("price")
            else "-"
        )
        rows.append(
            (
                str(rank),
                m.product_id,
                f"{m.distance:.3f}",
                price,
                m.product.category,
                m.product.title,
            )
            + ((f"{m.over_by:.2f}",) if over_by else ())
            + ((label_name(m.match) or "-",) if labels else ())
            + ((", ".join(v.product_id for v in m.variants),) if variants else ())
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _region_line(response: search_pb2.SearchResponse) -> str:
    """The region a photo search used, on a line of its own ("" for a product search)."""
    used = used_region_from_proto(response.region)
    if used is None:
        return ""
    box = used.region
    return (
        f"\nsearched on the {used.source.value} region x={box.x:.3f} y={box.y:.3f} "
        f"width={box.width:.3f} height={box.height:.3f}"
    )


def contact_sheet(
    client: VrsClient, query: SimilarQuery, response: search_pb2.SearchResponse, out: Path
) -> Path:
    if query.image is not None:
        first = Tile(_read(query.image), ("query", query.image.name), highlight=True)
    else:
        found = client.call(
            client.embedder.GetProducts,
            embedder_pb2.GetProductsRequest(product_ids=[query.product_id or ""]),
        )
        uri = found.products[0].image_uri if found.products else ""
        first = Tile(_local_image(uri), ("query", query.product_id or ""), highlight=True)
    tiles = [first] + [
        Tile(
            _local_image(m.product.image_uri),
            (
                m.product_id,
                f"distance {m.distance:.3f}",
                f"price {m.product.price:.2f} {m.product.currency}"
                if m.product.HasField("price")
                else "price -",
            ),
        )
        for m in response.matches
    ]
    return render(tiles, out)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read image {path}: {exc.strerror or exc}") from exc


def _local_image(uri: str) -> bytes | None:
    """The product photo when its URI is a file on this machine; else none (placeholder)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    try:
        return Path(unquote(parts.path)).read_bytes()
    except OSError:
        return None
