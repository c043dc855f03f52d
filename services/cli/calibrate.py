"""`vrs calibrate`: the distances at which, for the serving model, a match is the same product
and the same kind of product, measured on a query set and kept with the collection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from services.cli.client import CliError, VrsClient
from services.cli.eval import EvalQuery, image_source, read_queries
from vrs.errors import InvalidInput
from vrs.evaluation.calibration import (
    DEFAULT_TARGET_PRECISION,
    Calibration,
    Observation,
    calibrate,
)
from vrs.rpc.convert import calibration_to_proto
from vrs.v1 import embedder_pb2, search_pb2

# Results per query: the product itself, its near twins and its kind, and the rest.
CALIBRATION_K = 10


def run_calibration(
    client: VrsClient,
    queries_path: Path,
    *,
    target: float = DEFAULT_TARGET_PRECISION,
    dry_run: bool = False,
    as_json: bool = False,
) -> int:
    """Searches each query, derives the thresholds, keeps them with the collection (unless
    `dry_run`) and prints them; 1 when a query failed (the others still count)."""
    if not 0 < target <= 1:
        raise CliError(f"--target-precision must be in (0, 1], got {target}")
    queries = read_queries(queries_path)
    observations: list[Observation] = []
    failures: list[str] = []
    answered = 0
    for query in queries:
        try:
            source = image_source(query, queries_path.parent)
            request = search_pb2.SearchByImageRequest(image=source, k=CALIBRATION_K)
            response = client.call(client.search.SearchByImage, request)
        except (CliError, OSError, ValueError) as exc:
            failures.append(f"{query.where} ({query.image or 'no image'}): {exc}")
            continue
        answered += 1
        observations += [_observed(query, m) for m in response.matches]
    try:
        measured = calibrate(observations, answered, target)
    except InvalidInput as exc:
        raise CliError(str(exc)) from exc
    kept = None
    if not dry_run:
        keep = embedder_pb2.SetCalibrationRequest(calibration=calibration_to_proto(measured, ""))
        kept = client.call(client.embedder.SetCalibration, keep)
    print(_as_json(measured, kept) if as_json else _as_text(measured, kept, target))
    for failure in failures:
        print(f"  failed {failure}")
    if failures:
        print(f"vrs calibrate: {len(failures)} of {len(queries)} queries failed", file=sys.stderr)
    return 1 if failures else 0


def _observed(query: EvalQuery, match: search_pb2.Match) -> Observation:
    product = match.product_id == query.product_id or (
        bool(query.group_id) and match.product.group_id == query.group_id
    )
    kind = bool(query.category) and match.product.category == query.category
    return Observation(match.distance, product, kind)


def _as_text(c: Calibration, kept: embedder_pb2.Calibration | None, target: float) -> str:
    where = (
        f"kept with the collection of {kept.model_id} ({kept.calibrated_at})"
        if kept is not None
        else "not kept (--dry-run)"
    )
    return "\n".join(
        [
            f"calibrated on {c.queries} queries (target precision {target:.2f}): {where}",
            f"close    distance <= {c.close_max_distance:8.3f}   "
            f"{_precision(c.close_precision, c.close_results)}   (the product or a variant)",
            f"similar  distance <= {c.similar_max_distance:8.3f}   "
            f"{_precision(c.similar_precision, c.similar_results)}   (the same kind of product)",
            f"weak     beyond               {_precision(c.weak_precision, c.weak_results)}"
            "   (another kind of product)",
        ]
    )


def _precision(value: float, results: int) -> str:
    if not results:
        return "precision   -   (0 results)"
    return f"precision {value:.3f} ({results} results)"


def _as_json(c: Calibration, kept: embedder_pb2.Calibration | None) -> str:
    return json.dumps(
        {
            **c.to_json(),
            "kept": kept is not None,
            "model_id": kept.model_id if kept is not None else None,
        },
        indent=2,
    )
