"""Input carepath cannot read whole because of a code it does not know is parked, counted, reported and,
once the site file maps the code, read again: intake as a real process on a real broker, the commands as
a hospital's operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from carepath import topics
from carepath.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.integration.test_mllp import MllpClient, msa, start_intake
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOCAL_OBS = "https://fhir.harbourview.example/CodeSystem/observations"


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int]]:
    svc, mllp_port = start_intake(broker.bootstrap, broker.profile, tmp_path_factory.mktemp("intake-parked"))
    yield svc, mllp_port
    svc.stop()


def command(broker: BrokerInfo, *args: str, site: Path | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CAREPATH_BROKER_PROFILE": broker.profile,
        "CAREPATH_ENVIRONMENT": "test",
        "CAREPATH_INTAKE_TOKENS": DEV_TOKEN,
        "CAREPATH_SITE_TIMEZONE": "Europe/London",
    }
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
    return done.stdout


def parked_count(url: str, channel: str, system: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    labels = (f'channel="{channel}"', f'system="{system}"')
    for line in text.splitlines():
        if line.startswith("carepath_intake_parked_total{") and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_unknown_codes_are_parked_reported_and_read_again_once_mapped(
    broker: BrokerInfo, intake: tuple[Service, int], tmp_path: Path
) -> None:
    svc, mllp_port = intake
    run = time.time_ns() % 10**9
    row, local_code = f"PNX{run}", f"SYM{run}"
    hl7_patient, fhir_patient = f"HV{run}A", f"HV{run}B"
    before = parked_count(svc.url, "mllp", "local")

    # HL7: a pain score with a flowsheet row in the hospital's local coding system, as its EPR sends it
    oru = "\r".join(
        [
            f"MSH|^~\\&|EPR|HARBOURVIEW|CAREPATH|CAREPATH|20240501093000+0100||ORU^R01^ORU_R01|HV-{run}|P|2.5.1",
            f"PID|1||{hl7_patient}^^^HV^MR||DOE^ALEX||19580314|F",
            "OBR|1||PA1|PAINASSESS^Pain assessment^99HV|||20240501090000+0100",
            "OBX|1|NM|72514-3^Pain severity 0-10 NRS^LN||7|{score}^{score}^UCUM|0-10||||F|||20240501090000+0100"
            "||||||122495006^Thoracic spine structure^SCT",
            f"OBX|2|CWE|{row}^Night pain disturbing sleep^99HV||Y^Yes^HL70136||||||F|||20240501090000+0100",
        ]
    )
    client = MllpClient(mllp_port)
    try:
        ack = client.send(oru)
    finally:
        client.close()
    assert msa(ack) == ("AE", f"HV-{run}")
    assert row in str(ack.segment("ERR"))

    # FHIR: a symptom recorded under the hospital's own observation code
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"sym-{run}",
        "status": "final",
        "code": {"coding": [{"system": LOCAL_OBS, "code": local_code, "display": "Symptom"}]},
        "subject": {"reference": f"Patient/{fhir_patient}"},
        "effectiveDateTime": "2024-05-01T09:30:00+01:00",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "26544005"}]},
    }
    answer = httpx.put(
        f"{svc.url}/fhir/Observation/sym-{run}",
        json=resource,
        headers={"Authorization": f"Bearer {DEV_TOKEN}", "Content-Type": "application/fhir+json"},
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert local_code in answer.text

    parked = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_PARKED)
    mine = parked.wait_for(
        lambda r: any(c.get("code") in (row, local_code) for c in r.get("codes", [])), count=2
    )
    assert {r["channel"] for r in mine} == {"mllp", "fhir"}
    assert all(r["raw"] for r in mine)
    assert parked_count(svc.url, "mllp", "local") == before + 1

    found = json.loads(command(broker, "report", "--json"))
    listed = {(c["system"], c["code"]): c["count"] for c in found["codes"]}
    assert listed[("99HV", row)] == 1 and listed[(LOCAL_OBS, local_code)] == 1

    site = tmp_path / "terminology.yaml"
    site.write_text(
        "site: harbourview\n"
        'version: "1"\n'
        "systems:\n"
        f"  - {{uri: {LOCAL_OBS}, name: Harbourview observations}}\n"
        "  - {uri: https://fhir.harbourview.example/CodeSystem/v2-local, name: Harbourview v2, aliases: [99HV]}\n"
        "value_sets:\n"
        "  - id: finding.night_pain\n"
        "    include:\n"
        f"      - {{system: 99HV, codes: [{{code: {row}}}]}}\n"
        "  - id: observation.symptom\n"
        "    include:\n"
        f"      - {{system: {LOCAL_OBS}, codes: [{{code: {local_code}}}]}}\n",
        encoding="utf-8",
    )
    summary = command(broker, "replay", site=site)
    assert "parked inputs read again" in summary

    events = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS)
    [pain] = events.wait_for(
        lambda r: r.get("subject") == hl7_patient and str(r.get("id", "")).endswith("~replayed")
    )
    assert pain["data"]["character"] == ["night_pain"] and pain["data"]["nrs"] == 7
    [symptom] = events.wait_for(lambda r: r.get("subject") == fhir_patient)
    assert symptom["type"] == "carepath.symptom.recorded.v1"
    assert symptom["data"]["neurological"] == ["limb_weakness"]
