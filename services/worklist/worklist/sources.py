"""The two services the page calls: followup's worklist API (reader's token) and intake's acknowledgement
API (the clinician's own access token; for a development login, a system's token naming the person in
``on_behalf_of``). Patient ids go in a header or the body, never in a logged line; tokens are never logged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from carepath import auth

TIMEOUT = httpx.Timeout(5.0)
PATIENT_HEADER = "X-Carepath-Patient-Id"


class SourceUnavailable(Exception):
    """followup or intake did not answer, or answered with an error the page cannot act on."""


@dataclass(frozen=True)
class AckOutcome:
    status: int  # intake's answer: 202 stored, 401 token refused, 403 role refused, 404 unknown id, 422, 503
    detail: str
    event_id: str = ""
    verified: bool = False  # intake recorded the clinician it verified (else as asserted by the page)

    @property
    def stored(self) -> bool:
        return self.status == 202


class Followup:
    def __init__(self, url: str, token: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.client = httpx.AsyncClient(
            base_url=url, headers=auth.bearer(token), timeout=TIMEOUT, transport=transport
        )

    async def worklist(self) -> dict[str, Any]:
        return await self._get("/v1/worklist")

    async def patient(self, patient_id: str) -> dict[str, Any]:
        """Everything open for one patient; the id goes in a header, never the URL."""
        return await self._get("/v1/patient/worklist", {PATIENT_HEADER: patient_id})

    async def _get(self, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            r = await self.client.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"followup did not answer ({type(exc).__name__})") from None
        if r.status_code != 200:
            raise SourceUnavailable(f"followup answered {r.status_code}")
        answer: dict[str, Any] = r.json()
        return answer

    async def close(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class Clinician:
    """Who acknowledges, and how intake will know: their own token, or (a development login) as the page
    asserts them with its system token."""

    subject: str
    name: str
    token: str | None = field(default=None, repr=False)  # the clinician's access token for intake


class Intake:
    def __init__(self, url: str, token: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.system_token = token  # for a development login's acknowledgements only
        self.client = httpx.AsyncClient(base_url=url, timeout=TIMEOUT, transport=transport)

    async def acknowledge(
        self,
        who: Clinician,
        patient_id: str,
        target_id: str,
        role: str,
        reason: str | None,
        override: bool,
    ) -> AckOutcome:
        body: dict[str, Any] = {"patient_id": patient_id, "target_id": target_id, "role": role}
        if who.token is not None:
            credential = who.token  # intake reads who from it; role chooses among the token's roles
        else:
            credential = self.system_token
            body = {
                "patient_id": patient_id,
                "target_id": target_id,
                "on_behalf_of": {"id": who.subject, "name": who.name, "role": role},
            }
        if reason:
            body["reason"] = reason
        if override:
            body["override"] = True
        try:
            r = await self.client.post("/v1/acknowledgements", json=body, headers=auth.bearer(credential))
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"intake did not answer ({type(exc).__name__})") from None
        try:
            answer = r.json()
        except ValueError:
            answer = {}
        detail = answer.get("detail") or answer.get("error") or answer.get("status") or ""
        if not isinstance(detail, str):
            detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        return AckOutcome(
            r.status_code, detail, str(answer.get("event_id", "")), answer.get("verified") is True
        )

    async def close(self) -> None:
        await self.client.aclose()
