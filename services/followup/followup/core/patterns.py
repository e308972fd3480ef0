"""Event patterns: "an MRI or CT of the whole spine, reported", "a care step: MSCC coordinator contacted".

A pattern is one event kind plus the values each field may take. ``followup.yaml`` writes them as
``imaging: {modality: [mri, ct], region: [whole_spine]}``; the loader compiles them into ``EventPattern``.
Patterns that refer to the expectation itself ("the escalation that opened it was resolved") are
``OpeningPattern``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from followup.core.inputs import Input
from followup.core.vocabulary import COMPRESSION_FINDINGS

Reader = Callable[[Mapping[str, Any]], object]


def compression_status(data: Mapping[str, Any]) -> str | None:
    """What a spinal imaging report says about cord or cauda equina compression.

    ``confirmed`` or ``possible`` if any compression finding says so; ``excluded`` if every compression
    finding is excluded, or the report is final and has no compression finding; otherwise ``None``
    (a cancelled report, or a preliminary one that does not mention compression).
    """
    if data.get("report_status") == "cancelled":
        return None
    certainties = {
        item.get("certainty")
        for item in data.get("findings") or ()
        if item.get("code") in COMPRESSION_FINDINGS
    }
    if "confirmed" in certainties:
        return "confirmed"
    if "possible" in certainties:
        return "possible"
    if certainties or data.get("report_status") == "final":
        return "excluded"
    return None


def _field(name: str) -> Reader:
    return lambda data: data.get(name)


def _cancer_status(data: Mapping[str, Any]) -> object:
    cancer = data.get("cancer")
    return cancer.get("status") if isinstance(cancer, Mapping) else None


def _rule_id(data: Mapping[str, Any]) -> object:
    rule = data.get("rule")
    return rule.get("id") if isinstance(rule, Mapping) else None


# For each event kind, the fields a pattern may constrain and how to read them from the event data.
READERS: dict[str, dict[str, Reader]] = {
    "pain_report": {},
    "symptom": {},
    "imaging": {
        "modality": _field("modality"),
        "region": _field("region"),
        "report_status": _field("report_status"),
        "compression": compression_status,
    },
    "treatment": {"category": _field("category"), "change": _field("change"), "agent": _field("agent")},
    "lab": {"test": _field("test")},
    "care_step": {"step": _field("step"), "decision": _field("decision"), "conclusion": _field("conclusion")},
    "diagnosis": {
        "cancer_status": _cancer_status,
        "verification": lambda data: data.get("verification", "confirmed"),
    },
    "escalation_raised": {"rules": _rule_id, "severity": _field("severity")},
    "escalation_resolved": {"rules": _rule_id},
    # Not an event: "an escalation for these rules is open now" (conditions only).
    "escalation_open": {"rules": _rule_id},
}

# Fields matched by "contains one of" (case-insensitive) instead of equality.
_CONTAINS = frozenset({"agent"})


@dataclass(frozen=True)
class EventPattern:
    """An event of ``kind`` whose fields each take one of the allowed values."""

    kind: str
    constraints: tuple[tuple[str, frozenset[str]], ...]

    @cached_property
    def text(self) -> str:
        """Canonical wording, e.g. ``imaging: modality ct|mri; region whole_spine``."""
        parts = [f"{name} {'|'.join(sorted(values))}" for name, values in self.constraints]
        return f"{self.kind}: {'; '.join(parts)}" if parts else self.kind

    @cached_property
    def key(self) -> str:
        """A short stable key for remembering the latest event that matched this pattern."""
        return hashlib.blake2b(self.text.encode(), digest_size=6).hexdigest()

    def matches(self, event: Input) -> bool:
        if event.kind != self.kind:  # never true for escalation_open, which describes the record
            return False
        readers = READERS[self.kind]
        data = event.data
        for name, allowed in self.constraints:
            value = readers[name](data)
            if not isinstance(value, str):
                return False
            if name in _CONTAINS:
                lowered = value.lower()
                if not any(word in lowered for word in allowed):
                    return False
            elif value not in allowed:
                return False
        return True


@dataclass(frozen=True)
class OpeningPattern:
    """An event about this expectation's own escalation or reminders.

    ``kind`` is ``escalation_resolved`` or ``acknowledgement``; ``of`` holds ``opening`` (the escalation
    that opened it) and/or ``reminder`` (a reminder this expectation sent); ``override`` restricts an
    acknowledgement to one where the clinician disagreed with the alert.
    """

    kind: str
    of: frozenset[str]
    override: bool | None = None

    @property
    def text(self) -> str:
        target = " or ".join(
            "the opening escalation" if item == "opening" else "one of its reminders"
            for item in sorted(self.of)
        )
        if self.kind == "escalation_resolved":
            return f"{target} resolved"
        return f"{target} acknowledged{' with an override' if self.override else ''}"

    def accepts_override(self, override: bool) -> bool:
        return self.override is None or self.override == override
