"""One trace from the hospital's message to the receiver's delivery, every service a real process exporting
by OTLP (as ``OTEL_EXPORTER_OTLP_ENDPOINT`` asks) to a collector on 127.0.0.1:

  HL7 v2 ORU^R01 over MLLP ─▶ intake ─▶ triage (R1) ─▶ followup ─▶ reminder ─▶ notifier ─▶ the ward's pager
  FHIR R4 Observation over HTTP, with the engine's traceparent ─▶ ... ─▶ notifier ─▶ the ward's pager

The trace context crosses Kafka in each event (CloudEvents ``traceparent``); no span carries a patient id,
an event id or a clinical value.
"""

from __future__ import annotations

import base64
import json
import secrets
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
from tests.support.otlp import Collector, Exported
from tests.support.topics import TopicReader
from tests.support.webhook import Receiver

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + base64.b64encode(b"ward-pager-secret-ward-pager-0002").decode()
NHS_NUMBER = "9434765919"  # samples.pid's


@dataclass
class Traced:
    stack: Stack
    pager: Receiver
    collector: Collector
    mllp_port: int

    def fhir(self, resource: dict[str, Any], traceparent: str | None = None) -> httpx.Response:
        return post_fhir(self.stack, resource, traceparent)

    def mllp(self, message: str) -> str:
        return send_mllp(self.mllp_port, message)


@pytest.fixture(scope="module")
def traced(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    log_dir = tmp_path_factory.mktemp("traced")
    collector = Collector().start()
    pager = Receiver(secret=SECRET).start()
    config = log_dir / "endpoints.yaml"
    config.write_text(
        json.dumps(
            {
                "endpoints": [
                    {
                        "name": "ward-pager",
                        "url": pager.url,
                        "secret_env": "CAREPATH_E2E_PAGER_SECRET",
                        "receive": {
                            "escalations": {"severities": ["emergency"], "changes": ["raised"]},
                            "reminders": {"expectations": ["F3"], "levels": [1]},
                        },
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
            "CAREPATH_NOTIFIER_GROUP_ID": f"notifier-traced-{uuid.uuid4().hex[:6]}",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        },
    )
    stack.start(ready_timeout=90)
    yield Traced(stack, pager, collector, mllp_port)
    stack.stop()
    pager.stop()
    collector.stop()


@pytest.fixture
def escalations(broker: BrokerInfo) -> Iterator[TopicReader]:
    reader = TopicReader(broker.bootstrap, topics.ESCALATIONS)
    yield reader
    reader.close()


def ids(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def one(collector: Collector, trace_id: str, service: str, name: str, parent: str) -> Exported:
    """The span ``name`` of ``service`` in the trace, child of ``parent``: waited for (spans are exported
    in batches), and there must be exactly one."""
    found = collector.wait_for(
        lambda s: (
            s.trace_id == trace_id and s.service == service and s.name == name and s.parent_id == parent
        ),
        timeout=30,
    )
    assert len(found) == 1, (service, name, [s for s in collector.spans if s.trace_id == trace_id])
    return found[0]


def assert_no_patient_data(collector: Collector, *secrets_: str) -> None:
    for s in collector.spans:
        text = json.dumps([s.name, s.attributes, s.status_message])
        for value in secrets_:
            assert value not in text, f"span {s.name} of {s.service} carries {value!r}"


def test_an_hl7_message_is_one_trace_through_triage_followup_a_reminder_and_the_deliveries(
    traced: Traced, escalations: TopicReader
) -> None:
    mrn = f"MRN{uuid.uuid4().hex[:10].upper()}"
    now = datetime.now(UTC)
    condition = cancer_condition(f"bc-{mrn}", mrn, (now - timedelta(days=400)).date().isoformat())
    assert traced.fhir(condition).status_code == 201
    # The pain report is 25 hours old, so the whole-spine MRI expected within 24 hours of it (F3) is
    # already overdue when the escalation opens it: its reminder goes out at once.
    control = f"{mrn}-1"
    assert traced.mllp(oru_pain_report(control, mrn, now - timedelta(hours=25))) == "AA"
    esc = r1_for(escalations, mrn, timeout=60)
    trace_id, triage_span = ids(esc["traceparent"])
    c = traced.collector

    [intake] = c.wait_for(lambda s: s.trace_id == trace_id and s.service == "carepath-intake", timeout=30)
    assert (intake.name, intake.kind, intake.parent_id) == ("intake mllp", "server", "")
    assert intake.attributes["carepath.events.accepted"] >= 1
    triage = one(c, trace_id, "carepath-triage", "triage evaluate", intake.span_id)
    assert triage.span_id == triage_span and triage.kind == "consumer"
    assert triage.attributes["cloudevents.event_type"] == "carepath.pain.reported.v1"
    # followup reads each escalation the report raised (R1, and any other) as a span of triage's
    applied = c.wait_for(
        lambda s: s.trace_id == trace_id and s.name == "followup apply" and s.parent_id == triage.span_id,
        timeout=30,
    )
    assert applied and {s.attributes["cloudevents.event_type"] for s in applied} == {
        "carepath.escalation.raised.v1"
    }
    paged = one(c, trace_id, "carepath-notifier", "notifier deliver", triage.span_id)
    assert (paged.kind, paged.attributes["carepath.outcome"]) == ("client", "success")

    reminded = traced.pager.wait_for(
        lambda r: r.json().get("subject") == mrn and "reminder" in r.json()["type"], timeout=60
    )
    assert reminded, "the overdue F3 reminder was not delivered"
    reminder = reminded[0].json()
    assert ids(reminder["traceparent"])[0] == trace_id  # the reminder's trace is the message's
    f3 = {"carepath.expectation": "F3", "carepath.reminder.kind": "overdue", "carepath.reminder.level": 1}
    [remind] = c.wait_for(
        lambda s: (
            s.name == "followup remind" and s.parent_id in {a.span_id for a in applied} and s.attributes == f3
        ),
        timeout=30,
    )
    delivery = one(c, trace_id, "carepath-notifier", "notifier deliver", remind.span_id)
    # the pager was told the trace context of the delivery, so its own spans can join the trace
    assert ids(reminded[0].headers["traceparent"]) == (trace_id, delivery.span_id)
    assert_no_patient_data(c, mrn, NHS_NUMBER, control, "SMITH")


def test_a_fhir_resource_continues_the_engines_trace_through_to_the_delivery(
    traced: Traced, escalations: TopicReader
) -> None:
    mrn = f"MRN{uuid.uuid4().hex[:10].upper()}"
    now = datetime.now(UTC)
    assert (
        traced.fhir(cancer_condition(f"bc-{mrn}", mrn, (now - timedelta(days=90)).isoformat())).status_code
        == 201
    )
    engine_trace, engine_span = secrets.token_hex(16), secrets.token_hex(8)
    pain = pain_observation(f"pain-{mrn}", mrn, (now - timedelta(minutes=2)).isoformat())
    assert traced.fhir(pain, traceparent=f"00-{engine_trace}-{engine_span}-01").status_code == 201
    esc = r1_for(escalations, mrn, timeout=60)
    trace_id, triage_span = ids(esc["traceparent"])
    assert trace_id == engine_trace  # intake continued the integration engine's trace
    c = traced.collector

    intake = one(c, trace_id, "carepath-intake", "intake fhir", engine_span)
    assert intake.kind == "server"
    triage = one(c, trace_id, "carepath-triage", "triage evaluate", intake.span_id)
    assert triage.span_id == triage_span
    assert c.wait_for(
        lambda s: s.trace_id == trace_id and s.name == "followup apply" and s.parent_id == triage.span_id,
        timeout=30,
    )
    delivery = one(c, trace_id, "carepath-notifier", "notifier deliver", triage.span_id)
    [paged] = traced.pager.wait_for(lambda r: r.key == esc["id"], timeout=30)
    assert ids(paged.headers["traceparent"]) == (trace_id, delivery.span_id)
    assert_no_patient_data(c, mrn, f"pain-{mrn}", "Observation/")
