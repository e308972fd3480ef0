"""Kind ``raised_labs``: a non-specific marker above the laboratory's upper limit with back pain (R13).

Met when the newest result of a test in the code set (newer than the end of the last episode) is above
the reporting laboratory's upper reference limit, or flagged high, and a pain report lies within
``back_pain_within`` of it. There is no numeric threshold of our own: the laboratory's range decides. The
condition clears when a newer result of every such test is back within range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.facts import LAB_FACTS, PAIN_FACTS, Entry, Facts, raised
from triage.core.fields import Fields
from triage.core.finding import Evidence, Explanation, Finding, Resolution
from triage.core.kinds.base import (
    Context,
    Detector,
    KindSpec,
    Member,
    lab_evidence,
    raised_threshold,
)


@dataclass(frozen=True)
class Params:
    tests: tuple[str, ...]
    nrs_at_least: int
    within: int


def parse(fields: Fields, context: Context) -> Params:
    tests = fields.required_code_set("tests", ("tests",)).codes["tests"]
    nrs = fields.integer("pain_nrs_at_least", minimum=0)
    _, within = fields.duration("back_pain_within")
    fields.finish()
    return Params(tests, nrs, within)


class RaisedLabs(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def _raised(self, facts: Facts, since: int | None) -> list[tuple[str, Entry, Entry]]:
        """(test, raised result, pain report close to it) for each test whose newest result is raised."""
        found = []
        painful = [r for r in facts.pain if r.get("nrs", -1) >= self.p.nrs_at_least]
        for test in self.p.tests:
            result = facts.latest_lab(test)
            if result is None or (since is not None and result["t"] <= since) or not raised(result):
                continue
            near = [r for r in painful if abs(r["t"] - result["t"]) <= self.p.within]
            if near:
                found.append((test, result, near[0]))
        return found

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        found = self._raised(facts, since)
        if not found:
            return None
        anchor = min(max(result["t"], pain["t"]) for _, result, pain in found)
        last = max(result["t"] for _, result, _ in found)
        return Finding(self.rule_id, "default", anchor, last, lambda: self._explain(found))

    def _explain(self, found: list[tuple[str, Entry, Entry]]) -> Explanation:
        items: list[Evidence] = [
            lab_evidence(test, result, raised_threshold(test, result)) for test, result, _ in found
        ]
        return Explanation({"tests": self.labels.join("tests", [test for test, _, _ in found])}, items)

    def cleared(self, facts: Facts, after: int, since: int | None) -> Resolution | None:
        newest: list[tuple[str, Entry]] = []
        for test in self.p.tests:
            result = facts.latest_lab(test)
            if result is None:
                continue
            if raised(result):
                return None
            if result["t"] >= after:
                newest.append((test, result))
        if not newest:
            return None
        items = [
            lab_evidence(test, result, "within the laboratory's reference range") for test, result in newest
        ]
        return Resolution(max(result["t"] for _, result in newest), "", items)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return RaisedLabs(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="raised_labs",
    summary="a test of the code set above the laboratory's upper limit, with back pain close in time",
    parse=parse,
    build=build,
    words=frozenset({"tests"}),
    clears=True,
    reads=frozenset({LAB_FACTS, PAIN_FACTS}),
    requires=frozenset({LAB_FACTS, PAIN_FACTS}),
)
