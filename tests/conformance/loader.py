"""Reads the conformance timelines and checks their shape.

A timeline file is YAML (see README.md). HL7 v2 messages are written one segment per line; the loader
joins the segments with carriage returns (``\\r``), as they travel over MLLP. Rule and expectation ids are
checked against the pathway definition (pathways/mscc/redflags.yaml and followup.yaml).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from carepath import yamlfile

ROOT = Path(__file__).resolve().parents[2]
TIMELINES = Path(__file__).parent / "timelines"
PATHWAY = ROOT / "pathways" / "mscc"

SEVERITIES = {"emergency", "urgent", "routine"}
REMINDER_KINDS = {"due", "overdue", "warning"}
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class TimelineError(ValueError):
    """A timeline file that does not have the required shape."""


def parse_duration(text: str) -> timedelta:
    """ISO 8601 duration without years or months: PT0S, PT15M, P3D, P2DT4H, P4W."""
    m = _DURATION.match(text)
    if not m or text in {"P", "PT"} or text.endswith("T"):
        raise TimelineError(f"not an ISO 8601 duration: {text!r}")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def pathway_ids() -> tuple[set[str], set[str], dict[str, set[str]]]:
    """Rule ids, expectation ids, and the reminder kinds each expectation can produce."""
    red = yamlfile.load(PATHWAY / "redflags.yaml", "redflags")
    fol = yamlfile.load(PATHWAY / "followup.yaml", "followup")
    rules = {str(r["id"]) for r in red["rules"]}
    expectations = {str(e["id"]) for e in fol["expectations"]}
    kinds: dict[str, set[str]] = {}
    for e in fol["expectations"]:
        k = {"due", "overdue"}
        if e.get("warnings"):
            k.add("warning")
        kinds[str(e["id"])] = k
    return rules, expectations, kinds


@dataclass
class Step:
    index: int
    at: timedelta
    description: str
    fhir_text: str
    fhir: dict[str, Any]
    hl7: str | None  # segments joined with \r
    hl7_absent_reason: str | None
    about: dict[str, str] | None
    duplicate_of: int | None


@dataclass
class Timeline:
    path: Path
    id: str
    title: str
    site: str
    hl7_version: str
    control: bool
    tags: list[str]
    start: datetime
    patient: dict[str, Any]
    steps: list[Step]
    escalations: list[dict[str, Any]]
    reminders: list[dict[str, Any]]
    forbidden_escalations: list[str]
    forbidden_reminders: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _require(doc: dict[str, Any], key: str, where: str) -> Any:
    if key not in doc:
        raise TimelineError(f"{where}: missing required key {key!r}")
    return doc[key]


def load_timeline(path: Path) -> Timeline:
    where = path.name
    try:  # a key written twice in a timeline is refused, as in every file carepath reads
        doc = yamlfile.read(path)
    except yamlfile.YamlFileError as exc:
        raise TimelineError(str(exc)) from None
    if not isinstance(doc, dict):
        raise TimelineError(f"{where}: not a mapping")
    rules, expectations, kinds = pathway_ids()
    start_text = str(_require(doc, "start", where))
    start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    if start.tzinfo is None:
        raise TimelineError(f"{where}: start must carry a time zone")
    patient = _require(doc, "patient", where)
    for key in ("id", "mrn", "birth_date", "sex"):
        _require(patient, key, f"{where} patient")
    if patient["mrn"]["value"] != patient["id"]:
        raise TimelineError(f"{where}: the FHIR Patient id must be the MRN")
    sender = _require(doc, "sender", where)
    steps: list[Step] = []
    previous = timedelta(0)
    for i, raw in enumerate(_require(doc, "steps", where)):
        sw = f"{where} step {i}"
        at = parse_duration(str(_require(raw, "at", sw)))
        if at < previous:
            raise TimelineError(f"{sw}: steps must be in arrival order")
        previous = at
        fhir_text = str(_require(raw, "fhir", sw))
        try:
            fhir = json.loads(fhir_text)
        except json.JSONDecodeError as exc:
            raise TimelineError(f"{sw}: FHIR is not JSON: {exc}") from exc
        if "hl7" not in raw:
            raise TimelineError(f"{sw}: missing required key 'hl7' (null when there is no v2 equivalent)")
        hl7_raw = raw["hl7"]
        reason = raw.get("hl7_absent_reason")
        if hl7_raw is None:
            if not reason:
                raise TimelineError(f"{sw}: hl7 is null without hl7_absent_reason")
            if fhir.get("resourceType") not in {"Task", "Communication"}:
                raise TimelineError(f"{sw}: only Task and Communication steps may lack an HL7 v2 message")
            hl7 = None
        else:
            segments = [line for line in str(hl7_raw).split("\n") if line]
            if not segments or not segments[0].startswith("MSH|"):
                raise TimelineError(f"{sw}: HL7 message must start with MSH")
            hl7 = "\r".join(segments)
        about = raw.get("about")
        if about is not None:
            esc = about.get("escalation")
            if esc not in rules:
                raise TimelineError(f"{sw}: about.escalation {esc!r} is not a rule id")
        dup = raw.get("duplicate_of")
        if dup is not None and not (0 <= int(dup) < i):
            raise TimelineError(f"{sw}: duplicate_of must name an earlier step")
        steps.append(Step(i, at, str(raw.get("description", "")), fhir_text, fhir, hl7, reason, about, dup))
    expect = _require(doc, "expect", where)
    escalations = list(expect.get("escalations") or [])
    reminders = list(expect.get("reminders") or [])
    forbidden = expect.get("forbidden") or {}
    f_esc = [str(r) for r in forbidden.get("escalations") or []]
    f_rem = [r if isinstance(r, dict) else {"expectation": str(r)} for r in forbidden.get("reminders") or []]
    for e in escalations:
        if e.get("rule") not in rules:
            raise TimelineError(f"{where}: unknown rule {e.get('rule')!r}")
        if e.get("severity") not in SEVERITIES:
            raise TimelineError(f"{where}: bad severity {e.get('severity')!r}")
        parse_duration(str(_require(e, "by", where)))
    for r in reminders:
        exp = r.get("expectation")
        if exp not in expectations:
            raise TimelineError(f"{where}: unknown expectation {exp!r}")
        if r.get("kind") not in kinds[exp]:
            raise TimelineError(f"{where}: {exp} has no reminder of kind {r.get('kind')!r}")
        parse_duration(str(_require(r, "by", where)))
    for rule in f_esc:
        if rule not in rules:
            raise TimelineError(f"{where}: forbidden rule {rule!r} is not a rule id")
    for r in f_rem:
        if r.get("expectation") not in expectations:
            raise TimelineError(f"{where}: forbidden expectation {r.get('expectation')!r} unknown")
        if "kind" in r and r["kind"] not in REMINDER_KINDS:
            raise TimelineError(f"{where}: forbidden reminder kind {r['kind']!r} unknown")
    expected_rules = {e["rule"] for e in escalations}
    clash = expected_rules & set(f_esc)
    if clash:
        raise TimelineError(f"{where}: rules both expected and forbidden: {sorted(clash)}")
    if doc.get("control") and escalations:
        raise TimelineError(f"{where}: a control timeline expects no escalation")
    return Timeline(
        path=path,
        id=str(_require(doc, "id", where)),
        title=str(_require(doc, "title", where)),
        site=str(_require(doc, "site", where)),
        hl7_version=str(_require(sender, "hl7_version", where)),
        control=bool(doc.get("control", False)),
        tags=[str(t) for t in doc.get("tags") or []],
        start=start,
        patient=patient,
        steps=steps,
        escalations=escalations,
        reminders=reminders,
        forbidden_escalations=f_esc,
        forbidden_reminders=f_rem,
        raw=doc,
    )


def load_all(directory: Path = TIMELINES) -> list[Timeline]:
    timelines = [load_timeline(p) for p in sorted(directory.glob("*.yaml"))]
    ids = [t.id for t in timelines]
    if len(ids) != len(set(ids)):
        raise TimelineError("timeline ids are not unique")
    return timelines
