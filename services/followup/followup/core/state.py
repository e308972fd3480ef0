"""One patient's follow-up state: open expectations, recently closed ones, remembered facts.

This is the value of the followup service's table (keyed by patient id). It is kept small: a closed
expectation leaves a short record (for idempotency and for acknowledgements that arrive late), the
record of clinical facts holds only the latest event per pattern, and input ids are remembered for a
bounded window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from followup.core.ids import reminder_id

STATE_VERSION = 1
SEEN_IDS_KEPT = 64  # input ids remembered to recognise a redelivery (replays beyond are harmless)
ACKS_KEPT = 32  # acknowledgement targets remembered (an acknowledgement may arrive before its escalation)
CLOSED_KEPT = 64  # closed expectations remembered at most...
CLOSED_KEPT_FOR = timedelta(days=30)  # ...and for at most this long after closing
OPEN_ESCALATIONS_KEPT = 64  # open escalations remembered (id -> rule), for "while an escalation is open"
# How long a resolution waits for the event it names as its cause (see ``Resolving``); after this it
# cancels the expectation as it would have at once. The event is on the topic followup reads, so it
# normally arrives within seconds; the wait only bounds a cause that never comes (parked, say).
RESOLUTION_CAUSE_WAIT = timedelta(hours=6)


@dataclass(slots=True, init=False)
class Step:
    """A planned reminder: ``pending`` until it ``fired``; ``skipped`` (a warning overtaken by its
    deadline) or ``stopped`` (an acknowledgement stopped the chain) never fire."""

    kind: str
    level: int
    due: datetime
    notify: str
    status: str = "pending"
    fired_at: datetime | None = None

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        kind: str,
        level: int,
        due: datetime,
        notify: str,
        status: str = "pending",
        fired_at: datetime | None = None,
    ) -> None:
        self.kind = kind
        self.level = level
        self.due = due
        self.notify = notify
        self.status = status
        self.fired_at = fired_at

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.level}"


@dataclass(frozen=True, slots=True, init=False)
class Resolving:
    """The escalation that opened an expectation was resolved, citing events not yet seen here.

    Triage publishes a resolution after reading its cause (the whole-spine MRI that excluded
    compression) from the same topic followup reads; the two reach followup in either order. Applied at
    once, a resolution read first would cancel the expectation the MRI then arrives to meet, and the
    audit would say "cancelled" where the standard was met. So the cancellation waits for the cited
    events (``awaiting``): each is applied first (it may meet the expectation), then the cancellation
    takes effect, dated ``at``, when the resolution was read. No reminder fires while it waits."""

    escalation_id: str
    at: datetime
    awaiting: tuple[str, ...]

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, escalation_id: str, at: datetime, awaiting: tuple[str, ...]) -> None:
        object.__setattr__(self, "escalation_id", escalation_id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "awaiting", awaiting)


@dataclass(slots=True, init=False)
class OpenExpectation:
    id: str
    rule: str
    anchor: datetime  # clock start
    deadline: datetime
    severity: str | None
    escalations: list[str]  # escalations that opened it (still open)
    events: list[str]  # other events that opened it
    met: dict[str, str]  # requirement name -> id of the event that met it
    steps: list[Step]
    resolving: Resolving | None = None
    trace: str | None = None  # the trace context of the event that opened it; its reminders carry it

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        id: str,
        rule: str,
        anchor: datetime,
        deadline: datetime,
        severity: str | None,
        escalations: list[str],
        events: list[str],
        met: dict[str, str],
        steps: list[Step],
        resolving: Resolving | None = None,
        trace: str | None = None,
    ) -> None:
        self.id = id
        self.rule = rule
        self.anchor = anchor
        self.deadline = deadline
        self.severity = severity
        self.escalations = escalations
        self.events = events
        self.met = met
        self.steps = steps
        self.resolving = resolving
        self.trace = trace

    def copy(self) -> OpenExpectation:
        return OpenExpectation(
            self.id,
            self.rule,
            self.anchor,
            self.deadline,
            self.severity,
            list(self.escalations),
            list(self.events),
            dict(self.met),
            [Step(s.kind, s.level, s.due, s.notify, s.status, s.fired_at) for s in self.steps],
            self.resolving,
            self.trace,
        )

    def reminder_ids(self) -> list[str]:
        return [reminder_id(self.id, s.kind, s.level) for s in self.steps if s.status == "fired"]

    @property
    def acknowledged(self) -> bool:
        """A clinician acknowledged it: its chain of overdue reminders was stopped."""
        return any(s.status == "stopped" for s in self.steps if s.kind == "overdue")


@dataclass(slots=True, init=False)
class ClosedExpectation:
    id: str
    rule: str
    outcome: str  # satisfied | cancelled | withdrawn
    closed_at: datetime
    escalations: list[str]
    events: list[str]
    fired: list[str]  # reminder ids it sent

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        id: str,
        rule: str,
        outcome: str,
        closed_at: datetime,
        escalations: list[str],
        events: list[str],
        fired: list[str],
    ) -> None:
        self.id = id
        self.rule = rule
        self.outcome = outcome
        self.closed_at = closed_at
        self.escalations = escalations
        self.events = events
        self.fired = fired


@dataclass(slots=True, init=False)
class Fact:
    time: datetime
    event_id: str

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, time: datetime, event_id: str) -> None:
        self.time = time
        self.event_id = event_id


@dataclass(slots=True, init=False)
class Ack:
    time: datetime
    override: bool

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, time: datetime, override: bool) -> None:
        self.time = time
        self.override = override


@dataclass(slots=True, init=False)
class PatientExpectations:
    """All open expectations of one patient (the table value)."""

    patient_id: str
    open: dict[str, OpenExpectation] = field(default_factory=dict)
    closed: dict[str, ClosedExpectation] = field(default_factory=dict)
    facts: dict[str, Fact] = field(default_factory=dict)
    acks: dict[str, Ack] = field(default_factory=dict)
    seen: dict[str, None] = field(default_factory=dict)
    escalations: dict[str, str] = field(default_factory=dict)  # open escalation id -> rule id
    # Reminders handed to the broker whose "fired" state is not written yet: reminder id -> the moment
    # they fired. Written (and flushed) before they are published, cleared with the state that records
    # them as fired; one still here after a restart is published again, identical, on the next tick.
    sending: dict[str, datetime] = field(default_factory=dict)

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(
        self,
        patient_id: str,
        open: dict[str, OpenExpectation] | None = None,
        closed: dict[str, ClosedExpectation] | None = None,
        facts: dict[str, Fact] | None = None,
        acks: dict[str, Ack] | None = None,
        seen: dict[str, None] | None = None,
        escalations: dict[str, str] | None = None,
        sending: dict[str, datetime] | None = None,
    ) -> None:
        self.patient_id = patient_id
        self.open = {} if open is None else open
        self.closed = {} if closed is None else closed
        self.facts = {} if facts is None else facts
        self.acks = {} if acks is None else acks
        self.seen = {} if seen is None else seen
        self.escalations = {} if escalations is None else escalations
        self.sending = {} if sending is None else sending

    @classmethod
    def empty(cls, patient_id: str) -> PatientExpectations:
        return cls(patient_id)

    def copy(self) -> PatientExpectations:
        """A copy whose containers may be changed; open expectations are shared until copied."""
        return PatientExpectations(
            self.patient_id,
            dict(self.open),
            dict(self.closed),
            dict(self.facts),
            dict(self.acks),
            dict(self.seen),
            dict(self.escalations),
            dict(self.sending),
        )

    # --- questions -------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """The earliest pending warning, overdue or re-notification time, or the end of a resolution's
        wait for its cause (it may already have passed)."""
        moments = [
            exp.resolving.at + RESOLUTION_CAUSE_WAIT
            if exp.resolving is not None
            else min((s.due for s in exp.steps if s.status == "pending"), default=None)
            for exp in self.open.values()
        ]
        return min((m for m in moments if m is not None), default=None)

    def knows(self, target_id: str) -> bool:
        """Whether ``target_id`` is an escalation or a sent reminder of an open or closed expectation."""
        for exp in self.open.values():
            if target_id in exp.escalations or target_id in exp.reminder_ids():
                return True
        return any(target_id in done.escalations or target_id in done.fired for done in self.closed.values())

    def open_items(self) -> list[dict[str, Any]]:
        """JSON-safe summaries of the open expectations, earliest deadline first."""
        items = []
        for exp in sorted(self.open.values(), key=lambda e: (e.deadline, e.id)):
            if exp.resolving is not None:  # its escalation is resolved: nothing left to act on
                continue
            fired = [s for s in exp.steps if s.status == "fired"]
            pending = [s.due for s in exp.steps if s.status == "pending"]
            if exp.acknowledged:
                status = "acknowledged"
            elif any(s.kind == "overdue" for s in fired):
                status = "overdue"
            else:
                status = "awaiting"
            items.append(
                {
                    "expectation_id": exp.id,
                    "rule": exp.rule,
                    "status": status,
                    "opened_at": _iso(exp.anchor),
                    "due_at": _iso(exp.deadline),
                    "next_reminder_at": _iso(min(pending)) if pending else None,
                    "escalation_id": exp.escalations[0] if exp.escalations else None,
                    "severity": exp.severity,
                    "met": sorted(exp.met),
                    "reminders_sent": [reminder_id(exp.id, s.kind, s.level) for s in fired],
                }
            )
        return items

    # --- bookkeeping used by the engine ------------------------------------------------------------

    def remember_seen(self, event_id: str) -> None:
        self.seen[event_id] = None
        while len(self.seen) > SEEN_IDS_KEPT:
            del self.seen[next(iter(self.seen))]

    def remember_ack(self, target: str, ack: Ack) -> None:
        self.acks.pop(target, None)
        self.acks[target] = ack
        while len(self.acks) > ACKS_KEPT:
            del self.acks[next(iter(self.acks))]

    def remember_escalation(self, escalation_id: str, rule_id: str | None) -> None:
        """Record an escalation as open (``rule_id``) or resolved (``None``)."""
        self.escalations.pop(escalation_id, None)
        if rule_id is not None:
            self.escalations[escalation_id] = rule_id
            while len(self.escalations) > OPEN_ESCALATIONS_KEPT:
                del self.escalations[next(iter(self.escalations))]

    def remember_fact(self, key: str, fact: Fact) -> None:
        known = self.facts.get(key)
        if known is None or fact.time >= known.time:
            self.facts[key] = fact

    def close(self, exp: OpenExpectation, outcome: str, at: datetime) -> None:
        del self.open[exp.id]
        self.closed[exp.id] = ClosedExpectation(
            exp.id, exp.rule, outcome, at, list(exp.escalations), list(exp.events), exp.reminder_ids()
        )

    def needs_prune(self, now: datetime) -> bool:
        horizon = now - CLOSED_KEPT_FOR
        return len(self.closed) > CLOSED_KEPT or any(c.closed_at < horizon for c in self.closed.values())

    def prune(self, now: datetime) -> None:
        """Forget closed expectations beyond the kept window (count and age)."""
        if self.needs_prune(now):
            horizon = now - CLOSED_KEPT_FOR
            kept = sorted(
                (c for c in self.closed.values() if c.closed_at >= horizon), key=lambda c: c.closed_at
            )
            self.closed = {c.id: c for c in kept[-CLOSED_KEPT:]}

    # --- serialisation -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe. Step times are written as seconds after the clock start (``anchor``)."""
        out: dict[str, Any] = {
            "v": STATE_VERSION,
            "patient_id": self.patient_id,
            "open": [_open_to_dict(e) for e in self.open.values()],
            "closed": [
                {
                    "id": c.id,
                    "rule": c.rule,
                    "outcome": c.outcome,
                    "closed_at": _iso(c.closed_at),
                    "escalations": list(c.escalations),
                    "events": list(c.events),
                    "fired": list(c.fired),
                }
                for c in self.closed.values()
            ],
            "facts": {key: [_iso(f.time), f.event_id] for key, f in self.facts.items()},
            "acks": {target: [_iso(a.time), a.override] for target, a in self.acks.items()},
            "seen": list(self.seen),
            "escalations": dict(self.escalations),
        }
        if self.sending:
            out["sending"] = {rid: _iso(at) for rid, at in self.sending.items()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PatientExpectations:
        if d.get("v") != STATE_VERSION:
            raise ValueError(f"unknown follow-up state version {d.get('v')!r}")
        parse = datetime.fromisoformat
        closed = {
            c["id"]: ClosedExpectation(
                c["id"],
                c["rule"],
                c["outcome"],
                parse(c["closed_at"]),
                list(c["escalations"]),
                list(c["events"]),
                list(c["fired"]),
            )
            for c in d["closed"]
        }
        return cls(
            d["patient_id"],
            {e["id"]: _open_from_dict(e) for e in d["open"]},
            closed,
            {key: Fact(parse(t), event_id) for key, (t, event_id) in d["facts"].items()},
            {target: Ack(parse(t), bool(override)) for target, (t, override) in d["acks"].items()},
            dict.fromkeys(d["seen"]),
            dict(d.get("escalations", {})),
            {rid: parse(at) for rid, at in d.get("sending", {}).items()},
        )


def _open_to_dict(e: OpenExpectation) -> dict[str, Any]:
    anchor = e.anchor
    return {
        "id": e.id,
        "rule": e.rule,
        "anchor": _iso(anchor),
        "deadline_s": (e.deadline - anchor).total_seconds(),
        "severity": e.severity,
        "escalations": list(e.escalations),
        "events": list(e.events),
        "met": dict(e.met),
        "steps": [
            [
                s.kind,
                s.level,
                (s.due - anchor).total_seconds(),
                s.notify,
                s.status,
                _iso(s.fired_at) if s.fired_at else None,
            ]
            for s in e.steps
        ],
        **(
            {
                "resolving": {
                    "escalation_id": e.resolving.escalation_id,
                    "at": _iso(e.resolving.at),
                    "awaiting": list(e.resolving.awaiting),
                }
            }
            if e.resolving is not None
            else {}
        ),
        **({"trace": e.trace} if e.trace is not None else {}),
    }


def _open_from_dict(e: dict[str, Any]) -> OpenExpectation:
    anchor = datetime.fromisoformat(e["anchor"])
    steps = [
        Step(
            kind,
            level,
            anchor + timedelta(0, due_s),
            notify,
            status,
            datetime.fromisoformat(fired) if fired else None,
        )
        for kind, level, due_s, notify, status, fired in e["steps"]
    ]
    return OpenExpectation(
        e["id"],
        e["rule"],
        anchor,
        anchor + timedelta(0, e["deadline_s"]),
        e["severity"],
        list(e["escalations"]),
        list(e["events"]),
        dict(e["met"]),
        steps,
        _resolving_from_dict(e.get("resolving")),
        e.get("trace"),
    )


def _resolving_from_dict(r: dict[str, Any] | None) -> Resolving | None:
    if r is None:
        return None
    return Resolving(str(r["escalation_id"]), datetime.fromisoformat(r["at"]), tuple(r["awaiting"]))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
