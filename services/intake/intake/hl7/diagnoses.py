"""Diagnoses and background: ADT DG1 segments and date of birth, PPR problem (PRB) segments.

Each mapped cancer gives a ``carepath.diagnosis.recorded.v1``. A secondary (spinal metastases) code is
given to the cancers of the same message; with no cancer in the message it is recorded under
``unknown_primary``. Risk factors (immunosuppression, ...) each give their own event. A symptom or sign
coded as a diagnosis (urinary retention, faecal incontinence, confusion: a code of the ``findings`` section)
gives a ``carepath.symptom.recorded.v1``. ADT messages also give the date of birth from PID-7, which the
age-based rules need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake.hl7.codes import DIAGNOSIS, SYMPTOM, DiagnosisTarget
from intake.hl7.draft import ContentError, Context, Draft
from intake.hl7.message import Segment
from intake.hl7.problems import DATA_TYPE_ERROR, Location, Problem
from intake.hl7.times import parse_date

_METS_RANK = {"unknown": 0, "none": 1, "suspected": 2, "known": 3}
# PRB-13 confirmation status and PRB-14 life cycle status are user-defined tables: read by their words.
_CONFIRMATION = {
    "C": "confirmed",
    "CONFIRMED": "confirmed",
    "P": "provisional",
    "PROVISIONAL": "provisional",
    "PROBABLE": "provisional",
    "WORKING": "provisional",
    "DIFFERENTIAL": "provisional",
    "R": "refuted",
    "REFUTED": "refuted",
    "RULED OUT": "refuted",
    "E": "entered_in_error",
    "ERROR": "entered_in_error",
    "ENTERED IN ERROR": "entered_in_error",
}
_LIFE_CYCLE = {
    "A": "active",
    "ACTIVE": "active",
    "REMISSION": "remission",
    "IN REMISSION": "remission",
    "I": "history",
    "INACTIVE": "history",
    "RESOLVED": "history",
    "HISTORY": "history",
}


@dataclass(frozen=True)
class _Coded:
    segment: Segment
    target: DiagnosisTarget
    verification: str | None
    status: str | None
    time_field: int


def map_admission(ctx: Context) -> None:
    """ADT: date of birth, then DG1 diagnoses."""
    pid = ctx.message.first("PID")
    if pid is not None and pid.value(7):
        try:
            ctx.drafts.append(_birth(ctx, pid))
        except ContentError as exc:
            ctx.problems.append(exc.problem)
    entries = []
    for dg1 in ctx.message.all("DG1"):
        if _symptom(ctx, dg1, 3, 5, withdrawn=dg1.value(21).upper() == "D"):
            continue
        target = _lookup(ctx, dg1, 3)
        if target is None:
            continue
        action = dg1.value(21).upper()
        verification = (
            "entered_in_error" if action == "D" else ("provisional" if dg1.value(6).upper() == "W" else None)
        )
        entries.append(_Coded(dg1, target, verification, None, 5))
    _record(ctx, entries)


def map_problems(ctx: Context) -> None:
    """PPR: PRB problem segments."""
    entries = []
    for prb in ctx.message.all("PRB"):
        withdrawn = prb.value(1).upper() == "DE" or _CONFIRMATION.get(_word(prb, 13)) in (
            "refuted",
            "entered_in_error",
        )
        if _symptom(ctx, prb, 3, 2, withdrawn=withdrawn, life_cycle=_LIFE_CYCLE.get(_word(prb, 14))):
            continue
        target = _lookup(ctx, prb, 3)
        if target is None:
            continue
        verification = _CONFIRMATION.get(_word(prb, 13))
        if prb.value(1).upper() == "DE":
            verification = "entered_in_error"
        entries.append(_Coded(prb, target, verification, _LIFE_CYCLE.get(_word(prb, 14)), 2))
    _record(ctx, entries)


def _symptom(
    ctx: Context,
    segment: Segment,
    field: int,
    time_field: int,
    *,
    withdrawn: bool,
    life_cycle: str | None = None,
) -> bool:
    """A symptom coded as a diagnosis: a carepath.symptom.recorded.v1 (True when the code is a finding)."""
    coded = segment.coded(field)
    if ctx.codes.diagnoses.find(ctx.codes.pairs(coded)) is not None:
        return False
    finding = ctx.codes.findings.find(ctx.codes.pairs(coded))
    if finding is None:
        return False
    if withdrawn:
        ctx.problems.append(
            Problem(
                "a symptom recorded in error or ruled out cannot be withdrawn: carepath keeps symptoms as they "
                "were recorded; record its course instead",
                DATA_TYPE_ERROR,
                segment.location(field),
            )
        )
        return True
    feature, value = finding
    data: dict[str, Any] = {feature: [value]}
    fields = {f"/data/{feature}": segment.location(field)}
    if life_cycle in ("remission", "history"):
        data["status"] = "improving"
    try:
        when, where = ctx.when((segment, time_field), (ctx.message.first("EVN"), 2))
    except ContentError as exc:
        ctx.problems.append(exc.problem)
        return True
    fields["/time"] = where
    ctx.drafts.append(Draft(SYMPTOM, when, data, segment.location(), fields))
    return True


def _word(segment: Segment, field: int) -> str:
    return (segment.value(field, 1) or segment.value(field, 2)).strip().upper()


def _lookup(ctx: Context, segment: Segment, field: int) -> DiagnosisTarget | None:
    coded = segment.coded(field)
    target = ctx.codes.diagnoses.find(ctx.codes.pairs(coded))
    if target is None:
        what = "problem (PRB-3)" if segment.id == "PRB" else f"diagnosis ({segment.id}-{field})"
        ctx.not_mapped(segment, field, "diagnoses", what)
    return target


def _birth(ctx: Context, pid: Segment) -> Draft:
    try:
        born = parse_date(pid.value(7))
    except ValueError as exc:
        raise ContentError(Problem(str(exc), DATA_TYPE_ERROR, pid.location(7))) from None
    evn = ctx.message.first("EVN")
    when, where = ctx.when((evn, 2))
    fields = {"/data/birth_date": pid.location(7), "/time": where}
    return Draft(DIAGNOSIS, when, {"birth_date": born.isoformat()}, pid.location(), fields)


def _record(ctx: Context, entries: list[_Coded]) -> None:
    active = [e for e in entries if e.verification != "entered_in_error"]
    secondaries = [e for e in active if e.target.cancer is None and e.target.spinal_metastases]
    message_mets = max(
        (str(e.target.spinal_metastases) for e in secondaries), key=_METS_RANK.__getitem__, default=None
    )
    has_cancer = any(e.target.cancer for e in entries)
    for entry in entries:
        target = entry.target
        try:
            if target.cancer is not None:
                mets = _stronger(target.spinal_metastases, message_mets)
                cancer: dict[str, Any] = {
                    "primary_site": target.cancer,
                    "status": entry.status or target.status or "active",
                }
                if mets is not None:
                    cancer["spinal_metastases"] = mets
                ctx.drafts.append(_draft(ctx, entry, {"cancer": cancer}))
            elif target.risk_factor is not None:
                ctx.drafts.append(_draft(ctx, entry, {"risk_factors": [target.risk_factor]}))
            elif not has_cancer and entry is (secondaries[0] if secondaries else None):
                # a secondary with no cancer in the message: recorded once, its primary unknown here
                cancer = {
                    "primary_site": "unknown_primary",
                    "status": "active",
                    "spinal_metastases": message_mets,
                }
                ctx.drafts.append(_draft(ctx, entry, {"cancer": cancer}))
        except ContentError as exc:
            ctx.problems.append(exc.problem)


def _stronger(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if _METS_RANK[a] >= _METS_RANK[b] else b


def _draft(ctx: Context, entry: _Coded, data: dict[str, Any]) -> Draft:
    if entry.verification is not None:
        data["verification"] = entry.verification
    when, where = ctx.when((entry.segment, entry.time_field))
    segment = entry.segment
    fields: dict[str, Location] = {"/data": segment.location(3), "/time": where}
    return Draft(DIAGNOSIS, when, data, segment.location(), fields)
