"""Clinical events as the core reads them: the CloudEvent envelope reduced to what the rules need.

Intake has already validated every event against its JSON Schema. ``parse_event`` still checks the
fields triage reads (present, of the right type), so that an event which somehow bypassed intake is
refused here with a clear message instead of failing half-way through the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from triage.core.times import from_micros, parse_micros
from triage.core.units import UnitError, factor

PAIN: Final = "carepath.pain.reported.v1"
IMAGING: Final = "carepath.imaging.resulted.v1"
TREATMENT: Final = "carepath.treatment.changed.v1"
LAB: Final = "carepath.lab.resulted.v1"
DIAGNOSIS: Final = "carepath.diagnosis.recorded.v1"
CARE_STEP: Final = "carepath.care_step.recorded.v1"
SYMPTOM: Final = "carepath.symptom.recorded.v1"
TEMPERATURE: Final = "temperature"

ESCALATION_RAISED: Final = "carepath.escalation.raised.v1"
ESCALATION_UPDATED: Final = "carepath.escalation.updated.v1"
ESCALATION_RESOLVED: Final = "carepath.escalation.resolved.v1"


class EventError(ValueError):
    """A CloudEvent triage cannot read; the message names the field."""


@dataclass(frozen=True, slots=True, init=False)
class ClinicalEvent:
    id: str
    type: str
    patient_id: str
    micros: int  # when it happened clinically: microseconds since the epoch (times.py)
    data: dict[str, Any]

    # written out so that mypyc compiles it (dataclasses' own runs as Python; README "The compiled core")
    def __init__(self, id: str, type: str, patient_id: str, micros: int, data: dict[str, Any]) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "patient_id", patient_id)
        object.__setattr__(self, "micros", micros)
        object.__setattr__(self, "data", data)

    @property
    def time(self) -> datetime:
        """When it happened clinically, UTC."""
        return from_micros(self.micros)


def parse_event(cloudevent: Mapping[str, Any]) -> ClinicalEvent:
    event = _object(cloudevent, "the event is not a JSON object")
    event_id = _text(event, "id", "/id")
    event_type = _text(event, "type", "/type")
    subject = _text(event, "subject", "/subject")
    raw_time = _text(event, "time", "/time")
    try:
        moment = parse_micros(raw_time)
    except ValueError:
        raise EventError(f"/time: {raw_time!r} is not an RFC 3339 date-time with an offset") from None
    data = _object(event.get("data"), "/data: must be an object")
    # Written out rather than a table of functions: the compiled core then calls each directly.
    if event_type == PAIN:
        _check_pain(data)
    elif event_type == DIAGNOSIS:
        _check_diagnosis(data)
    elif event_type == LAB:
        _check_lab(data)
    elif event_type == CARE_STEP:
        _check_care_step(data)
    elif event_type == IMAGING:
        _check_imaging(data)
    elif event_type == SYMPTOM:
        _check_symptom(data)
    return ClinicalEvent(event_id, event_type, subject, moment, data)


def _object(value: Any, error: str) -> dict[str, Any]:
    """A JSON object as a dict: as decoded, or any other Mapping copied into one (the compiled core reads a
    dict with the dictionary's own operations, README "The compiled core")."""
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise EventError(error)


def _text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise EventError(f"{where}: must be a non-empty string")
    return value


_NUMBERS: Final = (int, float)


def _is_mapping(value: Any) -> bool:
    """A JSON object: a dict as decoded, without the abstract class's check (a Python call), or any Mapping."""
    return type(value) is dict or isinstance(value, Mapping)


def _number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def _require(data: dict[str, Any], key: str, ok: bool, expected: str) -> None:
    if not ok:
        raise EventError(f"/data/{key}: must be {expected}")


def _strings(data: dict[str, Any], key: str, required: bool = False) -> None:
    value = data.get(key)
    if value is None and not required:
        return
    if isinstance(value, list) and (value or not required):
        for v in value:
            if not isinstance(v, str):
                break
        else:
            return
    _require(data, key, False, "a list of codes")


def _optional_text(data: dict[str, Any], key: str) -> None:
    value = data.get(key)
    _require(data, key, value is None or isinstance(value, str), "a code")


def _check_pain(data: dict[str, Any]) -> None:
    nrs = data.get("nrs")
    _require(
        data, "nrs", isinstance(nrs, int) and not isinstance(nrs, bool) and 0 <= nrs <= 10, "an integer 0-10"
    )
    _strings(data, "site", required=True)
    for key in ("character", "systemic", "neurological"):
        if key in data:
            _strings(data, key)
    for key in ("neurological_status", "weakness_severity"):
        if key in data:
            _optional_text(data, key)
    for key in ("improving", "new_episode"):
        if key in data:
            flag = data[key]
            _require(data, key, flag is None or isinstance(flag, bool), "true or false")
    duration = data.get("duration_days")
    _require(
        data, "duration_days", duration is None or (_number(duration) and duration >= 0), "a number >= 0"
    )
    onset = data.get("onset")
    if onset is not None:
        try:
            _require(data, "onset", isinstance(onset, str), "a date-time")
            parse_micros(onset)
        except ValueError:
            raise EventError("/data/onset: must be an RFC 3339 date-time with an offset") from None


def _check_symptom(data: dict[str, Any]) -> None:
    for key in ("character", "systemic", "neurological", "site"):
        _strings(data, key)
    temperature = data.get("temperature")
    if temperature is not None:
        ok = _is_mapping(temperature) and _number(temperature.get("value"))
        _require(data, "temperature", ok and isinstance(temperature.get("unit"), str), "{value, unit}")
        try:
            factor(TEMPERATURE, str(temperature["unit"]))
        except UnitError as exc:
            raise EventError(f"/data/temperature/unit: {exc}") from None
    if not any(data.get(key) for key in ("character", "systemic", "neurological")) and temperature is None:
        raise EventError(
            "/data: must name a finding in neurological, systemic or character, or a temperature"
        )
    for key in ("status", "weakness_severity"):
        _optional_text(data, key)


def _check_imaging(data: dict[str, Any]) -> None:
    _require(data, "report_status", isinstance(data.get("report_status"), str), "a code")
    scored_alone = "modality" not in data and "region" not in data and data.get("sins_score") is not None
    for key in ("modality", "region"):  # absent only for a SINS scored on its own
        _require(data, key, scored_alone or isinstance(data.get(key), str), "a code")
    findings = data.get("findings", [])
    _require(data, "findings", isinstance(findings, list), "a list of findings")
    for index, finding in enumerate(findings):
        ok = _is_mapping(finding) and isinstance(finding.get("code"), str)
        ok = ok and isinstance(finding.get("certainty"), str)
        _require(data, f"findings/{index}", ok, "an object with code and certainty")
    sins = data.get("sins_score")
    ok = sins is None or (isinstance(sins, int) and not isinstance(sins, bool) and 0 <= sins <= 18)
    _require(data, "sins_score", ok, "an integer 0-18")


def _check_lab(data: dict[str, Any]) -> None:
    _require(data, "test", isinstance(data.get("test"), str), "a code")
    value: Any = data.get("value")
    _require(data, "value", _number(value) and value >= 0, "a number >= 0")
    unit = data.get("unit")
    _require(data, "unit", isinstance(unit, str), "a unit")
    try:
        factor(str(data["test"]), str(unit))
    except UnitError as exc:
        raise EventError(f"/data/unit: {exc}") from None
    reference = data.get("reference_range")
    if reference is not None:
        ok = _is_mapping(reference) and all(_number(reference[k]) for k in reference)
        _require(data, "reference_range", ok, "an object with numeric low and high")
    _optional_text(data, "abnormal_flag")


def _check_diagnosis(data: dict[str, Any]) -> None:
    cancer = data.get("cancer")
    if cancer is not None:
        ok = _is_mapping(cancer) and isinstance(cancer.get("primary_site"), str)
        ok = ok and isinstance(cancer.get("status"), str)
        _require(data, "cancer", ok, "an object with primary_site and status")
    _strings(data, "risk_factors")
    birth = data.get("birth_date")
    if birth is not None:
        try:
            _require(data, "birth_date", isinstance(birth, str), "a date YYYY-MM-DD")
            date.fromisoformat(birth)
        except ValueError:
            raise EventError("/data/birth_date: must be a date YYYY-MM-DD") from None
    age = data.get("age_years")
    ok = age is None or (isinstance(age, int) and not isinstance(age, bool) and 0 <= age <= 130)
    _require(data, "age_years", ok, "an integer 0-130")
    _optional_text(data, "verification")


def _check_care_step(data: dict[str, Any]) -> None:
    _require(data, "step", isinstance(data.get("step"), str), "a code")
    _optional_text(data, "conclusion")
    _optional_text(data, "decision")
