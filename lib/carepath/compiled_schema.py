"""A JSON Schema (draft 2020-12) compiled once by jsonschema-rs into a fast yes/no check.

jsonschema walks a schema anew for every instance, which costs hundreds of microseconds per event;
jsonschema-rs compiles it once in Rust and answers in a few. It is the fast path for valid instances:
jsonschema stays the one that explains a rejection, with the messages and pointers carepath reports.

``$ref`` to another schema is resolved only among the ``resources`` given (each by its ``$id``): nothing
is ever fetched from the network. ``format`` is checked only for the formats given, as jsonschema does
with a format checker holding just those: every other format the schemas name is an annotation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jsonschema_rs

FormatCheck = Callable[[str], bool]


def compile_schema(
    schema: Mapping[str, Any], resources: Iterable[Mapping[str, Any]], formats: Mapping[str, FormatCheck]
) -> Callable[[object], bool]:
    """``schema``'s yes/no check; ``resources`` are the schemas its ``$ref`` may name."""
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
