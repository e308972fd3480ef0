"""POST /v1/acknowledgements: a clinician acknowledges an escalation or a reminder.

The id must be one carepath issued for that patient (followup is asked); an unknown id is a 404, not a
silently stored acknowledgement of nothing. Acknowledging twice is harmless: followup has already stopped
the chain, and the second acknowledgement is kept as a record of who else saw it.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, model_validator

from carepath import envelope
from intake.deps import Authenticated, IntakeDep, SettingsDep
from intake.responses import json_response
from intake.service import Unavailable

router = APIRouter(tags=["acknowledgements"], dependencies=[Authenticated])

Role = Literal[
    "acute_oncology",
    "mscc_coordinator",
    "on_call_registrar",
    "consultant",
    "gp",
    "nurse",
    "spinal_surgeon",
    "other",
]
ACK_TYPE = "carepath.escalation.acknowledged.v1"
PATIENT_HEADER = "X-Carepath-Patient-Id"  # followup's GET /v1/targets/{target_id} reads the patient here


class Acknowledgement(BaseModel):
    patient_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
    target_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=160,
            pattern=r"^[A-Za-z0-9._:-]+$",
            description="an escalation_id or a reminder_id (letters, digits and . _ : -, as carepath issues them)",
        ),
    ]
    role: Role
    reason: Annotated[str | None, Field(max_length=1000)] = None
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
        404: {"description": "No such escalation or reminder for this patient"},
        503: {"description": "The acknowledgement could not be checked or stored: retry"},
    },
)
async def acknowledge(ack: Acknowledgement, intake: IntakeDep, settings: SettingsDep) -> Response:
    # Both ids are validated by the model above. The target is quoted all the same, so no value can change
    # the URL's shape; the patient id goes in a header, never the URL, which client and access logs print.
    url = f"{settings.followup_url.rstrip('/')}/v1/targets/{quote(ack.target_id, safe='')}"
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            check = await client.get(url, headers={PATIENT_HEADER: ack.patient_id})
    except httpx.HTTPError:
        check = None
    if check is not None and check.status_code == 404:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no escalation or reminder {ack.target_id!r} for this patient"
        )
    if check is None or check.status_code != 200:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "could not check the id; retry", {"Retry-After": "5"}
        )
    data: dict[str, object] = {"target_id": ack.target_id, "role": ack.role}
    if ack.reason:
        data["reason"] = ack.reason
    if ack.override:
        data["override"] = True
    now = intake.clock.now()
    digest = hashlib.sha256(f"{ack.target_id}|{ack.role}|{envelope.iso(now)}".encode()).hexdigest()[:20]
    event = envelope.cloudevent(
        id=f"ack-{digest}",
        type=ACK_TYPE,
        source="urn:carepath:intake:acknowledgements",
        subject=ack.patient_id,
        time=now,
        data=data,
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
