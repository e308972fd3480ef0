"""Kind ``cancer_with_features``: a past or current cancer plus features in a pain report (R1, R2).

Met when a cancer of the listed primaries and statuses is recorded and a pain report newer than the end
of the last episode carries a feature of the code set (with the listed neurological status, when given),
and - if ``unless`` is given - does not also carry the features that belong to another rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.facts import CANCER_FACTS, PAIN_FACTS, Entry, Facts, features_in, status_of
from triage.core.fields import Fields
from triage.core.finding import Explanation, Finding
from triage.core.kinds.base import (
    PAIN_FIELDS,
    Context,
    Detector,
    KindSpec,
    Member,
    cancer_evidence,
    feature_evidence,
    feature_words,
    nrs_filter,
    status_word,
)
from triage.core.pathway import CodeSet


@dataclass(frozen=True)
class Params:
    cancer: CodeSet
    sites: frozenset[str]
    statuses: frozenset[str]
    features: CodeSet
    fields: tuple[tuple[str, frozenset[str]], ...]
    feature_status: frozenset[str] | None
    nrs_at_least: int | None
    unless_fields: tuple[tuple[str, frozenset[str]], ...]
    unless_status: frozenset[str] | None


def parse(fields: Fields, context: Context) -> Params:
    cancer = fields.required_code_set("cancer", ("primary_site",))
    statuses = fields.codes("cancer_status")
    features = fields.required_code_set("features", PAIN_FIELDS)
    feature_status = (
        fields.codes("feature_status", "neurological_status") if fields.has("feature_status") else None
    )
    nrs = nrs_filter(fields)
    unless_fields: tuple[tuple[str, frozenset[str]], ...] = ()
    unless_status = None
    unless = fields.child("unless", required=False)
    if unless is not None:
        unless_fields = unless.required_code_set("features", PAIN_FIELDS).pain_fields
        unless_status = (
            unless.codes("feature_status", "neurological_status") if unless.has("feature_status") else None
        )
        unless.finish()
    fields.finish()
    return Params(
        cancer,
        cancer.of("primary_site"),
        statuses,
        features,
        features.pain_fields,
        feature_status,
        nrs,
        unless_fields,
        unless_status,
    )


class CancerWithFeatures(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        p = self.p
        cancers = facts.cancers(p.sites, p.statuses)
        if not cancers:
            return None
        presenting: list[tuple[Entry, list[tuple[str, str]]]] = []
        for report in facts.pain_after(since):
            if p.nrs_at_least is not None and report.get("nrs", -1) < p.nrs_at_least:
                continue
            status = status_of(report)
            if p.feature_status is not None and status not in p.feature_status:
                continue
            found = features_in(report, p.fields)
            if not found:
                continue
            excluded = p.unless_fields and (p.unless_status is None or status in p.unless_status)
            if excluded and features_in(report, p.unless_fields):
                continue
            presenting.append((report, found))
        if not presenting:
            return None
        cancer_from = min(entry["t"] for _, entry in cancers)
        anchor = max(cancer_from, presenting[0][0]["t"])
        return Finding(
            self.rule_id,
            "default",
            anchor,
            presenting[-1][0]["t"],
            lambda: self._explain(cancers, presenting),
        )

    def _explain(
        self, cancers: list[tuple[str, Entry]], presenting: list[tuple[Entry, list[tuple[str, str]]]]
    ) -> Explanation:
        p = self.p
        statuses = {status_of(report) for report, _ in presenting}
        status = status_word(statuses) if p.feature_status is not None else ""
        features = [pair for _, found in presenting for pair in found]
        listed = feature_words(self.labels, features)
        threshold_status = f"{status_word(set(p.feature_status))} " if p.feature_status is not None else ""
        threshold = f"any {threshold_status}{p.features.name.replace('_', ' ')}"
        evidence = cancer_evidence(cancers, "past or current cancer")
        for report, found in presenting:
            evidence.extend(feature_evidence(report, found, threshold))
        words = {
            "cancer": self.labels.join("primary_site", [site for site, _ in cancers]),
            "features": f"{status} {listed}".strip(),
        }
        return Explanation(words, evidence)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return CancerWithFeatures(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="cancer_with_features",
    summary="a recorded past or current cancer and a pain report with any feature of the code set",
    parse=parse,
    build=build,
    words=frozenset({"cancer", "features"}),
    reads=frozenset({PAIN_FACTS, CANCER_FACTS}),
    requires=frozenset({CANCER_FACTS, PAIN_FACTS}),
)
