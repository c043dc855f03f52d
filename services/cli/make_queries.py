"""`vrs make-queries`: a query set (shop photos or scenes) from a catalog's own photos, for
`vrs eval`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from services.cli.catalog_files import read_catalog
from services.cli.client import CliError
from vrs.evaluation import mixes
from vrs.evaluation.queryset import (
    DEFAULT_MIXES,
    QUERIES_FILE,
    SCENE,
    SourcePhoto,
    make_query_set,
)


def make_queries(
    catalog: Path,
    out_dir: Path,
    seed: int,
    per_product: int,
    *,
    kind: str = "shop",
    distortions: str | None = None,
    hold_out: str | None = None,
) -> int:
    if per_product < 1:
        raise CliError(f"--per-product must be at least 1, got {per_product}")
    mix = query_mix(kind, distortions, hold_out)
    photos = [
        SourcePhoto(e.product_id, e.image, e.category, e.more_images, e.group_id)
        for e in read_catalog(catalog)
    ]
    if not photos:
        raise CliError(f"{catalog}: no products")
    try:
        rows, failures = make_query_set(photos, out_dir, seed, per_product, kind=kind, mix=mix)
    except OSError as exc:
        raise CliError(f"cannot write the query set in {out_dir}: {exc.strerror or exc}") from exc
    made = len(photos) - len(failures)
    kinds = ", ".join(f"{count} {name}" for name, count in Counter(r.kind for r in rows).items())
    print(
        f"{len(rows)} queries ({kinds or 'none'}) of {made} products, distortions "
        f"{mixes.describe(mix)}, seed {seed}: {out_dir / QUERIES_FILE}"
    )
    for failure in failures:
        print(f"  failed {failure}")
    return 1 if failures else 0


def query_mix(kind: str, distortions: str | None, hold_out: str | None) -> mixes.Mix:
    """The mix of --distortions (default: the kind's) minus --hold-out, checked for the kind."""
    if kind not in DEFAULT_MIXES:
        raise CliError(f"unknown query kind {kind!r} (known: {', '.join(DEFAULT_MIXES)})")
    mix = DEFAULT_MIXES[kind]
    try:
        if distortions is not None:
            mix = mixes.parse_mix(distortions)
    except ValueError as exc:
        raise CliError(f"--distortions: {exc}") from exc
    try:
        if hold_out is not None:
            mix = mixes.hold_out(mix, hold_out.split(","))
    except ValueError as exc:
        raise CliError(f"--hold-out: {exc}") from exc
    try:
        if kind == SCENE:
            mixes.check_scene_mix(mix)
    except ValueError as exc:
        raise CliError(f"--kind scene: {exc}") from exc
    return mix
