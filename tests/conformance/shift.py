"""Moves a timeline to another date, and gives it another patient, without changing what it says.

The running-stack replay plays every timeline at once on one clock, so each is moved to a common start
day: every timestamp of every resource and message moves by the same whole number of days (an instant by
``days x 24 h``, a date by ``days``), written back in the sender's own form (precision, offset or local
time in the site's zone). Birth dates move too, so ages are unchanged. ``rename`` gives a copy of a
timeline its own patient and resource ids, so the same timeline can run over FHIR and over HL7 v2 side by
side without one copy being taken for a resend of the other.

The reference replay run on moved and renamed copies must give what it gives on the originals
(``tests/conformance/test_stack_replay.py`` checks that), which is what makes a difference seen on the
running stack a difference of the stack.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from tests.conformance import loader

TIMEZONES = {"NGH": "Europe/London", "RMC": "America/Chicago"}

# HL7 v2 fields of type TS/DTM/DT (segment, field number; MSH counted as the standard does), and TQ's
# start component. OBX-5 is shifted only when OBX-2 says the value is a date or time.
HL7_TIME_FIELDS = {
    ("MSH", 7),
    ("EVN", 2),
    ("EVN", 3),
    ("EVN", 6),
    ("PID", 7),
    ("PID", 29),
    ("PV1", 44),
    ("PV1", 45),
    ("ORC", 9),
    ("ORC", 15),
    ("OBR", 6),
    ("OBR", 7),
    ("OBR", 8),
    ("OBR", 14),
    ("OBR", 22),
    ("OBX", 14),
    ("OBX", 19),
    ("DG1", 5),
    ("DG1", 19),
    ("PR1", 5),
    ("PRB", 2),
    ("PRB", 7),
    ("PRB", 8),
    ("PRB", 9),
    ("PRB", 15),
    ("PRB", 16),
    ("RXA", 3),
    ("RXA", 4),
    ("TQ1", 7),
    ("TQ1", 8),
    ("SPM", 17),
    ("SPM", 18),
}
HL7_TQ_START = {("RXE", 1), ("OBR", 27), ("ORC", 7)}  # component 4 of a TQ
HL7_TIME_TYPES = {"TS", "DT", "DTM"}
_HL7_TS = re.compile(r"^(\d{8})(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")

# FHIR elements holding a date, dateTime or instant in the corpus's resources.
FHIR_TIME_KEYS = {
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "recordedDate",
    "onsetDateTime",
    "abatementDateTime",
    "valueDateTime",
    "authoredOn",
    "lastModified",
    "sent",
    "received",
    "start",
    "end",
    "performedDateTime",
    "occurrenceDateTime",
    "birthDate",
    "date",
    "lastUpdated",
}
_FHIR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FHIR_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def shift_timeline(tl: loader.Timeline, days: int) -> loader.Timeline:
    """``tl`` with every timestamp (and its start) ``days`` later."""
    zone = ZoneInfo(TIMEZONES[tl.site])
    delta = timedelta(days=days)
    steps = [
        replace(
            s,
            fhir_text=(text := json.dumps(_shift_json(s.fhir, delta, zone), ensure_ascii=False)),
            fhir=json.loads(text),
            hl7=shift_hl7(s.hl7, delta, zone) if s.hl7 else s.hl7,
        )
        for s in tl.steps
    ]
    return replace(tl, start=tl.start + delta, steps=steps)


def rename(tl: loader.Timeline, suffix: str) -> loader.Timeline:
    """A copy of ``tl`` whose patient and resource ids end in ``suffix`` (letters and digits only)."""
    if not suffix.isalnum():
        raise ValueError("suffix: letters and digits only")
    old = str(tl.patient["id"])
    new = old + suffix
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])")
    prefix = re.compile(rf"(?<![A-Za-z0-9-]){re.escape(tl.id)}-")

    def swap(text: str) -> str:
        return prefix.sub(f"{tl.id}{suffix.lower()}-", pattern.sub(new, text))

    steps = [
        replace(
            s,
            fhir_text=(text := swap(s.fhir_text)),
            fhir=json.loads(text),
            hl7=swap(s.hl7) if s.hl7 else s.hl7,
        )
        for s in tl.steps
    ]
    mrn = dict(tl.patient.get("mrn") or {}) | {"value": new}
    return replace(tl, id=tl.id + suffix.lower(), patient=tl.patient | {"id": new, "mrn": mrn}, steps=steps)


# --- FHIR ----------------------------------------------------------------------------------------------


def _shift_json(node: Any, delta: timedelta, zone: tzinfo, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _shift_json(v, delta, zone, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_shift_json(v, delta, zone, key) for v in node]
    if isinstance(node, str) and key in FHIR_TIME_KEYS:
        return shift_fhir_time(node, delta, zone)
    return node


def shift_fhir_time(text: str, delta: timedelta, zone: tzinfo) -> str:
    """A FHIR date or dateTime moved by ``delta`` (whole days), in the form it was written."""
    if _FHIR_DATE.match(text):
        return (date.fromisoformat(text) + timedelta(days=delta.days)).isoformat()
    m = _FHIR_DATETIME.match(text)
    if not m:
        return text  # a year, a year-month: left alone
    moved = datetime.fromisoformat(text.replace("Z", "+00:00")) + delta
    if m.group(3) != "Z":
        moved = moved.astimezone(zone)  # the site's offset on the new day
    spec = "minutes" if m.group(1) is None else ("seconds" if m.group(2) is None else "milliseconds")
    out = moved.isoformat(timespec=spec)
    return out.replace("+00:00", "Z") if m.group(3) == "Z" else out


# --- HL7 v2 ----------------------------------------------------------------------------------------------


def shift_hl7(message: str, delta: timedelta, zone: tzinfo) -> str:
    """An HL7 v2 message (segments joined by CR) with its date and time fields moved by ``delta``."""
    field_sep = message[3]
    comp_sep = message[4]
    out = []
    for segment in message.split("\r"):
        fields = segment.split(field_sep)
        name = fields[0]
        offset = 1 if name == "MSH" else 0  # MSH-1 is the separator itself
        value_type = fields[2] if name == "OBX" and len(fields) > 2 else ""
        for i in range(1, len(fields)):
            number = i + offset
            if (name, number) in HL7_TIME_FIELDS or (
                name == "OBX" and number == 5 and value_type in HL7_TIME_TYPES
            ):
                fields[i] = _each_component(fields[i], comp_sep, {1}, delta, zone)
            elif (name, number) in HL7_TQ_START:
                fields[i] = _each_component(fields[i], comp_sep, {4}, delta, zone)
        out.append(field_sep.join(fields))
    return "\r".join(out)


def _each_component(value: str, comp_sep: str, which: set[int], delta: timedelta, zone: tzinfo) -> str:
    reps = []
    for rep in value.split("~"):
        comps = rep.split(comp_sep)
        for n in which:
            if len(comps) >= n and comps[n - 1]:
                comps[n - 1] = shift_hl7_time(comps[n - 1], delta, zone)
        reps.append(comp_sep.join(comps))
    return "~".join(reps)


def shift_hl7_time(text: str, delta: timedelta, zone: tzinfo) -> str:
    """An HL7 TS/DT value moved by ``delta`` (whole days), keeping its precision and its offset style."""
    m = _HL7_TS.match(text)
    if not m:
        return text
    day, hour, minute, second, fraction, offset = m.groups()
    if hour is None:
        moved_day = datetime.strptime(day, "%Y%m%d").date() + timedelta(days=delta.days)
        return moved_day.strftime("%Y%m%d") + (offset or "")
    at = datetime.strptime(day + hour + (minute or "00") + (second or "00"), "%Y%m%d%H%M%S")
    if offset:
        sign = 1 if offset[0] == "+" else -1
        at = at.replace(tzinfo=_fixed(sign * (int(offset[1:3]) * 60 + int(offset[3:5]))))
    else:
        at = at.replace(tzinfo=zone)
    moved = (at.astimezone(UTC) + delta).astimezone(zone)  # the instant moves, not the wall clock
    text_out = moved.strftime("%Y%m%d%H")
    if minute is not None:
        text_out += moved.strftime("%M")
    if second is not None:
        text_out += moved.strftime("%S") + (fraction or "")
    if offset:
        text_out += moved.strftime("%z")
    return text_out


def _fixed(minutes: int) -> tzinfo:
    return timezone(timedelta(minutes=minutes))
