"""A hospital's interfaces end to end, every service a real process on a real broker:

  HL7 v2 ORU^R01 over MLLP (pain report with leg weakness)  ┐
  FHIR R4 Condition over HTTP (active breast cancer)        ┴─▶ intake ─▶ triage: R1 MSCC_SUSPECTED
                                                                 ─▶ notifier ─▶ the ward's paging endpoint

The paging endpoint (a real HTTP server on 127.0.0.1) fails the first two attempts of every
notification; it must still receive the R1 escalation exactly once, signed, under one idempotency key.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from carepath import topics
from carepath_tools.broker import free_port
from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo
from tests.support.fhir import cancer_condition, pain_observation
from tests.support.hospital import oru_pain_report, post_fhir, r1_for, send_mllp
from tests.support.topics import TopicReader
from tests.support.webhook import Receiver

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + base64.b64encode(b"ward-pager-secret-ward-pager-0001").decode()


@dataclass
class Hospital:
    stack: Stack
    pager: Receiver
    mllp_port: int

    def fhir(self, resource: dict[str, Any]) -> httpx.Response:
        return post_fhir(self.stack, resource)

    def mllp(self, message: str) -> str:
        return send_mllp(self.mllp_port, message)


@pytest.fixture(scope="module")
def hospital(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hospital]:
    log_dir = tmp_path_factory.mktemp("hospital")
    pager = Receiver(fail_first=2, secret=SECRET).start()
    config = log_dir / "endpoints.yaml"
    config.write_text(
        json.dumps(
            {
                "endpoints": [
                    {
                        "name": "ward-pager",
                        "url": pager.url,
                        "secret_env": "CAREPATH_E2E_PAGER_SECRET",
                        "retry": {"attempts": 6, "base_s": 0.3, "cap_s": 1.0},
                        "receive": {"escalations": {"severities": ["emergency"], "changes": ["raised"]}},
                    }
                ]
            }
        )
    )
    mllp_port = free_port()
    stack = Stack(
        log_dir=log_dir,
        bootstrap=broker.bootstrap,
        profile=broker.profile,
        notifier_config=config,
        extra_env={
            "CAREPATH_INTAKE_MLLP_PORT": str(mllp_port),
            "CAREPATH_E2E_PAGER_SECRET": SECRET,
            "CAREPATH_NOTIFIER_GROUP_ID": f"notifier-e2e-{uuid.uuid4().hex[:6]}",
        },
    )
    stack.start(ready_timeout=90)
    yield Hospital(stack, pager, mllp_port)
    stack.stop()
    pager.stop()


def assert_paged_exactly_once(pager: Receiver, esc: dict[str, Any]) -> None:
    [delivered] = pager.wait_for(lambda r: r.key == esc["id"], timeout=40)
    time.sleep(3)  # long enough for any duplicate to arrive
    attempts = pager.matching(lambda r: r.key == esc["id"])
    assert [r.status for r in attempts] == [503, 503, 200], "two refusals, then exactly one delivery"
    assert [r.headers["x-carepath-delivery-attempt"] for r in attempts] == ["1", "2", "3"]
    assert {r.headers["webhook-id"] for r in attempts} == {esc["id"]}
    assert all(r.verified for r in attempts)  # by the Standard Webhooks library, as the pager's would
    assert delivered.json() == esc
    assert len(pager.delivered(lambda r: r.json().get("subject") == esc["subject"])) == 1


@pytest.fixture
def escalations(broker: BrokerInfo) -> Iterator[TopicReader]:
    reader = TopicReader(broker.bootstrap, topics.ESCALATIONS)
    yield reader
    reader.close()


def test_hl7_pain_report_and_fhir_breast_cancer_raise_r1_paged_exactly_once(
    hospital: Hospital, escalations: TopicReader
) -> None:
    mrn = f"MRN{uuid.uuid4().hex[:10].upper()}"
    now = datetime.now(UTC)
    condition = cancer_condition("bc-1", mrn, (now - timedelta(days=400)).date().isoformat())
    assert hospital.fhir(condition).status_code == 201
    assert hospital.mllp(oru_pain_report(f"{mrn}-1", mrn, now - timedelta(minutes=5))) == "AA"
    esc = r1_for(escalations, mrn)
    d = esc["data"]
    assert d["severity"] == "emergency"
    assert {e["event_type"] for e in d["evidence"]} >= {
        "carepath.diagnosis.recorded.v1",
        "carepath.pain.reported.v1",
    }
    assert "Condition/bc-1/_history/1" in {e["event_id"] for e in d["evidence"]}
    assert_paged_exactly_once(hospital.pager, esc)


def test_fhir_pain_observation_and_condition_raise_r1_paged_exactly_once(
    hospital: Hospital, escalations: TopicReader
) -> None:
    mrn = f"MRN{uuid.uuid4().hex[:10].upper()}"
    now = datetime.now(UTC)
    assert (
        hospital.fhir(cancer_condition("bc-2", mrn, (now - timedelta(days=90)).isoformat())).status_code
        == 201
    )
    pain = pain_observation("pain-2", mrn, (now - timedelta(minutes=2)).isoformat())
    assert hospital.fhir(pain).status_code == 201
    esc = r1_for(escalations, mrn)
    assert "Observation/pain-2/_history/1" in {e["event_id"] for e in esc["data"]["evidence"]}
    assert_paged_exactly_once(hospital.pager, esc)


def test_the_notifier_reports_its_deliveries(hospital: Hospital, escalations: TopicReader) -> None:
    hospital.pager.wait_for(lambda r: True, timeout=40)
    text = httpx.get(f"{hospital.stack.services['notifier'].url}/metrics", timeout=5).text
    assert 'carepath_notifier_deliveries_total{endpoint="ward-pager",outcome="delivered"}' in text
    assert 'carepath_notifier_attempts_total{endpoint="ward-pager",result="http_5xx"}' in text
    assert "MRN" not in text
