"""The operator's exchange-rates file: read when valid, refused naming the problem otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vrs.catalog.money import FxRates
from vrs.errors import ConfigurationError


def test_rates_convert_between_any_two_listed_currencies(tmp_path: Path) -> None:
    path = tmp_path / "rates.json"
    path.write_text(json.dumps({"base": "USD", "rates": {"EUR": 0.5, "GBP": 2}}))
    rates = FxRates.load(path)
    assert rates.units("EUR", "USD") == 0.5
    assert rates.units("USD", "GBP") == 0.5
    assert rates.units("EUR", "GBP") == 0.25
    assert rates.units("JPY", "USD") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "cannot read it"),
        ('["USD"]', 'expected {"base": "USD"'),
        ('{"base": "usd", "rates": {}}', "base 'usd' is not a code"),
        ('{"base": "USD", "rates": {"EURO": 1}}', "'EURO' is not a code"),
        ('{"base": "USD", "rates": {"EUR": 0}}', "rate of EUR must be a number > 0"),
        ('{"base": "USD", "rates": {"EUR": "0.9"}}', "rate of EUR must be a number > 0"),
        ('{"base": "USD", "rates": {"EUR": true}}', "rate of EUR must be a number > 0"),
        ('{"base": "USD", "rates": {"USD": 2}}', "the base USD has rate 1"),
    ],
)
def test_a_bad_rates_file_is_refused_naming_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "rates.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match="VRS_FX_RATES_FILE") as refused:
        FxRates.load(path)
    assert problem in str(refused.value)


def test_a_missing_rates_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read it"):
        FxRates.load(tmp_path / "absent.json")
