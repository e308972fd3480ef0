"""A transaction or batch Bundle: its entries validated and mapped one by one, then answered per entry.

Patients sent in the same Bundle can be referred to by their entry's fullUrl ("urn:uuid:...").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from intake.fhir.codemap import CodeMap
from intake.fhir.context import Context
from intake.fhir.issues import NOT_SUPPORTED, REQUIRED, STRUCTURE, FhirError, error
from intake.fhir.mapped import Mapped
from intake.fhir.node import Node
from intake.fhir.resources import MAPPERS, check_supported, validate

KINDS = ("transaction", "batch")
METHODS = frozenset({"POST", "PUT"})


@dataclass
class Entry:
    index: int
    raw: bytes  # the entry's resource as received (for the dead-letter record)
    mapped: Mapped | None = None
    error: FhirError | None = None
    stored: str | None = None  # accepted | duplicate, once intake has stored it

    @property
    def expression(self) -> str:
        return f"Bundle.entry[{self.index}]"


def bundle_kind(doc: Any) -> str:
    """Check the Bundle itself (not its entries); returns ``transaction`` or ``batch``."""
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        found = doc.get("resourceType") if isinstance(doc, dict) else type(doc).__name__
        raise error(
            NOT_SUPPORTED,
            f"expected a Bundle (transaction or batch), got {found!r}; post single resources to /fhir/<type>",
            "Bundle.resourceType",
            "/resourceType",
        )
    kind = doc.get("type")
    if kind not in KINDS:
        raise error(
            NOT_SUPPORTED,
            f"Bundle type {kind!r}: carepath processes transaction and batch Bundles",
            "Bundle.type",
            "/type",
        )
    validate("Bundle", {k: v for k, v in doc.items() if k != "entry"}, "Bundle")
    entries = doc.get("entry", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise error(STRUCTURE, "entry must be a list of objects", "Bundle.entry", "/entry", status=400)
    return str(kind)


def read_entries(doc: Mapping[str, Any], codes: CodeMap) -> list[Entry]:
    entries = [e for e in doc.get("entry", []) if isinstance(e, dict)]
    out: list[Entry] = []
    valid: list[tuple[Entry, Mapping[str, Any]]] = []
    patients: dict[str, str] = {}
    for index, raw_entry in enumerate(entries):
        resource = raw_entry.get("resource")
        entry = Entry(index, orjson.dumps(resource if resource is not None else raw_entry))
        out.append(entry)
        try:
            _check_entry(entry, raw_entry)
        except FhirError as exc:
            entry.error = exc
            continue
        valid.append((entry, raw_entry))
        assert isinstance(resource, dict)
        full_url = raw_entry.get("fullUrl")
        if resource.get("resourceType") == "Patient" and resource.get("id") and isinstance(full_url, str):
            patients[full_url] = str(resource["id"])
    ctx = Context(codes, patients)
    for entry, checked_entry in valid:
        checked = checked_entry["resource"]
        try:
            entry.mapped = MAPPERS[checked["resourceType"]](
                Node(checked, f"{entry.expression}.resource"), ctx
            )
        except FhirError as exc:
            entry.error = exc
    return out


def _check_entry(entry: Entry, raw_entry: Mapping[str, Any]) -> None:
    where = entry.expression
    resource = raw_entry.get("resource")
    if not isinstance(resource, dict):
        raise error(REQUIRED, "required: the resource to process", f"{where}.resource", "", status=400)
    check_supported(resource.get("resourceType"), f"{where}.resource.resourceType")
    request = raw_entry.get("request")
    method = request.get("method") if isinstance(request, dict) else None
    if method is None:
        raise error(REQUIRED, "required: request.method (POST or PUT)", f"{where}.request", "", status=400)
    if not isinstance(method, str) or method not in METHODS:  # a list or object is no method either
        raise error(
            NOT_SUPPORTED,
            f"request.method {repr(method)[:40]}: carepath accepts POST and PUT entries",
            f"{where}.request.method",
            "",
        )
    validate("BundleEntry", {k: v for k, v in raw_entry.items() if k != "resource"}, where)
    validate(resource["resourceType"], resource, f"{where}.resource")
