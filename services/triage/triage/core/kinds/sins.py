"""Kind ``sins_score``: the Spinal Instability Neoplastic Score of the newest scored report (R10).

The bands (e.g. 7-12 potentially unstable, 13-18 unstable) are data; each band is a case with its own
severity. In the band named ``worse_in_band``, new or worsening neurological signs close in time or a new
collapse on the same report give the case ``<band>_with_neurological_signs_or_new_collapse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from triage.core.events import IMAGING
from triage.core.facts import IMAGING_FACTS, PAIN_FACTS, Entry, Facts
from triage.core.fields import Fields
from triage.core.finding import Explanation, Finding, evidence
from triage.core.kinds.bands import Band, check_bands, parse_band
from triage.core.kinds.base import (
    Context,
    Detector,
    KindSpec,
    Member,
    NeuroSigns,
    feature_evidence,
    parse_neuro_signs,
)
from triage.core.kinds.imaging import matching, report_evidence
from triage.core.pathway import join_words

SINS_MAXIMUM: Final = 18  # the top of the SINS scale (Fisher et al. 2010)
WORSE: Final = "{band}_with_neurological_signs_or_new_collapse"


@dataclass(frozen=True)
class Params:
    report_status: frozenset[str]
    bands: tuple[Band, ...]
    worse_in_band: str
    neuro: NeuroSigns
    collapse: frozenset[str]
    collapse_certainty: frozenset[str]


def parse(fields: Fields, context: Context) -> Params:
    report_status = fields.codes("report_status")
    bands = []
    for spec in fields.children("bands"):
        name = spec.text("name")
        bands.append(parse_band(spec, name, "", integer=True))
    names = [b.name for b in bands]
    if len(set(names)) != len(names):
        raise fields.error("band names must be unique", "bands")
    check_bands(bands, f"{fields.where}.bands", integer=True, top=SINS_MAXIMUM)
    worse = fields.text("worse_in_band")
    if worse not in names:
        raise fields.error(f"{worse!r} is not one of the bands ({', '.join(names)})", "worse_in_band")
    neuro = parse_neuro_signs(fields.required_child("neurological_signs"))
    collapse_spec = fields.required_child("new_collapse")
    collapse = collapse_spec.required_code_set("findings", ("findings",)).of("findings")
    certainty = collapse_spec.codes("certainty")
    collapse_spec.finish()
    fields.finish()
    return Params(report_status, tuple(bands), worse, neuro, collapse, certainty)


def cases(params: Params) -> tuple[str, ...]:
    return (*(b.name for b in params.bands), WORSE.format(band=params.worse_in_band))


class SinsScore(Detector):
    def __init__(self, rule_id: str, params: Params, context: Context) -> None:
        self.rule_id = rule_id
        self.p = params
        self.labels = context.labels

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        p = self.p
        scored = [r for r in facts.imaging if "sins" in r and r["status"] in p.report_status]
        if not scored:
            return None
        report = scored[-1]
        if since is not None and report["t"] <= since:
            return None
        band = next((b for b in p.bands if b.contains(report["sins"])), None)
        if band is None:
            return None
        case = band.name
        anchor = last = report["t"]
        signs: list[tuple[Entry, list[tuple[str, str]]]] = []
        collapse: list[str] = []
        if band.name == p.worse_in_band:
            signs = p.neuro.around(facts, report["t"])
            collapse = matching(report, p.collapse, p.collapse_certainty)
            if signs or collapse:
                case = WORSE.format(band=band.name)
                if signs and not collapse:
                    anchor = max(anchor, min(r["t"] for r, _ in signs))
                last = max([last, *(r["t"] for r, _ in signs)])
        return Finding(self.rule_id, case, anchor, last, lambda: self._explain(report, band, signs, collapse))

    def _explain(
        self, report: Entry, band: Band, signs: list[tuple[Entry, list[tuple[str, str]]]], collapse: list[str]
    ) -> Explanation:
        labels = self.labels
        items = [
            evidence(
                report["e"], IMAGING, "sins_score", report["sins"], report["t"], threshold=band.describe()
            )
        ]
        if collapse:
            items.append(
                report_evidence(labels, report, collapse, " or ".join(sorted(self.p.collapse_certainty)))
            )
        for sign_report, features in signs:
            items.extend(feature_evidence(sign_report, features, self.p.neuro.threshold()))
        extras = [labels.word(f, c) for _, features in signs for f, c in features]
        extras += [f"new {labels.word('findings', c)}" for c in collapse]
        words = {
            "score": str(report["sins"]),
            "band": band.name.replace("_", " "),
            "extras": join_words(extras),
        }
        return Explanation(words, items)


def build(members: Sequence[Member], context: Context) -> Detector:
    (member,) = members
    return SinsScore(member.rule_id, member.params, context)


SPEC: KindSpec = KindSpec(
    name="sins_score",
    summary="the SINS score of the newest scored imaging report falls in a band",
    parse=parse,
    build=build,
    cases=cases,
    words=frozenset({"score", "band", "extras"}),
    reads=frozenset({IMAGING_FACTS, PAIN_FACTS}),
    requires=frozenset({IMAGING_FACTS}),
)
