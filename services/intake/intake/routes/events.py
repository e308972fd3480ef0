"""POST /v1/events: one native JSON CloudEvent, or a JSON array of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from intake.deps import EngineCaller, IntakeDep, SettingsDep, read_body
from intake.limits import JsonRefused, read_json
from intake.responses import json_response
from intake.service import Unavailable

router = APIRouter(tags=["events"])  # the integration engines (each stamped on what it sends)

# JSON, and the CloudEvents JSON formats (structured mode, one event or a batch)
EVENT_MEDIA_TYPES = ("application/json", "application/cloudevents+json", "application/cloudevents-batch+json")

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/CloudEvent"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/CloudEvent"}},
                    ]
                },
                "example": {
                    "specversion": "1.0",
                    "id": "evt-0001",
                    "source": "urn:hospital:epr",
                    "type": "carepath.pain.reported.v1",
                    "subject": "patient-0001",
                    "time": "2026-11-21T09:30:00Z",
                    "data": {"nrs": 8, "site": ["thoracic"], "neurological": ["limb_weakness"]},
                },
            }
        },
    }
}


@router.post(
    "/v1/events",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit one clinical event or a batch",
    description=(
        "Accepts a CloudEvents 1.0 JSON object, or an array of them, of the `carepath.*.v1` input types. "
        "202 is returned only after every accepted event is stored by the broker (acks=all). "
        "A resubmitted event id is answered `duplicate` and not republished. Invalid events are answered "
        "422 naming the offending field and are kept on the dead-letter topic with the reason; in a batch, "
        "the items marked `accepted` are stored even when others are rejected. 503 means nothing from "
        "this request can be assumed stored: retry it (retries never duplicate work)."
    ),
    openapi_extra=_BODY_DOC,
    responses={
        202: {"description": "Every event accepted (or a harmless duplicate)"},
        400: {"description": "Body is not JSON, or not an event or array of events"},
        401: {"description": "Missing or invalid bearer token"},
        403: {"description": "A token of a system acknowledging for clinicians: not an integration engine's"},
        415: {"description": "Content-Type is not JSON (application/json or a CloudEvents JSON format)"},
        413: {"description": "Body or batch too large"},
        422: {"description": "One or more events invalid; each named with its field"},
        503: {"description": "Broker unavailable: retry"},
    },
)
async def post_events(
    request: Request, caller: EngineCaller, intake: IntakeDep, settings: SettingsDep
) -> Response:
    intake = intake.sent_by(caller.sender)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in EVENT_MEDIA_TYPES:
        shown = media[:60] if media.isprintable() else "(not printable)"
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Content-Type {shown or '(none)'!r}: send {', '.join(EVENT_MEDIA_TYPES)}",
        )
    raw = await read_body(request, settings.max_request_bytes)
    try:
        doc = read_json(raw)
    except JsonRefused as refused:
        await _dead_letter(intake, refused.reason, refused.label, raw)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=refused.reason) from None
    items = doc if isinstance(doc, list) else [doc]
    if not items or not all(isinstance(i, dict) for i in items):
        reason = "body must be a CloudEvent JSON object or a non-empty array of them"
        await _dead_letter(intake, reason, "malformed", raw)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=reason)
    if len(items) > settings.max_batch:
        reason = f"batch of {len(items)} events exceeds the maximum of {settings.max_batch}; split it"
        await _dead_letter(intake, reason, "too_many", raw)  # read, so kept like any other refusal
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=reason)
    try:
        results = await intake.submit(items, [raw] if not isinstance(doc, list) else None, "http")
    except Unavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="event store unavailable; nothing from this request was accepted, retry later",
            headers={"Retry-After": "5"},
        ) from None
    rejected = [r for r in results if r.status == "rejected"]
    body: dict[str, Any] = {
        "accepted": sum(r.status == "accepted" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "rejected": len(rejected),
        "results": [r.as_json() for r in results],
    }
    if rejected:
        body["error"] = rejected[0].as_json()["error"]
        body["field"] = rejected[0].errors[0].field if rejected[0].errors else None
        return json_response(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return json_response(body, status_code=status.HTTP_202_ACCEPTED)


async def _dead_letter(intake: Any, reason: str, label: str, raw: bytes) -> None:
    try:
        await intake.dead_letter(channel="http", reason=reason, label=label, raw=raw)
    except Unavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="event store unavailable; retry later",
            headers={"Retry-After": "5"},
        ) from None
