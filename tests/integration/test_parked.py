"""Input carepath cannot read whole because of a code it does not know is parked, counted, reported and,
once a site file maps the code, read again: intake as a real process on a real broker, the commands as a
hospital's operator runs them (subprocesses, in intake's environment)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from carepath import topics
from carepath.deadletter import validate_parked_record
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.integration.test_mllp import MllpClient, msa, start_intake
from tests.support.topics import TopicReader

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LOCAL_OBS = "https://fhir.harbourview.example/CodeSystem/observations"
FHIR = {"Authorization": f"Bearer {DEV_TOKEN}", "Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int]]:
    svc, mllp_port = start_intake(broker.bootstrap, broker.profile, tmp_path_factory.mktemp("intake-parked"))
    yield svc, mllp_port
    svc.stop()


def command(svc: Service, *args: str, site: Path | None = None) -> str:
    """``python -m intake.parked`` in intake's own environment (and the site file, when given)."""
    env = dict(svc.env)
    if site is not None:
        env["CAREPATH_TERMINOLOGY_SITE"] = str(site)
    done = subprocess.run(
        [sys.executable, "-m", "intake.parked", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reading" in done.stderr  # progress goes to stderr, the result alone to stdout
    return done.stdout


def parked_total(url: str, channel: str, system: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    labels = (f'channel="{channel}"', f'system="{system}"')
    for line in text.splitlines():
        if line.startswith("carepath_intake_parked_total{") and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def oru(run: int, patient: str, row: str) -> str:
    """A pain assessment from a hospital's EPR: the score, and a flowsheet row in its own coding system."""
    return "\r".join(
        [
            f"MSH|^~\\&|EPR|HARBOURVIEW|CAREPATH|CAREPATH|20240501093000+0100||ORU^R01^ORU_R01|HV-{run}|P|2.5.1",
            f"PID|1||{patient}^^^HV^MR||DOE^ALEX||19580314|F",
            "OBR|1||PA1|PAINASSESS^Pain assessment^99ZZZ|||20240501090000+0100",
            "OBX|1|NM|72514-3^Pain severity 0-10 NRS^LN||7|{score}^{score}^UCUM|0-10||||F|||20240501090000+0100"
            "||||||122495006^Thoracic spine structure^SCT",
            "OBX|2|CWE|limb_weakness^Limb weakness^99CP||N^No^HL70136||||||F",
            f"OBX|3|CWE|{row}^Pain something^99ZZZ||Y^Yes^HL70136||||||F",
        ]
    )


def site_file(path: Path, row: str, local_code: str) -> Path:
    """The hospital's overlay: its two code systems, and its codes added to value sets carepath has."""
    path.write_text(
        "site: harbourview\n"
        'version: "1"\n'
        "systems:\n"
        f"  - {{uri: {LOCAL_OBS}, name: Harbourview observations}}\n"
        "  - {uri: https://fhir.harbourview.example/CodeSystem/v2-local, name: Harbourview v2, aliases: [99ZZZ]}\n"
        "value_sets:\n"
        "  - id: finding.night_pain\n"
        "    include:\n"
        f"      - {{system: 99ZZZ, codes: [{{code: {row}, display: Pain waking at night}}]}}\n"
        "  - id: observation.symptom\n"
        "    include:\n"
        f"      - {{system: {LOCAL_OBS}, codes: [{{code: {local_code}, display: Symptom assessment}}]}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "carepath.terminology", "--site", str(path), "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return path


def test_unknown_codes_are_parked_reported_and_read_again_once_mapped(
    broker: BrokerInfo, intake: tuple[Service, int], tmp_path: Path
) -> None:
    svc, mllp_port = intake
    run = time.time_ns() % 10**9
    row, local_code = f"PAINXYZ{run}", f"SYM{run}"
    hl7_patient, fhir_patient = f"HV{run}A", f"HV{run}B"
    mllp_before = parked_total(svc.url, "mllp", "local")
    fhir_before = parked_total(svc.url, "fhir", "local")

    # HL7: answered AE naming the row; the score is stored; sent twice, as an engine resends after an AE
    client = MllpClient(mllp_port)
    try:
        acks = [client.send(oru(run, hl7_patient, row)) for _ in range(2)]
    finally:
        client.close()
    for ack in acks:
        assert msa(ack) == ("AE", f"HV-{run}")
        assert row in str(ack.segment("ERR")) and "99ZZZ" in str(ack.segment("ERR"))

    # FHIR: a symptom under the hospital's own observation code is refused, naming the code
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"sym-{run}",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": LOCAL_OBS, "code": local_code, "display": "Symptom"}]},
        "subject": {"reference": f"Patient/{fhir_patient}"},
        "effectiveDateTime": "2024-05-01T09:30:00+01:00",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "26544005"}]},
    }
    answer = httpx.put(f"{svc.url}/fhir/Observation/sym-{run}", json=resource, headers=FHIR, timeout=30)
    assert answer.status_code == 422, answer.text
    assert answer.json()["issue"][0]["code"] == "code-invalid" and local_code in answer.text

    # parked: the raw input, the codes, the events stored from it; counted by channel and code system
    parked = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_PARKED)
    try:
        mine = parked.wait_for(
            lambda r: any(c.get("code") in (row, local_code) for c in r.get("codes", [])), count=3
        )
    finally:
        parked.close()
    assert all(validate_parked_record(r) == [] for r in mine)
    hl7_records = [r for r in mine if r["channel"] == "mllp"]
    [fhir_record] = [r for r in mine if r["channel"] == "fhir"]
    assert len(hl7_records) == 2
    assert hl7_records[0]["codes"] == [{"system": "99ZZZ", "code": row}]
    assert hl7_records[0]["raw"] == oru(run, hl7_patient, row)
    assert [e["id"] for e in hl7_records[0]["stored"]] == [f"hl7v2:HARBOURVIEW:HV-{run}:0"]
    assert fhir_record["codes"] == [{"system": LOCAL_OBS, "code": local_code}]
    assert fhir_record["stored"] == [] and json.loads(fhir_record["raw"]) == resource
    assert parked_total(svc.url, "mllp", "local") == mllp_before + 2
    assert parked_total(svc.url, "fhir", "local") == fhir_before + 1

    # the report: every code seen but not mapped, with its count and code system
    found = json.loads(command(svc, "report", "--json"))
    listed = {(c["system"], c["code"]): c for c in found["codes"]}
    assert listed[("99ZZZ", row)]["count"] == 2 and listed[("99ZZZ", row)]["label"] == "local"
    assert listed[(LOCAL_OBS, local_code)]["count"] == 1
    text = command(svc, "report")
    [line] = [line for line in text.splitlines() if line.endswith(f"  {row}")]
    assert line.split()[0] == "2" and "99ZZZ (local)" in line
    assert text.splitlines()[0].startswith(f"{found['parked']} parked inputs")

    # once a site file maps both codes, replay reads them and publishes what now reads
    site = site_file(tmp_path / "terminology.yaml", row, local_code)
    summary = command(svc, "replay", site=site)
    assert "parked inputs read again:" in summary and " read whole" in summary

    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    try:
        # the score stored when the message arrived, without the row; then the fuller reading, under an id
        # of its own (the stored id would be taken by triage for a resend and dropped)
        [first] = events.wait_for(lambda r: r.get("id") == f"hl7v2:HARBOURVIEW:HV-{run}:0")
        assert "night_pain" not in first["data"].get("character", [])
        [again] = events.wait_for(
            lambda r: r.get("subject") == hl7_patient and "~replay-" in str(r.get("id"))
        )
        assert again["id"].startswith(f"hl7v2:HARBOURVIEW:HV-{run}:0~replay-")
        assert again["data"]["character"] == ["night_pain"] and again["data"]["nrs"] == 7
        # the FHIR symptom was never stored: it goes out under its own id
        [symptom] = events.wait_for(lambda r: r.get("subject") == fhir_patient)
        assert symptom["id"] == f"Observation/sym-{run}/_history/1"
        assert symptom["type"] == "carepath.symptom.recorded.v1"
        assert symptom["data"]["neurological"] == ["limb_weakness"]

        # replayed again, the same reading goes out under the same ids: consumers de-duplicate it
        command(svc, "replay", site=site)
        mine_now = events.wait_for(lambda r: r.get("subject") in (hl7_patient, fhir_patient), count=5)
        assert {r["id"] for r in mine_now} == {first["id"], again["id"], symptom["id"]}
    finally:
        events.close()

    # nothing was parked again by the replays
    parked = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_PARKED)
    try:
        parked.settle(1.0)
        assert (
            len([r for r in parked.records if r.get("codes") and r["codes"][0]["code"] in (row, local_code)])
            == 3
        )
    finally:
        parked.close()


def test_a_resource_stored_with_a_part_not_read_is_parked_and_its_fuller_reading_published(
    broker: BrokerInfo, intake: tuple[Service, int], tmp_path: Path
) -> None:
    svc, _ = intake
    run = time.time_ns() % 10**9
    patient, part_code = f"HV{run}C", f"NIGHT{run}"
    pain: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"pain-{run}",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2024-05-01T09:30:00+01:00",
        "valueInteger": 6,
        "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "122495006"}]},
        "component": [
            {"code": {"coding": [{"system": LOCAL_OBS, "code": part_code}]}, "valueBoolean": True},
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": pain, "request": {"method": "POST", "url": "Observation"}}],
    }
    answer = httpx.post(f"{svc.url}/fhir", json=bundle, headers=FHIR, timeout=30)
    assert answer.status_code == 200, answer.text
    [entry] = answer.json()["entry"]
    assert entry["response"]["status"] == "201 Created"
    assert any(
        i["severity"] == "warning" and part_code in i["diagnostics"]
        for i in entry["response"]["outcome"]["issue"]
    )

    parked = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_PARKED)
    try:
        [record] = parked.wait_for(lambda r: any(c.get("code") == part_code for c in r.get("codes", [])))
    finally:
        parked.close()
    assert json.loads(record["raw"]) == pain  # the entry's resource as received
    assert [e["id"] for e in record["stored"]] == [f"Observation/pain-{run}/_history/1"]

    site = tmp_path / "terminology.yaml"
    site.write_text(
        "site: harbourview\n"
        'version: "1"\n'
        "systems:\n"
        f"  - {{uri: {LOCAL_OBS}, name: Harbourview observations}}\n"
        "value_sets:\n"
        "  - id: finding.night_pain\n"
        "    include:\n"
        f"      - {{system: {LOCAL_OBS}, codes: [{{code: {part_code}}}]}}\n",
        encoding="utf-8",
    )
    command(svc, "replay", site=site)
    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    try:
        stored = events.wait_for(lambda r: r.get("subject") == patient, count=2)
    finally:
        events.close()
    by_id = {r["id"]: r for r in stored}
    assert "night_pain" not in by_id[f"Observation/pain-{run}/_history/1"]["data"].get("character", [])
    [fuller] = [r for i, r in by_id.items() if i.startswith(f"Observation/pain-{run}/_history/1~replay-")]
    assert fuller["data"]["character"] == ["night_pain"]
