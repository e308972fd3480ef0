"""FHIR R4 over HTTP: ``POST /fhir/{resourceType}`` and ``PUT /fhir/{resourceType}/{id}`` for one resource,
``POST /fhir`` for a Bundle, ``GET /fhir/metadata`` for the CapabilityStatement.

Every answer, errors included, is FHIR JSON: an OperationOutcome (or a transaction-response /
batch-response Bundle) whose issues name the failing element. Every route, metadata included, needs a
bearer token (carepath's rule: every route but the health probes needs a credential): an integration
engine's (``CAREPATH_INTAKE_TOKENS``), which is also how FHIR Communications and Tasks recording care steps
arrive; the CapabilityStatement answers an acknowledging system's token (``CAREPATH_INTAKE_ACK_TOKENS``) too,
and that token on any other FHIR route is 403 (its route is ``POST /v1/acknowledgements``). Everything a
request stores or refuses is stamped with the engine's name. An escalation acknowledgement (a Communication)
is checked with followup before it is stored, as ``POST /v1/acknowledgements`` is
(:mod:`intake.acknowledging`); who acknowledged is the Communication's sender, asserted by the engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake import metrics
from intake.acknowledging import CheckedIntake, TargetsRefused, TargetsUnchecked
from intake.deps import (
    ACK_SYSTEM,
    ENGINE,
    Caller,
    Credentials,
    IntakeDep,
    SettingsDep,
    read_body,
    system_caller,
)
from intake.fhir.capability import capability_statement
from intake.fhir.channel import Answer, FhirChannel
from intake.fhir.codemap import CodeMap
from intake.fhir.issues import (
    EXCEPTION,
    INVALID,
    LOGIN,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    STRUCTURE,
    TOO_COSTLY,
    TRANSIENT,
    VALUE,
    FhirError,
    Issue,
    error,
    information,
    operation_outcome,
)
from intake.fhir.resources import SUPPORTED
from intake.limits import JsonRefused, read_json
from intake.service import Intake, Unavailable
from intake.settings import IntakeSettings

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
FORBIDDEN = "forbidden"  # FHIR IssueType: the caller may not perform this action
_SENDERS = frozenset({ENGINE})
_READERS = frozenset({ENGINE, ACK_SYSTEM})  # the CapabilityStatement

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
    403: {"description": "A token of a system acknowledging for clinicians: not an integration engine's"},
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
    async def handle(raw: bytes, intake: Intake) -> Answer:
        return await _channel(request, intake, settings).resource(resource_type, raw)

    return await _serve(request, intake, settings, credentials, handle)


@router.put(
    "/fhir/{resource_type}/{resource_id}",
    summary="Create or update one FHIR R4 resource",
    description=(
        "What integration engines send: the same reading and storing as POST /fhir/{resource_type}, and the "
        "body's id must be the id in the URL (400 otherwise). 201 when this id and meta.versionId is stored "
        "for the first time (a new versionId is a new event), 200 when it was stored before (not stored "
        "again)."
    ),
    openapi_extra=_doc(_OBSERVATION_EXAMPLE),
    responses={
        201: {"description": "Stored"},
        200: {"description": "Duplicate of a stored resource (same id and versionId)"},
        **_RESPONSES,
    },
)
async def put_resource(
    resource_type: str,
    resource_id: str,
    request: Request,
    intake: IntakeDep,
    settings: SettingsDep,
    credentials: Credentials,
) -> Response:
    async def handle(raw: bytes, intake: Intake) -> Answer:
        # A type carepath does not read is refused as POST refuses it, whatever the body's id says.
        mismatch = _id_mismatch(raw, resource_type, resource_id) if resource_type in SUPPORTED else None
        if mismatch is not None:
            first = mismatch.issues[0] if mismatch.issues else Issue(STRUCTURE, "id mismatch")
            await intake.dead_letter(
                channel="fhir", reason=first.describe(), label="id_mismatch", raw=raw, field=first.pointer
            )
            return Answer(mismatch.status, operation_outcome(mismatch.issues))
        return await _channel(request, intake, settings).resource(resource_type, raw)

    return await _serve(request, intake, settings, credentials, handle)


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
    async def handle(raw: bytes, intake: Intake) -> Answer:
        doc = _object(raw)
        atomic = doc is not None and doc.get("type") == "transaction"
        try:
            return await _channel(request, intake, settings, atomic=atomic).bundle(raw, settings.max_batch)
        except TargetsRefused as refused:  # a transaction: the refused entries are dead-lettered
            issues = [
                Issue(VALUE, str(TargetsRefused([i], [t])), f"Bundle.entry[{i}].resource.about")
                for i, t in zip(refused.indexes, refused.target_ids, strict=True)
            ]
            note = information(
                f"transaction refused: {len(issues)} acknowledgement(s) of an unknown escalation or "
                "reminder; nothing was stored"
            )
            return Answer(422, operation_outcome([*issues, note]))

    return await _serve(request, intake, settings, credentials, handle)


@router.get(
    "/fhir/metadata",
    summary="The CapabilityStatement: the resource types and interactions carepath takes",
    description=(
        "A FHIR R4 (4.0.1) CapabilityStatement listing exactly the resource types carepath reads, each "
        "with create (POST) and update (PUT), and the batch and transaction interactions (POST /fhir). "
        "Unlike many FHIR servers, carepath asks for the bearer token here too (an integration engine's "
        "or a clinician system's): every route but the health probes needs a credential."
    ),
    responses={200: {"description": "CapabilityStatement"}, 401: _RESPONSES[401]},
)
async def metadata(
    request: Request, intake: IntakeDep, settings: SettingsDep, credentials: Credentials
) -> Response:
    found = _caller(settings, credentials, _READERS)
    if isinstance(found, Response):
        return found
    return _fhir(Answer(200, capability_statement(intake.clock.now(), request.app.version)))


# Authentication and size limits are checked here rather than as route dependencies, so that their
# refusals are OperationOutcomes like every other FHIR answer.
async def _serve(
    request: Request,
    intake: Intake,
    settings: IntakeSettings,
    credentials: HTTPAuthorizationCredentials | None,
    handle: Callable[[bytes, Intake], Awaitable[Answer]],
) -> Response:
    found = _caller(settings, credentials, _SENDERS)
    if isinstance(found, Response):
        return found
    intake = intake.sent_by(found.sender)
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
        return _fhir(await handle(raw, intake))
    except TargetsUnchecked:
        text = (
            "followup could not be asked whether the acknowledged id exists; nothing was stored, retry later"
        )
        return _fhir(Answer(503, operation_outcome([Issue(TRANSIENT, text)]), {"Retry-After": "5"}))
    except Unavailable:
        issue = Issue(TRANSIENT, "event store unavailable; nothing from this request was stored, retry later")
        return _fhir(Answer(503, operation_outcome([issue]), {"Retry-After": "5"}))


def _caller(
    settings: IntakeSettings, credentials: HTTPAuthorizationCredentials | None, roles: frozenset[str]
) -> Caller | Response:
    refused = system_caller(settings, credentials, roles, "fhir")
    if isinstance(refused, Caller):
        return refused
    code = LOGIN if refused.status_code == 401 else FORBIDDEN
    issue = Issue(code, str(refused.detail))
    return _fhir(Answer(refused.status_code, operation_outcome([issue]), dict(refused.headers or {})))


def _channel(
    request: Request, intake: Intake, settings: IntakeSettings, *, atomic: bool = False
) -> FhirChannel:
    """The FHIR channel over intake, with acknowledgements checked with followup before anything is stored."""
    return FhirChannel(
        CheckedIntake(intake, settings.followup_url, settings.worker_credential, atomic=atomic),
        _codes(request),
    )


def _object(raw: bytes) -> dict[str, Any] | None:
    """The body, when it is a JSON object the channel will read (else None: the channel refuses the body
    itself, naming the problem)."""
    try:
        doc = read_json(raw)
    except JsonRefused:
        return None
    return doc if isinstance(doc, dict) else None


def _id_mismatch(raw: bytes, resource_type: str, resource_id: str) -> FhirError | None:
    """PUT /fhir/{type}/{id}: the body's id must be the URL's (400 OperationOutcome otherwise)."""
    doc = _object(raw)
    if doc is None:
        return None
    if "id" not in doc:
        return error(
            REQUIRED,
            f"required: the resource's id, equal to the URL's id (PUT /fhir/{resource_type}/[id])",
            f"{resource_type}.id",
            "/id",
            status=400,
            label="id_mismatch",
        )
    if doc["id"] != resource_id:
        return error(
            STRUCTURE,
            f"the body's id is {repr(doc['id'])[:70]} but the URL's is {resource_id[:70]!r}: they must be the same",
            f"{resource_type}.id",
            "/id",
            status=400,
            label="id_mismatch",
        )
    return None


def _codes(request: Request) -> CodeMap:
    codes: CodeMap = request.app.state.fhir_codes
    return codes


def _fhir(answer: Answer) -> Response:
    return Response(
        orjson.dumps(answer.body), status_code=answer.status, media_type=FHIR_JSON, headers=answer.headers
    )


# ---------------------------------------------------------------------------------------------------------
# Errors the framework answers (no route, wrong method, unreadable request) are OperationOutcomes under
# /fhir too: a FHIR client reads every error the same way.

_NO_ROUTE = (
    "carepath takes POST /fhir/[type], PUT /fhir/[type]/[id], POST /fhir (a batch or transaction Bundle) "
    "and GET /fhir/metadata"
)
_STATUS_ISSUES = {
    400: (STRUCTURE, "the request cannot be read"),
    401: (LOGIN, "a bearer token is required"),
    403: (FORBIDDEN, "this token may not use this route"),
    404: (NOT_FOUND, f"no such FHIR interaction here: {_NO_ROUTE}"),
    405: (NOT_SUPPORTED, f"this method is not supported on this URL: {_NO_ROUTE}"),
    406: (NOT_SUPPORTED, "carepath answers application/fhir+json"),
    413: (TOO_COSTLY, "the request is too large"),
    415: (NOT_SUPPORTED, "send application/fhir+json"),
    422: (INVALID, "the request's parameters are not valid"),
    503: (TRANSIENT, "unavailable; nothing from this request was stored, retry later"),
}


def is_fhir(request: Request) -> bool:
    path = request.url.path
    return path == "/fhir" or path.startswith("/fhir/")


def outcome_for_status(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """An OperationOutcome for an error status the framework chose; the text is carepath's, never the
    request's (a URL can carry a patient's id)."""
    code, text = _STATUS_ISSUES.get(status, (EXCEPTION if status >= 500 else INVALID, f"HTTP {status}"))
    return _fhir(Answer(status, operation_outcome([Issue(code, text)]), dict(headers or {})))


def install_error_outcomes(app: FastAPI) -> None:
    """Answer framework errors under /fhir as OperationOutcomes; every other path keeps its JSON errors."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if is_fhir(request):
            return outcome_for_status(exc.status_code, exc.headers)
        return await http_exception_handler(request, exc)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if is_fhir(request):
            return outcome_for_status(422)
        return await request_validation_exception_handler(request, exc)

    async def failure(request: Request, exc: Exception) -> Response:
        # logged by the server as the exception it is (type and frames, never its message); the sender is
        # told to retry, as for any 5xx
        if is_fhir(request):
            return outcome_for_status(500)
        return PlainTextResponse("Internal Server Error", status_code=500)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, failure)
