"""ORU^R01 results: pain assessments, laboratory results and imaging reports, read by code.

The message is read as OBR groups (an OBR and the OBX/NTE segments after it). In each group:

- an imaging study (by OBR-4 code, OBR-24 section or OBR-4 text) gives one ``carepath.imaging.resulted.v1``
  from its report text (text OBX and NTE), with findings read by :mod:`intake.hl7.radiology`;
- each pain score OBX (``pain.nrs``) gives one ``carepath.pain.reported.v1`` with the group's pain features;
- each laboratory OBX (``lab``) gives one ``carepath.lab.resulted.v1``, unit from OBX-6, range from OBX-7;
- a group of findings without a pain score - a symptom assessment: the finding (LOINC 75325-1 with the SNOMED
  CT finding in OBX-5, or a yes/no finding row), its course, severity and body site - gives one
  ``carepath.symptom.recorded.v1`` per OBX-4 sub-id; numbness with a perineal site is saddle anaesthesia;
- each body temperature OBX (``symptom.temperature``) gives one ``carepath.symptom.recorded.v1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from carepath import envelope
from intake.hl7.codes import IMAGING, LAB, PAIN, SYMPTOM, ObservationTarget, words_in
from intake.hl7.draft import ContentError, Context, Draft, code_label, whole
from intake.hl7.message import Segment
from intake.hl7.problems import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    Location,
    Problem,
)
from intake.hl7.radiology import read_report

MAX_IMPRESSION = 20000
TEXT_TYPES = frozenset({"TX", "FT", "ST"})
# OBX-11 / OBR-25 result status (HL7 table 0085 / 0123).
NOT_A_RESULT = frozenset({"X", "I", "O", "N", "U"})  # no result yet, or none to give: nothing to map
WITHDRAWN = frozenset({"D", "W"})  # carepath has no way to withdraw a published result
REPORT_STATUS = {
    "F": "final",
    "C": "amended",
    "P": "preliminary",
    "R": "preliminary",
    "A": "preliminary",
    "S": "preliminary",
    "X": "cancelled",
}
REPORT_PENDING = frozenset({"I", "O"})
FLAGS = frozenset({"N", "H", "L", "HH", "LL"})
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*$")
_BOUND = re.compile(r"^\s*([<>]=?)\s*(\d+(?:\.\d+)?)\s*$")
_SCORE = re.compile(r"^\s*(\d{1,2})(?:\.0+)?\s*(?:/\s*10)?\s*$")


@dataclass
class Group:
    obr: Segment | None
    members: list[Segment] = field(default_factory=list)

    def location(self) -> Location:
        return self.obr.location() if self.obr else self.members[0].location()


def map_results(ctx: Context) -> None:
    """Every OBX is read (an event, a problem, or deliberately not: no result yet, a code under ``ignore``).
    An OBX whose OBX-3 the mapping does not know is a problem; so is an order group with notes and
    nothing else carepath reads."""
    for group in _groups(ctx):
        before = (len(ctx.drafts), len(ctx.problems), ctx.read)
        report_obx: set[int] = set()
        study = False
        try:
            report_obx, study = _imaging(ctx, group)
        except ContentError as exc:
            ctx.problems.append(exc.problem)
            study = True
        _pain(ctx, group)
        for obx in group.members:
            if obx.id != "OBX" or obx.sequence in report_obx:
                continue
            target = ctx.codes.observations.find(ctx.codes.pairs(obx.coded(3)))
            if target is None:
                ctx.not_mapped(obx, 3, "observations", "observation (OBX-3)")
            elif target.to == "lab":
                try:
                    _lab(ctx, group, obx, target)
                except ContentError as exc:
                    ctx.problems.append(exc.problem)
            elif target.to == "symptom.temperature":
                try:
                    _temperature(ctx, group, obx)
                except ContentError as exc:
                    ctx.problems.append(exc.problem)
            elif target.to.startswith("imaging.") and not study:
                ctx.problems.append(
                    Problem(
                        "imaging observation in an order group that is not an imaging study: "
                        "send the study's OBR-4 code (mapped) or OBR-24 section",
                        TABLE_VALUE_NOT_FOUND,
                        obx.location(3),
                    )
                )
        nothing_read = (len(ctx.drafts), len(ctx.problems), ctx.read) == before
        if nothing_read and group.obr is not None and any(m.id == "NTE" for m in group.members):
            # notes under an order carepath cannot place
            ctx.not_mapped(group.obr, 4, "studies", "order (OBR-4) with notes and no result carepath reads:")


def _groups(ctx: Context) -> list[Group]:
    groups: list[Group] = []
    for segment in ctx.message.segments:
        if segment.id == "OBR":
            groups.append(Group(segment))
        elif segment.id in ("OBX", "NTE"):
            if not groups:
                groups.append(Group(None))
            groups[-1].members.append(segment)
    return [g for g in groups if g.obr is not None or g.members]


def _status(obx: Segment) -> str:
    return obx.value(11).upper()


def _check_status(obx: Segment) -> bool:
    """True when the OBX holds a result to map; a withdrawn result is a problem the sender must hear of."""
    status = _status(obx)
    if status in WITHDRAWN:
        raise ContentError(
            Problem(
                f"result status {status!r} withdraws an earlier result, which carepath cannot do: "
                "review the earlier result with the clinical team",
                TABLE_VALUE_NOT_FOUND,
                obx.location(11),
                "hl7_withdrawn",
            )
        )
    return status not in NOT_A_RESULT


# -- laboratory ------------------------------------------------------------------------------------------


def _lab(ctx: Context, group: Group, obx: Segment, target: ObservationTarget) -> None:
    if not _check_status(obx):
        ctx.read += 1
        return
    if not obx.value(5):
        raise ContentError(
            Problem(f"{target.test} result has no value", REQUIRED_FIELD_MISSING, obx.location(5))
        )
    value = ctx.number(obx, 5, f"{target.test} result")
    unit_coded = obx.coded(6)
    unit_text = (unit_coded.code or unit_coded.text) if unit_coded else ""
    unit = ctx.codes.unit(unit_text) if unit_text else target.unit
    if not unit:
        raise ContentError(
            Problem(f"{target.test} result has no unit", REQUIRED_FIELD_MISSING, obx.location(6))
        )
    data: dict[str, Any] = {"test": target.test, "value": whole(value), "unit": unit}
    fields = {"/data/test": obx.location(3), "/data/value": obx.location(5), "/data/unit": obx.location(6)}
    reference = _reference_range(obx.value(7))
    if reference:
        data["reference_range"] = reference
        fields["/data/reference_range"] = obx.location(7)
    flag = obx.value(8).upper()
    if flag in FLAGS:
        data["abnormal_flag"] = flag
    when, where = ctx.when((obx, 14), (group.obr, 7))
    fields["/time"] = where
    ctx.drafts.append(Draft(LAB, when, data, obx.location(), fields))


def _reference_range(text: str) -> dict[str, int | float] | None:
    """``2.20-2.60``, ``<5`` or ``>1.1`` as {low, high}; anything else is left out (the range is optional)."""
    if match := _RANGE.match(text):
        return {"low": whole(float(match.group(1))), "high": whole(float(match.group(2)))}
    if match := _BOUND.match(text):
        bound = whole(float(match.group(2)))
        return {"high": bound} if match.group(1).startswith("<") else {"low": bound}
    return None


# -- pain ------------------------------------------------------------------------------------------------


def _pain(ctx: Context, group: Group) -> None:
    scores: list[Segment] = []
    features: list[tuple[Segment, ObservationTarget]] = []
    for obx in group.members:
        if obx.id != "OBX":
            continue
        target = ctx.codes.observations.find(ctx.codes.pairs(obx.coded(3)))
        if target is None or not target.to.startswith("pain."):
            continue
        try:
            if not _check_status(obx):
                ctx.read += 1
                continue
        except ContentError as exc:
            ctx.problems.append(exc.problem)
            continue
        if target.to == "pain.nrs":
            scores.append(obx)
        else:
            features.append((obx, target))
    if not scores:
        findings = [f for f in features if f[1].to in _FINDING_TARGETS]
        if findings:
            for part in _by_sub_id(features):
                if any(t.to in _FINDING_TARGETS for _, t in part):
                    try:
                        ctx.drafts.append(_symptom_event(ctx, group, part))
                    except ContentError as exc:
                        ctx.problems.append(exc.problem)
        elif features:
            obx = features[0][0]
            ctx.problems.append(
                Problem(
                    "pain observations without a pain score (pain.nrs, e.g. LOINC 72514-3) in the same OBR: "
                    "a carepath pain report needs its 0-10 score",
                    REQUIRED_FIELD_MISSING,
                    obx.location(3),
                )
            )
        return
    for score in scores:
        try:
            ctx.drafts.append(_pain_event(ctx, group, score, features))
        except ContentError as exc:
            ctx.problems.append(exc.problem)


def _pain_event(
    ctx: Context, group: Group, score: Segment, features: list[tuple[Segment, ObservationTarget]]
) -> Draft:
    match = _SCORE.match(score.value(5))
    if match is None:
        raise ContentError(
            Problem(
                f"pain score {score.value(5)!r} is not a whole number from 0 to 10",
                DATA_TYPE_ERROR,
                score.location(5),
            )
        )
    data: dict[str, Any] = {"nrs": int(match.group(1))}
    fields: dict[str, Location] = {"/data/nrs": score.location(5)}
    sites = _sites(ctx, score.coded(20), score.value(20, 2))
    if sites:
        fields["/data/site"] = score.location(20)
    lists: dict[str, list[str]] = {}
    for obx, target in features:
        name = target.to.split(".", 1)[1]
        where = obx.location(5)
        if target.to == "pain.site":
            found = _sites(ctx, obx.coded(5), obx.value(5, 2))
            if not found:
                raise ContentError(
                    Problem(f"{obx.value(5)!r} is not a spinal site", TABLE_VALUE_NOT_FOUND, where)
                )
            sites += [s for s in found if s not in sites]
            fields.setdefault("/data/site", where)
        elif target.to == "pain.symptom":  # OBX-5 is the finding (LOINC 75325-1 "Symptom")
            finding = ctx.codes.findings.find(ctx.codes.pairs(obx.coded(5)))
            if finding is None:
                coded = obx.coded(5)
                raise ContentError(
                    Problem(
                        f"symptom {coded.label if coded else repr(obx.value(5))} is not a finding carepath reads",
                        TABLE_VALUE_NOT_FOUND,
                        where,
                    )
                )
            feature, value = finding
            if value not in lists.setdefault(feature, []):
                lists[feature].append(value)
                fields.setdefault(f"/data/{feature}", where)
        elif target.to in ("pain.character", "pain.systemic", "pain.neurological"):
            if _present(ctx, obx) and target.value not in lists.setdefault(name, []):
                lists[name].append(str(target.value))
                fields.setdefault(f"/data/{name}", where)
        elif target.to in ("pain.neurological_status", "pain.weakness_severity"):
            data[name] = target.value or obx.value(5).lower()
            fields[f"/data/{name}"] = where
        elif target.to in ("pain.improving", "pain.new_episode"):
            data[name] = _present(ctx, obx)
            fields[f"/data/{name}"] = where
        elif target.to == "pain.duration_days":
            data[name] = whole(ctx.number(obx, 5, "pain duration in days"))
            fields[f"/data/{name}"] = where
        elif target.to == "pain.onset":
            data[name] = envelope.iso(ctx.timestamp(obx, 5))
            fields[f"/data/{name}"] = where
    if not sites:
        raise ContentError(
            Problem(
                "pain score has no spinal site: send OBX-20 (observation site) or a pain_site observation",
                REQUIRED_FIELD_MISSING,
                score.location(20),
            )
        )
    data["site"] = sites
    for name, values in lists.items():
        if values:
            data[name] = values
    when, where = ctx.when((score, 14), (group.obr, 7))
    fields["/time"] = where
    return Draft(PAIN, when, data, score.location(), fields)


_FINDING_TARGETS = frozenset({"pain.symptom", "pain.character", "pain.systemic", "pain.neurological"})
_PAIN_ONLY = frozenset({"pain.improving", "pain.new_episode", "pain.duration_days", "pain.onset"})
_TEMPERATURE_UNITS = frozenset({"Cel", "[degF]"})


def _by_sub_id(
    features: list[tuple[Segment, ObservationTarget]],
) -> list[list[tuple[Segment, ObservationTarget]]]:
    """The rows of a symptom assessment, one list per OBX-4 sub-id (one finding with its course and site)."""
    parts: dict[str, list[tuple[Segment, ObservationTarget]]] = {}
    for obx, target in features:
        parts.setdefault(obx.value(4).strip(), []).append((obx, target))
    return list(parts.values())


def _symptom_event(ctx: Context, group: Group, features: list[tuple[Segment, ObservationTarget]]) -> Draft:
    data: dict[str, Any] = {}
    fields: dict[str, Location] = {}
    lists: dict[str, list[str]] = {}
    sites: list[str] = []
    saddle = False
    first = next(obx for obx, t in features if t.to in _FINDING_TARGETS)
    for obx, target in features:
        name = target.to.split(".", 1)[1]
        where = obx.location(5)
        if target.to == "pain.site":
            if ctx.codes.saddle_sites.find(ctx.codes.pairs(obx.coded(5))) is not None:
                saddle = True
                continue
            if ctx.codes.limb_sites.find(ctx.codes.pairs(obx.coded(5))) is not None:
                continue  # a limb: outside the spine, known, and not used by any rule
            found = _sites(ctx, obx.coded(5), obx.value(5, 2))
            if not found:  # the symptom is read; only its site, which no rule uses, is not
                ctx.warnings.append(
                    Problem(
                        "the body site of this symptom is not a spinal or perineal site carepath reads: "
                        "the symptom was read without it",
                        TABLE_VALUE_NOT_FOUND,
                        where,
                    )
                )
                continue
            sites += [s for s in found if s not in sites]
            fields.setdefault("/data/site", where)
        elif target.to == "pain.symptom":
            feature, value = _finding(ctx, obx)
            if value not in lists.setdefault(feature, []):
                lists[feature].append(value)
                fields.setdefault(f"/data/{feature}", where)
        elif target.to in ("pain.character", "pain.systemic", "pain.neurological"):
            if _present(ctx, obx) and target.value not in lists.setdefault(name, []):
                lists[name].append(str(target.value))
                fields.setdefault(f"/data/{name}", where)
        elif target.to == "pain.neurological_status":
            data["status"] = target.value or obx.value(5).lower()
            fields["/data/status"] = where
        elif target.to == "pain.weakness_severity":
            data["weakness_severity"] = target.value or obx.value(5).lower()
            fields["/data/weakness_severity"] = where
        elif target.to in _PAIN_ONLY:
            raise ContentError(
                Problem(
                    f"{name.replace('_', ' ')} is a row of a pain assessment: send it with the pain score "
                    "(pain.nrs) in the same OBR",
                    REQUIRED_FIELD_MISSING,
                    obx.location(3),
                )
            )
    neurological = lists.get("neurological", [])
    if saddle and "sensory_loss" in neurological:
        neurological[neurological.index("sensory_loss")] = "saddle_anaesthesia"
    if "weakness_severity" in data and "limb_weakness" not in neurological:
        raise ContentError(
            Problem(
                "a severity is only read for limb weakness; this symptom assessment records "
                f"{', '.join(v for vs in lists.values() for v in vs) or 'no finding'}",
                TABLE_VALUE_NOT_FOUND,
                fields["/data/weakness_severity"],
            )
        )
    for name, values in lists.items():
        if values:
            data[name] = list(dict.fromkeys(values))
    if sites:
        data["site"] = sites
    when, where = ctx.when((first, 14), (group.obr, 7))
    fields["/time"] = where
    return Draft(SYMPTOM, when, data, first.location(), fields)


def _finding(ctx: Context, obx: Segment) -> tuple[str, str]:
    finding = ctx.codes.findings.find(ctx.codes.pairs(obx.coded(5)))
    if finding is None:
        coded = obx.coded(5)
        raise ContentError(
            Problem(
                f"symptom {coded.label if coded else repr(obx.value(5)[:60])} is not a finding carepath reads",
                TABLE_VALUE_NOT_FOUND,
                obx.location(5),
            )
        )
    return finding


def _temperature(ctx: Context, group: Group, obx: Segment) -> None:
    if not _check_status(obx):
        ctx.read += 1
        return
    value = ctx.number(obx, 5, "body temperature")
    unit = ctx.codes.unit(obx.value(6)) if obx.value(6) else ""
    if unit not in _TEMPERATURE_UNITS:
        raise ContentError(
            Problem(
                f"body temperature unit {obx.value(6)[:20]!r} is not read: send Cel or [degF] (UCUM) in OBX-6",
                TABLE_VALUE_NOT_FOUND,
                obx.location(6),
            )
        )
    when, where = ctx.when((obx, 14), (group.obr, 7))
    fields = {
        "/data/temperature/value": obx.location(5),
        "/data/temperature/unit": obx.location(6),
        "/time": where,
    }
    data = {"temperature": {"value": value, "unit": unit}}
    ctx.drafts.append(Draft(SYMPTOM, when, data, obx.location(), fields))


def _sites(ctx: Context, coded: Any, text: str) -> list[str]:
    site = ctx.codes.body_site_codes.find(ctx.codes.pairs(coded))
    if site is not None:
        return [site]
    words = " ".join(t for t in (coded.texts if coded else "", coded.code if coded else "", text) if t)
    return words_in(words, ctx.codes.body_site_words)


def _present(ctx: Context, obx: Segment) -> bool:
    """A yes/no observation: empty counts as yes (the finding was recorded)."""
    text = obx.value(5)
    if not text:
        return True
    answer = ctx.codes.answer(text)
    if answer is None:
        raise ContentError(
            Problem(f"{text!r} is not a yes/no answer", TABLE_VALUE_NOT_FOUND, obx.location(5))
        )
    return answer


# -- imaging ---------------------------------------------------------------------------------------------


def _imaging(ctx: Context, group: Group) -> tuple[set[int], bool]:
    """Map an imaging study; returns the OBX sequences that were its report (not to be read again) and
    whether the group is an imaging study."""
    obr = group.obr
    if obr is None:
        return set(), False
    procedure = ctx.codes.imaging_procedures.find(ctx.codes.pairs(obr.coded(4)))
    service = obr.coded(4)
    service_text = " ".join(t for t in (service.texts, service.code) if t) if service else ""
    modality_field = 4  # where the modality was read: the procedure (OBR-4) or the section (OBR-24)
    modality = procedure.modality if procedure else None
    if modality is None and obr.value(24).upper() in ctx.codes.imaging_sections:
        modality, modality_field = ctx.codes.imaging_sections[obr.value(24).upper()], 24
    if modality is None:
        named = words_in(service_text, ctx.codes.modality_words)
        modality = named[0] if named else None
    text_obx, impression_obx, sins_obx = _report_parts(ctx, group)
    if modality is None and sins_obx and not text_obx:
        return _sins_alone(ctx, group, sins_obx), True
    if modality is None:
        if text_obx and any(_is_mapped_text(ctx, o) for o in text_obx):
            raise ContentError(
                Problem(
                    f"imaging report whose modality is unknown: add OBR-4 {code_label(service) if service else ''} "
                    "to the code mapping, or send OBR-24",
                    TABLE_VALUE_NOT_FOUND,
                    obr.location(4),
                )
            )
        return set(), False
    region = procedure.region if procedure and procedure.region else None
    if region is None:
        regions = words_in(service_text, ctx.codes.region_words)
        region = "whole_spine" if "whole_spine" in regions else (regions[0] if regions else "other")
    result_status = obr.value(25).upper() or (_status(text_obx[0]) if text_obx else "")
    if result_status in REPORT_PENDING:
        ctx.read += 1
        return {o.sequence for o in [*text_obx, *sins_obx]}, True
    status = REPORT_STATUS.get(result_status, "preliminary")
    if result_status in WITHDRAWN:
        status = "cancelled"
    lines = [o.text(5) for o in text_obx] + [n.text(3) for n in group.members if n.id == "NTE"]
    report = "\n".join(line for line in lines if line.strip())
    data: dict[str, Any] = {"modality": modality, "region": region, "report_status": status}
    fields: dict[str, Location] = {
        "/data/modality": obr.location(modality_field),
        "/data/region": obr.location(4),
        "/data/report_status": obr.location(25),
    }
    if not report.strip() and status != "cancelled":
        raise ContentError(
            Problem(
                "imaging report has no report text (TX/FT OBX or NTE)", REQUIRED_FIELD_MISSING, obr.location()
            )
        )
    reading = read_report(report, ctx.rules)
    if reading.findings:
        data["findings"] = [f.as_json() for f in reading.findings]
        fields["/data/findings"] = text_obx[0].location(5) if text_obx else obr.location()
    sins = reading.sins_score
    for obx in sins_obx:
        sins = int(ctx.number(obx, 5, "SINS"))
        fields["/data/sins_score"] = obx.location(5)
    if sins is not None:
        data["sins_score"] = sins
    impression = "\n".join(o.text(5) for o in impression_obx).strip() or report.strip()
    if impression:
        data["impression"] = impression[:MAX_IMPRESSION]
    when, where = ctx.when((obr, 22), (obr, 7))
    fields["/time"] = where
    ctx.drafts.append(Draft(IMAGING, when, data, obr.location(), fields))
    return {o.sequence for o in [*text_obx, *sins_obx]}, True


def _sins_alone(ctx: Context, group: Group, sins_obx: list[Segment]) -> set[int]:
    """A SINS scored on its own (a spinal team's score, no report text): its score, status and the
    breakdown in NTE; the imaging it was scored from is not named, so neither modality nor region is."""
    obx = sins_obx[-1]
    result_status = _status(obx) or (group.obr.value(25).upper() if group.obr else "")
    if result_status in REPORT_PENDING:
        ctx.read += 1
        return {o.sequence for o in sins_obx}
    if result_status in WITHDRAWN:
        raise ContentError(
            Problem(
                f"a withdrawn SINS (OBX-11 {result_status}) cannot be taken back by carepath: tell the MSCC "
                "coordinator",
                TABLE_VALUE_NOT_FOUND,
                obx.location(11),
            )
        )
    score = ctx.number(obx, 5, "SINS")
    if score != int(score) or not 0 <= score <= 18:
        raise ContentError(
            Problem(
                f"SINS {obx.value(5)[:10]!r} is not a whole number 0-18", DATA_TYPE_ERROR, obx.location(5)
            )
        )
    data: dict[str, Any] = {
        "report_status": REPORT_STATUS.get(result_status, "preliminary"),
        "sins_score": int(score),
    }
    fields: dict[str, Location] = {
        "/data/sins_score": obx.location(5),
        "/data/report_status": obx.location(11),
    }
    notes = "\n".join(n.text(3) for n in group.members if n.id == "NTE").strip()
    if notes:
        data["impression"] = notes[:MAX_IMPRESSION]
    when, where = ctx.when((obx, 14), *(((group.obr, 22), (group.obr, 7)) if group.obr else ()))
    fields["/time"] = where
    ctx.drafts.append(Draft(IMAGING, when, data, obx.location(), fields))
    return {o.sequence for o in sins_obx}


def _report_parts(ctx: Context, group: Group) -> tuple[list[Segment], list[Segment], list[Segment]]:
    """The group's report text OBX, those that are the impression, and SINS stated as a number."""
    text, impression, sins = [], [], []
    for obx in group.members:
        if obx.id != "OBX":
            continue
        target = ctx.codes.observations.find(ctx.codes.pairs(obx.coded(3)))
        code = obx.value(3)
        if target is not None and target.to == "imaging.sins_score":
            sins.append(obx)
        elif target is not None and target.to in ("imaging.report", "imaging.impression"):
            text.append(obx)
            if target.to == "imaging.impression":
                impression.append(obx)
        elif target is None and obx.value(2).upper() in TEXT_TYPES:
            text.append(obx)
            if code.upper().endswith("&IMP"):
                impression.append(obx)
    return text, impression, sins


def _is_mapped_text(ctx: Context, obx: Segment) -> bool:
    target = ctx.codes.observations.find(ctx.codes.pairs(obx.coded(3)))
    return target is not None and target.to in ("imaging.report", "imaging.impression")
