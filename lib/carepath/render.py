"""Human-readable one-to-few-line renderings of carepath records, for the tail CLI and the demo view.

These print to an operator's terminal, not to logs: they show the patient pseudonym and the clinical
reason, because that is what the person watching needs.
"""

from __future__ import annotations

from typing import Any

from carepath import envelope

_COLOURS = {"emergency": "\033[1;31m", "urgent": "\033[1;33m", "routine": "\033[36m", "resolved": "\033[32m"}
_RESET = "\033[0m"


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
    rule = d.get("rule") or {}
    change = rec["type"].split(".")[2].upper()
    sev = str(d.get("severity", "")).upper()
    key = "resolved" if change == "RESOLVED" else str(d.get("severity"))
    head = f"{change:8} {sev:9} {rule.get('id', '?')} {rule.get('name', '')}  patient {rec.get('subject')}"
    lines = [_c(head, key, colour), f"         why:  {d.get('reason', '')}"]
    if change == "RESOLVED" and d.get("resolution"):
        lines.append(f"         resolved: {d['resolution']}")
    for a in d.get("actions", [])[:3]:
        lines.append(f"         do:   {a.get('action')}  (by {_hhmm(a.get('deadline'))})")
    ev = d.get("evidence") or []
    if ev:
        facts = "; ".join(
            f"{e.get('fact')}={e.get('value')}{(' ' + e['unit']) if e.get('unit') else ''}" for e in ev[:4]
        )
        lines.append(f"         evidence: {facts}")
    lines.append(f"         source: {d.get('source', '')}  [{(d.get('pathway') or {}).get('version', '')}]")
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
