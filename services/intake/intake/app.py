"""Wiring: settings + publisher + clock -> a FastAPI app. The only place adapters are chosen."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from carepath import contracts
from carepath.clock import Clock
from carepath.resources import schemas_dir
from intake.publisher import KafkaPublisher, Publisher
from intake.routes import events, health
from intake.service import Intake
from intake.settings import IntakeSettings


def create_app(
    settings: IntakeSettings, publisher: Publisher | None = None, clock: Clock | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pub = publisher or KafkaPublisher(
            settings.bootstrap_list, settings.profile, settings.publish_timeout_s
        )
        app.state.intake = Intake(
            pub,
            clock or settings.clock(),
            future_tolerance_s=settings.future_tolerance_s,
            dedup_capacity=settings.dedup_capacity,
        )
        try:
            yield
        finally:
            pub.close()

    app = FastAPI(
        title="carepath intake",
        version="1",
        description=(
            "Clinical events in: native JSON CloudEvents over HTTP. Every event is validated against "
            "the published contract (schemas/) and stored durably before it is acknowledged."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(events.router)
    app.include_router(health.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    envelope_file = schemas_dir() / contracts.ENVELOPE_SCHEMA
    schema.setdefault("components", {}).setdefault("schemas", {})["CloudEvent"] = json.loads(
        envelope_file.read_text()
    )
    app.openapi_schema = schema
    return schema
