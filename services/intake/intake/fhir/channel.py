"""The FHIR channel: a resource or a Bundle in, carepath events stored, a FHIR answer out.

Every mapped event is checked against the contract here first (``admission.admit``, the same check
intake makes), so an error is reported at the FHIR element that caused it, and a transaction is stored
only when every entry passes. Refused input is dead-lettered with the raw resource. 2xx only once
stored: :class:`intake.service.Unavailable` propagates and the route answers 503.

A resource carepath does not read whole because of codes it does not know is parked with those codes
(``clinical.events.parked``), one record per resource, a Bundle's entries each on their own: refused for
an unknown code (``code-invalid``), with the dead letter; stored except parts named as not read, in the
same publish as its event. Either is written before the answer, or the answer is not 2xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from intake.admission import Rejected, admit
from intake.fhir.bundles import Entry, bundle_kind, read_entries
from intake.fhir.codemap import CodeMap
from intake.fhir.context import Context
from intake.fhir.issues import (
    CONFLICT,
    STRUCTURE,
    TOO_COSTLY,
    VALUE,
    FhirError,
    Issue,
    error,
    information,
    operation_outcome,
)
from intake.fhir.mapped import Mapped
from intake.fhir.resources import check_supported, map_resource
from intake.limits import JsonRefused, read_json
from intake.service import Intake, ItemResult, Refusal

CHANNEL = "fhir"
_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 422: "422 Unprocessable Entity"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FhirChannel:
    def __init__(self, intake: Intake, codes: CodeMap) -> None:
        self.intake = intake
        self.codes = codes

    # --- one resource -----------------------------------------------------------------------------------
    async def resource(self, resource_type: str, raw: bytes) -> Answer:
        try:
            doc = _json(raw)
            check_supported(resource_type, resource_type, "")
            if not isinstance(doc, dict) or doc.get("resourceType") != resource_type:
                found = doc.get("resourceType") if isinstance(doc, dict) else type(doc).__name__
                raise error(
                    STRUCTURE,
                    f"the body's resourceType is {found!r} but it was posted to /fhir/{resource_type}",
                    f"{resource_type}.resourceType",
                    "/resourceType",
                    status=400,
                )
            mapped = map_resource(doc, Context(self.codes))
            self._admissible(mapped)
        except FhirError as exc:
            await self._dead_letter(exc, raw)
            return _refused(exc)
        [result] = await self.intake.submit([mapped.event], [raw], CHANNEL, _unread(mapped, raw))
        if result.status == "rejected":
            return _refused(_rejected(mapped, result))
        return _stored(mapped, result.status)

    # --- a transaction or batch Bundle ------------------------------------------------------------------
    async def bundle(self, raw: bytes, max_entries: int) -> Answer:
        try:
            doc = _json(raw)
            kind = bundle_kind(doc)
        except FhirError as exc:
            await self._dead_letter(exc, raw)
            return _refused(exc)
        count = len(doc.get("entry") or [])
        if count > max_entries:
            too_many = error(
                TOO_COSTLY,
                f"a Bundle of {count} entries exceeds the maximum of {max_entries}; split it",
                "Bundle.entry",
                status=413,
                label="too_many",
            )
            await self._dead_letter(too_many, raw)  # read, so kept like any other refusal
            return _refused(too_many)
        entries = read_entries(doc, self.codes)
        for entry in entries:
            if entry.mapped is not None and entry.error is None:
                try:
                    self._admissible(entry.mapped)
                except FhirError as exc:
                    entry.error = exc
        failed = [e for e in entries if e.error is not None]
        if failed:
            await asyncio.gather(*(self._dead_letter(e.error, e.raw) for e in failed if e.error))
        if kind == "transaction" and failed:
            return _transaction_failed(failed)
        ready = [e for e in entries if e.mapped is not None and e.error is None]
        unread = [r for e in ready if e.mapped is not None for r in _unread(e.mapped, e.raw)]
        results = await self.intake.submit(
            [e.mapped.event for e in ready if e.mapped], [e.raw for e in ready], CHANNEL, unread
        )
        for entry, result in zip(ready, results, strict=True):
            if result.status == "rejected" and entry.mapped is not None:
                entry.error = _rejected(entry.mapped, result)  # already dead-lettered by intake
            else:
                entry.stored = result.status
        return _bundle_response(kind, entries)

    # --- helpers ------------------------------------------------------------------------------------------
    def _admissible(self, mapped: Mapped) -> None:
        verdict = admit(mapped.event, self.intake.clock.now(), self.intake.future_tolerance)
        if isinstance(verdict, Rejected):
            issues = []
            for err in verdict.errors[:20]:
                node = mapped.locate(err.field)
                message = f"{err.message} (carepath {err.field or 'event'})"
                issues.append(Issue(VALUE, message, node.expression, node.pointer))
            raise FhirError(issues, 422, verdict.reason)

    async def _dead_letter(self, exc: FhirError, raw: bytes) -> None:
        first = exc.issues[0] if exc.issues else Issue(VALUE, "invalid resource")
        await self.intake.dead_letter(
            channel=CHANNEL,
            reason=_reason(first),
            label=exc.label,
            raw=raw,
            field=first.pointer,
            codes=exc.codes,
        )


def _unread(mapped: Mapped, raw: bytes) -> list[Refusal]:
    """A resource stored except parts whose codes carepath did not know: parked with those codes, in the
    request that stores its event (not dead-lettered: what was read is stored)."""
    if not mapped.unread_codes:
        return []
    first = mapped.unread[0] if mapped.unread else Issue(VALUE, "a part was not read")
    more = f" (and {len(mapped.unread) - 1} more parts not read)" if len(mapped.unread) > 1 else ""
    reason = _reason(first) + more
    return [
        Refusal(
            reason=reason,
            label="unread",
            errors=(),
            raw=raw,
            subject=str(mapped.event["subject"]),
            codes=mapped.unread_codes,
            events=(mapped.id,),
            dead_letter=False,
        )
    ]


def _json(raw: bytes) -> Any:
    try:
        return read_json(raw)
    except JsonRefused as refused:
        raise error(STRUCTURE, refused.reason, status=400, label=refused.label) from None


def _reason(issue: Issue) -> str:
    text = " ".join(issue.describe().split())
    return text[:2000]


def _rejected(mapped: Mapped, result: ItemResult) -> FhirError:
    issues = []
    for err in result.errors:
        node = mapped.locate(err.field)
        if err.field == "/id":  # the same resource id and version was stored earlier with other content
            issues.append(
                Issue(CONFLICT, err.message, f"{mapped.root.expression}.meta.versionId", "/meta/versionId")
            )
        else:
            issues.append(Issue(VALUE, err.message, node.expression, node.pointer))
    return FhirError(issues or [Issue(VALUE, "refused")], 422)


def _refused(exc: FhirError) -> Answer:
    return Answer(exc.status, operation_outcome(exc.issues))


def _stored(mapped: Mapped, status: str) -> Answer:
    if status == "duplicate":
        text = f"already stored as carepath event {mapped.id} ({mapped.event['type']}): not stored again"
        return Answer(200, operation_outcome([information(text)]))
    text = f"stored as carepath event {mapped.id} ({mapped.event['type']})"
    return Answer(201, operation_outcome([information(text), *mapped.unread]))


def _transaction_failed(failed: Sequence[Entry]) -> Answer:
    issues = [i for e in failed if e.error for i in e.error.issues]
    status = 400 if any(e.error and e.error.status == 400 for e in failed) else 422
    note = information(
        f"transaction refused: {len(failed)} entr{'y' if len(failed) == 1 else 'ies'} failed; nothing was stored"
    )
    return Answer(status, operation_outcome([*issues, note]))


def _bundle_response(kind: str, entries: Sequence[Entry]) -> Answer:
    out = []
    for entry in entries:
        if entry.error is not None:
            status = entry.error.status
            response: dict[str, Any] = {
                "status": _STATUS_TEXT.get(status, str(status)),
                "outcome": operation_outcome(entry.error.issues),
            }
        else:
            assert entry.mapped is not None and entry.stored is not None
            stored = _stored(entry.mapped, entry.stored)
            response = {"status": _STATUS_TEXT[stored.status], "outcome": stored.body}
        out.append({"response": response})
    return Answer(200, {"resourceType": "Bundle", "type": f"{kind}-response", "entry": out})
