"""Retrieval metrics on hand-made rankings: recall@k, MRR, category precision@5, percentiles,
and the ANN check's overlap recall."""

from __future__ import annotations

import pytest

from vrs.evaluation.recall import (
    QueryOutcome,
    category_precision_at,
    group_recall_at,
    mean_reciprocal_rank,
    overlap_recall,
    percentile,
    recall_at,
    report,
)


def outcome(expected: str, ranked: str, category: str = "", categories: str = "") -> QueryOutcome:
    """Rankings written as strings: "abc" is a, then b, then c."""
    return QueryOutcome(expected, tuple(ranked), 0.01, category, tuple(categories))


# expected at rank 1, rank 3, absent, rank 6
QUERIES = [
    outcome("a", "abcdefghij"),
    outcome("c", "abcdefghij"),
    outcome("z", "abcdefghij"),
    outcome("f", "abcdefghij"),
]


@pytest.mark.parametrize(("k", "expected"), [(1, 0.25), (3, 0.5), (5, 0.5), (6, 0.75), (10, 0.75)])
def test_recall_at_k_counts_queries_with_the_product_in_the_first_k(
    k: int, expected: float
) -> None:
    assert recall_at(QUERIES, k) == pytest.approx(expected)


def test_mrr_averages_reciprocal_ranks_with_zero_for_a_miss() -> None:
    assert mean_reciprocal_rank(QUERIES) == pytest.approx((1 + 1 / 3 + 0 + 1 / 6) / 4)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([outcome("a", "abcde", "x", "xxxxx")], 1.0),
        ([outcome("a", "abcde", "x", "xyxyx")], 0.6),
        # fewer than 5 answers: the missing ones count as wrong
        ([outcome("a", "ab", "x", "xx")], 0.4),
        ([outcome("a", "abcde", "x", "xxxxx"), outcome("a", "abcde", "y", "xxxxx")], 0.5),
        # a query without a category is not scored
        ([outcome("a", "abcde", "x", "xxxxx"), outcome("a", "abcde", "", "yyyyy")], 1.0),
        ([outcome("a", "abcde")], None),
    ],
)
def test_category_precision_at_5(outcomes: list[QueryOutcome], expected: float | None) -> None:
    assert category_precision_at(outcomes, 5) == (
        None if expected is None else pytest.approx(expected)
    )


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, 0.0),
        ([5.0], 99, 5.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.0),
        (list(range(1, 101)), 99, 99),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize(
    ("approx", "exact", "expected"),
    [("abc", "abc", 1.0), ("abd", "abc", 2 / 3), ("xyz", "abc", 0.0), ("", "", None)],
)
def test_overlap_recall_is_the_share_of_exact_answers_found(
    approx: str, exact: str, expected: float | None
) -> None:
    assert overlap_recall(list(approx), list(exact)) == (
        None if expected is None else pytest.approx(expected)
    )


def test_report_has_a_row_per_expected_category() -> None:
    result = report(
        [outcome("a", "ab", "shirt", "ss"), outcome("b", "ab", "shoes", "ss")], ["row 4: bad"]
    )
    assert sorted(result.per_category) == ["shirt", "shoes"]
    assert result.per_category["shirt"].recall[1] == 1.0
    assert result.per_category["shoes"].recall[1] == 0.0
    assert result.overall.queries == 2 and result.failures == ["row 4: bad"]


def test_no_queries_score_zero_not_a_division_error() -> None:
    assert recall_at([], 1) == 0.0 and mean_reciprocal_rank([]) == 0.0


def grouped(expected: str, group: str, ranked: str, groups: str) -> QueryOutcome:
    """Groups written as strings too: "x.y" gives the answers groups x, none, y."""
    return QueryOutcome(
        expected, tuple(ranked), 0.01, expected_group=group, ranked_groups=tuple(groups.strip())
    )


@pytest.mark.parametrize(
    ("query", "product_rank", "group_rank"),
    [
        (grouped("a", "x", "bac", "xx."), 2, 1),  # a variant of its group comes first
        (grouped("a", "x", "bca", "..x"), 3, 3),  # only the product itself is in its group
        (grouped("a", "x", "bcd", "..."), None, None),  # neither
        (grouped("a", "", "bac", "xx."), 2, 2),  # no group: the product's own rank
    ],
)
def test_group_rank_is_the_first_answer_in_the_products_variant_group(
    query: QueryOutcome, product_rank: int | None, group_rank: int | None
) -> None:
    assert (query.rank, query.group_rank) == (product_rank, group_rank)


def test_group_recall_is_reported_only_when_a_query_names_a_group() -> None:
    with_groups = [grouped("a", "x", "bac", "xx."), grouped("d", "y", "bca", "...")]
    assert group_recall_at(with_groups, 1) == pytest.approx(0.5)
    assert report(with_groups).overall.group_recall == {1: 0.5, 5: 0.5, 10: 0.5}
    assert report(QUERIES).overall.group_recall is None
    assert "group_recall_at_1" not in report(QUERIES).overall.to_json()
