"""Settings several rules share, parsed from the top of the red-flag YAML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from triage.core.fields import Fields


@dataclass(frozen=True)
class PainEpisode:
    """How long pain has lasted: consecutive pain reports with NRS >= ``nrs_at_least``, broken by a
    pain-free report or by a gap longer than ``max_gap`` (us) between reports."""

    nrs_at_least: int
    max_gap: int
    max_gap_text: str


@dataclass(frozen=True)
class CalciumAdjustment:
    """Adjusted calcium (mmol/L) = calcium (mmol/L) + factor x (reference albumin - albumin g/L)."""

    reference_albumin: float  # g/L
    factor: float  # mmol/L per g/L
    albumin_within: int  # us: an albumin this close in time to the calcium is used
    albumin_within_text: str


@dataclass(frozen=True)
class SymptomReading:
    """How a symptom recorded on its own is read beside the pain: with the score and site of the patient's
    pain report nearest in time, when one is within ``with_pain_within`` (us) of it; and a body temperature
    of at least ``fever_from`` (Celsius) is the systemic feature fever. A report without a stated course
    whose neurological features (and radicular pain) were all listed by the report before it, within
    ``repeated_within`` (us), is read as stable."""

    with_pain_within: int
    with_pain_within_text: str
    fever_from: float
    repeated_within: int = 14 * 86_400_000_000
    repeated_within_text: str = "P14D"


DEFAULT_SYMPTOM_READING: Final[SymptomReading] = SymptomReading(14 * 86_400_000_000, "P14D", 38.0)


@dataclass(frozen=True)
class Definitions:
    pain_episode: PainEpisode
    adjusted_calcium: CalciumAdjustment
    symptoms: SymptomReading
    written: Mapping[str, Any]  # as written, for the sign-off document


def parse_pain_episode(fields: Fields) -> PainEpisode:
    fields.text("description")
    fields.choice("evidence", ("P", "S", "G"))
    nrs = fields.integer("with_pain_from_nrs", minimum=1)
    text, gap = fields.duration("max_gap")
    _local_defaults(fields, ("with_pain_from_nrs", "max_gap"))
    fields.finish()
    return PainEpisode(nrs, gap, text)


def parse_symptom_reading(fields: Fields) -> SymptomReading:
    fields.text("description")
    fields.choice("evidence", ("P", "S", "G"))
    text, within = fields.duration("with_pain_within")
    fever = fields.required_number("fever_from_celsius")
    if not 37 <= fever <= 40:
        raise fields.error("must be 37-40 (degrees Celsius)", "fever_from_celsius")
    repeated_text, repeated = fields.duration("repeated_within")
    _local_defaults(fields, ("with_pain_within", "fever_from_celsius", "repeated_within"))
    fields.finish()
    return SymptomReading(within, text, fever, repeated, repeated_text)


def parse_calcium_adjustment(fields: Fields) -> CalciumAdjustment:
    fields.text("description")
    fields.choice("evidence", ("P", "S", "G"))
    reference = fields.required_number("reference_albumin_g_per_l")
    factor = fields.required_number("mmol_per_l_per_g_of_albumin")
    text, within = fields.duration("albumin_within")
    if not 0 < reference <= 100 or not 0 < factor < 1:
        raise fields.error(
            "reference albumin must be 0-100 g/L and the factor between 0 and 1 mmol/L per g/L"
        )
    _local_defaults(fields, ("reference_albumin_g_per_l", "mmol_per_l_per_g_of_albumin", "albumin_within"))
    fields.finish()
    return CalciumAdjustment(reference, factor, within, text)


def _local_defaults(fields: Fields, keys: tuple[str, ...]) -> None:
    defaults = fields.child("local_defaults", required=False)
    if defaults is None:
        return
    for key in list(defaults.data):
        if key not in keys:
            raise defaults.error(f"'{key}' is not a setting here (settings: {', '.join(keys)})")
        defaults.text(key)
    defaults.finish()
