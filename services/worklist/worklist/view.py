"""What the page knows from the topics: escalations with their reminders and acknowledgements, and each
patient's recent timeline. Pure: records in, changes out; no broker, no clock.

The view is rebuilt from the topics' beginning at every start and kept in memory, so it is bounded:
``max_escalations`` escalations (the oldest resolved go first, then the oldest), ``max_patients`` patient
timelines (the least recently active goes) of ``max_timeline`` entries each. Records are de-duplicated by
id: an escalation revision not newer than the one held, a reminder or acknowledgement already held, an
event already on the timeline change nothing. The topics are read side by side, so a reminder or an
acknowledgement can arrive before its escalation: it is held (bounded) until the escalation comes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from carepath import envelope, topics
from carepath.render import Explanation, explain, value_text

ESCALATION_PREFIX = "carepath.escalation."
ACK_TYPE = "carepath.escalation.acknowledged.v1"
REMINDER_PREFIX = "carepath.reminder."
SUMMARY_LIMIT = 240


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    expectation_id: str
    expectation_rule: str
    expected: str
    kind: str  # warning, overdue
    level: int
    notify: str
    due_at: str
    fired_at: str
    escalation_id: str


@dataclass(frozen=True)
class Acknowledgement:
    event_id: str
    target_id: str
    role: str
    reason: str
    override: bool
    time: str
    by: str = ""  # who: the name, else the subject, of acknowledged_by ("" in records without it)
    verified: bool = False  # intake read who from the clinician's own token
    sent_by: str = ""  # the system that sent it


@dataclass
class Alert:
    """One escalation as the page shows it: its newest revision, its reminders and acknowledgements."""

    explanation: Explanation
    reminders: dict[str, Reminder] = field(default_factory=dict)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)

    @property
    def escalation_id(self) -> str:
        return self.explanation.escalation_id

    @property
    def patient_id(self) -> str:
        return self.explanation.patient_id

    @property
    def team(self) -> str:
        """Who the reminder chain notified last (it climbs); empty before any reminder."""
        fired = sorted(self.reminders.values(), key=lambda r: (r.fired_at, r.level))
        return fired[-1].notify if fired else ""

    @property
    def acknowledged(self) -> bool:
        return any(a.target_id == self.escalation_id for a in self.acknowledgements)


@dataclass(frozen=True)
class Entry:
    """One line of a patient's timeline."""

    id: str
    time: str
    kind: str  # event, escalation, reminder, acknowledgement, action
    title: str
    detail: str = ""
    sentences: tuple[tuple[str, str], ...] = ()  # imaging: (finding, the report's sentence)


@dataclass(frozen=True)
class Change:
    """What a record changed, for the live page: never more than ids, severity and rule."""

    kind: str  # escalation, reminder, acknowledgement, event
    id: str
    escalation_id: str = ""
    severity: str = ""
    rule: str = ""
    change: str = ""  # raised, updated, resolved


@dataclass
class View:
    max_escalations: int = 20_000
    max_patients: int = 20_000
    max_timeline: int = 100
    alerts: OrderedDict[str, Alert] = field(default_factory=OrderedDict)
    timelines: OrderedDict[str, OrderedDict[str, Entry]] = field(default_factory=OrderedDict)
    reminder_owner: dict[str, str] = field(default_factory=dict)
    waiting: OrderedDict[str, list[Reminder | Acknowledgement]] = field(default_factory=OrderedDict)
    evicted: int = 0

    # --- reading -------------------------------------------------------------------------------------

    def alert(self, escalation_id: str) -> Alert | None:
        return self.alerts.get(escalation_id)

    def timeline(self, patient_id: str) -> list[Entry]:
        entries = self.timelines.get(patient_id)
        return sorted(entries.values(), key=lambda e: (e.time, e.id)) if entries else []

    def entry(self, patient_id: str, entry_id: str) -> Entry | None:
        entries = self.timelines.get(patient_id)
        return entries.get(entry_id) if entries else None

    def sentences(self, alert: Alert) -> dict[str, list[tuple[str, str]]]:
        """The radiology sentences behind an alert's imaging evidence, by event id."""
        found: dict[str, list[tuple[str, str]]] = {}
        for fact in alert.explanation.facts:
            entry = self.entry(alert.patient_id, fact.event_id)
            if entry is not None and entry.sentences:
                found[fact.event_id] = list(entry.sentences)
        return found

    def expectation_texts(self) -> dict[str, tuple[str, str]]:
        """expectation id -> (what is expected, who was notified last), from the reminders held."""
        out: dict[str, tuple[str, str]] = {}
        for alert in self.alerts.values():
            for r in sorted(alert.reminders.values(), key=lambda r: (r.fired_at, r.level)):
                out[r.expectation_id] = (r.expected, r.notify)
        return out

    # --- applying records ----------------------------------------------------------------------------

    def apply(self, topic: str, value: bytes | None) -> Change | None:
        """Apply one record of ``topic``; the change it made, or None (a duplicate, an older revision, a
        record not for the page, or one it cannot read)."""
        if value is None:
            return None
        try:
            rec = envelope.decode(value)
        except ValueError:
            return None
        if not isinstance(rec, dict) or not isinstance(rec.get("data"), dict):
            return None
        etype = str(rec.get("type", ""))
        if topic == topics.ESCALATIONS and etype.startswith(ESCALATION_PREFIX):
            return self._escalation(rec)
        if topic == topics.REMINDERS and etype.startswith(REMINDER_PREFIX):
            return self._reminder(rec)
        if etype == ACK_TYPE:
            return self._acknowledgement(rec)
        if topic == topics.CLINICAL_EVENTS:
            return self._event(rec)
        return None

    def apply_all(self, records: Iterable[tuple[str, bytes | None]]) -> list[Change]:
        return [c for t, v in records if (c := self.apply(t, v)) is not None]

    def record_action(self, patient_id: str, entry: Entry) -> None:
        """Something done on the page (an acknowledgement sent, by whom and when)."""
        self._add(patient_id, entry)

    def _escalation(self, rec: dict[str, Any]) -> Change | None:
        try:
            x = explain(rec)
        except (ValueError, TypeError):
            return None
        if not x.escalation_id or not x.patient_id:
            return None
        held = self.alerts.get(x.escalation_id)
        if held is not None and held.explanation.revision >= x.revision:
            return None
        if held is None:
            held = Alert(x)
            self.alerts[x.escalation_id] = held
            for waiting in self.waiting.pop(x.escalation_id, []):
                self._attach(held, waiting)
            self._bound_alerts()
        else:
            held.explanation = x
        title = f"Escalation {x.change}: {x.severity} {x.rule_id} {x.rule_name}"
        detail = x.resolution if x.resolved else x.summary
        self._add(x.patient_id, Entry(str(rec.get("id", "")), x.time, "escalation", title, detail))
        return Change("escalation", x.escalation_id, x.escalation_id, x.severity, x.rule_id, x.change)

    def _reminder(self, rec: dict[str, Any]) -> Change | None:
        d = rec["data"]
        exp = d.get("expectation") if isinstance(d.get("expectation"), dict) else {}
        assert isinstance(exp, dict)
        r = Reminder(
            reminder_id=str(d.get("reminder_id") or rec.get("id", "")),
            expectation_id=str(d.get("expectation_id", "")),
            expectation_rule=str(exp.get("id", "")),
            expected=str(d.get("expected", "")),
            kind=str(d.get("kind", "")),
            level=int(d.get("level") or 0),
            notify=str(d.get("notify", "")),
            due_at=str(d.get("due_at", "")),
            fired_at=str(d.get("fired_at") or rec.get("time", "")),
            escalation_id=str(d.get("escalation_id") or ""),
        )
        patient = str(rec.get("subject", ""))
        if not r.reminder_id or not patient or self.entry(patient, r.reminder_id) is not None:
            return None
        title = f"Reminder {r.kind} (level {r.level}) to {r.notify}: {r.expected}"
        self._add(patient, Entry(r.reminder_id, r.fired_at, "reminder", title, f"due {r.due_at}"))
        if r.escalation_id:
            self.reminder_owner[r.reminder_id] = r.escalation_id
            alert = self.alerts.get(r.escalation_id)
            if alert is None:
                self._wait(r.escalation_id, r)
            else:
                self._attach(alert, r)
        return Change("reminder", r.reminder_id, r.escalation_id, rule=r.expectation_rule, change=r.kind)

    def _acknowledgement(self, rec: dict[str, Any]) -> Change | None:
        d = rec["data"]
        a = Acknowledgement(
            event_id=str(rec.get("id", "")),
            target_id=str(d.get("target_id", "")),
            role=str(d.get("role", "")),
            reason=str(d.get("reason") or ""),
            override=bool(d.get("override")),
            time=str(rec.get("time", "")),
            **_who(d),
        )
        patient = str(rec.get("subject", ""))
        if not a.event_id or not patient or self.entry(patient, a.event_id) is not None:
            return None
        how = "override" if a.override else "acknowledged"
        by = f"{a.by}, " if a.by else ""
        title = f"{how.capitalize()} by {by}{a.role.replace('_', ' ')}: {a.target_id}"
        self._add(patient, Entry(a.event_id, a.time, "acknowledgement", title, a.reason))
        owner = self.reminder_owner.get(a.target_id, a.target_id)
        alert = self.alerts.get(owner)
        if alert is None:
            self._wait(owner, a)
        else:
            self._attach(alert, a)
        return Change("acknowledgement", a.event_id, owner)

    def _event(self, rec: dict[str, Any]) -> Change | None:
        event_id, patient = str(rec.get("id", "")), str(rec.get("subject", ""))
        if not event_id or not patient or self.entry(patient, event_id) is not None:
            return None
        etype = str(rec.get("type", ""))
        title = etype.removeprefix("carepath.").removesuffix(".v1").replace(".", " ").replace("_", " ")
        data = rec["data"]
        sentences = tuple(
            (f"{f.get('code')} ({f.get('certainty')})", str(f["evidence"]))
            for f in data.get("findings") or []
            if isinstance(f, dict) and f.get("evidence")
        )
        self._add(
            patient, Entry(event_id, str(rec.get("time", "")), "event", title, describe(data), sentences)
        )
        return Change("event", event_id)

    # --- bookkeeping ---------------------------------------------------------------------------------

    def _attach(self, alert: Alert, item: Reminder | Acknowledgement) -> None:
        if isinstance(item, Reminder):
            alert.reminders[item.reminder_id] = item
        elif all(a.event_id != item.event_id for a in alert.acknowledgements):
            alert.acknowledgements.append(item)

    def _wait(self, escalation_id: str, item: Reminder | Acknowledgement) -> None:
        self.waiting.setdefault(escalation_id, []).append(item)
        while len(self.waiting) > self.max_escalations:
            _, dropped = self.waiting.popitem(last=False)
            for item in dropped:
                if isinstance(item, Reminder):
                    self.reminder_owner.pop(item.reminder_id, None)
            self.evicted += 1

    def _add(self, patient_id: str, entry: Entry) -> None:
        entries = self.timelines.pop(patient_id, None) or OrderedDict()
        self.timelines[patient_id] = entries  # most recently active last
        entries[entry.id] = entry
        while len(entries) > self.max_timeline:
            entries.popitem(last=False)
        while len(self.timelines) > self.max_patients:
            self.timelines.popitem(last=False)
            self.evicted += 1

    def _bound_alerts(self) -> None:
        while len(self.alerts) > self.max_escalations:
            victim = next((k for k, a in self.alerts.items() if a.explanation.resolved), None)
            if victim is None:
                victim = next(iter(self.alerts))
            alert = self.alerts.pop(victim)
            for rid in alert.reminders:
                self.reminder_owner.pop(rid, None)
            self.evicted += 1


def describe(data: dict[str, Any]) -> str:
    """A clinical event's data in one bounded line: ``field: value`` for each field but free text."""
    parts = []
    for key, value in data.items():
        if key in ("impression", "text", "note"):
            continue
        if isinstance(value, list):
            text = ", ".join(
                f"{v.get('code')} ({v.get('certainty')})" if isinstance(v, dict) else value_text(v)
                for v in value
            )
        elif isinstance(value, dict):
            text = ", ".join(f"{k} {value_text(v)}" for k, v in value.items())
        else:
            text = value_text(value)
        parts.append(f"{key.replace('_', ' ')}: {text}")
    line = "; ".join(parts)
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def _who(data: dict[str, Any]) -> dict[str, Any]:
    """Who acknowledged, as an acknowledgement record says (nothing for a record written before intake
    named them)."""
    by = data.get("acknowledged_by")
    found: dict[str, Any] = {"sent_by": str(data.get("sent_by") or "")}
    if isinstance(by, dict):
        found["by"] = str(by.get("name") or by.get("subject") or "")
        found["verified"] = by.get("verified") is True
    return found
