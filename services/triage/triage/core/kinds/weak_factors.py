"""Kind ``weak_risk_factors``: back pain without a cancer history, counted weak risk factors (R4).

Each factor is one of four tests, all parameterised in the YAML:

- ``features``: a pain report carries a feature of the code set;
- ``age_with_new_onset``: age above a threshold when reporting pain that began less than
  ``persistent_after`` ago (and after the end of the last episode);
- ``persistence``: the newest pain report describes pain lasting ``persistent_after`` or longer, not
  judged to be improving;
- ``raised_labs``: a test of the code set above the laboratory's upper limit within ``within`` of a pain
  report.

One factor gives the case ``one_factor``; ``several_factors_from`` or more give ``several_factors``.
Only facts newer than the end of the last episode count, and persistence is measured from then too.
The condition clears when a newer pain report is judged improving or is pain-free, unless several
factors are present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from triage.core.events import DIAGNOSIS, PAIN
from triage.core.facts import (
    AGE_FACTS,
    CANCER_FACTS,
    LAB_FACTS,
    PAIN_FACTS,
    Entry,
    Facts,
    features_in,
    pain_duration_days,
    raised,
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
    lab_evidence,
    number_word,
    pain_duration_evidence,
    raised_threshold,
)
from triage.core.pathway import join_words
from triage.core.times import MICROS_PER_DAY, describe_duration

TESTS: Final = ("features", "age_with_new_onset", "persistence", "raised_labs")


@dataclass(frozen=True)
class Factor:
    id: str
    label: str
    test: str
    fields: tuple[tuple[str, frozenset[str]], ...] = ()
    age_above: int = 0
    tests: tuple[str, ...] = ()
    within: int = 0


@dataclass(frozen=True)
class Params:
    no_cancer: frozenset[str]
    nrs_at_least: int
    persistent_after: int
    several_from: int
    factors: tuple[Factor, ...]


def parse(fields: Fields, context: Context) -> Params:
    no_cancer = fields.required_code_set("no_cancer", ("primary_site",)).of("primary_site")
    nrs = fields.integer("pain_nrs_at_least", minimum=0)
    _, persistent_after = fields.duration("persistent_after")
    several = fields.integer("several_factors_from", minimum=2)
    factors = []
    for spec in fields.children("factors"):
        factor_id = spec.text("id")
        label = spec.text("label")
        test = spec.choice("test", TESTS)
        if test == "features":
            code_set = spec.required_code_set("features", PAIN_FIELDS)
            factors.append(Factor(factor_id, label, test, fields=code_set.pain_fields))
        elif test == "age_with_new_onset":
            factors.append(Factor(factor_id, label, test, age_above=spec.integer("age_above", minimum=0)))
        elif test == "raised_labs":
            tests = spec.required_code_set("tests", ("tests",)).codes["tests"]
            _, within = spec.duration("within")
            factors.append(Factor(factor_id, label, test, tests=tests, within=within))
        else:
            factors.append(Factor(factor_id, label, "persistence"))
        spec.finish()
    ids = [f.id for f in factors]
    if len(set(ids)) != len(ids):
        raise fields.error("factor ids must be unique", "factors")
    if several > len(factors):
        raise fields.error(f"is {several} but only {len(factors)} factors are listed", "several_factors_from")
    fields.finish()
    return Params(no_cancer, nrs, persistent_after, several, tuple(factors))


# A factor that is present: the clinical time it counts from, the factor, and its evidence. The evidence
# is rendered only when an escalation is published (most findings are absorbed by one already open).
Hit = tuple[int, Factor, Callable[[], list[Evidence]]]


class WeakRiskFactors(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels
        self.episode = context.definitions.pain_episode

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        # kept: ``cleared`` asks again for the finding the engine has just asked for (facts only, so the same)
        key = (self, since)
        if key in facts.kept:
            found: Finding | None = facts.kept[key]
            return found
        found = facts.kept[key] = self._detect(facts, since)
        return found

    def _detect(self, facts: Facts, since: int | None) -> Finding | None:
        p = self.p
        if facts.cancers(p.no_cancer):
            return None
        reports = facts.pain
        newer = facts.pain_after(since)
        offset = len(reports) - len(newer)
        painful = [offset + i for i, report in enumerate(newer) if report.get("nrs", -1) >= p.nrs_at_least]
        if not painful:
            return None
        hits: list[Hit] = []
        for factor in p.factors:
            hit = self._test(factor, facts, reports, painful, since)
            if hit is not None:
                hits.append(hit)
        if not hits:
            return None
        hits.sort(key=lambda h: h[0])
        several = len(hits) >= p.several_from
        anchor = hits[p.several_from - 1][0] if several else hits[0][0]
        return Finding(
            self.rule_id,
            "several_factors" if several else "one_factor",
            anchor,
            hits[-1][0],
            lambda: self._explain(hits),
        )

    def _test(
        self, factor: Factor, facts: Facts, reports: list[Entry], painful: list[int], since: int | None
    ) -> Hit | None:
        if factor.test == "features":
            for i in painful:
                found = features_in(reports[i], factor.fields)
                if found:
                    return reports[i]["t"], factor, partial(feature_evidence, reports[i], found, factor.label)
            return None
        if factor.test == "age_with_new_onset":
            for i in painful:
                report = reports[i]
                age = facts.age_at(report["t"])
                if age is None or age[0] <= factor.age_above:
                    continue
                days = self._duration(reports, i)
                began = report["t"] - days * MICROS_PER_DAY
                if days * MICROS_PER_DAY < self.p.persistent_after and (since is None or began > since):
                    return report["t"], factor, partial(self._new_onset_evidence, factor, age, report, days)
            return None
        if factor.test == "persistence":
            i = painful[-1]
            report = reports[i]
            days = self._duration(reports, i)
            if since is not None:
                days = min(days, (report["t"] - since) / MICROS_PER_DAY)
            if days * MICROS_PER_DAY >= self.p.persistent_after and not report.get("improving", False):
                return report["t"], factor, partial(self._persistence_evidence, report, days)
            return None
        for test in factor.tests:
            result = facts.latest_lab(test)
            if result is None or (since is not None and result["t"] <= since) or not raised(result):
                continue
            if any(abs(reports[i]["t"] - result["t"]) <= factor.within for i in painful):
                return (
                    max(result["t"], reports[painful[0]]["t"]),
                    factor,
                    partial(self._lab_evidence, test, result),
                )
        return None

    def _new_onset_evidence(
        self, factor: Factor, age: tuple[int, Entry], report: Entry, days: float
    ) -> list[Evidence]:
        return [
            evidence(age[1]["e"], DIAGNOSIS, "age", age[0], report["t"], "years", f"> {factor.age_above}"),
            pain_duration_evidence(
                report, days, f"< {describe_duration(self.p.persistent_after)} (new onset)"
            ),
        ]

    def _persistence_evidence(self, report: Entry, days: float) -> list[Evidence]:
        threshold = f">= {describe_duration(self.p.persistent_after)} without improvement"
        return [pain_duration_evidence(report, days, threshold)]

    @staticmethod
    def _lab_evidence(test: str, result: Entry) -> list[Evidence]:
        return [lab_evidence(test, result, raised_threshold(test, result))]

    def cleared(self, facts: Facts, after: int, since: int | None) -> Resolution | None:
        """A newer pain report judged improving, or pain-free - unless several factors ask for investigation."""
        reports = facts.scored_pain()
        if not reports or reports[-1]["t"] < after:
            return None
        report = reports[-1]
        if not (report.get("improving") or report["nrs"] < self.p.nrs_at_least):
            return None
        finding = self.detect(facts, since)
        if finding is not None and finding.case == "several_factors":
            return None
        items = [evidence(report["e"], PAIN, "nrs", report["nrs"], report["t"], "points (0-10)")]
        if report.get("improving"):
            items.append(evidence(report["e"], PAIN, "improving", True, report["t"]))
        return Resolution(report["t"], "", items)

    def _duration(self, reports: list[Entry], index: int) -> float:
        return pain_duration_days(reports, index, self.episode.max_gap, self.episode.nrs_at_least)

    def _explain(self, hits: list[Hit]) -> Explanation:
        items = [item for _, _, found in hits for item in found()]
        words = {
            "factors": join_words([factor.label for _, factor, _ in hits]),
            "count": number_word(len(hits)),
        }
        return Explanation(words, items)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return WeakRiskFactors(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="weak_risk_factors",
    summary="back pain with no recorded cancer, counting weak risk factors for an underlying cancer",
    parse=parse,
    build=build,
    cases=lambda params: ("one_factor", "several_factors"),
    words=frozenset({"factors", "count"}),
    clears=True,
    reads=frozenset({PAIN_FACTS, CANCER_FACTS, AGE_FACTS, LAB_FACTS}),
    requires=frozenset({PAIN_FACTS}),
)
