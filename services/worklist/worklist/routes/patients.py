"""One patient's page: their escalations, what is pending for them, and their timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from worklist import metrics
from worklist.login import UserDep
from worklist.sources import SourceUnavailable
from worklist.web import ServicesDep

router = APIRouter()


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
async def patient_page(request: Request, patient_id: str, who: UserDep, svc: ServicesDep) -> Response:
    timeline = svc.view.timeline(patient_id)
    alerts = [a for a in svc.view.alerts.values() if a.patient_id == patient_id]
    if not timeline and not alerts:
        return svc.message(request, "Not found", "The page holds nothing for this patient.", 404)
    try:
        open_items: dict[str, Any] | None = await svc.followup.patient(patient_id)
        problem = None
    except SourceUnavailable as exc:
        metrics.SOURCE_ERRORS.labels("followup").inc()
        open_items, problem = None, str(exc)
    context = {
        "patient_id": patient_id,
        "timeline": list(reversed(timeline)),
        "alerts": alerts,
        "open_items": open_items,
        "followup_problem": problem,
    }
    return svc.page(request, "patient.html", context)
