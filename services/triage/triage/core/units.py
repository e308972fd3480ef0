"""Laboratory units: every value is converted to one canonical unit per test before it is compared.

Numbers in different units are never compared. The factors are chemistry, not clinical choices:
calcium 1 mmol/L = 4.008 mg/dL (molar mass 40.08 g/mol); albumin 1 g/dL = 10 g/L; creatinine
1 mg/dL = 88.42 umol/L (molar mass 113.12 g/mol). Body temperature: Celsius = (Fahrenheit - 32) x 5/9, the
one conversion with an offset (added before the factor).
"""

from __future__ import annotations

# test -> (canonical unit, {accepted unit: factor that multiplies a value into the canonical unit})
CANONICAL: dict[str, tuple[str, dict[str, float]]] = {
    "calcium": ("mmol/L", {"mmol/L": 1.0, "mg/dL": 1 / 4.008}),
    "adjusted_calcium": ("mmol/L", {"mmol/L": 1.0, "mg/dL": 1 / 4.008}),
    "albumin": ("g/L", {"g/L": 1.0, "g/dL": 10.0}),
    "creatinine": ("umol/L", {"umol/L": 1.0, "mg/dL": 88.42}),
    "alkaline_phosphatase": ("U/L", {"U/L": 1.0}),
    "esr": ("mm/h", {"mm/h": 1.0}),
    "crp": ("mg/L", {"mg/L": 1.0}),
    "paraprotein": ("g/L", {"g/L": 1.0}),
    "temperature": ("Cel", {"Cel": 1.0, "[degF]": 5 / 9}),
}
# test -> {unit: what is added to a value in that unit before it is multiplied by its factor}
OFFSETS: dict[str, dict[str, float]] = {"temperature": {"[degF]": -32.0}}


class UnitError(ValueError):
    """A unit carepath does not know for this test: never guess."""


def factor(test: str, unit: str) -> tuple[str, float]:
    """The canonical unit of ``test`` and the factor that converts ``unit`` into it."""
    known = CANONICAL.get(test)
    if known is None:
        return unit, 1.0
    canonical, factors = known
    try:
        return canonical, factors[unit]
    except KeyError:
        raise UnitError(f"{unit!r} is not a unit for {test}; expected one of {sorted(factors)}") from None


def convert(test: str, value: float, unit: str) -> float:
    """``value`` in ``unit`` expressed in the canonical unit of ``test``."""
    return (value + OFFSETS.get(test, {}).get(unit, 0.0)) * factor(test, unit)[1]


def from_canonical(test: str, value: float, unit: str) -> float:
    """``value`` in the canonical unit of ``test`` expressed in ``unit`` (the inverse of ``convert``)."""
    return value / factor(test, unit)[1] - OFFSETS.get(test, {}).get(unit, 0.0)


def canonical_unit(test: str) -> str:
    known = CANONICAL.get(test)
    return known[0] if known else ""
