"""Calibration thresholds from hand-made results: each is the largest distance at which the
results up to it still reach the target precision; labels follow the thresholds."""

from __future__ import annotations

import pytest

from vrs.errors import InvalidInput
from vrs.evaluation.calibration import (
    Calibration,
    MatchLabel,
    Observation,
    calibrate,
    label_precision,
)
from vrs.evaluation.recall import QueryOutcome
from vrs.evaluation.recall import label_precision as outcome_label_precision


def seen(distance: float, product: bool = False, kind: bool = False) -> Observation:
    return Observation(distance, product, kind)


# Products at 1-2, their kind at 3-5 (one stranger at 4), strangers from 6.
RESULTS = [
    seen(1.0, product=True, kind=True),
    seen(1.5, product=True, kind=True),
    seen(2.0, product=True, kind=True),
    seen(3.0, kind=True),
    seen(3.5, kind=True),
    seen(4.0),
    seen(4.5, kind=True),
    seen(5.0, kind=True),
    seen(6.0),
    seen(7.0),
    seen(8.0),
]


@pytest.mark.parametrize(
    ("target", "close", "similar"),
    [(1.0, 2.0, 3.5), (0.8, 2.0, 5.0), (0.6, 3.5, 8.0), (0.5, 4.0, 8.0)],
)
def test_thresholds_are_the_largest_distances_at_the_target_precision(
    target: float, close: float, similar: float
) -> None:
    c = calibrate(RESULTS, queries=3, target=target)
    assert (c.close_max_distance, c.similar_max_distance) == (close, similar)
    assert c.queries == 3


def test_nothing_is_close_when_even_the_nearest_result_is_another_product() -> None:
    c = calibrate([seen(1.0, kind=True), seen(2.0, product=True)], queries=1, target=0.9)
    assert c.close_max_distance == 0.0
    assert c.label(1.0) is MatchLabel.SIMILAR


def test_each_labels_precision_is_measured_on_the_results() -> None:
    c = calibrate(RESULTS, queries=3, target=1.0)
    assert c.close_precision == 1.0
    assert c.similar_precision == 1.0  # 3.0 and 3.5
    assert c.weak_precision == pytest.approx(4 / 6)  # 4.0, 6, 7, 8 of 4.0..8.0
    assert label_precision(c, RESULTS)[MatchLabel.WEAK] == pytest.approx(4 / 6)


@pytest.mark.parametrize(
    ("distance", "label"),
    [
        (0.0, MatchLabel.CLOSE),
        (2.0, MatchLabel.CLOSE),
        (2.01, MatchLabel.SIMILAR),
        (5.0, MatchLabel.SIMILAR),
        (5.5, MatchLabel.WEAK),
    ],
)
def test_a_distance_gets_the_label_of_the_first_threshold_it_is_within(
    distance: float, label: MatchLabel
) -> None:
    assert Calibration(2.0, 5.0).label(distance) is label


@pytest.mark.parametrize(
    ("close", "similar", "problem"),
    [
        (-1.0, 2.0, "close_max_distance -1.0 is not a finite number >= 0"),
        (1.0, float("nan"), "similar_max_distance nan is not a finite number"),
        (3.0, 2.0, "similar_max_distance 2.0 is below close_max_distance 3.0"),
    ],
)
def test_a_bad_calibration_is_refused_naming_the_threshold(
    close: float, similar: float, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        Calibration(close, similar).validated()


def test_no_results_cannot_be_calibrated() -> None:
    with pytest.raises(InvalidInput, match="no results to calibrate on"):
        calibrate([], queries=0)


def test_label_precision_of_answers_counts_variants_as_the_product() -> None:
    answer = QueryOutcome(
        "a",
        ("a-red", "b", "c", "d"),
        0.01,
        category="shirt",
        ranked_categories=("shirt", "shirt", "shoes", "shirt"),
        expected_group="a",
        ranked_groups=("a", "", "", ""),
        ranked_labels=("close", "similar", "weak", "weak"),
    )
    assert outcome_label_precision([answer]) == {
        "close": (1.0, 1),
        "similar": (1.0, 1),
        "weak": (0.5, 2),
    }
    assert outcome_label_precision([QueryOutcome("a", ("a",), 0.01)]) is None
