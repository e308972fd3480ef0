"""python -m intake.hl7: the MLLP listener alone, in a process of its own.

So that a flood of MLLP connections or large messages cannot take the HTTP and FHIR intake down with it,
the listener can run apart from the HTTP API: set ``CAREPATH_INTAKE_MLLP_STANDALONE=true`` for both
processes (the HTTP process then starts no listener) and run this module beside ``python -m intake``. It
has its own publisher and :class:`intake.service.Intake` (the same settings, the same topics, the same
de-duplication rules), and answers ``/healthz``, ``/readyz`` and ``/metrics`` on
``CAREPATH_INTAKE_MLLP_STATUS_PORT`` (``/metrics`` behind ``CAREPATH_METRICS_TOKENS`` when that is set).
SIGTERM or SIGINT stops it: the listener and its connections are closed, then the publisher (a message
whose ACK was not sent is sent again by the engine, and its events are not published twice).
"""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI

from carepath import collector, logs
from carepath.settings import load
from intake.hl7.config import Hl7Config, load_config, start_listener
from intake.publisher import KafkaPublisher
from intake.routes import health
from intake.service import Intake
from intake.settings import IntakeSettings

SERVICE = "intake-mllp"


def main() -> None:
    settings = load(IntakeSettings)
    logs.configure(SERVICE, settings.log_level)
    if settings.mllp_port == 0:
        raise SystemExit("intake.hl7: CAREPATH_INTAKE_MLLP_PORT is 0, so there is nothing to listen on")
    config = load_config(settings)
    logs.get(SERVICE).info(
        "starting",
        mllp_port=settings.mllp_port,
        status_port=settings.mllp_status_port,
        profile=settings.broker_profile,
        tls=config.tls is not None,
        metrics_protected=bool(settings.metrics_token_list),
    )
    collector.tune(settings.gc_thresholds)
    asyncio.run(serve(settings, config))


def status_app(intake: Intake, settings: IntakeSettings) -> FastAPI:
    """The status port's pages: /healthz and /readyz open, /metrics open or behind CAREPATH_METRICS_TOKENS."""
    status = FastAPI(title="carepath intake MLLP listener", openapi_url=None, docs_url=None, redoc_url=None)
    status.state.intake = intake
    status.state.settings = settings
    status.include_router(health.router)
    return status


async def serve(settings: IntakeSettings, config: Hl7Config) -> None:
    publisher = KafkaPublisher(
        settings.bootstrap_list,
        settings.profile,
        settings.publish_timeout_s,
        settings,
    )
    intake = Intake(
        publisher,
        settings.clock(),
        future_tolerance_s=settings.future_tolerance_s,
        dedup_capacity=settings.dedup_capacity,
    )
    server = None
    try:
        server = await start_listener(intake, config, intake.clock, settings, standalone=True)
        web = uvicorn.Server(
            uvicorn.Config(
                status_app(intake, settings),
                host=settings.bind_host,
                port=settings.mllp_status_port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        await web.serve()  # until SIGTERM / SIGINT
    finally:
        if server is not None:
            await server.close()
        await publisher.close()


if __name__ == "__main__":
    main()
