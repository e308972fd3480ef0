"""What mapping one resource needs besides the resource: the code map and the Bundle around it.

No clock: a resource maps to the same event whenever it arrives, so a resent resource is a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from intake.fhir.codemap import CodeMap


@dataclass(frozen=True)
class Context:
    codes: CodeMap
    # In a Bundle: each entry's fullUrl -> the id of the Patient it holds, so "urn:uuid:..." references
    # to a Patient sent in the same Bundle resolve.
    patients: Mapping[str, str] = field(default_factory=dict)
