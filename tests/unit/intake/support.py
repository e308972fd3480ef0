"""What intake's HTTP unit tests share: an integration engine's token and a clinician system's, a fixed
clock, and the app over an in-memory publisher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from intake.app import create_app
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings

TOKEN = "test-token-test-token-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACK_TOKEN = "test-ack-token-test-ack-token"
ACK_AUTH = {"Authorization": f"Bearer {ACK_TOKEN}"}
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@contextmanager
def served(publisher: MemoryPublisher, **settings: object) -> Iterator[TestClient]:
    """intake over ``publisher`` with the test tokens and ``settings`` (CAREPATH_* names); a 5xx comes back
    as a response, as a sender would see it, not as an exception."""
    settings = {"CAREPATH_INTAKE_TOKENS": TOKEN, "CAREPATH_INTAKE_ACK_TOKENS": ACK_TOKEN} | settings
    config = IntakeSettings(environment="test", **settings)  # type: ignore[arg-type]
    with TestClient(create_app(config, publisher, FixedClock()), raise_server_exceptions=False) as client:
        yield client
