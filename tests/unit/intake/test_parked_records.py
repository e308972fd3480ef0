"""Parked input: the records intake writes for input it did not read whole because of codes it does not know
(built, bounded, written with the input's events or not at all), the metric's labels, the report an
operator reads, and how a replay places what it reads again against what was stored."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from prometheus_client import REGISTRY

from carepath import contracts, envelope, topics
from carepath.deadletter import (
    MAX_CODES,
    bounded_codes,
    content_digest,
    dead_letter,
    parked,
    validate_parked_record,
)
from intake import value_sets
from intake.dlq import system_label
from intake.fhir.channel import FhirChannel
from intake.fhir.codemap import load_code_map
from intake.hl7.codes import load_codes
from intake.hl7.handler import Hl7Intake
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology_rules import load_rules
from intake.parked import (
    PART,
    REFUSED,
    STILL,
    WHOLE,
    Outcome,
    Parked,
    Placement,
    Replay,
    ReplayPublisher,
    Summary,
    classify,
    parse,
    print_replay,
    print_report,
    replay_id,
    report,
)
from intake.publisher import MemoryPublisher, PublishError, Record
from intake.service import Intake, Refusal, Unavailable
from tests.support.fhir import SNOMED, bundle, concept, entry, pain_observation
from tests.unit.triage.triage_spec import pathway
from triage.core import PatientState, evaluate, parse_event

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
LOCAL = "https://fhir.northgate-hospital.example/CodeSystem/pain-flowsheet"
PAIN_ID = "hl7v2:NGH:NGH-77120:0"


class Clock:
    def now(self) -> datetime:
        return NOW


class Batches(MemoryPublisher):
    """Keeps each publish call apart; ``refuse`` fails any call holding a record for one of those topics."""

    def __init__(self, refuse: Sequence[str] = ()) -> None:
        super().__init__()
        self.batches: list[list[Record]] = []
        self.refuse = set(refuse)

    async def publish(self, records: Sequence[Record]) -> None:
        if self.refuse & {r.topic for r in records}:
            raise PublishError("broker unavailable")
        self.batches.append(list(records))
        await super().publish(records)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.records if r.topic == topic]


def oru(*rows: str, control_id: str = "NGH-77120", patient: str = "MRN-204731") -> bytes:
    """A pain assessment from Northgate's EPR: the score, then ``rows`` (flowsheet rows as it sends them)."""
    return "\r".join(
        [
            f"MSH|^~\\&|EPR|NGH|CAREPATH|NGH|20240501093000+0100||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
            f"PID|1||{patient}^^^NGH^MR||DOE^ALEX||19580314|F",
            "OBR|1||PA1|PAINASSESS^Pain assessment^99NGH|||20240501090000+0100",
            "OBX|1|NM|72514-3^Pain severity 0-10 NRS^LN||7|{score}^{score}^UCUM|0-10||||F|||20240501090000+0100"
            "||||||122495006^Thoracic spine structure^SCT",
            *rows,
        ]
    ).encode()


ROW = "OBX|2|CWE|PAINXYZ^Pain something^99NGH||Y^Yes^HL70136||||||F"
ROW_2 = "OBX|3|CWE|PAINABC^Pain on coughing^99NGH||Y^Yes^HL70136||||||F"


def site(tmp_path: Path, *codes: tuple[str, str]) -> Path:
    """Northgate's overlay: its v2 codes (99NGH) and its FHIR flowsheet codes added to finding.night_pain."""
    lines = "".join(f"      - {{system: {s}, codes: [{{code: {c}}}]}}\n" for s, c in codes)
    path = tmp_path / "terminology.yaml"
    path.write_text(
        "site: northgate\n"
        'version: "1"\n'
        "systems:\n"
        f"  - {{uri: {LOCAL}, name: Northgate pain-flowsheet}}\n"
        "  - {uri: https://fhir.northgate-hospital.example/CodeSystem/v2-local, name: Northgate v2, aliases: [99NGH]}\n"
        "value_sets:\n"
        "  - id: finding.night_pain\n"
        "    include:\n" + lines,
        encoding="utf-8",
    )
    return path


def channels(publisher: Any, site_file: Path | None = None) -> tuple[Intake, Hl7Intake, FhirChannel]:
    term = value_sets.load([site_file] if site_file else [])
    intake = Intake(publisher, Clock(), future_tolerance_s=300, dedup_capacity=1000)
    hl7 = Hl7Intake(
        intake, load_codes([], term), load_rules(), MappingOptions(ZoneInfo("Europe/London")), Clock()
    )
    return intake, hl7, FhirChannel(intake, load_code_map(None, term=term))


def parked_total(channel: str, system: str) -> float:
    value = REGISTRY.get_sample_value("carepath_intake_parked_total", {"channel": channel, "system": system})
    return value or 0.0


# --- intake parks -----------------------------------------------------------------------------------------


def test_an_hl7_message_with_an_unknown_row_is_stored_in_part_dead_lettered_and_parked_in_one_publish() -> (
    None
):
    publisher = Batches()
    _, hl7, _ = channels(publisher)
    before = parked_total("mllp", "local")
    reply = asyncio.run(hl7.handle(oru(ROW)))
    assert reply.ack == "AE" and "PAINXYZ (99NGH)" in reply.text
    [batch] = publisher.batches
    assert [r.topic for r in batch] == [
        topics.CLINICAL_EVENTS,
        topics.CLINICAL_EVENTS_DLQ,
        topics.CLINICAL_EVENTS_PARKED,
    ]
    [pain] = publisher.on(topics.CLINICAL_EVENTS)
    [letter] = publisher.on(topics.CLINICAL_EVENTS_DLQ)
    [record] = publisher.on(topics.CLINICAL_EVENTS_PARKED)
    assert validate_parked_record(record) == [] and contracts.validate_dlq_record(letter) == []
    assert record["channel"] == "mllp" and record["raw"].encode() == oru(ROW)
    assert record["codes"] == [{"system": "99NGH", "code": "PAINXYZ"}] == letter["codes"]
    assert record["reason"].startswith("OBX[2]-3: observation (OBX-3) code PAINXYZ (99NGH)")
    assert record["stored"] == [{"id": PAIN_ID, "sha256": content_digest(pain)}]
    assert batch[2].key == b"MRN-204731"
    assert parked_total("mllp", "local") == before + 1


def test_the_parked_reason_names_the_first_unknown_code_the_dead_letter_the_first_problem() -> None:
    publisher = Batches()
    _, hl7, _ = channels(publisher)
    text = oru(ROW, ROW_2).replace(b"||7|{score}", b"||seven|{score}")
    asyncio.run(hl7.handle(text))
    [letter] = publisher.on(topics.CLINICAL_EVENTS_DLQ)
    [record] = publisher.on(topics.CLINICAL_EVENTS_PARKED)
    assert letter["reason"].startswith("OBX[1]-5")
    assert record["reason"].startswith("OBX[2]-3") and record["reason"].endswith("(and 1 more rows not read)")
    assert record["codes"] == [{"system": "99NGH", "code": "PAINXYZ"}, {"system": "99NGH", "code": "PAINABC"}]
    assert record["stored"] == []  # nothing was read from it


def test_a_message_sent_again_is_parked_again_listing_the_events_stored_the_first_time() -> None:
    publisher = Batches()
    _, hl7, _ = channels(publisher)
    asyncio.run(hl7.handle(oru(ROW)))
    asyncio.run(hl7.handle(oru(ROW)))
    assert len(publisher.on(topics.CLINICAL_EVENTS)) == 1  # a duplicate, not published twice
    first, second = publisher.on(topics.CLINICAL_EVENTS_PARKED)
    assert first["stored"] == second["stored"] and first["stored"][0]["id"] == PAIN_ID


@pytest.mark.parametrize("broken", [topics.CLINICAL_EVENTS_PARKED, topics.CLINICAL_EVENTS_DLQ])
def test_a_parked_record_that_cannot_be_written_is_never_answered_aa_or_2xx(broken: str) -> None:
    publisher = Batches(refuse=[broken])
    _, hl7, fhir = channels(publisher)
    assert asyncio.run(hl7.handle(oru(ROW))).ack == "AR"  # send it again: nothing was stored
    unknown = pain_observation("pain-1", "MRN-204731", "2024-05-01T08:30:00Z")
    unknown["code"] = concept(LOCAL, "pain-xyz")
    with pytest.raises(Unavailable):  # the route answers 503
        asyncio.run(fhir.resource("Observation", orjson.dumps(unknown)))
    assert publisher.records == []


def test_a_part_not_read_that_cannot_be_parked_is_not_answered_201() -> None:
    publisher = Batches(refuse=[topics.CLINICAL_EVENTS_PARKED])
    _, _, fhir = channels(publisher)
    part = pain_observation(
        "pain-2", "MRN-204731", "2024-05-01T08:30:00Z", features=(concept(LOCAL, "pain-xyz"),)
    )
    with pytest.raises(Unavailable):
        asyncio.run(fhir.resource("Observation", orjson.dumps(part)))
    with pytest.raises(Unavailable):
        asyncio.run(fhir.bundle(orjson.dumps(bundle("batch", entry(part))), 10))
    assert publisher.records == []  # the event was not stored without its parked record


def test_a_fhir_resource_refused_for_an_unknown_code_is_parked_with_it_one_without_a_code_is_not() -> None:
    publisher = Batches()
    _, _, fhir = channels(publisher)
    before = parked_total("fhir", "local")
    unknown = pain_observation("pain-3", "MRN-204731", "2024-05-01T08:30:00Z")
    unknown["code"] = {"coding": [{"system": LOCAL, "code": "pain-xyz", "display": "Pain on coughing"}]}
    answer = asyncio.run(fhir.resource("Observation", orjson.dumps(unknown)))
    assert answer.status == 422 and answer.body["issue"][0]["code"] == "code-invalid"
    [record] = publisher.on(topics.CLINICAL_EVENTS_PARKED)
    assert record["codes"] == [{"system": LOCAL, "code": "pain-xyz"}] and record["stored"] == []
    assert record["reason"].startswith("Observation.code: ")
    assert json.loads(record["raw"]) == unknown
    assert parked_total("fhir", "local") == before + 1

    text_only = pain_observation("pain-4", "MRN-204731", "2024-05-01T08:30:00Z")
    text_only["code"] = {"text": "pain on coughing"}
    assert asyncio.run(fhir.resource("Observation", orjson.dumps(text_only))).status == 422
    assert len(publisher.on(topics.CLINICAL_EVENTS_DLQ)) == 2  # dead-lettered as before
    assert len(publisher.on(topics.CLINICAL_EVENTS_PARKED)) == 1  # no code: nothing a site file could map


def test_a_fhir_resource_stored_with_a_part_not_read_is_parked_with_its_event_in_the_same_publish() -> None:
    publisher = Batches()
    _, _, fhir = channels(publisher)
    part = pain_observation(
        "pain-5", "MRN-204731", "2024-05-01T08:30:00Z", features=(concept(LOCAL, "pain-xyz"),)
    )
    answer = asyncio.run(fhir.resource("Observation", orjson.dumps(part)))
    assert answer.status == 201 and any(i["severity"] == "warning" for i in answer.body["issue"])
    [batch] = publisher.batches
    assert [r.topic for r in batch] == [topics.CLINICAL_EVENTS, topics.CLINICAL_EVENTS_PARKED]
    [event] = publisher.on(topics.CLINICAL_EVENTS)
    [record] = publisher.on(topics.CLINICAL_EVENTS_PARKED)
    assert record["stored"] == [{"id": event["id"], "sha256": content_digest(event)}]
    assert record["reason"].startswith("Observation.component[0]: not read: ")
    assert publisher.on(topics.CLINICAL_EVENTS_DLQ) == []  # what was read is stored: nothing refused
    assert batch[1].key == b"MRN-204731"


def test_a_bundle_parks_each_entry_on_its_own() -> None:
    publisher = Batches()
    _, _, fhir = channels(publisher)
    refused = pain_observation("pain-6", "MRN-204731", "2024-05-01T08:30:00Z")
    refused["code"] = concept(LOCAL, "pain-abc")
    part = pain_observation(
        "pain-7", "MRN-204731", "2024-05-01T08:31:00Z", features=(concept(LOCAL, "pain-xyz"),)
    )
    whole = pain_observation("pain-8", "MRN-204731", "2024-05-01T08:32:00Z")
    doc = bundle("batch", entry(refused), entry(part), entry(whole))
    answer = asyncio.run(fhir.bundle(orjson.dumps(doc), 10))
    statuses = [e["response"]["status"] for e in answer.body["entry"]]
    assert statuses == ["422 Unprocessable Entity", "201 Created", "201 Created"]
    records = publisher.on(topics.CLINICAL_EVENTS_PARKED)
    assert sorted(json.loads(r["raw"])["id"] for r in records) == ["pain-6", "pain-7"]
    assert {r["codes"][0]["code"]: len(r["stored"]) for r in records} == {"pain-abc": 0, "pain-xyz": 1}


def test_parking_alone_without_a_stored_event_is_not_written() -> None:
    """A part-not-read refusal whose event was not stored (refused by intake) is the refusal's to keep."""
    publisher = Batches()
    intake, _, _ = channels(publisher)
    refusal = Refusal(
        "x", "unread", (), b"{}", codes=(("99NGH", "PAINXYZ"),), events=("gone",), dead_letter=False
    )
    asyncio.run(intake.submit([], None, "fhir", [refusal]))
    assert publisher.records == []


# --- bounds and labels --------------------------------------------------------------------------------------


def test_only_values_that_look_like_codes_are_copied_at_most_fifty() -> None:
    many = [("99NGH", f"ROW{n}") for n in range(60)]
    listed, left_out = bounded_codes([*many, ("99NGH", "ROW1"), ("99NGH", "pain at night"), ("s" * 201, "X")])
    assert len(listed) == MAX_CODES and listed[0] == {"system": "99NGH", "code": "ROW0"}
    assert left_out == 10 + 2  # over fifty, free text, a system too long; the repeated one counted once
    assert bounded_codes([("", "PAINXYZ"), ("LN", ""), ("LN", "x" * 41)]) == (
        [{"system": "", "code": "PAINXYZ"}],
        2,
    )
    assert bounded_codes([("urn:oid:2.16.840.1.113883.6.96", "26544005")])[1] == 0


def test_a_parked_record_and_a_dead_letter_keep_only_bounded_codes() -> None:
    codes = [("99NGH", "PAINXYZ"), ("99NGH", "Doe, Alex 14/03/1958")]
    record = json.loads(parked(channel="mllp", reason="x\ny", raw=b"\xff", received_at=NOW, codes=codes))
    assert validate_parked_record(record) == []
    assert record["codes"] == [{"system": "99NGH", "code": "PAINXYZ"}] and record["codes_not_listed"] == 1
    assert record["reason"] == "x y" and record["raw_encoding"] == "base64" and "stored" not in record
    letter = json.loads(
        dead_letter(channel="mllp", reason="x", errors=[], raw=b"", received_at=NOW, codes=codes)
    )
    assert contracts.validate_dlq_record(letter) == [] and letter["codes"] == record["codes"]


@pytest.mark.parametrize(
    ("system", "label"),
    [
        ("http://loinc.org", "LOINC"),
        ("LN", "LOINC"),
        ("SCT", "SNOMED CT"),
        ("urn:oid:2.16.840.1.113883.6.88", "RxNorm"),
        ("99NGH", "local"),
        ("99CP", "carepath"),
        (LOCAL, "local"),  # a site's own system, even one its site file names
        ("", "local"),
        ("NHS 943 476 5919", "local"),
    ],
)
def test_the_metric_label_is_a_known_system_name_or_local(system: str, label: str) -> None:
    assert system_label(system) == label


def test_an_input_is_counted_once_under_each_code_system_of_its_unknown_codes() -> None:
    publisher = Batches()
    intake, _, _ = channels(publisher)
    local, loinc = parked_total("mllp", "local"), parked_total("mllp", "LOINC")
    codes = (("99NGH", "ROW1"), ("99NGH", "ROW2"), ("LN", "99999-9"))
    asyncio.run(intake.submit([], None, "mllp", [Refusal("x", "hl7_unknown_code", (), b"MSH", codes=codes)]))
    assert (parked_total("mllp", "local"), parked_total("mllp", "LOINC")) == (local + 1, loinc + 1)
    names = {cs.name for cs in value_sets.load().systems.values()} | {"local"}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "carepath_intake_parked_total":
                assert sample.labels["system"] in names and sample.labels["channel"] in ("mllp", "fhir")


# --- the report ---------------------------------------------------------------------------------------------


def record(codes: list[tuple[str, str]], channel: str = "mllp") -> bytes:
    return parked(channel=channel, reason="unknown", raw=b"MSH|", received_at=NOW, codes=codes, stored=[])


def test_the_report_counts_inputs_per_code_most_frequent_first() -> None:
    values = [
        record([("99NGH", "PAINXYZ"), ("99NGH", "PAINXYZ")]),
        record([("99NGH", "PAINXYZ"), ("http://loinc.org", "99999-9")]),
        record([("http://loinc.org", "99999-9"), ("99NGH", "PAINXYZ"), ("99NGH", "pain at night")], "fhir"),
        b"not a parked record",
    ]
    found = report(values)
    assert found["parked"] == 3 and found["by_channel"] == {"fhir": 1, "mllp": 2}
    assert found["codes"] == [
        {"system": "99NGH", "code": "PAINXYZ", "count": 3, "label": "local"},
        {"system": "http://loinc.org", "code": "99999-9", "count": 2, "label": "LOINC"},
    ]
    assert found["codes_not_listed"] == 1 and found["unreadable"] == 1


def test_a_code_that_is_free_text_is_counted_never_printed() -> None:
    found = report([record([("99NGH", "Mrs Jane Smith says legs numb"), ("99NGH", "PAINXYZ")])])
    assert [c["code"] for c in found["codes"]] == ["PAINXYZ"] and found["codes_not_listed"] == 1
    printed = io.StringIO()
    print_report(found, printed)
    assert "Jane" not in printed.getvalue() and "1 more codes not listed" in printed.getvalue()


# --- placing what a replay reads ------------------------------------------------------------------------------


def test_a_reading_is_placed_against_what_was_stored() -> None:
    place = Placement((("m:0", "aaa"), ("m:1", "bbb"), ("m:2", "bbb")), complete=True)
    assert place.id_for("m:0", "aaa") == "m:0"  # the same content: the stored id, de-duplicated downstream
    assert place.id_for("m:5", "bbb") == "m:1"  # the same content under a shifted index: still its stored id
    assert place.id_for("m:6", "bbb") == "m:2"  # each stored copy taken once
    assert place.id_for("m:1", "ccc") == replay_id("m:1", "ccc")  # an id stored with other content
    assert place.id_for("m:3", "ddd") == "m:3"  # never stored: its own id
    unknown = Placement(None, complete=True)
    assert unknown.id_for("m:3", "ddd") == replay_id("m:3", "ddd")  # not known what was stored
    partial = Placement((("m:0", "aaa"),), complete=False)
    assert partial.id_for("m:3", "ddd") == replay_id("m:3", "ddd")
    again = Placement((("m:1~replay-0123456789ab", "eee"),), complete=True)
    assert again.id_for("m:1", "fff") == replay_id("m:1", "fff")  # m:1 was stored before that replay
    long = replay_id("x" * 200, "0123456789abcdef")
    assert len(long) == 200 and long.endswith("~replay-0123456789ab")


def test_triage_drops_a_fuller_reading_under_the_stored_id_and_reads_it_under_a_replay_id() -> None:
    """Why a replay does not reuse an id stored with other content: triage takes an id once."""
    first = {
        "specversion": "1.0",
        "id": PAIN_ID,
        "source": "urn:hl7v2:NGH",
        "type": "carepath.pain.reported.v1",
        "subject": "MRN-204731",
        "time": "2024-05-01T08:00:00.000Z",
        "data": {"nrs": 7, "site": ["thoracic"]},
    }
    fuller = {**first, "data": {**first["data"], "character": ["night_pain"]}}
    now = datetime(2024, 5, 2, tzinfo=UTC)
    state = evaluate(PatientState.empty("MRN-204731"), parse_event(first), now, pathway()).state
    same_id = evaluate(state, parse_event(fuller), now, pathway())
    assert same_id.duplicate and same_id.state == state  # the night pain would be lost
    digest = content_digest(fuller)
    own = evaluate(state, parse_event({**fuller, "id": replay_id(PAIN_ID, digest)}), now, pathway())
    assert not own.duplicate
    assert any("night_pain" in p.get("character", []) for p in own.state.raw["pain"])
    resent = evaluate(own.state, parse_event({**first}), now, pathway())
    assert resent.duplicate  # the same content under the stored id: de-duplicated


# --- replay in memory -----------------------------------------------------------------------------------------


def park(*messages: bytes) -> tuple[list[bytes], list[dict[str, Any]]]:
    """Each message sent to intake with the product's value sets only: the parked records and the events."""
    publisher = Batches()
    _, hl7, _ = channels(publisher)
    for message in messages:
        assert asyncio.run(hl7.handle(message)).ack == "AE"
    values = [r.value for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_PARKED]
    return values, publisher.on(topics.CLINICAL_EVENTS)


def replayed(
    values: list[bytes], site_file: Path | None, park_again: bool = False
) -> tuple[Summary, MemoryPublisher]:
    out = MemoryPublisher()
    publisher = ReplayPublisher(out, park_again=park_again)
    _, hl7, fhir = channels(publisher, site_file)
    return asyncio.run(Replay(publisher, hl7, fhir).run(values)), out


def test_a_replay_publishes_the_fuller_reading_under_its_own_id_and_parks_nothing(tmp_path: Path) -> None:
    values, stored = park(oru(ROW), oru(ROW))
    summary, out = replayed(values, site(tmp_path, ("99NGH", "PAINXYZ")))
    assert (summary.outcomes[WHOLE], summary.published) == (2, 1)  # the second copy: the same event, once
    [event] = [orjson.loads(r.value) for r in out.records]
    assert {r.topic for r in out.records} == {topics.CLINICAL_EVENTS}  # no dead letter, nothing parked
    assert event["id"] == replay_id(PAIN_ID, content_digest(event))
    assert event["data"]["character"] == ["night_pain"] and stored[0]["id"] == PAIN_ID
    assert {k: v for k, v in event.items() if k not in ("id", "data")} == {
        k: v for k, v in stored[0].items() if k not in ("id", "data")
    }
    _, again = replayed(values, site(tmp_path, ("99NGH", "PAINXYZ")))
    assert [r.value for r in again.records] == [out.records[0].value]  # replayed twice: the same id


def test_a_replay_still_missing_codes_says_so_and_parks_again_only_when_asked(tmp_path: Path) -> None:
    values, stored = park(oru(ROW, ROW_2))
    summary, out = replayed(values, None)
    assert summary.outcomes[STILL] == 1
    assert summary.still == {("99NGH", "PAINXYZ"): 1, ("99NGH", "PAINABC"): 1}
    [event] = [orjson.loads(r.value) for r in out.records]
    assert event == stored[0]  # the same content goes out under the stored id: consumers de-duplicate it
    summary, out = replayed(values, site(tmp_path, ("99NGH", "PAINXYZ")), park_again=True)
    assert summary.outcomes[PART] == 1
    printed = io.StringIO()
    print_replay(summary, printed)
    assert printed.getvalue().splitlines() == [
        "1 parked inputs read again: 0 read whole, 1 read in part, 0 still not read, "
        "0 refused for another reason, 0 could not be read again; 1 events published to clinical.events",
        "codes still not known, most frequent first:",
        "     1  99NGH (local)  PAINABC",
    ]
    events = [orjson.loads(r.value) for r in out.records if r.topic == topics.CLINICAL_EVENTS]
    [record] = [orjson.loads(r.value) for r in out.records if r.topic == topics.CLINICAL_EVENTS_PARKED]
    assert record["codes"] == [{"system": "99NGH", "code": "PAINABC"}]
    assert record["stored"] == [{"id": events[0]["id"], "sha256": content_digest(events[0])}]
    assert "~replay-" in events[0]["id"]


def test_a_replay_of_a_fhir_resource_refused_for_its_code_stores_it_under_its_own_id(tmp_path: Path) -> None:
    publisher = Batches()
    _, _, fhir = channels(publisher)
    unknown = pain_observation("pain-9", "MRN-204731", "2024-05-01T08:30:00Z", features=())
    unknown["component"] = [{"code": concept(LOCAL, "pain-xyz"), "valueBoolean": True}]
    unknown["code"] = concept(SNOMED, "22253000", "Pain")  # not a score carepath reads: refused
    asyncio.run(fhir.resource("Observation", orjson.dumps(unknown)))
    part = pain_observation(
        "pain-10", "MRN-204731", "2024-05-01T08:30:00Z", features=(concept(LOCAL, "pain-xyz"),)
    )
    asyncio.run(fhir.resource("Observation", orjson.dumps(part)))
    values = [r.value for r in publisher.records if r.topic == topics.CLINICAL_EVENTS_PARKED]
    assert len(values) == 2
    summary, out = replayed(values, site(tmp_path, (LOCAL, "pain-xyz")))
    assert summary.outcomes[STILL] == 1 and summary.outcomes[WHOLE] == 1  # SNOMED pain: not a code read
    assert summary.published == 1
    [event] = [orjson.loads(r.value) for r in out.records]
    assert event["id"].startswith("Observation/pain-10/_history/1~replay-")
    assert event["data"]["character"] == ["night_pain"]


def test_what_a_replay_gives_is_classified_by_the_codes_still_unknown() -> None:
    two = Parked("mllp", b"", (("99NGH", "A"), ("99NGH", "B")))
    assert classify(two, Outcome(published=1)) == WHOLE
    assert classify(two, Outcome(unknown={("99NGH", "B")}, parked=1)) == PART
    assert classify(two, Outcome(unknown={("99NGH", "A"), ("99NGH", "B")}, parked=1)) == STILL
    assert classify(two, Outcome(dead_letters=1)) == REFUSED  # its codes read, refused for something else
    assert parse(record([("99NGH", "A")])).stored == ()
    assert parse(parked(channel="fhir", reason="x", raw=b"{}", received_at=NOW, codes=[])).stored is None
    assert envelope.decode(record([])).get("codes") == []
