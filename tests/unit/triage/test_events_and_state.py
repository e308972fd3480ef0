"""Reading CloudEvents into the core, and the patient state as the triage table stores it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.triage.triage_spec import SCHEMAS_DIR, cancer, pain, pathway, play
from triage.batch import Incoming, run_batch
from triage.core import EventError, PatientState, evaluate, parse_event
from triage.core.record import RECORDED_TYPES, record

pytestmark = pytest.mark.unit

CARE_STEP = "carepath.care_step.recorded.v1"


def ce(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "urn:test",
        "type": "carepath.pain.reported.v1",
        "subject": "patient-0001",
        "time": "2024-05-02T11:00:00+01:00",
        "data": {"nrs": 6, "site": ["thoracic"]},
    }
    event.update(overrides)
    return event


def test_times_with_an_offset_are_read_as_utc() -> None:
    """RFC 3339 with offset: 11:00+01:00 is 10:00Z; lower-case t and z are accepted."""
    assert parse_event(ce()).time == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert parse_event(ce(time="2024-05-02t10:00:00.123456789z")).time == datetime(
        2024, 5, 2, 10, 0, 0, 123456, tzinfo=UTC
    )


def test_deadlines_are_written_in_utc_from_an_offset_time() -> None:
    """A symptom at 11:00+01:00 gives a 1-hour contact deadline of 11:00Z."""
    state = play(cancer("day 1 09:00", "breast")).state
    assert state is not None
    event = parse_event(ce(data={"nrs": 6, "site": ["thoracic"], "neurological": ["limb_weakness"]}))
    outcome = evaluate(state, event, datetime(2024, 5, 2, 10, 5, tzinfo=UTC), pathway())
    assert outcome.escalations[0].data["deadline"] == "2024-05-02T11:00:00.000Z"
    assert outcome.escalations[0].data["raised_at"] == "2024-05-02T10:05:00.000Z"


# fmt: off
BAD = [
    # problem,                        event,                                                                                        message
    ("no subject",                    ce(subject=None),                                                                              "/subject: must be a non-empty string"),
    ("time without offset",           ce(time="2024-05-02T10:00:00"),                                                                "/time: '2024-05-02T10:00:00' is not an RFC 3339 date-time with an offset"),
    ("data not an object",            ce(data=[1]),                                                                                  "/data: must be an object"),
    ("NRS out of range",              ce(data={"nrs": 11, "site": ["lumbar"]}),                                                     "/data/nrs: must be an integer 0-10"),
    ("NRS as true",                   ce(data={"nrs": True, "site": ["lumbar"]}),                                                   "/data/nrs: must be an integer 0-10"),
    ("no site",                       ce(data={"nrs": 3}),                                                                           "/data/site: must be a list of codes"),
    ("calcium in an unknown unit",    ce(type="carepath.lab.resulted.v1", data={"test": "calcium", "value": 2.5, "unit": "mmol"}),  "/data/unit: 'mmol' is not a unit for calcium"),
    ("imaging finding without code",  ce(type="carepath.imaging.resulted.v1",
                                         data={"modality": "mri", "region": "lumbar", "report_status": "final", "findings": [{}]}),  "/data/findings/0: must be an object with code and certainty"),
    ("bad date of birth",             ce(type="carepath.diagnosis.recorded.v1", data={"birth_date": "1950-02-30"}),                 "/data/birth_date: must be a date YYYY-MM-DD"),
]
# fmt: on


@pytest.mark.parametrize(("problem", "event", "message"), BAD, ids=[b[0] for b in BAD])
def test_unreadable_events_name_the_field(problem: str, event: dict[str, Any], message: str) -> None:
    """The shell dead-letters an EventError with this message: it must name the offending field."""
    with pytest.raises(EventError) as caught:
        parse_event(event)
    assert str(caught.value).startswith(message)


# fmt: off
CODE_LISTS = [
    # data,                                                          message (None: accepted)
    ({"nrs": 3, "site": []},                                         "/data/site: must be a list of codes"),
    ({"nrs": 3, "site": ["lumbar", 4]},                              "/data/site: must be a list of codes"),
    ({"nrs": 3, "site": "lumbar"},                                   "/data/site: must be a list of codes"),
    ({"nrs": 3, "site": ["lumbar"], "character": "night_pain"},      "/data/character: must be a list of codes"),
    ({"nrs": 3, "site": ["lumbar"], "character": [None]},            "/data/character: must be a list of codes"),
    ({"nrs": 3, "site": ["lumbar"], "character": []},                None),
    ({"nrs": 3, "site": ["lumbar"], "character": None},              None),
    ({"nrs": 3, "site": ["lumbar"], "duration_days": True},          "/data/duration_days: must be a number >= 0"),
    ({"nrs": 3, "site": ["lumbar"], "duration_days": 2.5},           None),
]
# fmt: on


@pytest.mark.parametrize(("data", "message"), CODE_LISTS)
def test_lists_of_codes_and_numbers_are_checked(data: dict[str, Any], message: str | None) -> None:
    if message is None:
        assert parse_event(ce(data=data)).data == data
        return
    with pytest.raises(EventError) as caught:
        parse_event(ce(data=data))
    assert str(caught.value) == message


def test_event_types_triage_does_not_read_are_accepted() -> None:
    """Treatment changes (and future types) are read and pass through: no rule reads them, the state keeps
    nothing of them."""
    event = parse_event(
        ce(type="carepath.treatment.changed.v1", data={"category": "corticosteroid", "change": "started"})
    )
    assert event.type == "carepath.treatment.changed.v1"


def test_an_event_nothing_is_kept_of_leaves_the_state_as_it_was() -> None:
    """A treatment change, a cancelled study, a care step older than the one recorded: the state returned
    is the state given (not even the id is remembered), nothing is raised, and a replay is the same."""
    run = play(cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=6))
    assert run.state is not None
    now = datetime(2024, 6, 1, tzinfo=UTC)
    nothing = [
        ce(id="tx-1", type="carepath.treatment.changed.v1", data={"category": "opioid", "change": "started"}),
        ce(
            id="img-1",
            type="carepath.imaging.resulted.v1",
            data={"modality": "mri", "region": "whole_spine", "report_status": "cancelled", "findings": []},
        ),
    ]
    for raw in nothing + nothing:  # and again, as a redelivery
        outcome = evaluate(run.state, parse_event(raw), now, pathway())
        assert outcome.state is run.state and outcome.escalations == [] and not outcome.duplicate
        assert not run.state.has_seen(raw["id"])
    step = {"step": "clinician_review"}
    newer = evaluate(run.state, parse_event(ce(id="st-2", type=CARE_STEP, data=step)), now, pathway()).state
    assert newer.has_seen("st-2")
    older = ce(id="st-1", type=CARE_STEP, time="2024-05-01T08:00:00Z", data=step)
    assert evaluate(newer, parse_event(older), now, pathway()).state is newer


def test_state_round_trip_and_unknown_format() -> None:
    """from_dict(to_dict()) is the same state; a state of another format is refused, not misread."""
    run = play(cancer("day 1 09:00", "breast"), pain("day 2 10:00", nrs=6, neurological=["limb_weakness"]))
    assert run.state is not None
    d = run.state.to_dict()
    assert PatientState.from_dict(d) == run.state
    assert set(d) >= {"format", "patient_id", "seen", "pain", "cancer", "open", "episodes"}
    with pytest.raises(ValueError, match="unknown patient state format"):
        PatientState.from_dict({**d, "format": 99})
    assert "patient-0001" not in repr(run.state)


def test_seen_ids_are_bounded() -> None:
    """Idempotency memory is bounded: the last 256 event ids per patient."""
    state = PatientState.empty("patient-0001")
    for n in range(300):
        event = parse_event(
            ce(id=f"ev-{n}", time=f"2024-05-02T10:{n % 60:02d}:00Z", data={"nrs": 2, "site": ["lumbar"]})
        )
        state = evaluate(state, event, event.time, pathway()).state
    seen = state.to_dict()["seen"]
    assert len(seen) == 256 and seen[0] == "ev-44" and seen[-1] == "ev-299"


INPUT_TYPES = [
    "carepath.pain.reported.v1",
    "carepath.imaging.resulted.v1",
    "carepath.treatment.changed.v1",
    "carepath.lab.resulted.v1",
    "carepath.diagnosis.recorded.v1",
    "carepath.care_step.recorded.v1",
]


@pytest.mark.parametrize("event_type", INPUT_TYPES)
def test_every_valid_contract_example_is_read_and_evaluated(event_type: str) -> None:
    """The contract's valid examples of every clinical input type go through parse_event and evaluate."""
    folder = SCHEMAS_DIR / "examples" / event_type / "valid"
    examples = sorted(folder.glob("*.json"))
    assert examples, folder
    for path in examples:
        event = parse_event(json.loads(path.read_text()))
        outcome = evaluate(PatientState.empty(event.patient_id), event, event.time, pathway())
        assert not outcome.duplicate, path.name


@pytest.mark.parametrize("event_type", [*INPUT_TYPES, "carepath.symptom.recorded.v1"])
def test_the_types_a_batch_reads_state_for_are_the_types_recorded(event_type: str) -> None:
    """``RECORDED_TYPES`` (a batch reads no state for an event of another type) and ``record``'s branches
    are written apart: a type ``record`` keeps facts of but the set lacks would never reach the rules.
    Every valid contract example of a type outside the set records nothing; each type in it records
    something from at least one of its examples."""
    folder = SCHEMAS_DIR / "examples" / event_type / "valid"
    recorded = []
    for path in sorted(folder.glob("*.json")):
        event = parse_event(json.loads(path.read_text()))
        recorded.append(bool(record({"seen": []}, event, event.micros)))
    assert recorded, folder
    assert any(recorded) == (event_type in RECORDED_TYPES)


def test_redelivery_after_the_id_left_the_window_still_publishes_nothing() -> None:
    """Facts are stored per event id, so an event redelivered after 300 others re-records the same fact:
    the state's answers do not change and nothing is published (no watermark needed)."""
    state = play(cancer("day 1 09:00", "breast")).state
    assert state is not None
    first = parse_event(
        ce(id="symptom", data={"nrs": 6, "site": ["thoracic"], "neurological": ["limb_weakness"]})
    )
    state = evaluate(state, first, first.time, pathway()).state
    for n in range(300):
        event = parse_event(
            ce(id=f"ev-{n}", time="2024-05-03T10:00:00Z", data={"nrs": 2, "site": ["lumbar"]})
        )
        state = evaluate(state, event, event.time, pathway()).state
    assert not state.has_seen("symptom")
    again = evaluate(state, first, first.time, pathway())
    assert again.duplicate is False and again.escalations == []


def test_a_batch_reads_no_state_for_a_patient_whose_events_are_all_kept_nothing_of() -> None:
    """run_batch: a patient with only treatment changes in the batch has no state read or written (the
    events are counted by type); another patient's pain report beside them is evaluated as ever."""
    tx = ce(id="tx-1", type="carepath.treatment.changed.v1", data={"category": "opioid", "change": "started"})
    records = [
        Incoming(b"patient-0001", json.dumps(tx).encode(), 0.0),
        Incoming(b"patient-0002", json.dumps(ce(id="p-1", subject="patient-0002")).encode(), 0.0),
        Incoming(b"patient-0001", json.dumps({**tx, "id": "tx-2"}).encode(), 0.0),
    ]
    read: list[bytes] = []

    def load(key: bytes) -> bytes | None:
        read.append(key)
        return None

    result = run_batch(records, load, datetime(2024, 6, 1, tzinfo=UTC), pathway())
    assert read == [b"patient-0002"]
    assert list(result.states) == [b"patient-0002"] and not result.failures
    assert json.loads(result.states[b"patient-0002"])["seen"] == ["p-1"]
    assert result.types == {"carepath.treatment.changed.v1": 2, "carepath.pain.reported.v1": 1}
