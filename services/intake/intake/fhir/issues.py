"""OperationOutcome issues: what went wrong, where (a FHIRPath-like expression), and the HTTP status.

Pure: no I/O. An :class:`Issue` names the element both as a FHIRPath-like ``expression`` for the sender
(``Observation.valueQuantity.code``) and as a JSON pointer into the resource as received
(``/valueQuantity/code``) for the dead-letter record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# FHIR IssueType codes used here (http://hl7.org/fhir/issue-type).
STRUCTURE = "structure"
REQUIRED = "required"
VALUE = "value"
INVALID = "invalid"
CODE_INVALID = "code-invalid"
NOT_SUPPORTED = "not-supported"
BUSINESS_RULE = "business-rule"
CONFLICT = "conflict"
DUPLICATE = "duplicate"
TRANSIENT = "transient"
LOGIN = "login"
TOO_COSTLY = "too-costly"
NOT_FOUND = "not-found"
EXCEPTION = "exception"
INFORMATIONAL = "informational"


@dataclass(frozen=True)
class Issue:
    code: str
    diagnostics: str
    expression: str = ""
    pointer: str = ""
    severity: str = "error"

    def describe(self) -> str:
        return f"{self.expression}: {self.diagnostics}" if self.expression else self.diagnostics

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = [self.expression]
        return out


@dataclass
class FhirError(Exception):
    """A resource carepath cannot accept. ``status`` is the HTTP answer; ``label`` the metric reason."""

    issues: list[Issue]
    status: int = 422
    label: str = "invalid"
    # (system, code) carepath did not know, set by ``reading.unsupported``: the resource is parked with them
    codes: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.issues[0].describe() if self.issues else "invalid resource"


def error(
    code: str,
    diagnostics: str,
    expression: str = "",
    pointer: str = "",
    *,
    status: int = 422,
    label: str = "",
) -> FhirError:
    return FhirError([Issue(code, diagnostics, expression, pointer)], status, label or _label(code))


def _label(code: str) -> str:
    return {
        STRUCTURE: "structure",
        REQUIRED: "structure",
        VALUE: "invalid",
        CODE_INVALID: "unsupported_code",
        NOT_SUPPORTED: "unsupported",
        CONFLICT: "id_conflict",
    }.get(code, "invalid")


def operation_outcome(issues: Iterable[Issue], resource_id: str | None = None) -> dict[str, Any]:
    outcome: dict[str, Any] = {"resourceType": "OperationOutcome"}
    if resource_id:
        outcome["id"] = resource_id
    outcome["issue"] = [i.as_json() for i in issues] or [
        Issue(INFORMATIONAL, "all ok", severity="information").as_json()
    ]
    return outcome


def information(diagnostics: str, expression: str = "") -> Issue:
    return Issue(INFORMATIONAL, diagnostics, expression, severity="information")
