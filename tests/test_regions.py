"""A region is four finite numbers inside the photo, or a clear error naming the problem."""

from __future__ import annotations

import pytest

from vrs.errors import InvalidInput
from vrs.images.region import Region, parse_region

BAD = {
    "three numbers": ("0.1,0.2,0.3", "not four numbers"),
    "five numbers": ("0,0,0.5,0.5,1", "not four numbers"),
    "a word": ("0.1,left,0.3,0.4", "not four numbers"),
    "nan": ("nan,0,0.5,0.5", "not four finite numbers"),
    "infinite": ("0,0,inf,0.5", "not four finite numbers"),
    "empty": ("0.1,0.1,0,0.5", "is empty"),
    "negative": ("-0.2,0,0.5,0.5", "starts outside the photo"),
    "past the right edge": ("0.8,0,0.5,0.5", "ends outside the photo"),
    "past the bottom": ("0,0.9,0.5,0.2", "ends outside the photo"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_region_is_refused_naming_the_problem(case: str) -> None:
    text, reason = BAD[case]
    with pytest.raises(InvalidInput, match=reason):
        parse_region(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.1,0.2,0.3,0.4", Region(0.1, 0.2, 0.3, 0.4)),
        (" 0 , 0 , 1 , 1 ", Region(0.0, 0.0, 1.0, 1.0)),
        ("0.5,0.5,0.50000001,0.5", Region(0.5, 0.5, 0.5, 0.5)),
    ],
)
def test_a_region_inside_the_photo_is_taken(text: str, expected: Region) -> None:
    assert parse_region(text) == expected


def test_equal_regions_share_a_cache_key() -> None:
    assert Region(0.1, 0.2, 0.3, 0.4).key() == Region(0.10000001, 0.2, 0.3, 0.4).key()
    assert Region(0.1, 0.2, 0.3, 0.4).key() != Region(0.1, 0.2, 0.3, 0.5).key()
