"""Kind ``presenting_features``: features in a pain report that are an emergency in any patient (R3).

Met by a pain report, newer than the end of the last episode, with a feature of the code set at one of
the listed neurological statuses, or with the qualified weakness (e.g. limb weakness that is severe or
worsening).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.events import PAIN
from triage.core.facts import PAIN_FACTS, Entry, Facts, features_in, status_of
from triage.core.fields import Fields
from triage.core.finding import Evidence, Explanation, Finding, evidence
from triage.core.kinds.base import (
    PAIN_FIELDS,
    Context,
    Detector,
    KindSpec,
    Member,
    feature_evidence,
    status_word,
)
from triage.core.pathway import CodeSet, join_words


@dataclass(frozen=True)
class Weakness:
    feature: str
    severities: frozenset[str]
    or_statuses: frozenset[str]


@dataclass(frozen=True)
class Params:
    features: CodeSet
    fields: tuple[tuple[str, frozenset[str]], ...]
    statuses: frozenset[str]
    weakness: Weakness | None


def parse(fields: Fields, context: Context) -> Params:
    features = fields.required_code_set("features", PAIN_FIELDS)
    statuses = fields.codes("feature_status", "neurological_status")
    weakness = None
    spec = fields.child("weakness", required=False)
    if spec is not None:
        (feature,) = spec.check_codes((spec.text("feature"),), "neurological", "feature")
        weakness = Weakness(
            feature,
            spec.codes("weakness_severity"),
            spec.codes("or_feature_status", "neurological_status"),
        )
        spec.finish()
    fields.finish()
    return Params(features, features.pain_fields, statuses, weakness)


class PresentingFeatures(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def _weak(self, report: Entry) -> bool:
        w = self.p.weakness
        if w is None or w.feature not in report.get("neurological", ()):
            return False
        return report.get("weakness") in w.severities or status_of(report) in w.or_statuses

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        presenting: list[tuple[Entry, list[tuple[str, str]], bool]] = []
        for report in facts.pain_after(since):
            found = features_in(report, self.p.fields) if status_of(report) in self.p.statuses else []
            weak = self._weak(report)
            if found or weak:
                presenting.append((report, found, weak))
        if not presenting:
            return None
        return Finding(
            self.rule_id,
            "default",
            presenting[0][0]["t"],
            presenting[-1][0]["t"],
            lambda: self._explain(presenting),
        )

    def _explain(self, presenting: list[tuple[Entry, list[tuple[str, str]], bool]]) -> Explanation:
        phrases: list[str] = []
        items: list[Evidence] = []
        threshold = f"{status_word(set(self.p.statuses))} {self.p.features.name.replace('_', ' ')}"
        for report, found, weak in presenting:
            status = status_of(report)
            if found:
                listed = join_words([self.labels.word(f, c) for f, c in found])
                phrases.append(f"{status} {listed}")
                items.extend(feature_evidence(report, found, threshold))
            if weak and self.p.weakness is not None:
                w = self.p.weakness
                qualifier = report.get("weakness") if report.get("weakness") in w.severities else status
                phrases.append(f"{qualifier} {self.labels.word('neurological', w.feature)}")
                value = report.get("weakness") or status
                limit = (
                    f"{' or '.join(sorted(w.severities))} weakness, or {' or '.join(sorted(w.or_statuses))}"
                )
                items.append(
                    evidence(report["e"], PAIN, f"{w.feature} severity", value, report["t"], threshold=limit)
                )
        return Explanation({"features": join_words(phrases)}, items)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return PresentingFeatures(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="presenting_features",
    summary="a pain report with any feature of the code set, in any patient",
    parse=parse,
    build=build,
    words=frozenset({"features"}),
    reads=frozenset({PAIN_FACTS}),
    requires=frozenset({PAIN_FACTS}),
)
