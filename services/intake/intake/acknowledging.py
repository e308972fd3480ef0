"""Acknowledging an escalation or a reminder, whichever way it arrives: the event, the id rules and the check.

``POST /v1/acknowledgements`` and a FHIR ``Communication`` whose category is an escalation acknowledgement
both become ``carepath.escalation.acknowledged.v1`` (published to ``care.acknowledgements``) built here,
after the same check: followup is asked ``GET /v1/targets/{target_id}`` with the patient in a header, never
in the URL. An id followup does not know for that patient is refused, not stored as an acknowledgement of
nothing; when followup cannot answer nothing is stored and the sender retries.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal, get_args
from urllib.parse import quote

import httpx

from carepath import auth, envelope
from carepath.contracts import ContractError
from intake.service import Intake, ItemResult, Refusal, Unavailable

ACK_TYPE: Final = "carepath.escalation.acknowledged.v1"
PATIENT_HEADER: Final = (
    "X-Carepath-Patient-Id"  # followup's GET /v1/targets/{target_id} reads the patient here
)
TARGET_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]+$"
TARGET_ID_MAX: Final = 160
REASON_MAX: Final = 1000
CLINICIAN_ID_MAX: Final = 255  # acknowledged_by.subject
CLINICIAN_NAME_MAX: Final = 200  # acknowledged_by.name
CHECK_TIMEOUT_S: Final = 5.0

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
ROLES: Final = frozenset(get_args(Role))
_TARGET_ID = re.compile(TARGET_ID_PATTERN)


def valid_target_id(value: object) -> bool:
    """An escalation_id or reminder_id as carepath issues them: 1-160 letters, digits and . _ : -"""
    return isinstance(value, str) and 0 < len(value) <= TARGET_ID_MAX and _TARGET_ID.match(value) is not None


def unknown_target(target_id: str) -> str:
    return f"no escalation or reminder {target_id!r} for this patient"


def acknowledgement_data(
    target_id: str, role: str, reason: str | None = None, override: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {"target_id": target_id, "role": role}
    if reason:
        data["reason"] = reason
    if override:
        data["override"] = True
    return data


def acknowledgement_event(
    *, event_id: str, source: str, patient_id: str, time: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    return envelope.cloudevent(
        id=event_id, type=ACK_TYPE, source=source, subject=patient_id, time=time, data=data
    )


class Target(Enum):
    KNOWN = "known"
    UNKNOWN = "unknown"  # followup answered 404: no such escalation or reminder for this patient
    UNCHECKED = "unchecked"  # followup did not answer, or answered anything but 200 or 404


async def check_target(followup_url: str, target_id: str, patient_id: str, token: str) -> Target:
    """Ask followup whether ``target_id`` is an escalation or reminder of ``patient_id``.

    The target is quoted even though :func:`valid_target_id` already holds, so no value can change the
    URL's shape; the patient id goes in a header, never the URL, which client and access logs print."""
    url = f"{followup_url.rstrip('/')}/v1/targets/{quote(target_id, safe='')}"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
            answer = await client.get(url, headers={PATIENT_HEADER: patient_id, **auth.bearer(token)})
    except httpx.HTTPError:
        return Target.UNCHECKED
    if answer.status_code == 404:
        return Target.UNKNOWN
    return Target.KNOWN if answer.status_code == 200 else Target.UNCHECKED


class TargetsUnchecked(Unavailable):
    """followup could not be asked about an acknowledged id: nothing was stored, the sender retries."""


class TargetsRefused(Exception):
    """An acknowledgement in an all-or-nothing request names an id followup does not know."""

    def __init__(self, indexes: Sequence[int], target_ids: Sequence[str]) -> None:
        super().__init__("; ".join(unknown_target(t) for t in target_ids))
        self.indexes = tuple(indexes)
        self.target_ids = tuple(target_ids)


class CheckedIntake(Intake):
    """intake, with every acknowledgement checked with followup before anything of the request is stored.

    The FHIR channel submits through this: an acknowledgement of an unknown id comes back rejected (and is
    dead-lettered with the resource) while the request's other items are stored; with ``atomic`` (a
    transaction) it raises :class:`TargetsRefused` and nothing is stored. Storage, deduplication and the
    clock are the running intake's own.
    """

    def __init__(self, inner: Intake, followup_url: str, token: str, *, atomic: bool = False) -> None:
        super().__init__(
            inner.publisher,
            inner.clock,
            future_tolerance_s=inner.future_tolerance.total_seconds(),
            dedup_capacity=1,
            sender=inner.sender,
        )
        self.recent = inner.recent
        self.inner = inner
        self.followup_url = followup_url
        self.token = token
        self.atomic = atomic

    async def submit(
        self,
        items: list[Any],
        raws: list[bytes] | None,
        channel: str,
        refusals: Sequence[Refusal] = (),
        *,
        verified: bool = False,
    ) -> list[ItemResult]:
        acks = [
            (i, item)
            for i, item in enumerate(items)
            if isinstance(item, dict) and item.get("type") == ACK_TYPE and isinstance(item.get("data"), dict)
        ]
        found = await asyncio.gather(
            *(
                check_target(self.followup_url, str(a["data"]["target_id"]), str(a["subject"]), self.token)
                for _, a in acks
            )
        )
        if Target.UNCHECKED in found:
            raise TargetsUnchecked("followup could not be asked about an acknowledged id")
        unknown = {
            i: str(a["data"]["target_id"])
            for (i, a), f in zip(acks, found, strict=True)
            if f is Target.UNKNOWN
        }
        refused = [
            Refusal(
                reason=f"/data/target_id: {unknown_target(target)}",
                label="unknown_target",
                errors=(ContractError("/data/target_id", unknown_target(target)),),
                raw=raws[i] if raws is not None else envelope.encode(items[i]),
                event_id=str(items[i].get("id")),
                subject=str(items[i].get("subject")),
            )
            for i, target in unknown.items()
        ]
        if unknown and self.atomic:  # keep the refused ones, store nothing else
            await self.inner.submit([], None, channel, [*refusals, *refused], verified=verified)
            raise TargetsRefused(list(unknown), list(unknown.values()))
        kept = [i for i in range(len(items)) if i not in unknown]
        stored = await self.inner.submit(
            [items[i] for i in kept],
            [raws[i] for i in kept] if raws is not None else None,
            channel,
            [*refusals, *refused],
            verified=verified,
        )
        results = {i: r for i, r in zip(kept, stored, strict=True)}
        for i, target in unknown.items():
            error = ContractError("/data/target_id", unknown_target(target))
            results[i] = ItemResult(i, str(items[i].get("id")), "rejected", [error])
        for i, result in results.items():
            result.index = i
        return [results[i] for i in range(len(items))]

    async def dead_letter(
        self,
        *,
        channel: str,
        reason: str,
        label: str,
        raw: bytes,
        field: str = "",
        codes: Sequence[tuple[str, str]] = (),
    ) -> None:
        await self.inner.dead_letter(
            channel=channel, reason=reason, label=label, raw=raw, field=field, codes=codes
        )

    async def park(self, *, channel: str, reason: str, raw: bytes, codes: Sequence[tuple[str, str]]) -> None:
        await self.inner.park(channel=channel, reason=reason, raw=raw, codes=codes)

    async def broker_reachable(self, max_age_s: float = 1.0) -> bool:
        return await self.inner.broker_reachable(max_age_s)
