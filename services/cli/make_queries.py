"""`vrs make-queries`: a shop-photo query set from a catalog's own photos, for `vrs eval`."""

from __future__ import annotations

from pathlib import Path

from services.cli.catalog_files import read_catalog
from services.cli.client import CliError
from vrs.evaluation.queryset import QUERIES_FILE, SourcePhoto, make_query_set


def make_queries(catalog: Path, out_dir: Path, seed: int, per_product: int) -> int:
    if per_product < 1:
        raise CliError(f"--per-product must be at least 1, got {per_product}")
    photos = [SourcePhoto(e.product_id, e.image, e.category) for e in read_catalog(catalog)]
    if not photos:
        raise CliError(f"{catalog}: no products")
    try:
        rows, failures = make_query_set(photos, out_dir, seed, per_product)
    except OSError as exc:
        raise CliError(f"cannot write the query set in {out_dir}: {exc.strerror or exc}") from exc
    made = len(photos) - len(failures)
    print(f"{len(rows)} queries of {made} products: {out_dir / QUERIES_FILE}")
    for failure in failures:
        print(f"  failed {failure}")
    return 1 if failures else 0
