"""POST /v1/acknowledgements: a clinician acknowledges an escalation or a reminder.

Who acknowledged comes from the credential, never from a role typed into the body:

- **A clinician's own token** (a JWT from the hospital's identity provider, checked against its keys when
  ``CAREPATH_INTAKE_OIDC_ISSUER`` is set): the record says who it names (``acknowledged_by``: ``sub``, name,
  issuer, ``verified: true``) and the role is one of the token's roles. A body ``role`` only chooses among
  them (a token with several roles must); a role the token does not carry is refused (403), never stored.
- **A system acknowledging for a clinician** (``CAREPATH_INTAKE_ACK_TOKENS``: the worklist's development
  login, a clinician system without the identity provider) must name the clinician in ``on_behalf_of``
  (their id, role and, optionally, name); the record keeps both, the clinician as asserted
  (``verified: false``) and the system that asserted it (``sent_by``). Without ``on_behalf_of`` it is
  refused (422).

The id must be one carepath issued for that patient (followup is asked); an unknown id is a 404, not a
silently stored acknowledgement of nothing. Acknowledging twice is harmless: followup has already stopped
the chain, and the second acknowledgement is kept as a record of who else saw it. The event, the id rules
and the check are shared with the FHIR Communication that acknowledges an escalation
(:mod:`intake.acknowledging`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import httpx  # noqa: F401  the client followup is asked with (intake.acknowledging.check_target)
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, model_validator

from carepath import envelope, logs
from intake import metrics
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
from intake.deps import CLINICIAN, Acknowledger, Caller, IntakeDep, SettingsDep
from intake.responses import json_response
from intake.service import Unavailable

__all__ = ["ACK_TYPE", "PATIENT_HEADER", "Acknowledgement", "OnBehalfOf", "Role", "router"]

router = APIRouter(tags=["acknowledgements"])
log = logs.get("intake.acknowledgements")

# who: 1-255 characters, none a control character (a staff number, an e-mail address, a directory id)
CLINICIAN_ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,255}$"
CLINICIAN_NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"


class OnBehalfOf(BaseModel):
    """The clinician a system acknowledges for, as that system knows them."""

    id: Annotated[
        str,
        Field(
            pattern=CLINICIAN_ID_PATTERN,
            description="the clinician's identifier in the sending system (a staff number, a directory id)",
        ),
    ]
    role: Role | None = Field(default=None, description="the role the clinician acknowledges as")
    name: Annotated[str | None, Field(pattern=CLINICIAN_NAME_PATTERN)] = None


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
    role: Role | None = Field(
        default=None,
        description="with a clinician's own token: which of the token's roles (needed when it carries "
        "several; one it does not carry is refused); with a system's token: the role of on_behalf_of",
    )
    on_behalf_of: OnBehalfOf | None = Field(
        default=None,
        description="required with a system's token (CAREPATH_INTAKE_ACK_TOKENS): the clinician it "
        "acknowledges for, recorded as asserted by that system; refused with a clinician's own token",
    )
    reason: Annotated[str | None, Field(max_length=REASON_MAX)] = None
    override: bool = Field(
        default=False, description="acknowledged, but the clinician disagrees with the alert"
    )

    @model_validator(mode="after")
    def _override_needs_reason(self) -> Acknowledgement:
        if self.override and not self.reason:
            raise ValueError("an override needs a reason")
        return self


def _refuse(reason: str, code: int, detail: str) -> HTTPException:
    metrics.ACKNOWLEDGEMENTS_REFUSED.labels(reason).inc()
    return HTTPException(code, detail)


def who(ack: Acknowledgement, caller: Caller) -> tuple[str, dict[str, Any]]:
    """The role acknowledged as and ``acknowledged_by``, from the credential; HTTPException (403 or 422,
    saying why, counted) when the body asks for what the credential does not give."""
    clinician = caller.clinician
    if caller.role == CLINICIAN and clinician is not None:
        if ack.on_behalf_of is not None:
            raise _refuse(
                "on_behalf_of_from_clinician",
                status.HTTP_403_FORBIDDEN,
                "on_behalf_of is for a system acknowledging for a clinician; a clinician's own token "
                "acknowledges for the clinician it names",
            )
        roles = clinician.roles
        if not roles:
            raise _refuse(
                "no_role",
                status.HTTP_403_FORBIDDEN,
                "the clinician's token carries no carepath role: the identity provider must give one",
            )
        if ack.role is not None and ack.role not in roles:
            raise _refuse(
                "role_not_in_token",
                status.HTTP_403_FORBIDDEN,
                f"role {ack.role!r} is not one of the roles of the clinician's token ({', '.join(roles)})",
            )
        if ack.role is None and len(roles) > 1:
            raise _refuse(
                "role_not_chosen",
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the clinician's token carries several roles ({', '.join(roles)}): say which in role",
            )
        by: dict[str, Any] = {"subject": clinician.subject}
        if clinician.name:
            by["name"] = clinician.name
        by |= {"issuer": clinician.issuer, "verified": True}
        return ack.role or roles[0], by
    behalf = ack.on_behalf_of
    if behalf is None:
        raise _refuse(
            "on_behalf_of_missing",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a system's token acknowledges for a named clinician: send on_behalf_of {id, role, name}",
        )
    if behalf.role is not None and ack.role is not None and behalf.role != ack.role:
        raise _refuse(
            "role_mismatch",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "role and on_behalf_of.role differ: send the clinician's role once, in on_behalf_of",
        )
    role = behalf.role or ack.role
    if role is None:
        raise _refuse(
            "on_behalf_of_missing",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "on_behalf_of.role is required: the role the clinician acknowledges as",
        )
    asserted: dict[str, Any] = {"subject": behalf.id}
    if behalf.name:
        asserted["name"] = behalf.name
    asserted["verified"] = False
    return role, asserted


@router.post(
    "/v1/acknowledgements",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Acknowledge an escalation or reminder",
    description=(
        "Who acknowledged comes from the credential. With a clinician's own access token from the "
        "hospital's identity provider, the record names the clinician it verified (acknowledged_by, "
        "verified) and the role is one of the token's roles (role chooses among them). With a system's token "
        "(CAREPATH_INTAKE_ACK_TOKENS), on_behalf_of names the clinician, recorded as asserted by that system "
        "(sent_by)."
    ),
    responses={
        202: {"description": "Stored; acknowledging again is harmless"},
        401: {"description": "Missing or invalid bearer token (a clinician's token: why it was refused)"},
        403: {
            "description": "An integration engine's token; or a role the clinician's token does not carry, a "
            "token with no carepath role, on_behalf_of with a clinician's own token"
        },
        404: {"description": "No such escalation or reminder for this patient"},
        422: {
            "description": "Invalid body: an override without a reason, a system's token without "
            "on_behalf_of, a token with several roles and none chosen"
        },
        503: {"description": "The acknowledgement could not be checked or stored: retry"},
    },
)
async def acknowledge(
    ack: Acknowledgement, caller: Acknowledger, intake: IntakeDep, settings: SettingsDep
) -> Response:
    role, by = who(ack, caller)
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
    seed = f"{ack.target_id}|{role}|{caller.sender}|{by['subject']}|{envelope.iso(now)}"
    event = acknowledgement_event(
        event_id=f"ack-{hashlib.sha256(seed.encode()).hexdigest()[:20]}",
        source="urn:carepath:intake:acknowledgements",
        patient_id=ack.patient_id,
        time=now,
        data=acknowledgement_data(ack.target_id, role, ack.reason, ack.override) | {"acknowledged_by": by},
    )
    verified = bool(by["verified"])
    try:
        [result] = await intake.sent_by(caller.sender).submit([event], None, "http", verified=verified)
    except Unavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "event store unavailable; retry", {"Retry-After": "5"}
        ) from None
    if result.status == "rejected":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, result.as_json().get("error"))
    identity = "verified" if verified else "asserted"
    metrics.ACKNOWLEDGEMENTS.labels(identity).inc()
    log.info(
        "acknowledged",
        user=logs.pseudonym(str(by["subject"])),
        identity=identity,
        sender=caller.sender,
        role=role,
        target=logs.token(ack.target_id),
        override=ack.override,
        answer=result.status,
    )
    answer = {
        "status": result.status,
        "event_id": event["id"],
        "target_id": ack.target_id,
        "role": role,
        "verified": verified,
        "sent_by": caller.sender,
    }
    return json_response(answer, 202)
