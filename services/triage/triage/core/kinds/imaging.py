"""Kind ``imaging_finding``: an imaging report with a finding of the code set (R8, R9, R11).

Met by a report newer than the end of the last episode, of a listed modality and report status, with a
finding of the code set at a listed certainty - unless the same report also has a finding of
``unless_findings`` (which belongs to another rule). With ``neurological_signs`` the case
``with_neurological_signs`` applies when new or worsening neurological features were reported close in
time. With ``primary_known_if`` the condition ``unknown_primary`` selects extra actions when no cancer
of a known primary is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.events import IMAGING
from triage.core.facts import CANCER_FACTS, IMAGING_FACTS, PAIN_FACTS, Entry, Facts
from triage.core.fields import Fields
from triage.core.finding import Evidence, Explanation, Finding, evidence
from triage.core.kinds.base import (
    Context,
    Detector,
    KindSpec,
    Member,
    NeuroSigns,
    feature_evidence,
    parse_neuro_signs,
)
from triage.core.pathway import Labels, join_words


@dataclass(frozen=True)
class Params:
    findings: frozenset[str]
    certainty: frozenset[str]
    modality: frozenset[str]
    report_status: frozenset[str]
    unless: frozenset[str]
    neuro: NeuroSigns | None
    known_primaries: frozenset[str] | None


def parse(fields: Fields, context: Context) -> Params:
    findings = fields.required_code_set("findings", ("findings",)).of("findings")
    certainty = fields.codes("certainty")
    modality = fields.codes("modality")
    report_status = fields.codes("report_status")
    unless = fields.code_set("unless_findings", ("findings",), required=False)
    neuro_spec = fields.child("neurological_signs", required=False)
    neuro = parse_neuro_signs(neuro_spec) if neuro_spec is not None else None
    known = fields.code_set("primary_known_if", ("primary_site",), required=False)
    fields.finish()
    return Params(
        findings,
        certainty,
        modality,
        report_status,
        unless.of("findings") if unless else frozenset(),
        neuro,
        known.of("primary_site") if known else None,
    )


def matching(report: Entry, codes: frozenset[str], certainty: frozenset[str]) -> list[str]:
    findings: dict[str, str] = report["findings"]
    return [code for code, how in findings.items() if code in codes and how in certainty]


def report_evidence(labels: Labels, report: Entry, codes: list[str], threshold: str) -> Evidence:
    findings: dict[str, str] = report["findings"]
    value = [f"{code} ({findings[code]})" for code in codes]
    fact = f"{labels.word('modality', report['modality'])} {labels.word('region', report['region'])} findings"
    return evidence(report["e"], IMAGING, fact, value, report["t"], threshold=threshold)


class ImagingFinding(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        p = self.p
        found: list[tuple[Entry, list[str]]] = []
        for report in facts.imaging:
            if since is not None and report["t"] <= since:
                continue
            if report["modality"] not in p.modality or report["status"] not in p.report_status:
                continue
            codes = matching(report, p.findings, p.certainty)
            if codes and not (p.unless and matching(report, p.unless, p.certainty)):
                found.append((report, codes))
        if not found:
            return None
        anchor = found[0][0]["t"]
        last = found[-1][0]["t"]
        case = "default"
        signs: list[tuple[Entry, list[tuple[str, str]]]] = []
        if p.neuro is not None:
            for report, _ in found:
                signs.extend(p.neuro.around(facts, report["t"]))
            if signs:
                case = "with_neurological_signs"
                first_sign = min(r["t"] for r, _ in signs)
                anchor = max(anchor, first_sign)
                last = max(last, max(r["t"] for r, _ in signs))
        conditions: frozenset[str] = frozenset()
        if p.known_primaries is not None and not facts.cancers(p.known_primaries):
            conditions = frozenset({"unknown_primary"})
        return Finding(self.rule_id, case, anchor, last, lambda: self._explain(found, signs), conditions)

    def _explain(
        self, found: list[tuple[Entry, list[str]]], signs: list[tuple[Entry, list[tuple[str, str]]]]
    ) -> Explanation:
        labels = self.labels
        threshold = " or ".join(sorted(self.p.certainty))
        items = [report_evidence(labels, report, codes, threshold) for report, codes in found]
        neuro_words: list[str] = []
        if self.p.neuro is not None:
            for report, features in signs:
                items.extend(feature_evidence(report, features, self.p.neuro.threshold()))
                neuro_words.extend(labels.word(f, c) for f, c in features)
        report, codes = found[-1]
        findings: dict[str, str] = report["findings"]
        words = {
            "modality": labels.word("modality", report["modality"]),
            "region": labels.word("region", report["region"]),
            "findings": join_words([f"{findings[c]} {labels.word('findings', c)}" for c in codes]),
            "neurological_signs": join_words(neuro_words),
        }
        return Explanation(words, items)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return ImagingFinding(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="imaging_finding",
    summary="an imaging report with any finding of the code set at the listed certainty",
    parse=parse,
    build=build,
    cases=lambda p: ("default", "with_neurological_signs") if p.neuro is not None else ("default",),
    conditions=lambda p: ("unknown_primary",) if p.known_primaries is not None else (),
    words=frozenset({"modality", "region", "findings", "neurological_signs"}),
    reads=frozenset({IMAGING_FACTS, PAIN_FACTS, CANCER_FACTS}),
    requires=frozenset({IMAGING_FACTS}),
)
