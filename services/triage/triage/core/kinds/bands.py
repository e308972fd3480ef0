"""Bands of a measured value (adjusted calcium, SINS): containment, words, and the check that a set of
bands neither overlaps nor leaves a gap."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from triage.core.fields import Fields
from triage.core.pathway import PathwayError


@dataclass(frozen=True)
class Band:
    name: str
    lower: float | None
    lower_inclusive: bool
    upper: float | None
    upper_inclusive: bool
    unit: str

    def contains(self, value: float) -> bool:
        if self.lower is not None and (
            value < self.lower or (value == self.lower and not self.lower_inclusive)
        ):
            return False
        return not (
            self.upper is not None
            and (value > self.upper or (value == self.upper and not self.upper_inclusive))
        )

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        number = _measure if self.unit else _num
        low = None if self.lower is None else number(self.lower)
        high = None if self.upper is None else number(self.upper)
        if low is not None and high is None:
            return f"{'>=' if self.lower_inclusive else '>'} {low}{unit}"
        if high is not None and low is None:
            return f"{'<=' if self.upper_inclusive else '<'} {high}{unit}"
        lower_sign = ">=" if self.lower_inclusive else ">"
        upper_sign = "<=" if self.upper_inclusive else "<"
        return f"{lower_sign} {low} and {upper_sign} {high}{unit}"


def parse_band(
    fields: Fields, name: str, unit: str, convert: Mapping[str, float] | None = None, integer: bool = False
) -> Band:
    """{at_least | above: x, at_most | below: y, unit?}; at least one bound. Values converted to ``unit``."""
    factor = 1.0
    if convert is not None:
        written = fields.text("unit")
        if written not in convert:
            raise fields.error(f"{written!r} is not a unit for this band (use {', '.join(convert)})", "unit")
        factor = convert[written]
    bounds: dict[str, float] = {}
    for key in ("at_least", "above", "at_most", "below"):
        value = fields.number(key, required=False)
        if value is not None:
            if integer and value != int(value):
                raise fields.error("must be a whole number", key)
            bounds[key] = value * factor
    fields.finish()
    if ("at_least" in bounds and "above" in bounds) or ("at_most" in bounds and "below" in bounds):
        raise fields.error("give one lower bound (at_least or above) and one upper bound (at_most or below)")
    if not bounds:
        raise fields.error("a band needs a bound: at_least, above, at_most or below")
    lower = bounds.get("at_least", bounds.get("above"))
    upper = bounds.get("at_most", bounds.get("below"))
    band = Band(name, lower, "above" not in bounds, upper, "below" not in bounds, unit)
    if (
        lower is not None
        and upper is not None
        and (lower > upper or (lower == upper and bounds.keys() & {"above", "below"}))
    ):
        raise fields.error(f"the band {band.describe()} is empty")
    return band


def check_bands(bands: Sequence[Band], where: str, integer: bool = False, top: float | None = None) -> None:
    """Bands must not overlap and must leave no gap between them; the highest must reach ``top``
    (or be open-ended when ``top`` is None) so that no value above the lowest band is missed."""

    def low(b: Band) -> float:
        if b.lower is None:
            return float("-inf")
        return b.lower + (0 if b.lower_inclusive else 1) if integer else b.lower

    ordered = sorted(bands, key=low)
    for below, above in itertools.pairwise(ordered):
        if below.upper is None:
            raise PathwayError(
                f"{where}: bands '{below.name}' ({below.describe()}) and '{above.name}' overlap"
            )
        if integer:
            top_below = below.upper if below.upper_inclusive else below.upper - 1
            if low(above) <= top_below:
                raise PathwayError(f"{where}: bands '{below.name}' and '{above.name}' overlap")
            if low(above) > top_below + 1:
                raise PathwayError(
                    f"{where}: gap between bands '{below.name}' ({below.describe()}) and "
                    f"'{above.name}' ({above.describe()})"
                )
            continue
        assert above.lower is not None
        if below.upper > above.lower or (
            below.upper == above.lower and below.upper_inclusive and above.lower_inclusive
        ):
            raise PathwayError(
                f"{where}: bands '{below.name}' ({below.describe()}) and '{above.name}' ({above.describe()}) overlap"
            )
        if below.upper < above.lower or (
            below.upper == above.lower and not below.upper_inclusive and not above.lower_inclusive
        ):
            raise PathwayError(
                f"{where}: gap between bands '{below.name}' ({below.describe()}) and "
                f"'{above.name}' ({above.describe()}): a value there would raise nothing"
            )
    highest = ordered[-1]
    if top is None and highest.upper is not None:
        raise PathwayError(
            f"{where}: the highest band '{highest.name}' ({highest.describe()}) must be open-ended: "
            "a higher value would raise nothing"
        )
    if top is not None and (highest.upper is None or highest.upper < top):
        raise PathwayError(f"{where}: the highest band '{highest.name}' must reach {_num(top)}")


def _num(value: float) -> str:
    return f"{value:g}"


def _measure(value: float) -> str:
    """A measurement as written on a lab report: 3.0, 2.6, 3.45."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
