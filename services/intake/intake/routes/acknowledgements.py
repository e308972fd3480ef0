"""POST /v1/acknowledgements: a clinician acknowledges an escalation or a reminder.

The id must be one carepath issued for that patient (followup is asked); an unknown id is a 404, not a
silently stored acknowledgement of nothing. Acknowledging twice is harmless: followup has already stopped
the chain, and the second acknowledgement is kept as a record of who else saw it. The event, the id rules
and the check are shared with the FHIR Communication that acknowledges an escalation
(:mod:`intake.acknowledging`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import httpx  # noqa: F401  the client followup is asked with (intake.acknowledging.check_target)
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, model_validator

from carepath import envelope
from intake.acknowledging import (
    ACK_TYPE,
    PATIENT_HEADER,
    REASON_MAX,
    TARGET_ID_MAX,
    TARGET_ID_PATTERN,
    Role,
    Target,
    acknowledgement_data,
    acknowledgement_event,
    check_target,
    unknown_target,
)
from intake.deps import Clinician, IntakeDep, SettingsDep
from intake.responses import json_response
from intake.service import Unavailable

__all__ = ["ACK_TYPE", "PATIENT_HEADER", "Acknowledgement", "Role", "router"]

# the systems acknowledging for clinicians (CAREPATH_INTAKE_ACK_TOKENS); an engine's token is 403 here
router = APIRouter(tags=["acknowledgements"], dependencies=[Clinician])


class Acknowledgement(BaseModel):
    patient_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
    target_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=TARGET_ID_MAX,
            pattern=TARGET_ID_PATTERN,
            description="an escalation_id or a reminder_id (letters, digits and . _ : -, as carepath issues them)",
        ),
    ]
    role: Role
    reason: Annotated[str | None, Field(max_length=REASON_MAX)] = None
    override: bool = Field(
        default=False, description="acknowledged, but the clinician disagrees with the alert"
    )

    @model_validator(mode="after")
    def _override_needs_reason(self) -> Acknowledgement:
        if self.override and not self.reason:
            raise ValueError("an override needs a reason")
        return self


@router.post(
    "/v1/acknowledgements",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Acknowledge an escalation or reminder",
    responses={
        202: {"description": "Stored; acknowledging again is harmless"},
        401: {"description": "Missing or invalid bearer token"},
        403: {"description": "An integration engine's token: acknowledging here is for clinicians' systems"},
        404: {"description": "No such escalation or reminder for this patient"},
        503: {"description": "The acknowledgement could not be checked or stored: retry"},
    },
)
async def acknowledge(ack: Acknowledgement, intake: IntakeDep, settings: SettingsDep) -> Response:
    # Both ids are validated by the model above; check_target quotes the target all the same and sends
    # the patient id in a header, never the URL.
    found = await check_target(
        settings.followup_url, ack.target_id, ack.patient_id, settings.worker_credential
    )
    if found is Target.UNKNOWN:
        raise HTTPException(status.HTTP_404_NOT_FOUND, unknown_target(ack.target_id))
    if found is not Target.KNOWN:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "could not check the id; retry", {"Retry-After": "5"}
        )
    now = intake.clock.now()
    digest = hashlib.sha256(f"{ack.target_id}|{ack.role}|{envelope.iso(now)}".encode()).hexdigest()[:20]
    event = acknowledgement_event(
        event_id=f"ack-{digest}",
        source="urn:carepath:intake:acknowledgements",
        patient_id=ack.patient_id,
        time=now,
        data=acknowledgement_data(ack.target_id, ack.role, ack.reason, ack.override),
    )
    try:
        [result] = await intake.submit([event], None, "http")
    except Unavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "event store unavailable; retry", {"Retry-After": "5"}
        ) from None
    if result.status == "rejected":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, result.as_json().get("error"))
    return json_response({"status": result.status, "event_id": event["id"], "target_id": ack.target_id}, 202)
