"""Treatments: pharmacy orders (RDE^O11), administrations (RAS^O17) and procedures (PR1 in ADT).

Each mapped medicine or procedure gives a ``carepath.treatment.changed.v1``. What changed comes from the
order control (ORC-1: NW started, XO/XX/RP dose changed, DC/OD/CA/OC stopped), from an administration
(administered, unless RXA-20 says it was refused or not given) or from a procedure (administered).
A dose is kept when its unit is one the contract knows; otherwise the treatment is recorded without it.
"""

from __future__ import annotations

from typing import Any

from intake.hl7.codes import TREATMENT, CodeTable, TreatmentTarget, words_in
from intake.hl7.draft import ContentError, Context, Draft, whole
from intake.hl7.message import Coded, Segment, shown
from intake.hl7.problems import TABLE_VALUE_NOT_FOUND, Location, Problem

ORDER_CONTROL = {
    "NW": "started",
    "XO": "dose_changed",
    "XX": "dose_changed",
    "RP": "dose_changed",
    "DC": "stopped",
    "OD": "stopped",
    "DR": "stopped",
    "CA": "stopped",
    "OC": "stopped",
    "CR": "stopped",
}
NOT_GIVEN = frozenset({"RE", "NA"})  # RXA-20: refused, not administered
DOSE_UNITS = frozenset({"mg", "microgram", "g", "Gy", "mL", "mg/day", "mg/hour", "microgram/hour"})
SPINAL_SITES = ("cervical", "thoracic", "lumbar", "sacral")
SITE_CATEGORIES = frozenset({"palliative_radiotherapy", "spinal_surgery", "vertebroplasty", "nerve_block"})


def map_orders(ctx: Context) -> None:
    orc: Segment | None = None
    for segment in ctx.message.segments:
        if segment.id == "ORC":
            orc = segment
        elif segment.id == "RXE":
            change = ORDER_CONTROL.get(orc.value(1).upper()) if orc else "started"
            if change is None:
                assert orc is not None
                ctx.problems.append(
                    Problem(
                        f"order control {shown(orc.value(1))} is not one carepath reads "
                        f"({', '.join(sorted(ORDER_CONTROL))}): whether the medicine was started, changed or "
                        "stopped cannot be told",
                        TABLE_VALUE_NOT_FOUND,
                        orc.location(1),
                    )
                )
                continue
            _treatment(ctx, segment, 2, (segment, 3, 5), change, ((orc, 9),), ctx.codes.medication_codes)


def map_administrations(ctx: Context) -> None:
    for rxa in ctx.message.all("RXA"):
        if rxa.value(20).upper() in NOT_GIVEN or rxa.value(21).upper() == "D":
            ctx.read += 1  # read: not given, or the record deleted
            continue
        _treatment(ctx, rxa, 5, (rxa, 6, 7), "administered", ((rxa, 3),), ctx.codes.medication_codes)


def map_procedures(ctx: Context) -> None:
    for pr1 in ctx.message.all("PR1"):
        _treatment(ctx, pr1, 3, None, "administered", ((pr1, 5),), ctx.codes.procedure_codes, procedure=True)


def _treatment(
    ctx: Context,
    segment: Segment,
    code_field: int,
    dose: tuple[Segment, int, int] | None,
    change: str,
    times: tuple[tuple[Segment | None, int], ...],
    table: CodeTable[TreatmentTarget],
    procedure: bool = False,
) -> None:
    coded = segment.coded(code_field)
    text = " ".join(t for t in ((coded.texts if coded else ""), segment.value(4) if procedure else "") if t)
    target, name = _find(ctx, coded, text, table, procedure)
    if target is None:
        kind, what = ("procedures", "procedure") if procedure else ("medications", "medicine")
        ctx.not_mapped(segment, code_field, kind, f"{what} ({segment.id}-{code_field})")
        return
    data: dict[str, Any] = {"category": target.category, "change": change}
    fields: dict[str, Location] = {"/data/category": segment.location(code_field)}
    agent = target.agent or name or (coded.text if coded else "")
    if agent:
        data["agent"] = agent[:200]
    if dose is not None:
        amount = _dose(ctx, *dose)
        if amount is not None:
            data["dose"] = amount
            fields["/data/dose"] = dose[0].location(dose[1])
    if procedure and target.category in SITE_CATEGORIES:
        sites = [s for s in words_in(text, ctx.codes.region_words) if s in SPINAL_SITES]
        if sites:
            data["target_site"] = sites[0]
    try:
        when, where = ctx.when(*times)
    except ContentError as exc:
        ctx.problems.append(exc.problem)
        return
    fields["/time"] = where
    ctx.drafts.append(Draft(TREATMENT, when, data, segment.location(), fields))


def _find(
    ctx: Context, coded: Coded | None, text: str, table: CodeTable[TreatmentTarget], procedure: bool
) -> tuple[TreatmentTarget | None, str | None]:
    target = table.find(ctx.codes.pairs(coded))
    if target is not None:
        return target, None
    names = ctx.codes.procedure_names if procedure else ctx.codes.medication_names
    for candidate in names:
        found = words_in(text, {"name": candidate.names})
        if found:
            lowered = text.lower()
            first = min((n for n in candidate.names if n in lowered), key=lowered.index, default=None)
            return candidate, first
    return None, None


def _dose(ctx: Context, segment: Segment, amount_field: int, unit_field: int) -> dict[str, Any] | None:
    if not segment.value(amount_field):
        return None
    try:
        value = ctx.number(segment, amount_field, "dose")
    except ContentError:
        return None  # a dose that is not a number (a range, "as directed") is left out
    unit_coded = segment.coded(unit_field)
    unit = ctx.codes.unit((unit_coded.code or unit_coded.text) if unit_coded else "")
    if value <= 0 or unit not in DOSE_UNITS:
        return None
    return {"value": whole(value), "unit": unit}
