"""The one way carepath reads a YAML file it is configured by: safe, and strict about keys and types.

YAML silently keeps the last of two equal keys in one mapping, so a second ``deadline:`` under a follow-up
rule would quietly change a clinical deadline. :func:`read` refuses it, naming the file, the line and the
key. :func:`load` then checks the document against the JSON Schema of its kind, published in
``schemas/config/<kind>.schema.json`` (the same schema a reviewer's editor checks the file with): an unknown
key, a missing one or a value of the wrong type is refused naming the file, the line and the key path. Each
reader then checks what a schema cannot say (a code the event contract does not know, a rule named that
does not exist) and names the file, line and key of what it refuses (:func:`where` finds the line).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from carepath.compiled_schema import compile_schema, explainer
from carepath.resources import schemas_dir

# Every kind of configuration file carepath reads, by the name of its schema in schemas/config/.
KINDS = (
    "pathway",
    "redflags",
    "followup",
    "terminology-systems",
    "terminology-value-sets",
    "terminology-site",
    "hl7-codes",
    "fhir-codes",
    "radiology",
    "notifier-endpoints",
    "demo-feed",
)


class YamlFileError(ValueError):
    """The file cannot be read, is not YAML, or writes a key twice; the message names file and line,
    ``detail`` says the same without the file's name."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.detail = detail


# libyaml's parser when PyYAML has it (about ten times faster on the value-set files), else PyYAML's own
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[misc]
    """Safe YAML that refuses a key written twice in one mapping."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse(text: str, name: str = "<text>") -> Any:
    """``text`` as YAML, strictly; errors name ``name`` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a safe loader that also refuses duplicate keys
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(exc.problem or exc.context or "not valid YAML").split())
        raise YamlFileError(name, f"not valid YAML:{line}: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlFileError(name, f"not valid YAML: {' '.join(str(exc).split())}") from None


def read(path: Path) -> Any:
    """The YAML document in ``path``, strictly."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlFileError(str(path), "cannot read: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(str(path), f"cannot read: {exc}") from None
    return parse(text, str(path))


def load(path: Path, kind: str) -> Any:
    """The configuration file ``path`` of ``kind`` (one of :data:`KINDS`): read strictly, then checked
    against ``schemas/config/<kind>.schema.json``. A key written twice, an unknown or missing key and a
    value of the wrong type raise :class:`YamlFileError` naming the file, the line and the key path."""
    document = read(path)
    checker = _checker(str(schemas_dir()), kind)
    if checker.accepts(document):
        return document
    errors = list(checker.explain.iter_errors(document))
    if not errors:  # jsonschema, the authority, finds nothing wrong
        return document
    # the first problem in the file, as a person fixing it from the top reads them
    root = _compose(path)
    placed = [(_line(root, _describe(e)[0], key=True) or 0, e) for e in errors]
    first = min(line for line, _ in placed)
    error = best_match(e for line, e in placed if line == first)
    assert error is not None
    keys, problem = _describe(error)
    line = _line(root, keys, key=True)
    dotted = ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in keys) or "top level"
    at = f"line {line} {dotted}" if line else dotted
    raise YamlFileError(str(path), f"{at}: {problem} (schemas/config/{kind}.schema.json)")


@dataclass(frozen=True)
class _Checker:
    """A schema's fast yes/no check (jsonschema-rs), and jsonschema to explain a no (as for events)."""

    accepts: Callable[[object], bool]
    explain: Validator


@cache
def _checker(folder: str, kind: str) -> _Checker:
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not a kind of configuration file ({', '.join(KINDS)})")
    schema = json.loads((Path(folder) / "config" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return _Checker(compile_schema(schema, [], {}), explainer(schema, []))


_NAMES = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing",
}


def _what(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, date):
        return "a date (quote it to make it a text)"
    kinds = {
        str: "string",
        int: "integer",
        float: "number",
        list: "array",
        dict: "object",
        type(None): "null",
    }
    return _NAMES.get(kinds.get(type(value), ""), type(value).__name__)


def _describe(error: ValidationError) -> tuple[list[str | int], str]:
    """Where ``error`` is (a key path) and what is wrong, in the words of someone editing the file."""
    keys: list[str | int] = [k if isinstance(k, int) else str(k) for k in error.absolute_path]
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in known)
        if unknown and known:
            return [*keys, unknown[0]], f"unknown key {unknown[0]!r}; allowed: {', '.join(known)}"
        if unknown:
            return [*keys, unknown[0]], f"unknown key {unknown[0]!r}"
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [
            k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance
        ]
        if missing:
            return keys, f"missing key {missing[0]!r}"
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        expected = " or ".join(_NAMES.get(str(w), str(w)) for w in wanted)
        return keys, f"{expected} expected, got {_what(error.instance)}"
    if isinstance(schema.get("errorMessage"), str):  # the schema's own words for what this value must be
        scalar = isinstance(error.instance, str | int | float) and len(repr(error.instance)) <= 80
        return keys, str(schema["errorMessage"]) + (f", not {error.instance!r}" if scalar else "")
    return keys, " ".join(error.message.split())


def line_of(path: Path, keys: Sequence[str | int], key: bool = False) -> int | None:
    """The line (from 1) where the value at ``keys`` (mapping keys and list indexes) starts, if found;
    with ``key``, the line of the last key itself."""
    return _line(_compose(path), keys, key)


def _compose(path: Path) -> Any:
    """The file's YAML node tree (positions, not values), or None."""
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None


def _line(root: Any, keys: Sequence[str | int], key: bool = False) -> int | None:
    node: Any = root
    found: Any = root
    if root is None:
        return None
    for name in keys:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(name)), None)
            if pair is None:
                return None
            found, node = (pair[0] if key else pair[1]), pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(name, int) and name < len(node.value):
            found = node = node.value[name]
        else:
            return None
    return int(found.start_mark.line) + 1


def where(path: Path, keys: Sequence[str | int]) -> str:
    """``file:line key.path`` for a message about the value at ``keys``."""
    line = line_of(path, keys)
    dotted = ".".join(f"[{k}]" if isinstance(k, int) else k for k in keys)
    return f"{path}:{line} {dotted}" if line else f"{path} {dotted}"


def check_keys(
    value: dict[str, Any],
    allowed: set[str] | frozenset[str],
    error: Callable[[str], Exception],
    required: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Raise ``error(message)`` for a key that is not allowed, or a required one that is missing."""
    unknown = sorted(str(k) for k in set(value) - set(allowed))
    if unknown:
        raise error(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    missing = sorted(set(required) - set(value))
    if missing:
        raise error(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
