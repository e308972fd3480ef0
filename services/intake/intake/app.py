"""Wiring: settings + publisher + clock -> a FastAPI app. The only place adapters are chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from carepath import tracing
from carepath.clinician_tokens import IssuerKeys, Verifier
from carepath.clock import Clock
from intake import openapi, value_sets
from intake.acknowledging import ROLES
from intake.fhir.codemap import CodeMapError, load_code_map
from intake.hl7.config import load_config as load_hl7_config
from intake.hl7.config import start_listener as start_mllp
from intake.publisher import KafkaPublisher, Publisher
from intake.routes import acknowledgements, events, fhir, health
from intake.service import Intake
from intake.settings import IntakeSettings


def create_app(
    settings: IntakeSettings,
    publisher: Publisher | None = None,
    clock: Clock | None = None,
    *,
    listen_mllp: bool | None = None,
    verifier: Verifier | None = None,
) -> FastAPI:
    """``listen_mllp``: serve HL7 v2 over MLLP (CAREPATH_INTAKE_MLLP_PORT, 0 disables); by default only
    when the real publisher is wired, so tests that bring their own publisher bind no port unless asked.
    ``verifier`` checks clinicians' tokens; by default one for CAREPATH_INTAKE_OIDC_ISSUER when it is set
    (none: only system credentials acknowledge)."""
    serve_mllp = settings.mllp_port != 0 and (listen_mllp if listen_mllp is not None else publisher is None)
    hl7_config = load_hl7_config(settings) if serve_mllp else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pub = publisher or KafkaPublisher(
            settings.bootstrap_list,
            settings.profile,
            settings.publish_timeout_s,
            settings,
        )
        app.state.intake = Intake(
            pub,
            clock or settings.clock(),
            future_tolerance_s=settings.future_tolerance_s,
            dedup_capacity=settings.dedup_capacity,
        )
        mllp = None
        if hl7_config is not None:  # same process and event loop as the HTTP API
            mllp = await start_mllp(app.state.intake, hl7_config, app.state.intake.clock, settings)
        app.state.mllp = mllp
        try:
            yield
        finally:
            if mllp is not None:
                await mllp.close()
            await pub.close()

    app = FastAPI(
        title="carepath intake",
        version="1",
        description=(
            "Clinical events in: native JSON CloudEvents over HTTP. Every event is validated against "
            "the published contract (schemas/) and stored durably before it is acknowledged."
        ),
        lifespan=lifespan,
        **settings.api_documentation,
    )
    if tracing.enabled():  # a caller's traceparent header becomes the parent of intake's spans
        app.add_middleware(tracing.CallerTraceMiddleware)
    app.state.settings = settings
    app.state.verifier = verifier or clinician_verifier(settings)
    try:  # malformed value sets or code map refuse to start, naming the file and entry
        term = value_sets.load(settings.terminology_site_files)
        app.state.fhir_codes = load_code_map(settings.fhir_codes, term=term)
    except value_sets.ValueSetError as exc:
        raise SystemExit(f"intake: the value sets are invalid: {exc}") from None
    except CodeMapError as exc:
        raise SystemExit(f"intake: the FHIR code map is invalid: {exc}") from None
    app.include_router(events.router)
    app.include_router(acknowledgements.router)
    app.include_router(fhir.router)
    fhir.install_error_outcomes(app)
    app.include_router(health.router)
    app.openapi = openapi.installer(app)  # type: ignore[method-assign]
    return app


def clinician_verifier(settings: IntakeSettings) -> Verifier | None:
    """The check of clinicians' tokens CAREPATH_INTAKE_OIDC_* configure; None when no issuer is set."""
    if not settings.oidc_enabled:
        return None
    return Verifier(
        IssuerKeys(settings.oidc_issuer),
        settings.oidc_audience,
        known_roles=ROLES,
        role_claim=settings.oidc_role_claim,
    )
