"""Retrieval metrics over ranked answers: recall@k (of the product and of its variant group),
MRR, category precision@k, latency."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

RECALL_KS = (1, 5, 10)
CATEGORY_K = 5


@dataclass(frozen=True)
class QueryOutcome:
    """One query's answer: the product it should find and the ranked products it got."""

    expected_id: str
    ranked_ids: tuple[str, ...]
    latency_s: float
    category: str = ""
    ranked_categories: tuple[str, ...] = ()
    # The expected product's variant group and each answer's ("" for none).
    expected_group: str = ""
    ranked_groups: tuple[str, ...] = ()
    # Each answer's label ("close", "similar", "weak"; "" for none: no calibration).
    ranked_labels: tuple[str, ...] = ()

    def is_product(self, i: int) -> bool:
        """The i-th answer is the expected product, or a variant of its group."""
        if self.ranked_ids[i] == self.expected_id:
            return True
        group = self.ranked_groups[i] if i < len(self.ranked_groups) else ""
        return bool(self.expected_group) and group == self.expected_group

    def is_kind(self, i: int) -> bool:
        """The i-th answer is the expected product's kind (category), or the product itself."""
        category = self.ranked_categories[i] if i < len(self.ranked_categories) else ""
        return self.is_product(i) or (bool(self.category) and category == self.category)

    @property
    def rank(self) -> int | None:
        """1-based rank of the expected product; None when it was not returned."""
        try:
            return self.ranked_ids.index(self.expected_id) + 1
        except ValueError:
            return None

    @property
    def group_rank(self) -> int | None:
        """1-based rank of the first answer in the expected product's variant group (the
        product itself when it has no group); None when none was returned."""
        if not self.expected_group:
            return self.rank
        groups = self.ranked_groups + ("",) * (len(self.ranked_ids) - len(self.ranked_groups))
        for rank, group in enumerate(groups, 1):
            if group == self.expected_group:
                return rank
        return None


def recall_at(outcomes: Sequence[QueryOutcome], k: int) -> float:
    """Share of queries whose expected product is among the first k answers."""
    if not outcomes:
        return 0.0
    return sum(1 for o in outcomes if (r := o.rank) is not None and r <= k) / len(outcomes)


def group_recall_at(outcomes: Sequence[QueryOutcome], k: int) -> float | None:
    """Share of queries with a variant of the expected product's group among the first k
    answers; None when no query names a group."""
    if not any(o.expected_group for o in outcomes):
        return None
    hits = sum(1 for o in outcomes if (r := o.group_rank) is not None and r <= k)
    return hits / len(outcomes)


def label_precision(outcomes: Sequence[QueryOutcome]) -> dict[str, tuple[float, int]] | None:
    """Per label the answers carried: the share it was right about (close: the product or a
    variant of it; similar: the same kind; weak: another kind) and how many carried it. None
    when no answer carried a label (no calibration)."""
    right: dict[str, int] = {}
    seen: dict[str, int] = {}
    for o in outcomes:
        for i, label in enumerate(o.ranked_labels):
            if not label:
                continue
            seen[label] = seen.get(label, 0) + 1
            if label == "close":
                ok = o.is_product(i)
            elif label == "similar":
                ok = o.is_kind(i)
            else:
                ok = not o.is_kind(i)
            right[label] = right.get(label, 0) + ok
    if not seen:
        return None
    return {label: (right.get(label, 0) / n, n) for label, n in sorted(seen.items())}


def mean_reciprocal_rank(outcomes: Sequence[QueryOutcome]) -> float:
    """Mean of 1/rank of the expected product (0 when it was not returned)."""
    if not outcomes:
        return 0.0
    return sum(1.0 / r for o in outcomes if (r := o.rank) is not None) / len(outcomes)


def category_precision_at(outcomes: Sequence[QueryOutcome], k: int = CATEGORY_K) -> float | None:
    """Mean share of the first k answers in the query's category, over queries that name
    one (missing answers count as wrong); None when no query names a category."""
    scored = [o for o in outcomes if o.category]
    if not scored:
        return None
    return sum(o.ranked_categories[:k].count(o.category) / k for o in scored) / len(scored)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def overlap_recall(approximate: Sequence[str], exact: Sequence[str]) -> float | None:
    """Share of the exact answer's products the approximate answer also found (recall@k of an
    ANN index against exact search); None when the exact answer is empty."""
    if not exact:
        return None
    return len(set(approximate) & set(exact)) / len(exact)


@dataclass(frozen=True)
class Scores:
    """The quality numbers of a set of queries."""

    queries: int
    recall: dict[int, float]
    mrr: float
    category_precision_at_5: float | None
    latency_p50_ms: float
    latency_p99_ms: float
    # None when no query names a variant group.
    group_recall: dict[int, float] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "queries": self.queries,
            **{f"recall_at_{k}": v for k, v in self.recall.items()},
            **{f"group_recall_at_{k}": v for k, v in (self.group_recall or {}).items()},
            "mrr": self.mrr,
            "category_precision_at_5": self.category_precision_at_5,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p99_ms": self.latency_p99_ms,
        }


@dataclass(frozen=True)
class Report:
    """Scores over all queries and per expected category, and the queries that failed."""

    overall: Scores
    per_category: dict[str, Scores]
    failures: list[str] = field(default_factory=list)
    # Per calibration label: its precision and how many answers carried it; None: no labels.
    labels: dict[str, tuple[float, int]] | None = None


def scores(outcomes: Sequence[QueryOutcome]) -> Scores:
    latencies = [o.latency_s * 1000 for o in outcomes]
    grouped = {k: group_recall_at(outcomes, k) for k in RECALL_KS}
    return Scores(
        queries=len(outcomes),
        recall={k: recall_at(outcomes, k) for k in RECALL_KS},
        mrr=mean_reciprocal_rank(outcomes),
        category_precision_at_5=category_precision_at(outcomes),
        latency_p50_ms=percentile(latencies, 50),
        latency_p99_ms=percentile(latencies, 99),
        group_recall={k: v for k, v in grouped.items() if v is not None} or None,
    )


def report(outcomes: Sequence[QueryOutcome], failures: Sequence[str] = ()) -> Report:
    by_category: dict[str, list[QueryOutcome]] = {}
    for outcome in outcomes:
        if outcome.category:
            by_category.setdefault(outcome.category, []).append(outcome)
    return Report(
        overall=scores(outcomes),
        per_category={c: scores(group) for c, group in sorted(by_category.items())},
        failures=list(failures),
        labels=label_precision(outcomes),
    )
