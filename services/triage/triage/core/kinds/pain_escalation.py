"""Kind ``pain_escalation``: the newest pain report shows pain that is severe, rising or changing (R12).

Met by the newest pain report (newer than the end of the last episode) when its NRS is at or above
``nrs_at_least``; or it rose from the patient's baseline by ``rise_points`` or by ``rise_percent``; or it
carries a feature of ``new_features`` that no earlier report within ``baseline_within`` carried. The
baseline is the earliest report within ``baseline_within`` before it, and not before the end of the last
episode (the report that settled the last episode is the new baseline).

The case ``spinal_metastases_known_or_suspected`` applies when a recorded cancer lists spinal metastases
as known or suspected, an imaging report shows a metastasis finding, or one of ``open_rules`` has an
open escalation. The condition clears when a newer report meets none of the three tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from triage.core.events import DIAGNOSIS, PAIN
from triage.core.facts import (
    CANCER_FACTS,
    IMAGING_FACTS,
    OPEN_ESCALATIONS,
    PAIN_FACTS,
    Entry,
    Facts,
    features_in,
)
from triage.core.fields import Fields
from triage.core.finding import Evidence, Explanation, Finding, Resolution, evidence
from triage.core.kinds.base import (
    PAIN_FIELDS,
    Context,
    Detector,
    KindSpec,
    Member,
    feature_evidence,
    feature_words,
)
from triage.core.kinds.imaging import matching, report_evidence
from triage.core.pathway import join_words

METS: Final = "spinal_metastases_known_or_suspected"


@dataclass(frozen=True)
class Params:
    nrs_at_least: int
    rise_points: int
    rise_percent: float
    baseline_within: int
    new_features: tuple[tuple[str, frozenset[str]], ...]
    mets_values: frozenset[str]
    mets_findings: frozenset[str]
    mets_certainty: frozenset[str]
    open_rules: tuple[str, ...]


def parse(fields: Fields, context: Context) -> Params:
    nrs = fields.integer("nrs_at_least", minimum=1)
    if nrs > 10:
        raise fields.error("must be 0-10 (numeric rating scale)", "nrs_at_least")
    points = fields.integer("rise_points", minimum=1)
    percent = fields.required_number("rise_percent")
    if not 0 < percent <= 100:
        raise fields.error("must be above 0 and at most 100", "rise_percent")
    _, window = fields.duration("baseline_within")
    features = fields.required_code_set("new_features", PAIN_FIELDS)
    mets = fields.required_child("spinal_metastases")
    values = mets.codes("diagnosis", "spinal_metastases")
    findings = mets.required_code_set("findings", ("findings",)).of("findings")
    certainty = mets.codes("certainty")
    open_rules = mets.texts("open_rules", required=False)
    mets.finish()
    fields.finish()
    return Params(nrs, points, percent, window, features.pain_fields, values, findings, certainty, open_rules)


@dataclass(init=False)
class Assessment:
    report: Entry
    baseline: Entry | None
    high: bool
    rise: bool
    new: list[tuple[str, str]]

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self, report: Entry, baseline: Entry | None, high: bool, rise: bool, new: list[tuple[str, str]]
    ) -> None:
        self.report = report
        self.baseline = baseline
        self.high = high
        self.rise = rise
        self.new = new

    @property
    def met(self) -> bool:
        return self.high or self.rise or bool(self.new)


class PainEscalation(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def _assess(self, reports: list[Entry], since: int | None) -> Assessment:
        p = self.p
        report = reports[-1]
        start = report["t"] - p.baseline_within
        earlier = [r for r in reports[:-1] if r["t"] >= start]
        baseline = next((r for r in earlier if since is None or r["t"] >= since), None)
        nrs = report["nrs"]
        rise = False
        if baseline is not None and nrs > baseline["nrs"]:
            up = nrs - baseline["nrs"]
            rise = up >= p.rise_points or (
                baseline["nrs"] > 0 and up * 100 >= p.rise_percent * baseline["nrs"]
            )
        new: list[tuple[str, str]] = []
        if earlier:
            found = features_in(report, p.new_features)
            if found:  # only then does it matter which the earlier reports carried
                seen = {pair for r in earlier for pair in features_in(r, p.new_features)}
                new = [pair for pair in found if pair not in seen]
        return Assessment(report, baseline, nrs >= p.nrs_at_least, rise, new)

    def _metastases(self, facts: Facts) -> list[Evidence]:
        p = self.p
        items = [
            evidence(entry["e"], DIAGNOSIS, "spinal_metastases", entry["spinal_metastases"], entry["t"])
            for _, entry in facts.spinal_metastases(p.mets_values)
        ]
        for report in facts.imaging:
            codes = matching(report, p.mets_findings, p.mets_certainty)
            if codes:
                items.append(
                    report_evidence(self.labels, report, codes, " or ".join(sorted(p.mets_certainty)))
                )
        opened: dict[str, Any] = facts.d.get("open") or {}
        for key in p.open_rules:
            record = opened.get(key)
            if record is not None:
                data = record["data"]
                items.append(
                    {
                        "event_id": record["id"],
                        "event_type": "carepath.escalation.raised.v1",
                        "fact": "open escalation",
                        "value": f"{data['rule']['id']} {data['rule']['name']}",
                        "time": data["raised_at"],
                    }
                )
        return items

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        reports = facts.scored_pain()
        if not reports or (since is not None and reports[-1]["t"] <= since):
            return None
        a = self._assess(reports, since)
        if not a.met:
            return None
        mets = self._metastases(facts)
        t = a.report["t"]
        return Finding(self.rule_id, METS if mets else "default", t, t, lambda: self._explain(a, mets))

    def _explain(self, a: Assessment, mets: list[Evidence]) -> Explanation:
        p = self.p
        report = a.report
        nrs = report["nrs"]
        parts: list[str] = []
        items = [
            evidence(report["e"], PAIN, "nrs", nrs, report["t"], "points (0-10)", f">= {p.nrs_at_least}")
        ]
        if a.high:
            parts.append(f"pain score {nrs}/10")
        if a.rise and a.baseline is not None:
            base = a.baseline["nrs"]
            parts.append(f"pain score up from {base} to {nrs}/10")
            items.append(
                evidence(
                    a.baseline["e"],
                    PAIN,
                    "nrs baseline",
                    base,
                    a.baseline["t"],
                    "points (0-10)",
                    f"rise >= {p.rise_points} points or >= {p.rise_percent:g} %",
                )
            )
        if a.new:
            parts.append(f"new {feature_words(self.labels, a.new)}")
            items.extend(feature_evidence(report, a.new, "feature not in earlier reports"))
        return Explanation({"pain": join_words(parts)}, items + mets)

    def cleared(self, facts: Facts, after: int, since: int | None) -> Resolution | None:
        reports = facts.scored_pain()
        if not reports or reports[-1]["t"] < after:
            return None
        a = self._assess(reports, since)
        if a.met:
            return None
        report = a.report
        limit = f"< {self.p.nrs_at_least}, no rise from baseline and no new feature"
        item = evidence(report["e"], PAIN, "nrs", report["nrs"], report["t"], "points (0-10)", limit)
        return Resolution(report["t"], "", [item])


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return PainEscalation(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="pain_escalation",
    summary="the newest pain report is severe, has risen from the patient's baseline, or has new features",
    parse=parse,
    build=build,
    cases=lambda params: ("default", METS),
    words=frozenset({"pain"}),
    clears=True,
    references=lambda params: params.open_rules,
    reads=frozenset({PAIN_FACTS, CANCER_FACTS, IMAGING_FACTS, OPEN_ESCALATIONS}),
    requires=frozenset({PAIN_FACTS}),
)
