"""`vrs index`: a catalog on disk into the index, resumable, with progress and a summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from services.cli.catalog_files import CatalogEntry, read_catalog
from services.cli.client import CliError, VrsClient
from vrs.catalog.ids import normalize_product_id
from vrs.catalog.products import Product
from vrs.errors import InvalidProduct
from vrs.images.source import ImageInput
from vrs.rpc.convert import image_to_proto, product_to_proto
from vrs.v1 import embedder_pb2


def index_catalog(client: VrsClient, path: Path, batch_size: int = 32) -> int:
    entries = read_catalog(path)
    if not entries:
        raise CliError(f"no products found in {path}")
    local_failures: list[tuple[str, str]] = []
    progress = tqdm(total=len(entries), unit="img", desc="indexing", dynamic_ncols=True)

    def batches() -> Iterator[embedder_pb2.UpsertProductsRequest]:
        # gRPC flow control keeps this generator only a few batches ahead of the server, so
        # the bar's rate and ETA follow the embedder's real pace.
        for start in range(0, len(entries), batch_size):
            items = []
            for entry in entries[start : start + batch_size]:
                try:
                    items.append(upsert_request(entry))
                except OSError as exc:
                    local_failures.append((entry.product_id, f"cannot read {entry.image}: {exc}"))
                except InvalidProduct as exc:
                    local_failures.append((repr(entry.product_id), str(exc)))
            progress.update(min(batch_size, len(entries) - start))
            if items:
                yield embedder_pb2.UpsertProductsRequest(items=items)

    try:
        summary = client.stream(client.embedder.StreamUpsertProducts, batches())
    finally:
        progress.close()
    failed = summary.failed + len(local_failures)
    print(
        f"indexed {summary.upserted + summary.updated} (new or changed), "
        f"unchanged {summary.unchanged}, failed {failed}"
        + (" - index rebuilt" if summary.index_optimized else "")
    )
    for product_id, reason in local_failures:
        print(f"  failed {product_id}: {reason}")
    for result in summary.failures:
        print(f"  failed {result.product_id or '(no id)'}: {result.error.message}")
    if summary.failures_truncated:
        print("  ... more failures not listed")
    return 1 if failed else 0


def upsert_request(entry: CatalogEntry) -> embedder_pb2.ProductUpsert:
    """The entry as the server reads products and images (vrs.rpc.convert), photos included
    (their bytes: the server need not see the files; their file URIs: where they are shown
    from)."""
    product = entry_product(entry)
    if not entry.more_images:
        image = ImageInput(data=entry.image.read_bytes())
        return embedder_pb2.ProductUpsert(
            product=product_to_proto(product), image=image_to_proto(image)
        )
    return embedder_pb2.ProductUpsert(
        product=product_to_proto(product),
        images=[image_to_proto(ImageInput(data=path.read_bytes())) for path in entry.images],
        image_uris=[path.resolve().as_uri() for path in entry.images],
    )


def entry_product(entry: CatalogEntry) -> Product:
    """The product a catalog entry describes (its first photo's file URI as image_uri)."""
    return Product(
        product_id=normalize_product_id(entry.product_id),
        title=entry.title,
        category=entry.category,
        brand=entry.brand,
        price=entry.price,
        currency=entry.currency,
        image_uri=entry.image.resolve().as_uri(),
        group_id=entry.group_id,
    )
