"""Kind ``features_with_risk_factors``: a pain report with features, in a patient with a recorded risk
factor (R5: back pain with fever and IV drug use, immunosuppression or a recent infection)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.events import DIAGNOSIS
from triage.core.facts import PAIN_FACTS, RISK_FACTS, Entry, Facts, features_in
from triage.core.fields import Fields
from triage.core.finding import Explanation, Finding, evidence
from triage.core.kinds.base import (
    PAIN_FIELDS,
    Context,
    Detector,
    KindSpec,
    Member,
    feature_evidence,
    feature_words,
)


@dataclass(frozen=True)
class Params:
    nrs_at_least: int
    fields: tuple[tuple[str, frozenset[str]], ...]
    features_name: str
    risk_factors: frozenset[str]


def parse(fields: Fields, context: Context) -> Params:
    nrs = fields.integer("pain_nrs_at_least", minimum=0)
    features = fields.required_code_set("features", PAIN_FIELDS)
    risk = fields.required_code_set("risk_factors", ("risk_factors",)).of("risk_factors")
    fields.finish()
    return Params(nrs, features.pain_fields, features.name, risk)


class FeaturesWithRiskFactors(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        risks = facts.risk_factors(self.p.risk_factors)
        if not risks:
            return None
        presenting: list[tuple[Entry, list[tuple[str, str]]]] = []
        for report in facts.pain_after(since):
            if report.get("nrs", -1) >= self.p.nrs_at_least:
                found = features_in(report, self.p.fields)
                if found:
                    presenting.append((report, found))
        if not presenting:
            return None
        anchor = max(presenting[0][0]["t"], min(entry["t"] for _, entry in risks))
        return Finding(
            self.rule_id, "default", anchor, presenting[-1][0]["t"], lambda: self._explain(risks, presenting)
        )

    def _explain(
        self, risks: list[tuple[str, Entry]], presenting: list[tuple[Entry, list[tuple[str, str]]]]
    ) -> Explanation:
        items = [
            evidence(
                entry["e"], DIAGNOSIS, "risk_factors", [code], entry["t"], threshold="recorded risk factor"
            )
            for code, entry in risks
        ]
        for report, found in presenting:
            items.extend(feature_evidence(report, found, f"any {self.p.features_name.replace('_', ' ')}"))
        features = [pair for _, found in presenting for pair in found]
        words = {
            "features": feature_words(self.labels, features),
            "risk_factors": self.labels.join("risk_factors", [code for code, _ in risks]),
        }
        return Explanation(words, items)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return FeaturesWithRiskFactors(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="features_with_risk_factors",
    summary="a pain report with any feature of the code set in a patient with a recorded risk factor",
    parse=parse,
    build=build,
    words=frozenset({"features", "risk_factors"}),
    reads=frozenset({PAIN_FACTS, RISK_FACTS}),
    requires=frozenset({RISK_FACTS, PAIN_FACTS}),
)
