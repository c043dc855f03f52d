"""Exchange rates an operator gives (VRS_FX_RATES_FILE), for budgets over catalogs priced in
several currencies. Without them prices in different currencies are never compared.

The file is JSON: `{"base": "USD", "rates": {"EUR": 0.92, "GBP": 0.79}}`: units of each
currency worth one unit of `base` (the base's own rate is 1 and may be left out)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from vrs.errors import ConfigurationError


def is_currency_code(text: str) -> bool:
    """A 3-letter ISO 4217 code, upper case."""
    return len(text) == 3 and text.isascii() and text.isalpha() and text.isupper()


@dataclass(frozen=True)
class FxRates:
    """Units of each currency worth one unit of `base`."""

    base: str
    rates: dict[str, float]

    def units(self, currency: str, per: str) -> float | None:
        """Units of `currency` worth one unit of `per`; None when either has no rate."""
        if currency not in self.rates or per not in self.rates:
            return None
        return self.rates[currency] / self.rates[per]

    @classmethod
    def load(cls, path: Path) -> FxRates:
        """The rates file, checked; ConfigurationError naming the problem (the process refuses
        to start rather than compare prices wrongly)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigurationError(f"VRS_FX_RATES_FILE {path}: cannot read it ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("rates"), dict):
            raise ConfigurationError(
                f'VRS_FX_RATES_FILE {path}: expected {{"base": "USD", "rates": {{"EUR": 0.92}}}}'
            )
        base = data.get("base")
        if not isinstance(base, str) or not is_currency_code(base):
            raise ConfigurationError(f"VRS_FX_RATES_FILE {path}: base {base!r} is not a code")
        rates: dict[str, float] = {base: 1.0}
        for code, rate in data["rates"].items():
            if not is_currency_code(code):
                raise ConfigurationError(f"VRS_FX_RATES_FILE {path}: {code!r} is not a code")
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not math.isfinite(rate)
                or rate <= 0
            ):
                raise ConfigurationError(
                    f"VRS_FX_RATES_FILE {path}: rate of {code} must be a number > 0, got {rate!r}"
                )
            if code == base and rate != 1:
                raise ConfigurationError(
                    f"VRS_FX_RATES_FILE {path}: the base {base} has rate 1, got {rate!r}"
                )
            rates[code] = float(rate)
        return cls(base, rates)
