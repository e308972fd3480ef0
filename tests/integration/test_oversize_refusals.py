"""A refusal is always a refusal: input that must be refused is answered 4xx and kept on the dead-letter
topic whatever its size, on a real broker whose records are limited to 1 MiB. (When the dead-letter record
carried the whole input, a refused body of 1-5 MiB could not be stored and the sender was told 503 "retry
later", forever.)"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from carepath import topics
from carepath_tools.devstack import DEV_TOKEN, Service
from tests.conftest import BrokerInfo
from tests.integration.test_intake_on_broker import start_intake
from tests.support.topics import TopicReader

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


@pytest.fixture(scope="module")
def intake(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_intake(broker.bootstrap, broker.profile, tmp_path_factory.mktemp("oversize"))
    yield svc
    svc.stop()


@pytest.mark.parametrize(
    ("size", "kind"),
    [
        (2 * 1024 * 1024, "invalid-field"),
        (4 * 1024 * 1024 + 512 * 1024, "invalid-field"),
        (3 * 1024 * 1024, "not-json"),
    ],
    ids=["2MiB-invalid", "4.5MiB-invalid", "3MiB-not-json"],
)
def test_a_large_body_that_must_be_refused_is_4xx_and_dead_lettered_never_503(
    broker: BrokerInfo, intake: Service, size: int, kind: str
) -> None:
    marker = f"oversize-{uuid.uuid4().hex[:8]}"
    if kind == "not-json":
        body = (marker + "x" * size).encode()[:size]
    else:  # a valid envelope whose free text is far over the contract's limit
        event = {
            "specversion": "1.0",
            "id": marker,
            "source": "urn:test:epr",
            "type": "carepath.imaging.resulted.v1",
            "subject": marker,
            "time": "2026-11-21T08:30:00Z",
            "data": {
                "modality": "mri",
                "region": "whole_spine",
                "report_status": "final",
                "impression": "x" * size,
            },
        }
        body = orjson.dumps(event)
    reply = httpx.post(
        f"{intake.url}/v1/events",
        content=body,
        headers=AUTH | {"Content-Type": "application/json"},
        timeout=60,
    )
    assert reply.status_code in (400, 422), reply.text[:300]
    dlq = TopicReader(broker.bootstrap, topics.CLINICAL_EVENTS_DLQ)
    try:
        digest = hashlib.sha256(body).hexdigest()
        [letter] = dlq.wait_for(lambda r: r.get("raw_sha256") == digest, timeout=30)
    finally:
        dlq.close()
    assert letter["raw_truncated"] is True and letter["raw_length"] == len(body)
    assert body.decode().startswith(letter["raw"])
    metrics = httpx.get(f"{intake.url}/metrics", timeout=10).text
    assert "carepath_intake_broker_up 1.0" in metrics, "a refusal must not look like a broker outage"
