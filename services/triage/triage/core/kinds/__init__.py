"""The rule kinds the engine knows. A rule in the YAML names one of these; its thresholds and code sets
are the rule's own data."""

from __future__ import annotations

from triage.core.kinds import (
    calcium,
    cancer_features,
    imaging,
    infection,
    myeloma,
    pain_escalation,
    presenting,
    raised_labs,
    sins,
    weak_factors,
)
from triage.core.kinds.base import KindSpec

KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        cancer_features.SPEC,
        presenting.SPEC,
        weak_factors.SPEC,
        infection.SPEC,
        calcium.SPEC,
        myeloma.SPEC,
        imaging.SPEC,
        sins.SPEC,
        pain_escalation.SPEC,
        raised_labs.SPEC,
    )
}
