"""Per-patient clinical state: the value of the triage table, one per patient.

The state is a plain JSON-safe dict, so ``to_dict``/``from_dict`` are shallow copies and cost almost
nothing on the hot path. ``evaluate`` never changes a state it was given: it copies the top level and
replaces only the parts an event touches (copy on write). Times are whole microseconds since the epoch.

Layout (format 1)::

    patient_id  str
    seen        [event id, ...]            last SEEN_LIMIT ids of events with facts recorded, oldest first
    cancer      {primary_site: {t, e, status, spinal_metastases?, verification}}   latest per site
    risk        {risk_factor: {t, e, verification}}                                latest per factor
    birth       {t, e, date}   age {t, e, years}                                   latest
    pain        [{t, e, nrs, site, character?, systemic?, neurological?, status?, weakness?,
                  improving?, new_episode?, duration_days?, onset?}, ...]                         by time, PAIN_LIMIT
    labs        {test: [{t, e, value, high?, flag?, reported}, ...]}                by time, LAB_LIMIT
    imaging     [{t, e, modality, region, status, findings {code: certainty}, sins?}] by time (modality and
                region None: a SINS scored on its own)
    steps       {"step" | "step/conclusion" | "step/decision": {t, e}}              latest
    open        {escalation key: {id, revision, rule, severity, last, data}}
    closed      {escalation key: t}        when the last episode was resolved (clinical time)
    episodes    {escalation key: n}        episodes raised so far

``t`` is the clinical time of the event a fact came from and ``e`` its event id. A fact from an older
event never replaces a newer one, so the order events arrive in does not change the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

FORMAT: Final = 1
SEEN_LIMIT: Final = 256
PAIN_LIMIT: Final = 48
LAB_LIMIT: Final = 8
IMAGING_LIMIT: Final = 16


class PatientState:
    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    @classmethod
    def empty(cls, patient_id: str) -> PatientState:
        return cls({"format": FORMAT, "patient_id": patient_id, "seen": []})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict. Nested parts are shared with this state: read them, do not change them."""
        return dict(self._d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PatientState:
        return cls.decoded(dict(d))

    @classmethod
    def decoded(cls, d: dict[str, Any]) -> PatientState:
        """As ``from_dict``, taking ``d`` itself (just decoded, held by nothing else) instead of a copy."""
        if d.get("format") != FORMAT:
            raise ValueError(f"unknown patient state format {d.get('format')!r} (expected {FORMAT})")
        if not isinstance(d.get("patient_id"), str) or not isinstance(d.get("seen"), list):
            raise ValueError("patient state without patient_id or seen")
        return cls(d)

    @property
    def patient_id(self) -> str:
        return str(self._d["patient_id"])

    @property
    def raw(self) -> Mapping[str, Any]:
        """The state as stored (read-only by convention)."""
        return self._d

    def open_escalations(self) -> dict[str, dict[str, Any]]:
        """Open escalations by escalation key (rule id or group), each with its last published data."""
        return dict(self._d.get("open", {}))

    def has_seen(self, event_id: str) -> bool:
        return event_id in self._d["seen"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PatientState) and other._d == self._d

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PatientState(events_seen={len(self._d['seen'])}, open={sorted(self._d.get('open', {}))})"
