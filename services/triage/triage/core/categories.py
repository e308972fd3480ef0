"""The fact categories a rule can read, and the same as bit masks.

A rule is evaluated again only when an event changed one of the categories it reads (or an escalation
opened or closed, for rules that read "open"): its answer cannot change otherwise. The masks, one bit a
category, are for the engine's loop over every rule group on every event (an integer AND instead of a set
operation called as a method).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

PAIN_FACTS: Final = "pain"
CANCER_FACTS: Final = "cancer"
RISK_FACTS: Final = "risk"
AGE_FACTS: Final = "age"
LAB_FACTS: Final = "labs"
IMAGING_FACTS: Final = "imaging"
STEP_FACTS: Final = "steps"
OPEN_ESCALATIONS: Final = "open"
ALL_FACTS: Final = frozenset(
    {PAIN_FACTS, CANCER_FACTS, RISK_FACTS, AGE_FACTS, LAB_FACTS, IMAGING_FACTS, STEP_FACTS, OPEN_ESCALATIONS}
)

CATEGORY_BITS: Final = {
    name: 1 << i
    for i, name in enumerate(
        (
            PAIN_FACTS,
            CANCER_FACTS,
            RISK_FACTS,
            AGE_FACTS,
            LAB_FACTS,
            IMAGING_FACTS,
            STEP_FACTS,
            OPEN_ESCALATIONS,
        )
    )
}
OPEN_ESCALATIONS_BIT: Final = CATEGORY_BITS[OPEN_ESCALATIONS]


def category_bits(categories: Iterable[str]) -> int:
    """The mask of these fact categories (``CATEGORY_BITS``)."""
    mask = 0
    for name in categories:
        mask |= CATEGORY_BITS[name]
    return mask
