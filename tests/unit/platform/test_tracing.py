"""Tracing (carepath.tracing) with the OpenTelemetry SDK's in-memory span exporter: the settings that turn
it on, the W3C trace context read and written, and one HL7 message and one FHIR resource followed through
intake, triage, followup (the escalation, then the reminder it leads to) and the notifier's delivery, each
stage run as its worker runs it, over the in-memory seams (publisher, table, HTTP transport). The same
chain across real processes, exported by OTLP, is tests/e2e/test_tracing.py."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from carepath import envelope, topics, tracing
from carepath.resources import pathways_dir
from followup import batch as followup_batch
from followup.core import load_pathway as load_followup
from intake.admission import admit
from intake.app import create_app
from intake.hl7.handler import Hl7Intake
from intake.publisher import MemoryPublisher, Record
from intake.service import Intake
from intake.settings import IntakeSettings
from notifier.config import Endpoint, EscalationRoute, ReminderRoute, Retry
from notifier.courier import Courier, Job
from notifier.payloads import payload
from tests.support.fhir import FHIR_JSON, cancer_condition, pain_observation
from tests.unit.hl7 import samples
from triage import batch as triage_batch
from triage.core import load_pathway as load_triage

pytestmark = pytest.mark.unit

TRIAGE = load_triage(pathways_dir() / "mscc")
FOLLOWUP = load_followup(pathways_dir() / "mscc")
ENGINE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the W3C specification's example
TOKEN = "test-token-test-token-test-token"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure("test", exporter=exporter)
    yield exporter
    tracing.shutdown()


def ids(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def parent_of(s: ReadableSpan) -> str:
    return f"{s.parent.span_id:016x}" if s.parent is not None else ""


def span_id(s: ReadableSpan) -> str:
    return f"{s.context.span_id:016x}"


# --- settings and the trace context ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_tracing_is_off_unless_the_otel_settings_ask_for_it(
    environ: dict[str, str], wanted: str | None
) -> None:
    assert tracing.wanted(environ) == wanted


def test_an_exporter_carepath_cannot_use_is_named() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER='zipkin'"):
        tracing.wanted({"OTEL_TRACES_EXPORTER": "zipkin"})


@pytest.mark.parametrize(
    "value",
    [
        "not a trace",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
        42,
    ],
)
def test_a_malformed_trace_context_is_not_taken(value: object) -> None:
    assert tracing.valid(value) is None
    assert tracing.parent_of({"traceparent": value}) is None


def test_untraced_a_span_passes_the_parents_context_on() -> None:
    assert not tracing.enabled()
    with tracing.span("triage evaluate", ENGINE) as span:
        span.set("carepath.escalations", 1)
        assert span.traceparent == ENGINE
    with tracing.span("triage evaluate", None) as span:
        assert span.traceparent is None


def test_traced_a_span_is_the_child_of_its_parent_and_the_parent_of_what_follows(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("triage evaluate", ENGINE, attributes={"messaging.system": "kafka"}) as span:
        assert span.traceparent is not None and span.traceparent != ENGINE
    [done] = spans.get_finished_spans()
    assert ids(span.traceparent) == (ids(ENGINE)[0], span_id(done))
    assert parent_of(done) == ids(ENGINE)[1]
    with tracing.span("intake http", None) as root:
        pass
    assert ids(root.traceparent or "")[0] != ids(ENGINE)[0]  # no parent: a new trace


def test_a_failure_is_recorded_by_its_type_never_its_message(spans: InMemorySpanExporter) -> None:
    with pytest.raises(KeyError), tracing.span("followup apply", None):
        raise KeyError("MRN-204731")
    [done] = spans.get_finished_spans()
    assert done.status.status_code is StatusCode.ERROR and done.status.description == "KeyError"
    assert "MRN" not in json.dumps(
        [done.status.description, [e.name for e in done.events], dict(done.attributes or {})]
    )


def test_intake_puts_its_own_context_on_an_event_and_a_retry_traced_afresh_is_the_same_event() -> None:
    event = json.loads(
        (samples_dir := pathways_dir().parent / "schemas" / "examples")
        .joinpath(
            "carepath.pain.reported.v1",
            "valid",
            sorted(p.name for p in (samples_dir / "carepath.pain.reported.v1" / "valid").iterdir())[0],
        )
        .read_text()
    )
    now = datetime.now(UTC)
    first = admit({**event, "traceparent": ENGINE}, now, timedelta(days=36500), traceparent=None)
    ours = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    again = admit({**event, "traceparent": ours}, now, timedelta(days=36500), traceparent=ours)
    untraced = admit(event, now, timedelta(days=36500))
    assert first.digest == again.digest == untraced.digest  # type: ignore[union-attr]
    assert orjson.loads(first.value)["traceparent"] == ENGINE  # type: ignore[union-attr]  # passed on
    assert orjson.loads(again.value)["traceparent"] == ours  # type: ignore[union-attr]


# --- one HL7 message and one FHIR resource, intake to delivery -----------------------------------------


class Table(dict[bytes, bytes]):
    def load(self, key: bytes) -> bytes | None:
        return self.get(key)


def through_triage(records: list[Record], table: Table, now: datetime) -> list[bytes]:
    incoming = [
        triage_batch.Incoming(r.key or b"", r.value, time.time())
        for r in records
        if r.topic == topics.CLINICAL_EVENTS
    ]
    result = triage_batch.run_batch(incoming, table.load, now, TRIAGE)
    table.update(result.states)
    return [o.value for o in result.outgoing]


def through_followup(values: list[bytes], table: Table, now: datetime, later: datetime) -> list[bytes]:
    incoming = [followup_batch.Incoming(envelope.patient_key(envelope.decode(v)), v) for v in values]
    result = followup_batch.run_inputs(incoming, table.load, now, FOLLOWUP)
    table.update({k: s.value for k, s in result.states.items()})
    ticked = followup_batch.run_tick(list(table), table.load, later, FOLLOWUP)
    return [o.value for o in ticked.outgoing]


def deliver(values: list[bytes]) -> list[httpx.Request]:
    """Each notification through a courier to a pager (httpx.MockTransport), as the notifier sends it."""
    seen: list[httpx.Request] = []

    all_seen = asyncio.Event()

    async def pager(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == len(values):
            all_seen.set()
        return httpx.Response(200)

    class Store:
        def owns(self, key: bytes) -> bool:
            return True

        async def attempting(self, job: Job, endpoint: str, attempt: int) -> None:
            return None

        def record(self, job: Job, endpoint: str, status: str) -> None:
            return None

        async def dead_letter(self, job: Job, endpoint: Endpoint) -> None:
            raise AssertionError("nothing is dead-lettered here")

    endpoint = Endpoint(
        name="ward-pager",
        url="https://pager.example/hook",
        secret_env="X",
        secret=b"pager-secret-pager-secret-pager-secret",
        retry=Retry(attempts=2, base_s=0.001, cap_s=0.002),
        concurrency=1,
        timeout_s=5.0,
        escalations=EscalationRoute(),
        reminders=ReminderRoute(),
    )

    async def scenario() -> None:
        courier = Courier(endpoint, Store(), transport=httpx.MockTransport(pager), rng=random.Random(1))
        task = asyncio.create_task(courier.run())
        for value in values:
            event = envelope.decode(value)
            courier.submit(
                Job(
                    key=str(event["subject"]).encode(),
                    event_id=str(event["id"]),
                    event_type=str(event["type"]),
                    payload=payload("carepath", event),
                    first_seen=time.time(),
                    traceparent=tracing.parent_of(event),
                )
            )
        await asyncio.wait_for(all_seen.wait(), timeout=10)
        task.cancel()

    asyncio.run(scenario())
    return seen


def chain(exporter: InMemorySpanExporter, intake_span: ReadableSpan, requests: list[httpx.Request]) -> None:
    """From intake's span: triage, then followup and the escalation's delivery, then the reminder and its
    delivery, all one trace, each the child of the one before; the pager told each delivery's context."""
    trace_id = intake_span.context.trace_id
    in_trace = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    [triage] = [s for s in in_trace if s.name == "triage evaluate" and parent_of(s) == span_id(intake_span)]
    applied = {span_id(s) for s in in_trace if s.name == "followup apply" and parent_of(s) == span_id(triage)}
    assert applied, "followup did not read the escalations in the trace"
    reminded = [s for s in in_trace if s.name == "followup remind" and parent_of(s) in applied]
    assert reminded, "no reminder in the trace"
    deliveries = [s for s in in_trace if s.name == "notifier deliver"]
    assert {parent_of(s) for s in deliveries} == {span_id(triage)} | {span_id(r) for r in reminded}
    sent = {tuple(r.headers["traceparent"].split("-")[1:3]) for r in requests}
    assert sent >= {(f"{trace_id:032x}", span_id(s)) for s in deliveries}
    for s in in_trace:
        text = json.dumps([s.name, dict(s.attributes or {}), s.status.description])
        assert "MRN" not in text and "9434765919" not in text


def test_an_hl7_message_is_one_trace_from_intake_to_the_reminders_delivery(
    spans: InMemorySpanExporter,
) -> None:
    publisher = MemoryPublisher()
    intake = Intake(publisher, samples.FixedClock(), future_tolerance_s=300, dedup_capacity=100)
    from zoneinfo import ZoneInfo

    from intake.hl7.codes import load_codes
    from intake.hl7.mapping import MappingOptions
    from intake.hl7.radiology_rules import load_rules

    handler = Hl7Intake(
        intake, load_codes(), load_rules(), MappingOptions(ZoneInfo("Europe/London")), samples.FixedClock()
    )
    condition = {
        "specversion": "1.0",
        "id": "dx-1",
        "source": "urn:test:ehr",
        "type": "carepath.diagnosis.recorded.v1",
        "subject": "MRN1",
        "time": "2024-04-01T09:00:00Z",
        "data": {"cancer": {"primary_site": "breast", "status": "active"}},
    }
    asyncio.run(intake.submit([condition], None, "http"))
    reply = asyncio.run(handler.handle(samples.oru_pain("EPR-1", "MRN1").encode()))
    assert reply.ack == "AA"
    [mllp] = named(spans, "intake mllp")
    assert mllp.parent is None
    now = samples.NOW
    escalations = through_triage(publisher.records, Table(), now)
    assert escalations
    reminders = through_followup(escalations, Table(), now, now + timedelta(days=2))
    chain(spans, mllp, deliver(escalations + reminders))


def test_a_fhir_resource_continues_the_engines_trace_to_the_reminders_delivery(
    spans: InMemorySpanExporter,
) -> None:
    publisher = MemoryPublisher()
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    class Clock:
        def now(self) -> datetime:
            return now

    settings = IntakeSettings(CAREPATH_INTAKE_TOKENS=TOKEN, environment="test")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": FHIR_JSON}
    with TestClient(create_app(settings, publisher, Clock())) as client:
        condition = cancer_condition("bc-1", "MRN2", "2026-01-10")
        assert (
            client.post("/fhir/Condition", content=orjson.dumps(condition), headers=headers).status_code
            == 201
        )
        pain = pain_observation("pain-1", "MRN2", "2026-11-21T08:30:00Z")
        answer = client.post(
            "/fhir/Observation", content=orjson.dumps(pain), headers=headers | {"traceparent": ENGINE}
        )
        assert answer.status_code == 201
    [traced] = [s for s in named(spans, "intake fhir") if s.parent is not None]
    assert (f"{traced.context.trace_id:032x}", parent_of(traced)) == ids(ENGINE)
    escalations = through_triage(publisher.records, Table(), now)
    reminders = through_followup(escalations, Table(), now, now + timedelta(days=2))
    chain(spans, traced, deliver(escalations + reminders))
    assert all(json.loads(e)["traceparent"].split("-")[1] == ids(ENGINE)[0] for e in escalations)


def test_a_reminder_untraced_carries_the_context_of_the_event_that_opened_its_expectation() -> None:
    escalation: dict[str, Any] = json.loads(
        next(
            (
                pathways_dir().parent / "schemas" / "examples" / "carepath.escalation.raised.v1" / "valid"
            ).iterdir()
        ).read_text()
    )
    escalation["traceparent"] = ENGINE
    value = envelope.encode(escalation)
    at = datetime.fromisoformat(escalation["time"])
    reminders = through_followup([value], Table(), at, at + timedelta(days=3))
    assert reminders
    assert {json.loads(r)["traceparent"] for r in reminders} == {ENGINE}
    again = through_followup([value], Table(), at, at + timedelta(days=3))
    assert again == reminders  # the same bytes however often
