"""Findings that close an escalation's question, as listed under a rule's ``resolved_by``.

A resolver only counts a fact at or after the newest fact behind the escalation: an MRI from before the
symptoms excludes nothing about them. The same check stops a rule from raising at all when the answer is
already recorded (an MRI that excluded compression after the symptoms, arriving first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from triage.core.events import CARE_STEP, IMAGING
from triage.core.facts import IMAGING_FACTS, STEP_FACTS, Entry, Facts
from triage.core.fields import Fields
from triage.core.finding import Resolution, evidence
from triage.core.kinds.base import Detector
from triage.core.pathway import Labels

WHEN: Final = ("imaging_excludes", "imaging_shows", "imaging_reported", "care_step", "condition_cleared")
ACTIVE: Final = frozenset({"confirmed", "possible"})


@dataclass(frozen=True)
class Resolver:
    when: str
    resolution: str
    findings: frozenset[str] = frozenset()
    certainty: frozenset[str] = frozenset()
    modality: frozenset[str] = frozenset()
    region: frozenset[str] = frozenset()
    report_status: frozenset[str] = frozenset()
    step_keys: tuple[str, ...] = ()

    @property
    def reads(self) -> frozenset[str]:
        """The fact categories this resolver reads (the kind's own for condition_cleared)."""
        if self.when == "care_step":
            return frozenset({STEP_FACTS})
        if self.when == "condition_cleared":
            return frozenset()
        return frozenset({IMAGING_FACTS})

    def check(self, facts: Facts, after: int, since: int | None, detector: Detector) -> Resolution | None:
        if self.when == "condition_cleared":
            found = detector.cleared(facts, after, since)
            return Resolution(found.time, self.resolution, found.evidence) if found is not None else None
        if self.when == "care_step":
            step = facts.latest_step(self.step_keys)
            if step is None or step[1]["t"] < after:
                return None
            key, entry = step
            item = evidence(entry["e"], CARE_STEP, "care_step", key.replace("/", ": "), entry["t"])
            return Resolution(entry["t"], self.resolution, [item])
        for report in facts.imaging:
            if report["t"] >= after and self._imaging(report):
                return Resolution(report["t"], self.resolution, [self._imaging_evidence(report)])
        return None

    def _imaging(self, report: Entry) -> bool:
        if report["modality"] not in self.modality or report["status"] not in self.report_status:
            return False
        if self.region and report["region"] not in self.region:
            return False
        findings: dict[str, str] = report["findings"]
        if self.when == "imaging_excludes":
            return not any(findings.get(code) in ACTIVE for code in self.findings)
        if self.when == "imaging_shows":
            return any(findings.get(code) in self.certainty for code in self.findings)
        return True  # imaging_reported

    def _imaging_evidence(self, report: Entry) -> dict[str, object]:
        findings: dict[str, str] = report["findings"]
        listed = [f"{code} ({how})" for code, how in findings.items() if code in self.findings] or [
            "none of the findings in question" if self.when == "imaging_excludes" else "reported"
        ]
        fact = f"{report['modality']} {report['region']} ({report['status']})"
        return evidence(report["e"], IMAGING, fact, listed, report["t"])

    def describe(self, labels: Labels) -> str:
        """In words, for the sign-off document."""

        def either(field_name: str, codes: frozenset[str], order: tuple[str, ...] = ()) -> str:
            ranked = sorted(codes, key=lambda c: (order.index(c) if c in order else len(order), c))
            words = [labels.word(field_name, c) for c in ranked]
            return words[0] if len(words) <= 1 else ", ".join(words[:-1]) + " or " + words[-1]

        if self.when == "care_step":
            steps = [k.replace("_", " ").replace("/", " concluding ") for k in self.step_keys]
            return "a recorded " + " or ".join(steps)
        if self.when == "condition_cleared":
            return "a newer report or result shows the condition has cleared"
        status = either("report_status", self.report_status, ("preliminary", "final", "amended"))
        report = f"{status} {either('modality', self.modality, ('mri', 'ct'))} report"
        report = f"{'an' if report[0] in 'aeiou' else 'a'} {report}"
        where = f" of the {either('region', self.region, ('whole_spine',))}" if self.region else ""
        if self.when == "imaging_excludes":
            return f"{report}{where} showing no {either('findings', self.findings)} (neither confirmed nor possible)"
        if self.when == "imaging_shows":
            certainty = either("certainty", self.certainty, ("confirmed", "possible"))
            return f"{report} showing {certainty} {either('findings', self.findings)}"
        return f"{report}{where}"


def parse_resolver(fields: Fields, clears: bool) -> Resolver:
    when = fields.choice("when", WHEN)
    resolution = fields.text("resolution")
    resolver: Resolver
    if when in ("imaging_excludes", "imaging_shows", "imaging_reported"):
        findings: frozenset[str] = frozenset()
        certainty: frozenset[str] = frozenset()
        if when != "imaging_reported":
            findings = fields.required_code_set("findings", ("findings",)).of("findings")
        if when == "imaging_shows":
            certainty = fields.codes("certainty")
        region = fields.codes("region") if when != "imaging_shows" else frozenset()
        resolver = Resolver(
            str(when),
            resolution,
            findings=findings,
            certainty=certainty,
            modality=fields.codes("modality"),
            region=region,
            report_status=fields.codes("report_status"),
        )
    elif when == "care_step":
        steps = fields.codes("step")
        keys = sorted(steps)
        for detail in ("conclusion", "decision"):
            if fields.has(detail):
                details = fields.codes(detail)
                keys = [f"{s}/{d}" for s in sorted(steps) for d in sorted(details)]
        resolver = Resolver("care_step", resolution, step_keys=tuple(keys))
    else:
        if not clears:
            raise fields.error("this rule's kind cannot tell when its condition has cleared", "when")
        resolver = Resolver("condition_cleared", resolution)
    fields.finish()
    return resolver
