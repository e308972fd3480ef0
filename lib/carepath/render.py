"""Human-readable renderings of carepath records, for the tail CLI, the demo view and the worklist page.

:func:`explain` reads an escalation into what a clinician is shown - the same content a CDS Hooks card
carries: summary (the one-sentence reason), indicator (critical / warning / info), detail (evidence with
values, units and thresholds; actions with absolute deadlines) and source (the guideline and the pathway
version). :func:`render` prints it in a few lines for a terminal; the worklist page renders the same
explanation as HTML.

These go to an operator's terminal or a clinician's screen, not to logs: they show the patient pseudonym
and the clinical reason, because that is what the person watching needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carepath import envelope

_COLOURS = {"emergency": "\033[1;31m", "urgent": "\033[1;33m", "routine": "\033[36m", "resolved": "\033[32m"}
_RESET = "\033[0m"


# CDS Hooks card indicator for each severity (https://cds-hooks.hl7.org/: critical, warning, info)
INDICATORS = {"emergency": "critical", "urgent": "warning", "routine": "info"}


@dataclass(frozen=True)
class Fact:
    """One piece of evidence: what was read, its value in words, and where it came from."""

    fact: str
    value: str
    unit: str
    threshold: str
    time: str
    event_id: str
    event_type: str


@dataclass(frozen=True)
class Action:
    action: str
    deadline: str  # RFC 3339, absolute
    within: str  # ISO 8601 duration from the triggering event


@dataclass(frozen=True)
class Explanation:
    """An escalation as a clinician is shown it (the content of a CDS Hooks card)."""

    escalation_id: str
    patient_id: str
    change: str  # raised, updated, resolved
    revision: int
    status: str  # open, resolved
    severity: str
    indicator: str
    rule_id: str
    rule_name: str
    summary: str  # the one-sentence reason
    resolution: str
    facts: tuple[Fact, ...]
    actions: tuple[Action, ...]
    deadline: str
    source: str
    pathway_id: str
    pathway_version: str
    raised_at: str
    time: str  # the CloudEvent's time: when this revision's facts held

    @property
    def resolved(self) -> bool:
        return self.change == "resolved" or self.status == "resolved"


def value_text(value: Any) -> str:
    """An evidence value as words: lists joined by commas, booleans as yes/no."""
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def explain(rec: dict[str, Any]) -> Explanation:
    """The explanation of an escalation record (raised, updated or resolved v1). ValueError when ``rec`` is
    not one."""
    etype = str(rec.get("type", ""))
    data = rec.get("data")
    if not etype.startswith("carepath.escalation.") or not isinstance(data, dict) or "severity" not in data:
        raise ValueError(f"not an escalation record: type {etype!r}")
    rule = data.get("rule") if isinstance(data.get("rule"), dict) else {}
    pathway = data.get("pathway") if isinstance(data.get("pathway"), dict) else {}
    assert isinstance(rule, dict) and isinstance(pathway, dict)
    severity = str(data.get("severity", ""))
    facts = tuple(
        Fact(
            fact=str(e.get("fact", "")),
            value=value_text(e.get("value")),
            unit=str(e.get("unit") or ""),
            threshold=str(e.get("threshold") or ""),
            time=str(e.get("time") or ""),
            event_id=str(e.get("event_id") or ""),
            event_type=str(e.get("event_type") or ""),
        )
        for e in data.get("evidence") or []
        if isinstance(e, dict)
    )
    actions = tuple(
        Action(str(a.get("action", "")), str(a.get("deadline", "")), str(a.get("within", "")))
        for a in data.get("actions") or []
        if isinstance(a, dict)
    )
    return Explanation(
        escalation_id=str(data.get("escalation_id", "")),
        patient_id=str(rec.get("subject", "")),
        change=etype.split(".")[2],
        revision=int(data.get("revision") or 1),
        status=str(data.get("status", "open")),
        severity=severity,
        indicator=INDICATORS.get(severity, "info"),
        rule_id=str(rule.get("id", "?")),
        rule_name=str(rule.get("name", "")),
        summary=str(data.get("reason", "")),
        resolution=str(data.get("resolution") or ""),
        facts=facts,
        actions=actions,
        deadline=str(data.get("deadline") or (actions[0].deadline if actions else "")),
        source=str(data.get("source", "")),
        pathway_id=str(pathway.get("id", "")),
        pathway_version=str(pathway.get("version", "")),
        raised_at=str(data.get("raised_at", "")),
        time=str(rec.get("time", "")),
    )


def _c(text: str, key: str, colour: bool) -> str:
    return f"{_COLOURS.get(key, '')}{text}{_RESET}" if colour and key in _COLOURS else text


def _hhmm(value: Any) -> str:
    try:
        t = envelope.parse_time(str(value))
    except ValueError:
        return str(value)
    return t.strftime("%a %d %b %H:%M")


def render(topic: str, value: bytes, *, colour: bool = False, time_scale: float = 1.0) -> str:
    """``time_scale``: how much faster than real time the services' clock runs (the demo's), so that
    lateness is shown in real seconds."""
    try:
        rec = envelope.decode(value)
    except ValueError:
        return f"[{topic}] <{len(value)} bytes, not JSON>"
    if not isinstance(rec, dict):
        return f"[{topic}] {rec!r}"
    etype = str(rec.get("type", ""))
    data = rec.get("data") if isinstance(rec.get("data"), dict) else {}
    assert isinstance(data, dict)
    if etype.startswith("carepath.escalation.") and "severity" in data:
        return _escalation(rec, data, colour)
    if etype.startswith("carepath.reminder."):
        return _reminder(rec, data, colour, time_scale)
    if "reason" in rec and "channel" in rec:
        return f"DEAD-LETTER ({rec['channel']}): {rec['reason']}"
    if etype:
        return f"{_hhmm(rec.get('time'))}  event {etype.removeprefix('carepath.')} for {rec.get('subject')}"
    return f"[{topic}] {rec}"


def _escalation(rec: dict[str, Any], d: dict[str, Any], colour: bool) -> str:
    x = explain(rec)
    change = x.change.upper()
    key = "resolved" if change == "RESOLVED" else x.severity
    head = f"{change:8} {x.severity.upper():9} {x.rule_id} {x.rule_name}  patient {x.patient_id}"
    lines = [_c(head, key, colour), f"         why:  {x.summary}"]
    if change == "RESOLVED" and x.resolution:
        lines.append(f"         resolved: {x.resolution}")
    for a in x.actions[:3]:
        lines.append(f"         do:   {a.action}  (by {_hhmm(a.deadline)})")
    if x.facts:
        facts = "; ".join(f"{f.fact}={f.value}{(' ' + f.unit) if f.unit else ''}" for f in x.facts[:4])
        lines.append(f"         evidence: {facts}")
    lines.append(f"         source: {x.source}  [{x.pathway_version}]")
    return "\n".join(lines)


def _reminder(rec: dict[str, Any], d: dict[str, Any], colour: bool, time_scale: float) -> str:
    exp = d.get("expectation") or {}
    kind = str(d.get("kind", "")).upper()
    late = float(d.get("lateness_seconds") or 0) / time_scale
    head = (
        f"REMINDER {kind:8} {exp.get('id', '?')} level {d.get('level')} -> {d.get('notify')}  "
        f"patient {rec.get('subject')}"
    )
    key = "emergency" if kind == "OVERDUE" else "urgent"
    lines = [
        _c(head, key, colour),
        f"         awaiting: {d.get('expected', '')} (due {_hhmm(d.get('due_at'))})"
        + (f", fired {late:.1f} s late" if late >= 1 else ""),
    ]
    if d.get("escalation_id"):
        lines.append(f"         about: escalation {d['escalation_id']}")
    return "\n".join(lines)
