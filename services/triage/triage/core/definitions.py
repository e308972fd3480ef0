"""Settings several rules share, parsed from the top of the red-flag YAML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
class Definitions:
    pain_episode: PainEpisode
    adjusted_calcium: CalciumAdjustment
    written: Mapping[str, Any]  # as written, for the sign-off document


def parse_pain_episode(fields: Fields) -> PainEpisode:
    fields.text("description")
    fields.choice("evidence", ("P", "S", "G"))
    nrs = fields.integer("with_pain_from_nrs", minimum=1)
    text, gap = fields.duration("max_gap")
    _local_defaults(fields, ("with_pain_from_nrs", "max_gap"))
    fields.finish()
    return PainEpisode(nrs, gap, text)


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
