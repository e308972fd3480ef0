"""The event contract: the JSON Schemas in ``schemas/`` and the validator every service uses.

Every schema file is read once. An event type is a schema file named ``<type>.schema.json`` whose
``x-kind`` says whether intake accepts it (``input``) or a service publishes it (``output``); the other
files (envelope, shared definitions, DLQ record) are building blocks. Validators are compiled once per
type, on first use: jsonschema-rs answers whether an event is valid, and jsonschema explains one it
rejects (:mod:`carepath.compiled_schema`).

Errors come back as :class:`ContractError`: a JSON pointer to the offending field and a message. A missing
field is reported at the pointer where it should be (``/data/nrs``) and an unexpected one at its own
pointer (``/data/nrss``). Messages may quote the offending value: log the field, never the message.

A few rules need two fields at once and are checked in code after the schema passes: a date of birth or a
pain onset after the event time, a reference range whose low bound is above its high bound, and the ids
and deadline an escalation or reminder derives from its data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from jsonschema import FormatChecker, ValidationError
from jsonschema.exceptions import best_match, relevance
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from carepath.compiled_schema import compile_schema, explainer
from carepath.resources import schemas_dir

ENVELOPE_SCHEMA = "cloudevent.v1.schema.json"
DLQ_SCHEMA = "dlq-record.v1.schema.json"
_TYPE_PREFIX = "carepath."
_SCHEMA_SUFFIX = ".schema.json"
_KINDS = ("input", "output")
_SHORT = 60
_UNEXPECTED = "unexpected field"


@dataclass(frozen=True)
class ContractError:
    """One problem with an event: ``field`` is a JSON pointer ("" for the whole event)."""

    field: str
    message: str

    def describe(self) -> str:
        return f"{self.field or '(root)'}: {self.message}"


@dataclass(frozen=True)
class _EventType:
    name: str
    schema_file: str
    kind: str
    topic: str


@dataclass(frozen=True)
class _Catalogue:
    registry: Registry[Any]
    schemas: Mapping[str, Mapping[str, Any]]
    types: Mapping[str, _EventType]


# ---------------------------------------------------------------------------------------------------------
# Loading


@cache
def _catalogue() -> _Catalogue:
    folder = schemas_dir()
    schemas: dict[str, Mapping[str, Any]] = {}
    resources: list[tuple[str, Resource[Any]]] = []
    for path in sorted(folder.glob(f"*{_SCHEMA_SUFFIX}")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        schema_id = contents.get("$id", "")
        if not schema_id.endswith("/" + path.name):
            raise ValueError(f"{path}: $id {schema_id!r} must end with /{path.name}")
        schemas[path.name] = contents
        resources.append((schema_id, DRAFT202012.create_resource(contents)))
    for required in (ENVELOPE_SCHEMA, DLQ_SCHEMA):
        if required not in schemas:
            raise ValueError(f"{folder}: {required} is missing")
    types = {}
    for file_name, contents in schemas.items():
        if file_name.startswith(_TYPE_PREFIX):
            event_type = _event_type(file_name, contents)
            types[event_type.name] = event_type
    return _Catalogue(Registry().with_resources(resources).crawl(), schemas, types)


def _event_type(file_name: str, schema: Mapping[str, Any]) -> _EventType:
    name = file_name.removesuffix(_SCHEMA_SUFFIX)
    declared = schema.get("properties", {}).get("type", {}).get("const")
    if declared != name:
        raise ValueError(f"{file_name}: properties.type.const is {declared!r}, expected {name!r}")
    kind, topic = schema.get("x-kind"), schema.get("x-topic")
    if kind not in _KINDS or not isinstance(topic, str):
        raise ValueError(f"{file_name}: x-kind must be one of {_KINDS} and x-topic a topic name")
    return _EventType(name=name, schema_file=file_name, kind=kind, topic=topic)


def _types_of_kind(kind: str) -> frozenset[str]:
    return frozenset(t.name for t in _catalogue().types.values() if t.kind == kind)


INPUT_TYPES: frozenset[str] = _types_of_kind("input")
OUTPUT_TYPES: frozenset[str] = _types_of_kind("output")


def topic_for(type_name: str) -> str:
    """The topic an event of this type is published to (``x-topic`` in its schema)."""
    return _catalogue().types[type_name].topic


# ---------------------------------------------------------------------------------------------------------
# Formats: the schemas give each date and time a pattern for its shape; these add calendar validity.


def _is_date_time(value: str) -> bool:
    """A real calendar date, and an instant that exists in UTC (0001-01-01T00:30+01:00 does not)."""
    if not _is_date(value[:10]):
        return False
    try:
        datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {"date-time": _is_date_time, "date": _is_date}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in _FORMAT_CHECKS.items():
        checker.checks(name)(_strings_only(check))
    return checker


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    return lambda value: not isinstance(value, str) or check(value)


_FORMATS = _format_checker()


@dataclass(frozen=True)
class _Checker:
    """Both forms of one schema: ``accepts`` (jsonschema-rs) answers fast, ``explain`` (jsonschema) says
    what is wrong.

    ``explain`` runs whenever ``accepts`` says no, and has the last word: a valid event the fast form
    rejected by mistake would still pass. The contract tests hold the two to the same verdict.
    """

    accepts: Callable[[object], bool]
    explain: Validator

    def errors(self, instance: object) -> list[ContractError]:
        return [] if self.accepts(instance) else _errors(self.explain, instance)


@cache
def _checker(schema_file: str) -> _Checker:
    catalogue = _catalogue()
    schema = catalogue.schemas[schema_file]
    resources = catalogue.schemas.values()
    return _Checker(
        accepts=compile_schema(schema, resources, _FORMAT_CHECKS),
        explain=explainer(schema, resources, _FORMATS),
    )


# ---------------------------------------------------------------------------------------------------------
# Validation


def validate_event(event: object, *, allowed: frozenset[str] | None = None) -> list[ContractError]:
    """Check a CloudEvent against the envelope and its type's schema; [] when it is valid.

    ``allowed`` is the set of types accepted here, INPUT_TYPES by default. A missing, unknown or
    not-accepted ``type`` gives one error on "/type" listing the accepted types, after which only the
    envelope is checked. Errors are most relevant first, one per field.
    """
    accepted = INPUT_TYPES if allowed is None else allowed
    if not isinstance(event, dict):
        return [ContractError("", f"an event must be a JSON object, not {_json_type(event)}")]
    type_name = event.get("type")
    event_type = _catalogue().types.get(type_name) if isinstance(type_name, str) else None
    if event_type is None or event_type.name not in accepted:
        envelope = [e for e in _checker(ENVELOPE_SCHEMA).errors(event) if e.field != "/type"]
        return [_type_error(type_name, event_type, accepted), *envelope]
    errors = _checker(event_type.schema_file).errors(event)
    if errors:
        return errors
    check = _CROSS_CHECKS.get(event_type.name)
    return check(event) if check is not None else []


def validate_output(event: object) -> list[ContractError]:
    """Check an escalation or reminder event as published by triage or followup."""
    return validate_event(event, allowed=OUTPUT_TYPES)


def validate_dlq_record(record: object) -> list[ContractError]:
    """Check a dead-letter record (plain JSON, not a CloudEvent)."""
    if not isinstance(record, dict):
        return [ContractError("", f"a DLQ record must be a JSON object, not {_json_type(record)}")]
    return _checker(DLQ_SCHEMA).errors(record)


def _type_error(type_name: object, known: _EventType | None, accepted: frozenset[str]) -> ContractError:
    listing = "accepted types: " + ", ".join(sorted(accepted))
    if type_name is None:
        return ContractError("/type", f"required field 'type' is missing; {listing}")
    if not isinstance(type_name, str):
        return ContractError("/type", f"{_short(type_name)} is not an event type name; {listing}")
    if known is None:
        return ContractError("/type", f"unknown event type {_short(type_name)}; {listing}")
    return ContractError("/type", f"event type {type_name!r} is not accepted here; {listing}")


def _errors(validator: Validator, instance: Any) -> list[ContractError]:
    raw = sorted(validator.iter_errors(instance), key=relevance, reverse=True)
    if not raw:
        return []
    converted = [c for error in raw for c in _convert(error)]
    # An unexpected field usually explains a missing one (a misspelling): report it first.
    converted.sort(key=lambda c: not c.message.startswith(_UNEXPECTED))
    seen: set[str] = set()
    unique = []
    for error in converted:
        if error.field not in seen:
            seen.add(error.field)
            unique.append(error)
    return unique


def _convert(error: ValidationError) -> Iterator[ContractError]:
    keyword = error.validator
    if keyword in ("anyOf", "oneOf") and error.context:
        missing = _anyof_missing(error)
        if missing is not None:
            names = ", ".join(repr(n) for n in missing)
            yield ContractError(_pointer(error.absolute_path), f"needs at least one of {names}")
            return
        chosen = best_match([error])
        if chosen is not None and chosen is not error:
            yield from _convert(chosen)
            return
    base = _pointer(error.absolute_path)
    instance = error.instance
    hint = _custom_message(error)
    if keyword == "required" and isinstance(instance, dict):
        required: Any = error.validator_value
        for name in required:
            if name not in instance:
                text = f"required field {name!r} is missing"
                yield ContractError(f"{base}/{_escape(name)}", f"{text}: {hint}" if hint else text)
        return
    if keyword == "additionalProperties" and isinstance(instance, dict) and isinstance(error.schema, dict):
        for name in _unexpected(instance, error.schema):
            yield ContractError(f"{base}/{_escape(name)}", f"{_UNEXPECTED} {name!r}")
        return
    if hint:
        yield ContractError(base, f"{_short(instance)} {hint}")
        return
    if keyword == "const":
        yield ContractError(base, f"{_short(instance)} must be {error.validator_value!r}")
        return
    yield ContractError(base, _shorten_message(error.message, instance))


def _anyof_missing(error: ValidationError) -> list[str] | None:
    """For an anyOf made only of ``required`` branches, the names of which at least one is needed."""
    branches = error.validator_value
    if not isinstance(branches, list) or not all(
        isinstance(b, dict) and set(b) == {"required"} for b in branches
    ):
        return None
    return [name for b in branches for name in b["required"]]


def _unexpected(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]


def _custom_message(error: ValidationError) -> str | None:
    schema = error.schema
    if isinstance(schema, dict):
        text = schema.get("errorMessage")
        if isinstance(text, str):
            return text
    return None


def _pointer(path: Iterable[object]) -> str:
    return "".join(f"/{_escape(part)}" for part in path)


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _short(value: object) -> str:
    text = repr(value)
    if len(text) <= _SHORT:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters as text"
    return f"{text[: _SHORT - 20]}... ({size})"


def _shorten_message(message: str, instance: object) -> str:
    text = repr(instance)
    return message.replace(text, _short(instance)) if len(text) > _SHORT else message


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------------------
# Rules that need two fields at once (checked after the schema passes, so every field is well formed)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.upper())


def _diagnosis_checks(event: Mapping[str, Any]) -> list[ContractError]:
    birth = event["data"].get("birth_date")
    event_day = event["time"][:10]
    if birth is not None and birth > event_day:
        return [ContractError("/data/birth_date", f"date of birth {birth} is after the event time")]
    return []


def _pain_checks(event: Mapping[str, Any]) -> list[ContractError]:
    onset = event["data"].get("onset")
    if onset is not None and _instant(onset) > _instant(event["time"]):
        return [ContractError("/data/onset", "pain onset is after the event time")]
    return []


def _symptom_checks(event: Mapping[str, Any]) -> list[ContractError]:
    data = event["data"]
    if not any(data.get(key) for key in ("neurological", "systemic", "character", "temperature")):
        return [
            ContractError(
                "/data",
                "must name at least one finding in neurological, systemic or character, or a temperature",
            )
        ]
    return []


def _lab_checks(event: Mapping[str, Any]) -> list[ContractError]:
    bounds = event["data"].get("reference_range", {})
    low, high = bounds.get("low"), bounds.get("high")
    if low is not None and high is not None and low > high:
        return [ContractError("/data/reference_range/low", f"low bound {low} is above the high bound {high}")]
    return []


def _escalation_checks(event: Mapping[str, Any]) -> list[ContractError]:
    data = event["data"]
    errors = []
    expected_id = f"{data['escalation_id']}.r{data['revision']}"
    if event["id"] != expected_id:
        errors.append(ContractError("/id", f"must be <escalation_id>.r<revision>, i.e. {expected_id!r}"))
    if "deadline" in data and data["actions"]:
        earliest = min(_instant(a["deadline"]) for a in data["actions"])
        if _instant(data["deadline"]) != earliest:
            errors.append(ContractError("/data/deadline", "must be the earliest action deadline"))
    return errors


def _reminder_checks(event: Mapping[str, Any]) -> list[ContractError]:
    if event["id"] != event["data"]["reminder_id"]:
        return [ContractError("/id", "must equal data.reminder_id")]
    return []


_CROSS_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[ContractError]]] = {
    "carepath.diagnosis.recorded.v1": _diagnosis_checks,
    "carepath.pain.reported.v1": _pain_checks,
    "carepath.lab.resulted.v1": _lab_checks,
    "carepath.symptom.recorded.v1": _symptom_checks,
    "carepath.escalation.raised.v1": _escalation_checks,
    "carepath.escalation.updated.v1": _escalation_checks,
    "carepath.escalation.resolved.v1": _escalation_checks,
    "carepath.reminder.due.v1": _reminder_checks,
    "carepath.reminder.overdue.v1": _reminder_checks,
}


# ---------------------------------------------------------------------------------------------------------
# Code lists


def schema_enum(type_name: str, pointer: str) -> frozenset[str]:
    """The values a type's schema allows at ``pointer`` inside ``data``.

    ``pointer`` is an instance path such as "/neurological" or "/findings/code": array items are entered
    implicitly. Values from every branch that constrains the field (allOf, if/then, ...) are united, so
    ("carepath.lab.resulted.v1", "/unit") gives every unit of every test. Raises KeyError when the type
    is unknown or nothing at that path is an enumeration.
    """
    catalogue = _catalogue()
    event_type = catalogue.types[type_name]
    schema = catalogue.schemas[event_type.schema_file]
    resolver = catalogue.registry.resolver(base_uri=schema["$id"])
    segments = ["data", *(s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:])]
    found: set[str] = set()
    _collect_enum(schema, segments, resolver, found, depth=0)
    if not found:
        raise KeyError(f"{type_name}: no enumeration at data{pointer}")
    return frozenset(found)


_COMBINATORS = ("allOf", "anyOf", "oneOf")
_BRANCHES = ("then", "else")


def _collect_enum(node: object, segments: list[str], resolver: Any, found: set[str], depth: int) -> None:
    if not isinstance(node, dict) or depth > 64:
        return
    if "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        _collect_enum(resolved.contents, segments, resolved.resolver, found, depth + 1)
    for key in _COMBINATORS:
        for branch in node.get(key, ()):
            _collect_enum(branch, segments, resolver, found, depth + 1)
    for key in _BRANCHES:
        _collect_enum(node.get(key), segments, resolver, found, depth + 1)
    for dependent in node.get("dependentSchemas", {}).values():
        _collect_enum(dependent, segments, resolver, found, depth + 1)
    if not segments:
        values = [*node.get("enum", ()), *([node["const"]] if "const" in node else [])]
        found.update(v for v in values if isinstance(v, str))
        _collect_enum(node.get("items"), segments, resolver, found, depth + 1)
        return
    head, rest = segments[0], segments[1:]
    properties = node.get("properties", {})
    if head in properties:
        _collect_enum(properties[head], rest, resolver, found, depth + 1)
    if "items" in node:
        _collect_enum(node["items"], rest if head.isdigit() else segments, resolver, found, depth + 1)
