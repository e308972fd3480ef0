"""The worklist API: open escalations and pending expectations, from whichever worker is asked.

Each worker holds the patients of the partitions it owns. ``/v1/worklist`` asks every worker in the
group (their URLs come from Faust's partition assignor) and merges; ``/v1/patients/{id}/...`` goes to
the worker that owns that patient. An answer is complete or it is an error: a worker that cannot be
reached gives 503, never a silently shorter list.

Every route needs a bearer token (the probes and ``/metrics`` are served by the worker shell, not here):
``/v1/...`` a reader's (``CAREPATH_FOLLOWUP_READ_TOKENS``, the systems that show clinicians their worklist)
or a worker's (``CAREPATH_WORKER_TOKEN``: intake checking an acknowledged id); ``/internal/...`` a worker's
only. No token or an unknown one is 401, a token of the other role 403, each counted by reason.

Services asking about one patient (intake checking an acknowledged id, one worker asking another) send the
patient id in the ``X-Carepath-Patient-Id`` header, never in the URL: URLs are written to access and client
logs, headers are not.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request, status

from carepath import auth, envelope
from followup import metrics
from followup.worklist import SEVERITIES, keep, merge, rows

if TYPE_CHECKING:
    from followup.agents import FollowupShell

Severity = Annotated[str | None, Query(pattern="^(" + "|".join(SEVERITIES) + ")$")]
TIMEOUT = httpx.Timeout(5.0)
PATIENT_HEADER = "X-Carepath-Patient-Id"
_ID = r"^[A-Za-z0-9._:-]+$"  # common.v1 patient_id and identifier
PatientHeader = Annotated[
    str, Header(alias=PATIENT_HEADER, min_length=1, max_length=64, pattern=_ID, description="the patient id")
]
TargetId = Annotated[str, Path(min_length=1, max_length=160, pattern=_ID)]


def _presented(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _refuse(reason: str) -> HTTPException:
    metrics.API_REJECTED.labels(reason).inc()
    if reason == "forbidden":
        return HTTPException(status.HTTP_403_FORBIDDEN, "this token's role may not call this route")
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or invalid bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def install(api: FastAPI, fs: FollowupShell) -> None:
    api.title = "carepath followup"
    api.description = "Worklist of open escalations and pending follow-up expectations."
    readers, workers = fs.settings.reader_tokens, fs.settings.worker_tokens
    peer_headers = auth.bearer(workers[0])

    def reader_or_worker(request: Request) -> None:
        token = _presented(request)
        if token is None:
            raise _refuse("missing")
        if not (auth.matches(token, readers) | auth.matches(token, workers)):
            raise _refuse("invalid")

    def worker_only(request: Request) -> None:
        token = _presented(request)
        if token is None:
            raise _refuse("missing")
        if auth.matches(token, workers):
            return
        raise _refuse("forbidden" if auth.matches(token, readers) else "invalid")

    internal = [Depends(worker_only)]
    public = [Depends(reader_or_worker)]

    def local(severity: str | None, overdue: bool | None) -> dict[str, list[dict[str, Any]]]:
        now = fs.clock.now()
        out: dict[str, list[dict[str, Any]]] = {"escalations": [], "expectations": []}
        for exps in fs.local_patients():
            for kind, found in rows(exps, now).items():
                out[kind] += [r for r in found if keep(r, severity, overdue)]
        return out

    @api.get("/internal/worklist", include_in_schema=False, dependencies=internal)
    async def local_worklist(severity: Severity = None, overdue: bool | None = None) -> dict[str, Any]:
        return local(severity, overdue)

    @api.get("/internal/patients/{patient_id}", include_in_schema=False, dependencies=internal)
    async def local_patient(patient_id: str, target: str | None = None) -> dict[str, Any]:
        exps = fs.patient(patient_id)
        if exps is None:
            return {"escalations": [], "expectations": [], "known": False}
        return rows(exps, fs.clock.now()) | {"known": bool(target) and exps.knows(target or "")}

    @api.get("/internal/patient", include_in_schema=False, dependencies=internal)
    async def local_patient_by_header(patient_id: PatientHeader, target: str | None = None) -> dict[str, Any]:
        return await local_patient(patient_id, target)

    @api.get(
        "/v1/worklist", tags=["worklist"], summary="Everything open, from every worker", dependencies=public
    )
    async def worklist(severity: Severity = None, overdue: bool | None = None) -> dict[str, Any]:
        params = {
            k: str(v).lower() for k, v in (("severity", severity), ("overdue", overdue)) if v is not None
        }
        peers = [u for u in fs.worker_urls() if u != fs.own_url]
        parts = [local(severity, overdue)]
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            answers = await asyncio.gather(
                *(client.get(f"{u}/internal/worklist", params=params, headers=peer_headers) for u in peers),
                return_exceptions=True,
            )
        for url, answer in zip(peers, answers, strict=True):
            if isinstance(answer, BaseException) or answer.status_code != 200:
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE, f"worker {url} did not answer; retry"
                )
            parts.append(answer.json())
        return merge(parts, fs.clock.now()) | {"workers": 1 + len(peers)}

    async def patient_part(patient_id: str, target: str | None = None) -> dict[str, Any]:
        owner = fs.owner_url(patient_id)
        if owner is None or owner == fs.own_url:
            return await local_patient(patient_id, target)
        params = {"target": target} if target else {}
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            try:
                r = await client.get(
                    f"{owner}/internal/patient",
                    params=params,
                    headers={PATIENT_HEADER: patient_id, **peer_headers},
                )
            except httpx.HTTPError:
                r = None
        if r is None or r.status_code != 200:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the worker holding this patient did not answer"
            )
        answer: dict[str, Any] = r.json()
        return answer

    @api.get(
        "/v1/patients/{patient_id}/worklist",
        tags=["worklist"],
        summary="Everything open for one patient",
        dependencies=public,
    )
    async def patient_worklist(patient_id: str) -> dict[str, Any]:
        part = await patient_part(patient_id)
        part.pop("known", None)
        return merge([part], fs.clock.now()) | {"patient_id": patient_id}

    @api.get(
        "/v1/patient/worklist",
        tags=["worklist"],
        summary=f"Everything open for the patient named in {PATIENT_HEADER} (kept out of the URL)",
        dependencies=public,
    )
    async def patient_worklist_of_patient(patient_id: PatientHeader) -> dict[str, Any]:
        return await patient_worklist(patient_id)

    @api.get(
        "/v1/patients/{patient_id}/targets/{target_id}",
        tags=["worklist"],
        summary="Whether an escalation or reminder id is known for this patient (404 if not)",
        dependencies=public,
    )
    async def target(patient_id: str, target_id: str) -> dict[str, Any]:
        return await known_target(patient_id, target_id)

    @api.get(
        "/v1/targets/{target_id}",
        tags=["worklist"],
        summary="Whether an escalation or reminder id is known for the patient named in "
        f"{PATIENT_HEADER} (404 if not)",
        dependencies=public,
    )
    async def target_of_patient(target_id: TargetId, patient_id: PatientHeader) -> dict[str, Any]:
        return await known_target(patient_id, target_id)

    async def known_target(patient_id: str, target_id: str) -> dict[str, Any]:
        part = await patient_part(patient_id, target_id)
        if not part["known"]:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no escalation or reminder {target_id!r} for this patient"
            )
        return {
            "patient_id": patient_id,
            "target_id": target_id,
            "known": True,
            "checked_at": envelope.iso(fs.clock.now()),
        }
