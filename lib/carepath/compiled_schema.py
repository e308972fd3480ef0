"""JSON Schemas (draft 2020-12) checked fast by jsonschema-rs, and explained by jsonschema.

jsonschema walks a schema anew for every instance, which costs hundreds of microseconds per event;
jsonschema-rs compiles it once in Rust and answers in a few (``make bench``'s validators phase).
:func:`compile_schema` is that fast yes/no answer for every instance; :func:`explainer`, jsonschema, says
what is wrong with one it rejects, with the messages and pointers carepath reports.

Both read ``pattern`` as JSON Schema says, an ECMA-262 regular expression: the explainer matches with
jsonschema-rs's engine rather than Python's ``re``, whose ``$`` also matches before a final line break
and whose ``\\s`` is another set of characters, so the two never disagree on a value.

``$ref`` to another schema is resolved only among the ``resources`` given (each by its ``$id``): nothing
is ever fetched from the network. ``format`` is checked only for the formats given, as jsonschema does
with a format checker holding just those: every other format the schemas name is an annotation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

FormatCheck = Callable[[str], bool]


def compile_schema(
    schema: Mapping[str, Any], resources: Iterable[Mapping[str, Any]], formats: Mapping[str, FormatCheck]
) -> Callable[[object], bool]:
    """``schema``'s yes/no check; ``resources`` are the other schemas its ``$ref`` may name."""
    documents = {document["$id"]: dict(document) for document in (*resources, schema)}
    registry = jsonschema_rs.Registry(list(documents.items()), draft=jsonschema_rs.Draft202012)
    named = {name for document in documents.values() for name in _format_names(document)}
    checks: dict[str, Callable[..., bool]] = dict.fromkeys(named - set(formats), _annotation)
    checks.update(formats)
    validator = jsonschema_rs.Draft202012Validator(
        dict(schema),
        formats=checks,
        validate_formats=True,
        registry=registry,
        base_uri=schema["$id"],
        offline=True,
    )
    is_valid = validator.is_valid

    def accepts(instance: object) -> bool:
        try:
            return is_valid(instance)
        except ValueError:  # not JSON (a date or an integer key read from YAML): let jsonschema say why
            return False

    return accepts


@cache
def _matcher(pattern: str) -> Callable[[object], bool]:
    return jsonschema_rs.Draft202012Validator({"pattern": pattern}).is_valid


def _pattern(validator: Validator, pattern: str, instance: Any, schema: object) -> Iterator[ValidationError]:
    """jsonschema's ``pattern`` keyword (the same message), matched as ECMA-262 by jsonschema-rs."""
    if validator.is_type(instance, "string") and not _matcher(pattern)(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# validators.extend is untyped in its stubs
_Explainer: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _pattern}
)


def explainer(
    schema: Mapping[str, Any],
    resources: Iterable[Mapping[str, Any]],
    format_checker: FormatChecker | None = None,
) -> Validator:
    """jsonschema for ``schema``, its ``$ref`` resolved among ``resources``, its patterns as ECMA-262.

    The schemas are handed over without ``$schema`` (draft 2020-12 is given): jsonschema would otherwise
    follow a ``$ref`` into another file with its own validator for that dialect, and its own ``pattern``.
    """
    documents = {document["$id"]: _without_dialect(document) for document in (*resources, schema)}
    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT202012.create_resource(document)) for uri, document in documents.items()
    )
    return _Explainer(documents[schema["$id"]], registry=registry, format_checker=format_checker)


def _without_dialect(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key != "$schema"}


def _annotation(_: str) -> bool:
    return True


def _format_names(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            yield node["format"]
        for value in node.values():
            yield from _format_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _format_names(value)
