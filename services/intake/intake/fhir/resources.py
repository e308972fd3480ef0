"""One resource: parse and validate it with its R4B model, then map it to a carepath event.

Validation errors come back with the failing element (``Observation.valueQuantity.value``) and answer
400; a valid resource carepath cannot read (an unknown code, a missing element carepath needs) answers 422.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from intake.fhir.communications import map_communication
from intake.fhir.conditions import map_condition
from intake.fhir.context import Context
from intake.fhir.issues import NOT_SUPPORTED, REQUIRED, STRUCTURE, VALUE, FhirError, Issue, error
from intake.fhir.mapped import Mapped
from intake.fhir.medications import (
    map_medication_administration,
    map_medication_request,
    map_medication_statement,
)
from intake.fhir.node import Node
from intake.fhir.observations import map_observation
from intake.fhir.patients import map_patient
from intake.fhir.procedures import map_procedure
from intake.fhir.reports import map_diagnostic_report
from intake.fhir.tasks import map_task

Mapper = Callable[[Node, Context], Mapped]

MAPPERS: Mapping[str, Mapper] = {
    "Observation": map_observation,
    "DiagnosticReport": map_diagnostic_report,
    "Condition": map_condition,
    "MedicationRequest": map_medication_request,
    "MedicationAdministration": map_medication_administration,
    "MedicationStatement": map_medication_statement,
    "Procedure": map_procedure,
    "Patient": map_patient,
    "Communication": map_communication,
    "Task": map_task,
}
SUPPORTED = frozenset(MAPPERS)
MAX_ISSUES = 20


def check_supported(resource_type: Any, expression: str, pointer: str = "/resourceType") -> str:
    if not isinstance(resource_type, str) or resource_type not in SUPPORTED:  # a list or object: not a name
        shown = (
            repr(resource_type)[:60]
            if isinstance(resource_type, str)
            else f"a JSON {_json_kind(resource_type)}"
        )
        raise error(
            NOT_SUPPORTED,
            f"resourceType {shown} is not one carepath reads ({', '.join(sorted(SUPPORTED))})",
            expression,
            pointer,
        )
    return str(resource_type)


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else "value"
    )


def validate(model_name: str, doc: Mapping[str, Any], expression: str, pointer: str = "") -> None:
    """Validate ``doc`` with the R4B model ``model_name``; raises FhirError (400) naming each element."""
    model = get_fhir_model_class(model_name)
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        raise FhirError(issues_of(exc.errors(), expression, pointer), status=400, label="structure") from None
    except (LookupError, TypeError, ValueError, AttributeError, RecursionError):
        # The R4B models fail outside pydantic's errors on some wrong-typed elements (a contained
        # resource whose resourceType is no FHIR type raises KeyError): still a resource that is not R4.
        raise error(
            STRUCTURE,
            f"not a valid R4 {model_name}: an element has the wrong type",
            expression,
            pointer,
            status=400,
        ) from None


def issues_of(errors: Sequence[Any], expression: str, pointer: str) -> list[Issue]:
    issues = []
    for err in errors[:MAX_ISSUES]:
        tail_expr, tail_pointer = _path(err.get("loc", ()))
        kind = str(err.get("type", ""))
        code = REQUIRED if "missing" in kind else STRUCTURE if kind == "extra_forbidden" else VALUE
        message = (
            "unknown element" if kind == "extra_forbidden" else _one_line(str(err.get("msg", "invalid")))
        )
        issues.append(Issue(code, message, expression + tail_expr, pointer + tail_pointer))
    return issues


def map_resource(doc: Mapping[str, Any], ctx: Context, expression: str | None = None) -> Mapped:
    """Validate and map one resource; ``expression`` is where it sits (default: its resource type)."""
    rtype = check_supported(doc.get("resourceType"), f"{expression or 'Resource'}.resourceType")
    where = expression or rtype
    validate(rtype, doc, where)
    return MAPPERS[rtype](Node(doc, where), ctx)


def _path(loc: Sequence[Any]) -> tuple[str, str]:
    expr, pointer = "", ""
    for part in loc:
        if isinstance(part, int):
            expr += f"[{part}]"
            pointer += f"/{part}"
            continue
        name = _fhir_name(str(part))
        if not name:
            continue
        expr += f".{name}"
        pointer += "/" + name.replace("~", "~0").replace("/", "~1")
    return expr, pointer


def _fhir_name(name: str) -> str:
    if name == "resource_type":
        return "resourceType"
    if name.endswith("__ext"):
        return "_" + name.removesuffix("__ext")
    if name.endswith("_fhir"):
        return name.removesuffix("_fhir")
    if name.startswith(("function-", "model-", "json-")):  # pydantic validator tags, not elements
        return ""
    return name


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
