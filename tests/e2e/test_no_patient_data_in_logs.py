"""No patient identifier reaches any service's log, whatever path the input takes.

Every service runs as a real process on a real broker with its log captured (stdout and stderr). Inputs
carry *marked* identifiers — a name, an MRN, an NHS number, an address, a telephone number and free
text — and go down every path a message can take: accepted over HTTP, FHIR and MLLP; refused for a bad
field, an unknown code, an unreadable message, an oversize body, invalid JSON; acknowledged (found and
not found); unread by a worker (a poison record on the topic); escalated and reminded. Then every log line
of every service is searched for every marker, in the spellings a log could hold them in.

The services run at debug level: at info, the libraries' own lines (Faust, mode, aiokafka, kafka-python,
uvicorn) are held back below warnings, so only at debug does every one of their lines - tens of thousands,
Kafka clients dumping the records they send - go through the pipeline and the redactor, and must come out
as one JSON object each, without a banner, a terminal escape code or a marked identifier.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer

from carepath import auth, topics
from carepath_tools.broker import free_port
from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo
from tests.support.fhir import FHIR_JSON, LOINC, SNOMED, cancer_condition, concept, pain_observation
from tests.support.topics import TopicReader
from tests.unit.hl7 import samples

pytestmark = pytest.mark.e2e

SUFFIX = uuid.uuid4().hex[:6].upper()
MRN = f"MRKMRN{SUFFIX}"  # the patient id carepath keys on: an identifier too
NHS = "9434765919"  # a valid-checksum NHS number from the NHS test range
SURNAME = f"MARKSURNAME{SUFFIX}"
GIVEN = f"MARKGIVEN{SUFFIX}"
STREET = f"MARKSTREET{SUFFIX}"
PHONE = "07700900461"  # Ofcom's range for drama: never a real number
FREE_TEXT = f"MARKFREETEXT{SUFFIX}"
MARKERS = [MRN, NHS, "943 476 5919", SURNAME, GIVEN, STREET, PHONE, FREE_TEXT]


def pid() -> str:
    return (
        f"PID|1||{MRN}^^^RLH^MR~{NHS}^^^NHS^NH||{SURNAME}^{GIVEN}^^^MRS||19520314|F|||"
        f"17 {STREET}^^LONDON^^N1 9GU^GBR||{PHONE}"
    )


def msh(control_id: str, message_type: str) -> str:
    return samples.msh(control_id, message_type, app="EPR", when="20240501093000+0100")


def hl7(*segments: str, sep: str = "\r") -> bytes:
    return sep.join(segments).encode()


def mllp_exchange(port: int, frame: bytes, timeout: float = 15.0) -> bytes:
    """One frame out, what intake answers back (empty if it closed without answering)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(frame)
        reply = b""
        deadline = time.monotonic() + timeout
        while b"\x1c\r" not in reply and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            reply += chunk
        return reply


@pytest.fixture(scope="module")
def stack(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, int]]:
    log_dir: Path = tmp_path_factory.mktemp("no-patient-data")
    config = log_dir / "endpoints.yaml"
    config.write_text(json.dumps({"endpoints": []}))
    mllp_port = free_port()
    s = Stack(
        log_dir=log_dir,
        time_scale=3600.0,
        bootstrap=broker.bootstrap,
        profile=broker.profile,
        notifier_config=config,
        worklist=True,  # the page reads every topic the marked identifiers go through
        extra_env={
            "CAREPATH_INTAKE_MLLP_PORT": str(mllp_port),
            "CAREPATH_NOTIFIER_GROUP_ID": f"notifier-logs-{SUFFIX}",
            "CAREPATH_LOG_LEVEL": "debug",
        },
    )
    s.start(ready_timeout=90)
    yield s, mllp_port
    s.stop()


def post(s: Stack, path: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    # acknowledgements come from a clinician's system (its development token), the rest from an engine
    token = auth.DEV_ACK_TOKEN if path == "/v1/acknowledgements" else s.token
    return httpx.post(
        f"{s.intake_url}{path}",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=30,
    )


def native_event(event_id: str, data: dict[str, Any], when: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:hospital:epr",
        "type": "carepath.pain.reported.v1",
        "subject": MRN,
        "time": when.isoformat(),
        "data": data,
    }


def test_no_marked_identifier_in_any_service_log(broker: BrokerInfo, stack: tuple[Stack, int]) -> None:
    s, mllp_port = stack
    now = datetime.now(UTC)
    escalations = TopicReader(broker.bootstrap, topics.ESCALATIONS)
    try:
        # -- FHIR: a patient with every identifier, a cancer, a pain report (-> R1), an unknown code
        patient = {
            "resourceType": "Patient",
            "id": MRN,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}],
            "name": [{"family": SURNAME, "given": [GIVEN]}],
            "telecom": [{"system": "phone", "value": PHONE}],
            "address": [{"line": [f"17 {STREET}"], "city": "LONDON"}],
            "birthDate": "1952-03-14",
        }
        assert post(s, "/fhir/Patient", orjson.dumps(patient), FHIR_JSON).status_code < 500
        condition = cancer_condition("log-bc", MRN, (now - timedelta(days=300)).date().isoformat())
        assert post(s, "/fhir/Condition", orjson.dumps(condition), FHIR_JSON).status_code == 201
        pain = pain_observation(
            "log-pain", MRN, (now - timedelta(minutes=3)).isoformat(), note=[{"text": FREE_TEXT}]
        )
        assert post(s, "/fhir/Observation", orjson.dumps(pain), FHIR_JSON).status_code == 201
        unknown = {
            "resourceType": "Observation",
            "id": f"log-unknown-{SUFFIX}",
            "status": "final",
            "code": concept(LOINC, "99999-9", FREE_TEXT),
            "subject": {"reference": f"Patient/{MRN}", "display": f"{SURNAME} {GIVEN}"},
            "effectiveDateTime": now.isoformat(),
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "1"}], "text": FREE_TEXT},
            "note": [{"text": f"{FREE_TEXT} {NHS} {STREET}"}],
        }
        assert post(s, "/fhir/Observation", orjson.dumps(unknown), FHIR_JSON).status_code in (400, 422)
        assert (
            post(
                s,
                "/fhir/Observation",
                b'{"resourceType": "Observation", "note": "' + FREE_TEXT.encode(),
                FHIR_JSON,
            ).status_code
            == 400
        )

        # -- native JSON: accepted, invalid field, not JSON, oversize text field
        ok = native_event(
            f"log-ok-{SUFFIX}", {"nrs": 9, "site": ["lumbar"], "neurological": ["saddle_anaesthesia"]}, now
        )
        assert post(s, "/v1/events", orjson.dumps(ok)).status_code == 202
        bad = native_event(f"log-bad-{SUFFIX}", {"nrs": 14, "note": f"{FREE_TEXT} {NHS}"}, now)
        assert post(s, "/v1/events", orjson.dumps(bad)).status_code == 422
        assert post(s, "/v1/events", f'{{"subject": "{MRN}", "x": "{SURNAME}'.encode()).status_code == 400
        assert (
            post(s, "/v1/events", orjson.dumps(native_event(MRN, {"nrs": SURNAME}, now))).status_code == 422
        )

        # -- acknowledgements: an id followup does not know, and then the real R1
        clinician = {"id": "staff-logs-1", "role": "acute_oncology"}
        missing = {"patient_id": MRN, "target_id": "esc-0000000000000000", "on_behalf_of": clinician}
        assert post(s, "/v1/acknowledgements", orjson.dumps(missing)).status_code == 404
        [r1] = escalations.wait_for(
            lambda r: r.get("subject") == MRN and r["data"]["rule"]["id"] == "R1", timeout=60
        )
        ack = {
            "patient_id": MRN,
            "target_id": r1["data"]["escalation_id"],
            "on_behalf_of": clinician,
            "reason": FREE_TEXT,
        }
        deadline = time.monotonic() + 30  # until followup has read the escalation it is a 404
        while (status := post(s, "/v1/acknowledgements", orjson.dumps(ack)).status_code) == 404:
            assert time.monotonic() < deadline, "followup never learnt of the R1 escalation"
            time.sleep(0.5)
        assert status == 202

        # -- the worklist page: the patient's timeline, the alert, an override with a marked reason
        page = httpx.Client(base_url=s.worklist_url, timeout=30, headers={"Accept": "text/html"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.get("/login").text)
        assert csrf
        page.post("/login/dev", data={"name": "Dr Logs", "csrf": csrf.group(1)})
        alert = f"/alerts/{r1['data']['escalation_id']}"
        deadline = time.monotonic() + 30
        while (shown := page.get(alert)).status_code == 404:
            assert time.monotonic() < deadline, "the worklist never read the R1 escalation"
            time.sleep(0.5)
        assert page.get(f"/patients/{MRN}").status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)  # the logged-in session's token
        assert csrf
        form = {"csrf": csrf.group(1), "role": "consultant", "override": "on", "reason": f"{SURNAME} {PHONE}"}
        assert page.post(f"{alert}/acknowledge", data=form).status_code == 200

        # -- HL7 v2 over MLLP: read, unknown code with free text, unreadable, LF separators, two in one frame
        good = hl7(
            msh(f"LOG{SUFFIX}1", "ORU^R01^ORU_R01"),
            pid(),
            samples.PV1,
            "OBR|1|PA1||PAINASSESS^Pain assessment^L|||20240501090000+0100",
            "OBX|1|NM|72514-3^Pain severity^LN||7|{score}^score^UCUM|0-10||||F",
            f"NTE|1||{FREE_TEXT} lives at {STREET}",
        )
        assert b"MSA|A" in mllp_exchange(mllp_port, b"\x0b" + good + b"\x1c\r")
        unknown_code = hl7(
            msh(f"LOG{SUFFIX}2", "ORU^R01^ORU_R01"),
            pid(),
            "OBR|1|PA2||PAINASSESS^Pain assessment^L|||20240501090000+0100",
            f"OBX|1|CWE|LIMBWEAK^{FREE_TEXT}^99ZZ||Y^{SURNAME}^HL70136||||||F",
        )
        assert b"MSA|A" in mllp_exchange(mllp_port, b"\x0b" + unknown_code + b"\x1c\r")
        # a control id that runs into the next segment when the sender separates segments with LF
        lf = hl7(f"MSH|^~\\&|EPR|RLH|CAREPATH|RLH|20240501093000||ORU^R01|LOG{SUFFIX}6", pid(), sep="\n")
        assert mllp_exchange(mllp_port, b"\x0b" + lf + b"\x1c\r")
        two = hl7(msh(f"LOG{SUFFIX}3", "ORU^R01^ORU_R01"), pid(), msh(f"LOG{SUFFIX}4", "ADT^A08"), pid())
        assert mllp_exchange(mllp_port, b"\x0b" + two + b"\x1c\r")
        unreadable = f"NOT HL7 {SURNAME} {NHS} {STREET}".encode()
        mllp_exchange(mllp_port, b"\x0b" + unreadable + b"\x1c\r")
        latin = (
            hl7(msh(f"LOG{SUFFIX}5", "ADT^A08"), pid()).replace(b"UNICODE UTF-8", b"UNICODE UTF-8")
            + b"\r"
            + f"NTE|1||{FREE_TEXT} caf\xe9".encode("latin-1")
        )
        mllp_exchange(mllp_port, b"\x0b" + latin + b"\x1c\r")

        # -- a record no worker can read, straight onto the topic (the stream dead-letter path)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        poison = {
            "id": f"log-poison-{SUFFIX}",
            "type": "carepath.pain.reported.v1",
            "subject": MRN,
            "data": {"nrs": "eight", "note": f"{SURNAME} {NHS} {STREET} {PHONE}"},
        }
        producer.send(topics.CLINICAL_EVENTS, key=MRN.encode(), value=orjson.dumps(poison)).get(timeout=15)
        producer.send(topics.ESCALATIONS, key=MRN.encode(), value=f"{SURNAME} {NHS}".encode()).get(timeout=15)
        producer.close()

        # followup runs its reminders on a 3600x clock: a few seconds cover hours of the pathway
        time.sleep(8)
    finally:
        escalations.close()

    logs = {path.name: path.read_text(errors="replace") for path in s.log_dir.glob("*.log")}
    assert {"intake.log", "triage.log", "followup.log", "notifier.log", "worklist.log"} <= set(logs), sorted(
        logs
    )
    assert sum(len(text.splitlines()) for text in logs.values()) > 10, "the services logged nothing at all"
    loggers: dict[str, set[str]] = {}
    for name, text in logs.items():
        if name == "broker.log":
            continue
        service = name.removesuffix(".log")
        for number, line in enumerate(text.splitlines(), 1):
            try:
                entry = json.loads(line)
                assert isinstance(entry, dict)
            except (ValueError, AssertionError):
                pytest.fail(f"{name}:{number} is not one JSON object: {line[:120]!r}")
            where = f"{name}:{number}: {line[:160]!r}"
            assert {"event", "level", "timestamp"} <= entry.keys() and entry.get("service") == service, where
            assert "\x1b" not in line and "\\u001b" not in line, f"a terminal escape code in {where}"
            loggers.setdefault(service, set()).add(str(entry.get("logger", "carepath")).split(".")[0])
    # the libraries' lines are there, in the same format: they went through the same pipeline
    for worker in ("triage", "followup", "notifier"):
        assert {"aiokafka", "mode", "faust", "kafka"} <= loggers[worker], (worker, sorted(loggers[worker]))
    assert "kafka" in loggers["intake"], sorted(loggers["intake"])
    found = {
        (name, marker)
        for name, text in logs.items()
        if name != "broker.log"
        for marker in MARKERS
        if marker in text
    }
    assert not found, f"marked identifiers in logs: {sorted(found)}"
