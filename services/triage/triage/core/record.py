"""Record an event's facts into a patient state dict (copy on write).

``d`` is a fresh top-level copy owned by the caller; every nested part it shares with the previous
state is copied before it is changed. Recording is idempotent per event id: a fact from an event id
already recorded replaces it instead of being added twice.
"""

from __future__ import annotations

from bisect import insort
from typing import Any, Final

from triage.core import events as ev
from triage.core.facts import (
    AGE_FACTS,
    CANCER_FACTS,
    IMAGING_FACTS,
    LAB_FACTS,
    PAIN_FACTS,
    RISK_FACTS,
    STEP_FACTS,
)
from triage.core.state import IMAGING_LIMIT, LAB_LIMIT, PAIN_LIMIT, SEEN_LIMIT
from triage.core.times import parse_micros
from triage.core.units import convert

_CERTAINTY_ORDER: Final = {"excluded": 0, "possible": 1, "confirmed": 2}
NOTHING: Final[frozenset[str]] = frozenset()
# The event types ``record`` keeps facts of. Of any other (a treatment change, a type added later) a
# patient's state keeps nothing, not even its id: it cannot change what a rule reads, now or on a replay.
RECORDED_TYPES: Final = frozenset({ev.PAIN, ev.DIAGNOSIS, ev.LAB, ev.CARE_STEP, ev.IMAGING, ev.SYMPTOM})
PAIN_CHANGED: Final = frozenset({PAIN_FACTS})
LABS_CHANGED: Final = frozenset({LAB_FACTS})
IMAGING_CHANGED: Final = frozenset({IMAGING_FACTS})


def remember_id(d: dict[str, Any], event_id: str) -> None:
    seen: list[str] = d["seen"]
    d["seen"] = [*seen[-(SEEN_LIMIT - 1) :], event_id] if len(seen) >= SEEN_LIMIT else [*seen, event_id]


def record(d: dict[str, Any], event: ev.ClinicalEvent, t: int) -> frozenset[str]:
    """Add the event's facts; the fact categories that changed (empty: triage keeps nothing of it)."""
    # Written out rather than a table of functions: the compiled core then calls each directly.
    kind = event.type
    if kind == ev.PAIN:
        return _pain(d, event.id, event.data, t)
    if kind == ev.DIAGNOSIS:
        return _diagnosis(d, event.id, event.data, t)
    if kind == ev.LAB:
        return _lab(d, event.id, event.data, t)
    if kind == ev.CARE_STEP:
        return _care_step(d, event.id, event.data, t)
    if kind == ev.IMAGING:
        return _imaging(d, event.id, event.data, t)
    if kind == ev.SYMPTOM:
        return _symptom(d, event.id, event.data, t)
    return NOTHING


def _timeline(old: list[dict[str, Any]] | None, entry: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    items = [x for x in old if x["e"] != entry["e"]] if old else []
    if not items or items[-1]["t"] <= entry["t"]:
        items.append(entry)  # the newest, as most are: where insort (after equal times) puts it, unsearched
    else:
        insort(items, entry, key=_time_of)
    return items[-limit:]


def _time_of(entry: dict[str, Any]) -> int:
    return int(entry["t"])


def _latest(old: dict[str, Any] | None, key: str, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The mapping with ``key`` set to ``entry`` unless a newer fact is already there (None: no change)."""
    current = old.get(key) if old else None
    if current is not None and current["t"] > entry["t"]:
        return None
    updated = dict(old) if old else {}
    updated[key] = entry
    return updated


def _pain(d: dict[str, Any], event_id: str, data: dict[str, Any], t: int) -> frozenset[str]:
    entry: dict[str, Any] = {"t": t, "e": event_id, "nrs": data["nrs"], "site": list(data["site"])}
    for key in ("character", "systemic", "neurological"):
        values = data.get(key)
        if values:
            entry[key] = list(values)
    status = data.get("neurological_status")
    if status is not None:
        entry["status"] = status
    if data.get("weakness_severity") is not None:
        entry["weakness"] = data["weakness_severity"]
    if data.get("improving") is not None:
        entry["improving"] = bool(data["improving"])
    if data.get("new_episode"):
        entry["new_episode"] = True
    if data.get("duration_days") is not None:
        entry["duration_days"] = float(data["duration_days"])
    if data.get("onset") is not None:
        entry["onset"] = parse_micros(data["onset"])
    d["pain"] = _timeline(d.get("pain"), entry, PAIN_LIMIT)
    return PAIN_CHANGED


def _symptom(d: dict[str, Any], event_id: str, data: dict[str, Any], t: int) -> frozenset[str]:
    """A symptom recorded on its own joins the pain timeline as an entry without a score (``symptom``
    true); Facts.pain reads it with the score of the patient's pain report nearest in time."""
    entry: dict[str, Any] = {"t": t, "e": event_id, "symptom": True}
    for key in ("character", "systemic", "neurological", "site"):
        values = data.get(key)
        if values:
            entry[key] = list(values)
    if data.get("status") is not None:
        entry["status"] = data["status"]
    if data.get("weakness_severity") is not None:
        entry["weakness"] = data["weakness_severity"]
    temperature = data.get("temperature")
    if temperature is not None:  # Celsius, and as reported (Facts.pain reads it against the fever threshold)
        value, unit = temperature["value"], temperature["unit"]
        entry["celsius"] = convert(ev.TEMPERATURE, float(value), unit)
        entry["temperature"] = [value, unit]
    d["pain"] = _timeline(d.get("pain"), entry, PAIN_LIMIT)
    return PAIN_CHANGED


def _lab(d: dict[str, Any], event_id: str, data: dict[str, Any], t: int) -> frozenset[str]:
    test = str(data["test"])
    unit = str(data["unit"])
    entry: dict[str, Any] = {
        "t": t,
        "e": event_id,
        "value": convert(test, float(data["value"]), unit),
        "reported": [data["value"], unit],
    }
    reference = data.get("reference_range")
    if reference is not None and reference.get("high") is not None:
        entry["high"] = convert(test, float(reference["high"]), unit)
    if data.get("abnormal_flag") is not None:
        entry["flag"] = data["abnormal_flag"]
    labs = dict(d.get("labs") or {})
    labs[test] = _timeline(labs.get(test), entry, LAB_LIMIT)
    d["labs"] = labs
    return LABS_CHANGED


def _imaging(d: dict[str, Any], event_id: str, data: dict[str, Any], t: int) -> frozenset[str]:
    if data["report_status"] == "cancelled":
        return NOTHING  # a withdrawn study says nothing about the spine
    findings: dict[str, str] = {}
    for finding in data.get("findings", ()):
        code, certainty = finding["code"], finding["certainty"]
        if _CERTAINTY_ORDER.get(certainty, 0) >= _CERTAINTY_ORDER.get(findings.get(code, ""), -1):
            findings[code] = certainty
    entry: dict[str, Any] = {
        "t": t,
        "e": event_id,
        "modality": data.get("modality"),  # None: a SINS scored on its own
        "region": data.get("region"),
        "status": data["report_status"],
        "findings": findings,
    }
    if data.get("sins_score") is not None:
        entry["sins"] = data["sins_score"]
    d["imaging"] = _timeline(d.get("imaging"), entry, IMAGING_LIMIT)
    return IMAGING_CHANGED


def _diagnosis(d: dict[str, Any], event_id: str, data: dict[str, Any], t: int) -> frozenset[str]:
    verification = data.get("verification") or "confirmed"
    changed: set[str] = set()
    cancer = data.get("cancer")
    if cancer is not None:
        entry: dict[str, Any] = {
            "t": t,
            "e": event_id,
            "status": cancer["status"],
            "verification": verification,
        }
        if cancer.get("spinal_metastases") is not None:
            entry["spinal_metastases"] = cancer["spinal_metastases"]
        updated = _latest(d.get("cancer"), cancer["primary_site"], entry)
        if updated is not None:
            d["cancer"] = updated
            changed.add(CANCER_FACTS)
    for factor_code in data.get("risk_factors") or ():
        updated = _latest(d.get("risk"), factor_code, {"t": t, "e": event_id, "verification": verification})
        if updated is not None:
            d["risk"] = updated
            changed.add(RISK_FACTS)
    if data.get("birth_date") is not None:
        current = d.get("birth")
        if current is None or current["t"] <= t:
            d["birth"] = {"t": t, "e": event_id, "date": data["birth_date"]}
            changed.add(AGE_FACTS)
    if data.get("age_years") is not None:
        current = d.get("age")
        if current is None or current["t"] <= t:
            d["age"] = {"t": t, "e": event_id, "years": int(data["age_years"])}
            changed.add(AGE_FACTS)
    return frozenset(changed)


def _care_step(d: dict[str, Any], event_id: str, data: dict[str, Any], t: int) -> frozenset[str]:
    step = str(data["step"])
    keys = [step]
    for detail in ("conclusion", "decision"):
        if data.get(detail) is not None:
            keys.append(f"{step}/{data[detail]}")
    steps = d.get("steps")
    for key in keys:
        updated = _latest(steps, key, {"t": t, "e": event_id})
        if updated is not None:
            steps = updated
    if steps is d.get("steps"):
        return NOTHING
    d["steps"] = steps
    return frozenset({STEP_FACTS})
