"""Kind ``myeloma_screen``: older patient with persistent bone or back pain, or a fracture (R7).

Met when the patient is at least ``age_at_least`` and either the newest pain report (newer than the end
of the last episode) describes pain lasting ``persistent_after`` or longer, or an imaging report shows a
fracture finding. Abnormal screening results - above the laboratory's upper limit, flagged high, or above
a fixed limit such as any detectable paraprotein - give the case ``abnormal_results``. Patients with a
recorded cancer of ``unless_cancer`` (myeloma itself) are excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.events import DIAGNOSIS
from triage.core.facts import (
    AGE_FACTS,
    CANCER_FACTS,
    IMAGING_FACTS,
    LAB_FACTS,
    PAIN_FACTS,
    Entry,
    Facts,
    pain_duration_days,
    raised,
)
from triage.core.fields import Fields
from triage.core.finding import Evidence, Explanation, Finding, evidence
from triage.core.kinds.base import (
    Context,
    Detector,
    KindSpec,
    Member,
    lab_evidence,
    pain_duration_evidence,
    raised_threshold,
)
from triage.core.kinds.imaging import matching, report_evidence
from triage.core.pathway import join_words
from triage.core.times import MICROS_PER_DAY, describe_duration
from triage.core.units import UnitError, canonical_unit, convert


@dataclass(frozen=True)
class Params:
    age_at_least: int
    nrs_at_least: int
    persistent_after: int
    fracture: frozenset[str]
    fracture_certainty: frozenset[str]
    tests: tuple[str, ...]
    fixed_limits: dict[str, float]  # test -> limit in the canonical unit
    unless_cancer: frozenset[str]


def parse(fields: Fields, context: Context) -> Params:
    age = fields.integer("age_at_least", minimum=0)
    nrs = fields.integer("pain_nrs_at_least", minimum=0)
    _, persistent = fields.duration("persistent_after")
    fracture_spec = fields.required_child("fracture")
    fracture = fracture_spec.required_code_set("findings", ("findings",)).of("findings")
    certainty = fracture_spec.codes("certainty")
    fracture_spec.finish()
    abnormal = fields.required_child("abnormal_results")
    tests = abnormal.required_code_set("tests", ("tests",)).codes["tests"]
    limits: dict[str, float] = {}
    fixed = abnormal.child("detected_above", required=False)
    if fixed is not None:
        for test in list(fixed.data):
            fixed.check_codes((test,), "tests", test)
            spec = fixed.required_child(test)
            value = spec.required_number("value")
            unit = spec.text("unit")
            try:
                limits[test] = convert(test, value, unit)
            except UnitError as exc:
                raise spec.error(str(exc), "unit") from None
            spec.finish()
        fixed.finish()
    abnormal.finish()
    unless = fields.required_code_set("unless_cancer", ("primary_site",)).of("primary_site")
    fields.finish()
    return Params(age, nrs, persistent, fracture, certainty, tests, limits, unless)


class MyelomaScreen(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels
        self.episode = context.definitions.pain_episode

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        p = self.p
        if facts.cancers(p.unless_cancer):
            return None
        hits: list[tuple[int, list[Evidence], str]] = []
        reports = facts.scored_pain()
        i = len(reports) - 1  # the newest painful report
        while i >= 0 and reports[i]["nrs"] < p.nrs_at_least:
            i -= 1
        if i >= 0 and (since is None or reports[i]["t"] > since):
            report = reports[i]
            age = facts.age_at(report["t"])
            if age is not None and age[0] >= p.age_at_least:  # how long it has lasted matters only then
                days = pain_duration_days(reports, i, self.episode.max_gap, self.episode.nrs_at_least)
                if since is not None:
                    days = min(days, (report["t"] - since) / MICROS_PER_DAY)
                if days * MICROS_PER_DAY >= p.persistent_after:
                    hits.append(
                        (
                            report["t"],
                            [
                                _age_evidence(age, report["t"], p.age_at_least),
                                pain_duration_evidence(
                                    report, days, f">= {describe_duration(p.persistent_after)}"
                                ),
                            ],
                            "persistent back pain",
                        )
                    )
        for image in facts.imaging:
            if since is not None and image["t"] <= since:
                continue
            codes = matching(image, p.fracture, p.fracture_certainty)
            age = facts.age_at(image["t"]) if codes else None
            if codes and age is not None and age[0] >= p.age_at_least:
                threshold = " or ".join(sorted(p.fracture_certainty))
                hits.append(
                    (
                        image["t"],
                        [
                            _age_evidence(age, image["t"], p.age_at_least),
                            report_evidence(self.labels, image, codes, threshold),
                        ],
                        "a fracture on imaging",
                    )
                )
        if not hits:
            return None
        hits.sort(key=lambda h: h[0])
        anchor, last = hits[0][0], hits[-1][0]
        abnormal: list[tuple[str, Entry, str]] = []
        for test in p.tests:
            result = facts.latest_lab(test)
            if result is None or (since is not None and result["t"] <= since):
                continue
            limit = p.fixed_limits.get(test)
            if limit is not None and result["value"] > limit:
                abnormal.append((test, result, f"> {limit:g} {canonical_unit(test)} (detectable)"))
            elif raised(result):
                abnormal.append((test, result, raised_threshold(test, result)))
        case = "screen"
        if abnormal:
            case = "abnormal_results"
            anchor = max(anchor, min(r["t"] for _, r, _ in abnormal))
            last = max(last, max(r["t"] for _, r, _ in abnormal))
        return Finding(self.rule_id, case, anchor, last, lambda: self._explain(hits, abnormal))

    def _explain(
        self, hits: list[tuple[int, list[Evidence], str]], abnormal: list[tuple[str, Entry, str]]
    ) -> Explanation:
        items = [item for _, found, _ in hits for item in found]
        items += [lab_evidence(test, result, limit) for test, result, limit in abnormal]
        words = {
            "presentation": join_words([what for _, _, what in hits]),
            "results": self.labels.join("tests", [test for test, _, _ in abnormal]),
        }
        return Explanation(words, items)


def _age_evidence(age: tuple[int, Entry], t: int, limit: int) -> Evidence:
    return evidence(age[1]["e"], DIAGNOSIS, "age", age[0], t, "years", f">= {limit}")


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return MyelomaScreen(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="myeloma_screen",
    summary="an older patient with persistent back pain or a fracture, without recorded myeloma",
    parse=parse,
    build=build,
    cases=lambda params: ("screen", "abnormal_results"),
    words=frozenset({"presentation", "results"}),
    reads=frozenset({PAIN_FACTS, CANCER_FACTS, AGE_FACTS, IMAGING_FACTS, LAB_FACTS}),
    requires=frozenset({AGE_FACTS}),
    requires_one_of=frozenset({PAIN_FACTS, IMAGING_FACTS}),  # persistent pain or a fracture on imaging
)
