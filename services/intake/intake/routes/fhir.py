"""FHIR R4 over HTTP: ``POST /fhir/{resourceType}`` for one resource, ``POST /fhir`` for a Bundle.

Every answer, errors included, is FHIR JSON: an OperationOutcome (or a transaction-response /
batch-response Bundle) whose issues name the failing element.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intake import metrics
from intake.deps import IntakeDep, SettingsDep, read_body, require_token
from intake.fhir.channel import Answer, FhirChannel
from intake.fhir.codemap import CodeMap
from intake.fhir.issues import LOGIN, NOT_SUPPORTED, TOO_COSTLY, TRANSIENT, Issue, operation_outcome
from intake.fhir.resources import SUPPORTED
from intake.service import Unavailable
from intake.settings import IntakeSettings

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_bearer = HTTPBearer(auto_error=False, description="Bearer token from CAREPATH_INTAKE_TOKENS")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

router = APIRouter(tags=["fhir"])

for _counter in (metrics.DLQ_RECORDS, metrics.DUPLICATES):  # export the fhir series from the start
    _counter.labels("fhir")

_OBSERVATION_EXAMPLE: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "pain-0001",
    "meta": {"versionId": "1"},
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
    "subject": {"reference": "Patient/MRN-204731"},
    "effectiveDateTime": "2026-11-21T09:30:00+00:00",
    "valueInteger": 8,
    "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "122495006"}]},
    "component": [
        {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "26544005"}]}, "valueBoolean": True}
    ],
}
_BUNDLE_EXAMPLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "batch",
    "entry": [{"resource": _OBSERVATION_EXAMPLE, "request": {"method": "POST", "url": "Observation"}}],
}


def _doc(example: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {FHIR_JSON: {"schema": {"type": "object"}, "example": example}},
        }
    }


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not JSON, or not a valid R4 resource: OperationOutcome naming the element"},
    401: {"description": "Missing or invalid bearer token"},
    413: {"description": "Body or Bundle too large"},
    415: {"description": "Not application/fhir+json"},
    422: {"description": "Valid FHIR carepath cannot read (e.g. an unlisted code): OperationOutcome"},
    503: {"description": "Event store unavailable: nothing stored, retry"},
}


@router.post(
    "/fhir/{resource_type}",
    summary="Submit one FHIR R4 resource",
    description=(
        f"Accepts one of {', '.join(sorted(SUPPORTED))} as application/fhir+json, validated with the R4B "
        "models and mapped to a carepath event through the FHIR code map. 201 once the event is stored, "
        "200 when the same resource id and versionId was stored before (a duplicate, not stored again). "
        "Errors are OperationOutcomes whose expression names the failing element; refused resources are "
        "kept on the dead-letter topic."
    ),
    openapi_extra=_doc(_OBSERVATION_EXAMPLE),
    responses={
        201: {"description": "Stored"},
        200: {"description": "Duplicate of a stored resource"},
        **_RESPONSES,
    },
)
async def post_resource(
    resource_type: str, request: Request, intake: IntakeDep, settings: SettingsDep, credentials: Credentials
) -> Response:
    async def handle(raw: bytes) -> Answer:
        return await FhirChannel(intake, _codes(request)).resource(resource_type, raw)

    return await _serve(request, settings, credentials, handle)


@router.post(
    "/fhir",
    summary="Submit a FHIR R4 transaction or batch Bundle",
    description=(
        "A transaction is stored whole or not at all: if any entry fails, the answer is an "
        "OperationOutcome listing every failing entry (Bundle.entry[n]...) and nothing is stored. A batch "
        "stores the entries that pass; the batch-response gives each entry's status (201, 200 duplicate, "
        "400 or 422 with its OperationOutcome)."
    ),
    openapi_extra=_doc(_BUNDLE_EXAMPLE),
    responses={200: {"description": "transaction-response or batch-response Bundle"}, **_RESPONSES},
)
async def post_bundle(
    request: Request, intake: IntakeDep, settings: SettingsDep, credentials: Credentials
) -> Response:
    async def handle(raw: bytes) -> Answer:
        return await FhirChannel(intake, _codes(request)).bundle(raw, settings.max_batch)

    return await _serve(request, settings, credentials, handle)


# Authentication and size limits are checked here rather than as route dependencies, so that their
# refusals are OperationOutcomes like every other FHIR answer.
async def _serve(
    request: Request,
    settings: IntakeSettings,
    credentials: HTTPAuthorizationCredentials | None,
    handle: Callable[[bytes], Awaitable[Answer]],
) -> Response:
    try:
        require_token(settings, credentials)
    except HTTPException as exc:
        return _fhir(Answer(401, operation_outcome([Issue(LOGIN, str(exc.detail))]), dict(exc.headers or {})))
    content_type = request.headers.get("content-type", FHIR_JSON).split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        shown = content_type[:60] if content_type.isprintable() else "(not printable)"
        issue = Issue(NOT_SUPPORTED, f"content type {shown!r}: send application/fhir+json")
        return _fhir(Answer(415, operation_outcome([issue])))
    try:
        raw = await read_body(request, settings.max_request_bytes, "fhir")
    except HTTPException as exc:
        return _fhir(Answer(exc.status_code, operation_outcome([Issue(TOO_COSTLY, str(exc.detail))])))
    try:
        return _fhir(await handle(raw))
    except Unavailable:
        issue = Issue(TRANSIENT, "event store unavailable; nothing from this request was stored, retry later")
        return _fhir(Answer(503, operation_outcome([issue]), {"Retry-After": "5"}))


def _codes(request: Request) -> CodeMap:
    codes: CodeMap = request.app.state.fhir_codes
    return codes


def _fhir(answer: Answer) -> Response:
    return Response(
        orjson.dumps(answer.body), status_code=answer.status, media_type=FHIR_JSON, headers=answer.headers
    )
