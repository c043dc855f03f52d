"""`vrs eval`: how well a running server finds the product in shop photos of it."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.cli.client import CliError, VrsClient
from vrs.evaluation.boxes import Box, parse_box
from vrs.evaluation.recall import (
    RECALL_KS,
    QueryOutcome,
    Report,
    Scores,
    overlap_recall,
    percentile,
    report,
)
from vrs.rpc.convert import label_name
from vrs.v1 import common_pb2, search_pb2

EVAL_K = max(RECALL_KS)
# The ANN check's price filter keeps about this share of the prices seen: selective enough for
# HNSW to lose recall under it, as a shopper's budget does.
ANN_PRICE_QUANTILE = 20.0


@dataclass(frozen=True)
class EvalQuery:
    """A row of the query set: where its image is, and the product it should find (in scene
    queries, within `box`: x, y, width, height as fractions of the image)."""

    where: str
    image: str
    product_id: str
    category: str = ""
    box: Box | None = None
    group_id: str = ""


@dataclass(frozen=True)
class AnnCheck:
    """Recall@k of the index's answers against exact search, unfiltered and under a price cap."""

    k: int
    queries: int
    unfiltered: float | None
    max_price: float | None
    filtered: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "k": self.k,
            "queries": self.queries,
            "recall_unfiltered": self.unfiltered,
            "max_price": self.max_price,
            "recall_price_filtered": self.filtered,
        }


def read_queries(path: Path) -> list[EvalQuery]:
    """queries.csv: columns image (a path relative to the file, or a URI), product_id and,
    optionally, category, box (`x,y,width,height` fractions; empty for the whole image) and
    group_id (the product's variant group: group recall is reported too)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    except OSError as exc:
        raise CliError(f"cannot read the query set {path}: {exc.strerror or exc}") from exc
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = {"image", "product_id"} - set(reader.fieldnames or ())
        if missing:
            raise CliError(
                f"{path}: needs the columns image and product_id, lacks {sorted(missing)}"
            )
        rows = list(reader)
    except csv.Error as exc:
        raise CliError(f"{path}: not a readable CSV ({exc})") from exc
    if not rows:
        raise CliError(f"{path}: no queries")
    return [
        EvalQuery(
            where=f"{path.name}:{n}",
            image=str(row.get("image") or "").strip(),
            product_id=str(row.get("product_id") or "").strip(),
            category=str(row.get("category") or "").strip(),
            box=_box(f"{path.name}:{n}", str(row.get("box") or "")),
            group_id=str(row.get("group_id") or "").strip(),
        )
        for n, row in enumerate(rows, 2)
    ]


def _box(where: str, text: str) -> Box | None:
    try:
        return parse_box(text)
    except ValueError as exc:
        raise CliError(f"{where}: {exc}") from exc


def evaluate(
    client: VrsClient,
    queries_path: Path,
    *,
    as_json: bool = False,
    min_recall_at_1: float | None = None,
    ann_check: bool = False,
    use_boxes: bool = False,
) -> int:
    """Prints the report; 1 when a query failed or recall@1 is under the threshold.
    `use_boxes`: each query with a box searches on it (the region a shopper points at)."""
    queries = read_queries(queries_path)
    outcomes: list[QueryOutcome] = []
    sources: list[common_pb2.ImageSource] = []
    failures: list[str] = []
    for query in queries:
        # One bad query (unreadable image, refused by the server) fails alone.
        try:
            source = image_source(query, queries_path.parent)
            region = query.box if use_boxes else None
            outcomes.append(_run(client, query, source, region))
            sources.append(source)
        except (CliError, OSError, ValueError) as exc:
            failures.append(f"{query.where} ({query.image or 'no image'}): {exc}")
    result = report(outcomes, failures)
    check = _ann_check(client, sources) if ann_check and sources else None
    print(_as_json(result, check) if as_json else _as_text(result, check))
    recall_at_1 = result.overall.recall[1]
    if failures:
        print(f"vrs eval: {len(failures)} of {len(queries)} queries failed", file=sys.stderr)
    if min_recall_at_1 is not None and recall_at_1 < min_recall_at_1:
        print(
            f"vrs eval: recall@1 {recall_at_1:.3f} is under --min-recall-at-1 "
            f"{min_recall_at_1:.3f}",
            file=sys.stderr,
        )
        return 1
    return 1 if failures else 0


def image_source(query: EvalQuery, base: Path) -> common_pb2.ImageSource:
    if not query.image:
        raise CliError("no image")
    if not query.product_id:
        raise CliError("no product_id")
    if "://" in query.image:
        return common_pb2.ImageSource(uri=query.image)
    path = base / query.image
    try:
        return common_pb2.ImageSource(data=path.read_bytes())
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _search(
    client: VrsClient,
    source: common_pb2.ImageSource,
    k: int,
    exact: bool | None = None,
    max_price: float | None = None,
    region: tuple[float, float, float, float] | None = None,
) -> search_pb2.SearchResponse:
    request = search_pb2.SearchByImageRequest(image=source, k=k)
    if region is not None:
        x, y, width, height = region
        request.region.CopyFrom(common_pb2.Region(x=x, y=y, width=width, height=height))
    if exact is not None:
        request.exact = exact
    if max_price is not None:
        request.filter.max_price = max_price
    return client.call(client.search.SearchByImage, request)


def _run(
    client: VrsClient,
    query: EvalQuery,
    source: common_pb2.ImageSource,
    region: tuple[float, float, float, float] | None = None,
) -> QueryOutcome:
    started = time.perf_counter()
    response = _search(client, source, EVAL_K, region=region)
    latency = time.perf_counter() - started
    return QueryOutcome(
        expected_id=query.product_id,
        ranked_ids=tuple(m.product_id for m in response.matches),
        latency_s=latency,
        category=query.category,
        ranked_categories=tuple(m.product.category for m in response.matches),
        expected_group=query.group_id,
        ranked_groups=tuple(m.product.group_id for m in response.matches),
        ranked_labels=tuple(label_name(m.match) for m in response.matches),
    )


def _ann_check(client: VrsClient, sources: Sequence[common_pb2.ImageSource]) -> AnnCheck:
    """The same queries answered by the HNSW index and by exact search, compared."""
    prices: list[float] = []
    unfiltered: list[float] = []
    for source in sources:
        exact = _compared(client, source, unfiltered)
        if exact is not None:
            prices += [m.product.price for m in exact.matches if m.product.HasField("price")]
    max_price = percentile(prices, ANN_PRICE_QUANTILE) if prices else None
    filtered: list[float] = []
    if max_price is not None:
        for source in sources:
            _compared(client, source, filtered, max_price)
    return AnnCheck(EVAL_K, len(sources), _mean(unfiltered), max_price, _mean(filtered))


def _compared(
    client: VrsClient,
    source: common_pb2.ImageSource,
    recalls: list[float],
    max_price: float | None = None,
) -> search_pb2.SearchResponse | None:
    """The exact answer, after adding the index's recall against it; None when the server
    refused the query (it then counts in neither number, and the others still do)."""
    try:
        exact = _search(client, source, EVAL_K, exact=True, max_price=max_price)
        approx = _search(client, source, EVAL_K, exact=False, max_price=max_price)
    except CliError:
        return None
    _add(recalls, approx, exact)
    return exact


def _add(
    recalls: list[float], approx: search_pb2.SearchResponse, exact: search_pb2.SearchResponse
) -> None:
    recall = overlap_recall(
        [m.product_id for m in approx.matches], [m.product_id for m in exact.matches]
    )
    if recall is not None:
        recalls.append(recall)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _as_json(result: Report, check: AnnCheck | None) -> str:
    return json.dumps(
        {
            **result.overall.to_json(),
            "failed": len(result.failures),
            "failures": result.failures,
            "per_category": {c: s.to_json() for c, s in result.per_category.items()},
            "ann_check": check.to_json() if check else None,
            "labels": None
            if result.labels is None
            else {k: {"precision": p, "matches": n} for k, (p, n) in result.labels.items()},
        },
        indent=2,
    )


def _as_text(result: Report, check: AnnCheck | None) -> str:
    overall = result.overall
    lines = [
        f"queries {overall.queries} (failed {len(result.failures)})",
        "   ".join(
            [*(f"recall@{k} {overall.recall[k]:.3f}" for k in RECALL_KS), f"MRR {overall.mrr:.3f}"]
        )
        + f"   category P@5 {_number(overall.category_precision_at_5)}",
        f"latency p50 {overall.latency_p50_ms:.1f} ms   p99 {overall.latency_p99_ms:.1f} ms",
    ]
    if overall.group_recall is not None:
        lines.insert(
            2,
            "   ".join(f"group recall@{k} {v:.3f}" for k, v in overall.group_recall.items())
            + "   (a variant of the product's group)",
        )
    if result.labels is not None:
        lines.append(
            "labels (precision, matches): "
            + ", ".join(f"{k} {p:.3f} ({n})" for k, (p, n) in result.labels.items())
        )
    if result.per_category:
        lines.append(_category_table(result.per_category))
    if check is not None:
        lines.append(
            f"ANN check (recall@{check.k} of HNSW against exact search, {check.queries} "
            f"queries): unfiltered {_number(check.unfiltered)}, "
            + (
                f"price <= {check.max_price:.2f} {_number(check.filtered)}"
                if check.max_price is not None
                else "no prices to filter on"
            )
        )
    lines += [f"  failed {failure}" for failure in result.failures]
    return "\n".join(lines)


def _category_table(per_category: dict[str, Scores]) -> str:
    rows = [("category", "queries", *(f"R@{k}" for k in RECALL_KS), "MRR", "P@5")]
    for category, s in per_category.items():
        rows.append(
            (
                category,
                str(s.queries),
                *(f"{s.recall[k]:.3f}" for k in RECALL_KS),
                f"{s.mrr:.3f}",
                _number(s.category_precision_at_5),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
