"""Reading the elements every mapped resource shares: codes, the patient, times, ids, the status."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

import orjson

from carepath import envelope
from intake.fhir.codemap import CodeConflict, CodeTable, Entry
from intake.fhir.context import Context
from intake.fhir.issues import CODE_INVALID, CONFLICT, REQUIRED, VALUE, FhirError
from intake.fhir.node import Node

DEFAULT_SOURCE = "urn:carepath:fhir"
_PATIENT_REF = re.compile(r"^(?:.*/)?Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_SOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def codings(concept: Node) -> list[Mapping[str, Any]]:
    return [c for c in concept.value.get("coding") or [] if isinstance(c, Mapping)]


def describe_codings(concept: Node) -> str:
    listed = [f"{c.get('system', '(no system)')}|{c.get('code', '(no code)')}" for c in codings(concept)]
    text = concept.value.get("text")
    if not listed:
        return f"no coding (text {text!r})" if text else "no coding"
    return ", ".join(listed)


def lookup(table: CodeTable, concept: Node) -> Entry | None:
    try:
        found = table.match(codings(concept))
    except CodeConflict as exc:
        raise concept.fail(str(exc), CONFLICT) from None
    return found.entry if found else None


def coded(table: CodeTable, concept: Node, what: str) -> Entry:
    """The code map entry for a required CodeableConcept; refuses (naming the codes) when none is listed."""
    entry = lookup(table, concept)
    if entry is None:
        raise unsupported(concept, what)
    return entry


def unsupported(concept: Node, what: str) -> FhirError:
    """A refusal (``code-invalid``) naming the codes, which it carries as (system, code) pairs so that the
    resource is parked with them; a concept without a code (text alone) carries none: it can never be mapped."""
    problem = concept.fail(
        f"{describe_codings(concept)} is not {what} carepath reads; it is never guessed. "
        "If it should be read, add it to the FHIR code map (codes.yaml, or the site file in CAREPATH_FHIR_CODES)",
        CODE_INVALID,
    )
    problem.codes = tuple(
        (str(c.get("system") or ""), str(c["code"])) for c in codings(concept) if c.get("code")
    )
    return problem


def patient(root: Node, ctx: Context, element: str = "subject") -> str:
    ref = root.require(element, "the patient this is about").require("reference", "Patient/<id>")
    value = str(ref.value)
    if value.startswith("urn:uuid:") or value.startswith("urn:oid:"):
        found = ctx.patients.get(value)
        if found is None:
            raise ref.fail(f"{value!r} is not a Patient entry of this Bundle", VALUE)
        return found
    m = _PATIENT_REF.match(value)
    if m is None:
        raise ref.fail(f"{value!r} is not a Patient reference (expected Patient/<id>)", VALUE)
    return m.group(1)


def instant(node: Node, *, date_allowed: bool = False) -> datetime:
    """A FHIR dateTime or instant as an aware datetime; a date alone is midnight UTC where allowed."""
    value = str(node.value)
    if len(value) == 10 and date_allowed:
        return datetime.combine(datetime.fromisoformat(value).date(), time(0), UTC)
    if len(value) <= 10:
        allowed = "a date (YYYY-MM-DD) or " if date_allowed else ""
        raise node.fail(
            f"{value!r} is not precise enough: {allowed}a date and time with a UTC offset is needed"
        )
    head, dot, tail = value.partition(".")
    if dot:  # Python reads at most 6 fractional digits; FHIR allows more
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[: min(digits, 6)] + tail[digits:]
        value = f"{head}.{tail}"
    try:
        return envelope.parse_time(value)
    except ValueError as exc:
        raise node.fail(f"{node.value!r} is not a date and time with a UTC offset ({exc})") from None


def first_time(
    root: Node, candidates: tuple[str, ...], *, date_allowed: bool = False
) -> tuple[datetime, Node]:
    """The first present of ``candidates`` (``effectivePeriod.start`` style paths allowed)."""
    for candidate in candidates:
        node: Node | None = root
        for part in candidate.split("."):
            node = node.get(part) if node is not None else None
        if node is not None:
            return instant(node, date_allowed=date_allowed), node
    names = " or ".join(candidates)
    raise root.field(candidates[0]).fail(f"required: when it happened ({names})", REQUIRED)


def status(root: Node, mapping: Mapping[str, str], what: str) -> tuple[str, Node]:
    node = root.require("status")
    value = str(node.value)
    if value not in mapping:
        raise node.fail(
            f"status {value!r}: carepath records {what} only with status {', '.join(sorted(mapping))}",
            VALUE,
        )
    return mapping[value], node


def event_id(root: Node) -> str:
    """Deterministic from resource type + id + meta.versionId, so a resent resource is a duplicate.

    Without a versionId a digest of the content stands in for it (a changed resource is a new event, the
    same one resent is a duplicate); without an id, the digest alone.
    """
    resource = root.value
    rtype = resource["resourceType"]
    rid = resource.get("id")
    version = (resource.get("meta") or {}).get("versionId")
    if not rid:
        return f"{rtype}/sha256-{_digest(resource)}"
    return f"{rtype}/{rid}/_history/{version or 'sha256-' + _digest(resource)}"


def source(root: Node) -> str:
    meta_source = (root.value.get("meta") or {}).get("source")
    if isinstance(meta_source, str) and _SOURCE.match(meta_source):
        return meta_source
    return DEFAULT_SOURCE


def _digest(resource: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
