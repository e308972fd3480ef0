"""The language of the triage spec tests: clinical events on a timeline in, escalations out.

    timeline = Timeline(
        cancer("day 1 09:00", "breast"),
        pain("day 2 10:00", nrs=6, site=["thoracic"], neurological=["limb_weakness"]),
    )
    assert timeline.play().changes() == ["R1 raised emergency"]

Times are written "day N HH:MM" (day 1 is 2024-05-01, UTC). Each event gets the id ``ev<N>`` in the order
it is listed unless ``id=`` is given. An event is processed at its clinical time unless ``arrives=`` says
when it reached triage (a late feed). Between events the patient state goes through JSON, as it does
in the triage table.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from triage.core import Escalation, Outcome, Pathway, PatientState, evaluate, load_pathway, parse_event

ROOT = Path(__file__).resolve().parents[3]
PATHWAY_DIR = ROOT / "pathways" / "mscc"
SCHEMAS_DIR = ROOT / "schemas"
DAY_ONE = datetime(2024, 5, 1, tzinfo=UTC)
PATIENT = "patient-0001"
_WHEN = re.compile(r"^(?:day (\d+) )?(\d{1,2}):(\d{2})$")


@functools.cache
def pathway() -> Pathway:
    return load_pathway(PATHWAY_DIR, SCHEMAS_DIR)


def at(when: str) -> datetime:
    """'day 3 14:00' -> 2024-05-03T14:00Z; '14:00' is day 1."""
    match = _WHEN.match(when)
    if match is None:
        raise ValueError(f"write times as 'day N HH:MM', not {when!r}")
    day, hour, minute = match.groups()
    return DAY_ONE + timedelta(days=int(day or 1) - 1, hours=int(hour), minutes=int(minute))


def iso(when: str) -> str:
    return at(when).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- events --------------------------------------------------------------------------------------------


@dataclass
class Event:
    type: str
    when: str
    data: dict[str, Any]
    id: str | None = None
    arrives: str | None = None

    def cloudevent(self, event_id: str, patient: str) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:test:spec",
            "type": self.type,
            "subject": patient,
            "time": iso(self.when),
            "data": self.data,
        }


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def pain(
    when: str,
    nrs: int,
    site: Sequence[str] = ("lumbar",),
    *,
    id: str | None = None,
    arrives: str | None = None,
    **data: Any,
) -> Event:
    """A pain report; keyword data as in the contract (character, systemic, neurological, ...)."""
    return Event(
        "carepath.pain.reported.v1", when, _clean({"nrs": nrs, "site": list(site), **data}), id, arrives
    )


def symptom(when: str, *, id: str | None = None, arrives: str | None = None, **data: Any) -> Event:
    """A symptom recorded on its own (neurological, systemic, character, status, weakness_severity, site,
    temperature={value, unit})."""
    return Event("carepath.symptom.recorded.v1", when, _clean(data), id, arrives)


def cancer(
    when: str,
    primary_site: str,
    status: str = "active",
    *,
    spinal_metastases: str | None = None,
    verification: str | None = None,
    id: str | None = None,
    arrives: str | None = None,
) -> Event:
    body = _clean({"primary_site": primary_site, "status": status, "spinal_metastases": spinal_metastases})
    data = _clean({"cancer": body, "verification": verification})
    return Event("carepath.diagnosis.recorded.v1", when, data, id, arrives)


def background(when: str, *, id: str | None = None, arrives: str | None = None, **data: Any) -> Event:
    """A diagnosis event without a cancer: birth_date, age_years, risk_factors, verification."""
    return Event("carepath.diagnosis.recorded.v1", when, _clean(data), id, arrives)


def imaging(
    when: str,
    modality: str = "mri",
    region: str = "whole_spine",
    status: str = "final",
    findings: dict[str, str] | None = None,
    *,
    sins: int | None = None,
    id: str | None = None,
    arrives: str | None = None,
) -> Event:
    coded = [{"code": code, "certainty": certainty} for code, certainty in (findings or {}).items()]
    data = _clean(
        {
            "modality": modality,
            "region": region,
            "report_status": status,
            "findings": coded,
            "sins_score": sins,
        }
    )
    return Event("carepath.imaging.resulted.v1", when, data, id, arrives)


def lab(
    when: str,
    test: str,
    value: float,
    unit: str,
    *,
    high: float | None = None,
    low: float | None = None,
    flag: str | None = None,
    id: str | None = None,
    arrives: str | None = None,
) -> Event:
    reference = _clean({"low": low, "high": high}) or None
    data = _clean(
        {"test": test, "value": value, "unit": unit, "reference_range": reference, "abnormal_flag": flag}
    )
    return Event("carepath.lab.resulted.v1", when, data, id, arrives)


def care_step(
    when: str, step: str, *, id: str | None = None, arrives: str | None = None, **data: Any
) -> Event:
    return Event("carepath.care_step.recorded.v1", when, _clean({"step": step, **data}), id, arrives)


def treatment(
    when: str, category: str, change: str = "started", *, id: str | None = None, **data: Any
) -> Event:
    return Event(
        "carepath.treatment.changed.v1", when, _clean({"category": category, "change": change, **data}), id
    )


# --- running -------------------------------------------------------------------------------------------


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    state: PatientState | None = None

    @property
    def escalations(self) -> list[Escalation]:
        return [e for o in self.outcomes for e in o.escalations]

    def changes(self, *rules: str) -> list[str]:
        """'R1 raised emergency', ... for the given rules (rule ids or group prefixes), or all."""
        return [
            f"{e.rule_id} {e.change} {e.severity}"
            for e in self.escalations
            if not rules or any(e.rule_id == r or e.rule_id.rstrip("abc") == r for r in rules)
        ]

    def last(self, rule: str) -> Escalation:
        matching = [e for e in self.escalations if e.rule_id == rule or e.rule_id.rstrip("abc") == rule]
        assert matching, f"no escalation for {rule}; got {self.changes()}"
        return matching[-1]

    def open_rules(self) -> list[str]:
        assert self.state is not None
        return sorted(record["rule"] for record in self.state.open_escalations().values())


class Timeline:
    def __init__(self, *events: Event, patient: str = PATIENT) -> None:
        self.events = list(events)
        self.patient = patient

    def ids(self) -> list[str]:
        return [e.id or f"ev{i}" for i, e in enumerate(self.events, start=1)]

    def play(
        self,
        order: Iterable[int] | None = None,
        state: PatientState | None = None,
        pathway_: Pathway | None = None,
    ) -> Run:
        """Feed the events to evaluate (in the listed order, or ``order`` as 1-based positions)."""
        used = pathway_ or pathway()
        ids = self.ids()
        positions = list(order) if order is not None else list(range(1, len(self.events) + 1))
        current = state or PatientState.empty(self.patient)
        run = Run()
        for position in positions:
            event = self.events[position - 1]
            parsed = parse_event(event.cloudevent(ids[position - 1], self.patient))
            now = at(event.arrives) if event.arrives else parsed.time
            outcome = evaluate(current, parsed, now, used)
            run.outcomes.append(outcome)
            current = PatientState.from_dict(json.loads(json.dumps(outcome.state.to_dict())))
        run.state = current
        return run


def play(*events: Event, patient: str = PATIENT) -> Run:
    return Timeline(*events, patient=patient).play()


def evidence_values(escalation: Escalation) -> dict[str, Any]:
    """fact -> value of the escalation's evidence (the last one of each fact)."""
    return {item["fact"]: item["value"] for item in escalation.data["evidence"]}
