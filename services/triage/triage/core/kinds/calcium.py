"""Kind ``adjusted_calcium``: hypercalcaemia bands sharing one escalation (R6a, R6b, R6c).

Every rule of the group owns one band of albumin-adjusted calcium; the bands must meet without gap or
overlap and the highest must be open-ended. The newest calcium result (measured or already adjusted)
decides the band. A rule may also be met by a raised calcium in any band together with symptoms
(``or_symptomatic``: features in a pain report, or an acute kidney injury, close in time). When several
rules are met the most severe wins, and a change of band upward updates the same escalation.

Calcium in mg/dL and albumin in g/dL are converted first; numbers in different units are never compared.
Without an albumin result close in time the measured calcium is used, and the evidence says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from triage.core.events import LAB
from triage.core.facts import LAB_FACTS, PAIN_FACTS, Entry, Facts, features_in
from triage.core.fields import Fields
from triage.core.finding import Evidence, Explanation, Finding, Resolution, evidence, rounded
from triage.core.kinds.bands import Band, check_bands, parse_band
from triage.core.kinds.base import (
    PAIN_FIELDS,
    Context,
    Detector,
    KindSpec,
    Member,
    feature_evidence,
    feature_words,
    lab_evidence,
)
from triage.core.pathway import SEVERITY_RANK, PathwayError, join_words
from triage.core.times import describe_duration
from triage.core.units import CANONICAL

CALCIUM_TESTS: Final = ("calcium", "adjusted_calcium")
UNIT: Final = "mmol/L"


@dataclass(frozen=True)
class Symptomatic:
    fields: tuple[tuple[str, frozenset[str]], ...]
    within: int
    aki_ratio: float | None
    aki_baseline_within: int


@dataclass(frozen=True)
class Params:
    band: Band
    symptomatic: Symptomatic | None


def parse(fields: Fields, context: Context) -> Params:
    band = parse_band(fields.required_child("band"), "band", UNIT, convert=CANONICAL["calcium"][1])
    symptomatic = None
    spec = fields.child("or_symptomatic", required=False)
    if spec is not None:
        code_set = spec.required_code_set("features", PAIN_FIELDS)
        _, within = spec.duration("within")
        ratio, baseline = None, 0
        aki = spec.child("acute_kidney_injury", required=False)
        if aki is not None:
            ratio = aki.required_number("creatinine_rise_ratio")
            if ratio <= 1:
                raise aki.error("must be above 1 (a rise)", "creatinine_rise_ratio")
            _, baseline = aki.duration("baseline_within")
            aki.finish()
        spec.finish()
        symptomatic = Symptomatic(code_set.pain_fields, within, ratio, baseline)
    fields.finish()
    return Params(band, symptomatic)


def cases(params: Params) -> tuple[str, ...]:
    return ("in_band", "symptomatic") if params.symptomatic is not None else ("in_band",)


def check_group(members: Sequence[Member], where: str) -> None:
    check_bands([replace(m.params.band, name=m.rule_id) for m in members], where)
    ordered = sorted(members, key=lambda m: m.params.band.lower if m.params.band.lower is not None else -1e9)
    for lower, higher in itertools.pairwise(ordered):
        if SEVERITY_RANK[lower.severity["in_band"]] > SEVERITY_RANK[higher.severity["in_band"]]:
            raise PathwayError(
                f"{where}: {higher.rule_id} is a higher band than {lower.rule_id} but less severe"
            )


class AdjustedCalcium(Detector):
    def __init__(self, members: Sequence[Member], context: Context) -> None:
        self.members = list(members)
        self.adjustment = context.definitions.adjusted_calcium
        self.labels = context.labels

    def _latest(self, facts: Facts) -> tuple[str, Entry] | None:
        best: tuple[str, Entry] | None = None
        for test in CALCIUM_TESTS:
            result = facts.latest_lab(test)
            if result is not None and (best is None or result["t"] >= best[1]["t"]):
                best = (test, result)
        return best

    def _albumin(self, facts: Facts, test: str, result: Entry) -> Entry | None:
        """The albumin result closest in time to a measured calcium, within the adjustment's window."""
        if test == "adjusted_calcium":
            return None
        within = self.adjustment.albumin_within
        return min(
            (r for r in facts.labs("albumin") if abs(r["t"] - result["t"]) <= within),
            key=lambda r: abs(r["t"] - result["t"]),
            default=None,
        )

    def _adjusted(self, result: Entry, albumin: Entry | None) -> float:
        a = self.adjustment
        value: float = result["value"]
        if albumin is None:
            return value
        adjusted: float = value + a.factor * (a.reference_albumin - albumin["value"])
        return adjusted

    def _evidence(self, test: str, result: Entry, albumin: Entry | None) -> list[Evidence]:
        """The calcium result and the albumin used to adjust it (or that none was close enough)."""
        items = [lab_evidence(test, result)]
        if test == "adjusted_calcium":
            return items
        if albumin is None:
            within = describe_duration(self.adjustment.albumin_within)
            items.append(
                evidence(
                    result["e"],
                    LAB,
                    "albumin",
                    f"no albumin within {within}: measured calcium used unadjusted",
                    result["t"],
                )
            )
            return items
        items.append(lab_evidence("albumin", albumin))
        return items

    def _symptoms(self, facts: Facts, s: Symptomatic, t: int) -> tuple[list[str], list[Evidence], list[int]]:
        """Symptoms close in time to the calcium: words, evidence and the times they were reported."""
        words: list[str] = []
        items: list[Evidence] = []
        times: list[int] = []
        for report in facts.pain:
            if abs(report["t"] - t) <= s.within:
                found = features_in(report, s.fields)
                if found:
                    words.append(feature_words(self.labels, found))
                    items.extend(feature_evidence(report, found, "symptom of hypercalcaemia"))
                    times.append(report["t"])
        if s.aki_ratio is not None:
            creatinine = [r for r in facts.labs("creatinine") if abs(r["t"] - t) <= s.within]
            if creatinine:
                latest = creatinine[-1]
                baseline = [
                    r["value"]
                    for r in facts.labs("creatinine")
                    if latest["t"] - s.aki_baseline_within <= r["t"] < latest["t"]
                ]
                if baseline and latest["value"] >= s.aki_ratio * min(baseline):
                    words.append("acute kidney injury")
                    lowest = min(baseline)
                    items.append(
                        lab_evidence(
                            "creatinine",
                            latest,
                            f">= {s.aki_ratio:g} x the lowest recent value ({lowest:g} umol/L)",
                        )
                    )
                    times.append(latest["t"])
        return words, items, times

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        latest = self._latest(facts)
        if latest is None or (since is not None and latest[1]["t"] <= since):
            return None
        test, result = latest
        albumin = self._albumin(facts, test, result)
        value = self._adjusted(result, albumin)
        in_band = [m for m in self.members if m.params.band.contains(value)]
        if not in_band:
            return None
        t = result["t"]
        best: tuple[int, Member, str, list[str], list[Evidence], list[int]] | None = None
        for member in in_band:
            rank = SEVERITY_RANK[member.severity["in_band"]]
            if best is None or rank > best[0]:
                best = (rank, member, "in_band", [], [], [])
        for member in self.members:
            s = member.params.symptomatic
            if s is None:
                continue
            words, symptom_items, times = self._symptoms(facts, s, t)
            rank = SEVERITY_RANK[member.severity["symptomatic"]]
            if words and (best is None or rank > best[0]):
                best = (rank, member, "symptomatic", words, symptom_items, times)
        assert best is not None
        _, member, case, words, symptom_items, times = best
        band = in_band[0].params.band
        anchor = max(t, min(times)) if times else t
        last = max([t, *times])

        def explain() -> Explanation:
            adjusted = evidence(
                result["e"], LAB, "adjusted_calcium", rounded(value), t, UNIT, band.describe()
            )
            return Explanation(
                {
                    "value": f"{value:.2f} {UNIT}",
                    "band": band.describe(),
                    "symptoms": join_words(words),
                },
                [*self._evidence(test, result, albumin), adjusted, *symptom_items],
            )

        return Finding(member.rule_id, case, anchor, last, explain)

    def cleared(self, facts: Facts, after: int, since: int | None) -> Resolution | None:
        latest = self._latest(facts)
        if latest is None or latest[1]["t"] < after:
            return None
        test, result = latest
        albumin = self._albumin(facts, test, result)
        value = self._adjusted(result, albumin)
        if any(m.params.band.contains(value) for m in self.members):
            return None
        items = self._evidence(test, result, albumin)
        lowest = min(
            (m.params.band for m in self.members), key=lambda b: b.lower if b.lower is not None else -1e9
        )
        limit = f"< {lowest.lower:g} {UNIT}" if lowest.lower is not None else "below every band"
        adjusted = evidence(result["e"], LAB, "adjusted_calcium", rounded(value), result["t"], UNIT, limit)
        return Resolution(result["t"], "", [*items, adjusted])


def build(members: Sequence[Member], context: Context) -> Detector:
    return AdjustedCalcium(members, context)


SPEC: KindSpec = KindSpec(
    name="adjusted_calcium",
    summary="the newest albumin-adjusted calcium in the rule's band (or raised, with symptoms)",
    parse=parse,
    build=build,
    cases=cases,
    words=frozenset({"value", "band", "symptoms"}),
    clears=True,
    grouped=True,
    check_group=check_group,
    reads=frozenset({LAB_FACTS, PAIN_FACTS}),
    requires=frozenset({LAB_FACTS}),
)
