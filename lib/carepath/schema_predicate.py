"""A JSON Schema (draft 2020-12) compiled into a fast yes/no predicate.

jsonschema walks a schema anew for every instance and builds a validator object per subschema, which
costs about 5 µs per node: a few thousand events per second. This compiles the schema once into nested
closures that answer only "valid or not", an order of magnitude faster. It is the fast path for valid
events; jsonschema stays the authority and explains anything this rejects.

Only the keywords the contract uses are compiled. A schema with any other validation keyword raises
:class:`UnsupportedSchema` at compile time, never a wrong answer at run time. Keywords that only annotate
(title, description, examples, ``x-*``, ``errorMessage`` ...) are ignored, and ``format`` is checked only
for the formats given to :func:`compile_predicate`, as jsonschema does with a format checker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:  # the type of Registry.resolver(), which referencing does not re-export
    from referencing._core import Resolver

Predicate = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "$anchor",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "errorMessage",
    }
)
_WITH_IF = frozenset({"then", "else"})  # compiled together with "if"
_SUPPORTED = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "format",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "required",
        "properties",
        "patternProperties",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "dependentSchemas",
        "dependentRequired",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    }
)
_KNOWN = _SUPPORTED | _ANNOTATIONS | _WITH_IF
_MAX_DEPTH = 100


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def compile_predicate(
    schema: object, resolver: Resolver[Any], formats: Mapping[str, Callable[[str], bool]]
) -> Predicate:
    """Compile ``schema`` (a dict or a boolean); ``resolver`` resolves its ``$ref``s."""
    return _Compiler(formats).node(schema, resolver, 0)


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Predicate] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def json_equal(one: object, two: object) -> bool:
    """Equality as JSON Schema defines it: true is not 1, and 1 equals 1.0."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(json_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(json_equal(one[k], two[k]) for k in one)
    if _is_number(one) and _is_number(two):
        return bool(one == two)
    return type(one) is type(two) and one == two


def _unique(items: list[Any]) -> bool:
    if all(isinstance(i, str) for i in items):
        return len(set(items)) == len(items)
    return not any(json_equal(a, b) for n, a in enumerate(items) for b in items[n + 1 :])


def _all_of(checks: Sequence[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    frozen = tuple(checks)

    def check(value: object) -> bool:
        for c in frozen:  # noqa: SIM110 - a plain loop is faster than all() over a generator
            if not c(value):
                return False
        return True

    return check


def _only_for(kind: type | tuple[type, ...], checks: Sequence[Predicate]) -> Predicate | None:
    if not checks:
        return None
    inner = _all_of(checks)

    def check(value: object) -> bool:
        return not isinstance(value, kind) or inner(value)

    return check


class _Compiler:
    def __init__(self, formats: Mapping[str, Callable[[str], bool]]) -> None:
        self.formats = formats

    def node(self, schema: object, resolver: Resolver[Any], depth: int) -> Predicate:
        if depth > _MAX_DEPTH:
            raise UnsupportedSchema("schema nests too deeply (a recursive $ref?)")
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"a schema must be an object or a boolean, not {schema!r}")
        unknown = [k for k in schema if k not in _KNOWN and not k.startswith("x-")]
        if unknown:
            raise UnsupportedSchema(f"keywords not supported: {sorted(unknown)}")
        if "$id" in schema and depth > 0:
            resolver = resolver.in_subresource(DRAFT202012.create_resource(schema))
        general = self._general(schema, resolver, depth)
        numbers = _only_for((int, float), self._number(schema))
        strings = _only_for(str, self._string(schema))
        arrays = _only_for(list, self._array(schema, resolver, depth))
        objects = _only_for(dict, self._object(schema, resolver, depth))
        typed = [c for c in (strings, numbers, arrays, objects) if c is not None]
        return _all_of([*general, *typed])

    def _sub(self, schema: object, resolver: Resolver[Any], depth: int) -> Predicate:
        return self.node(schema, resolver, depth + 1)

    def _general(self, schema: dict[str, Any], resolver: Resolver[Any], depth: int) -> list[Predicate]:
        checks: list[Predicate] = []
        if "$ref" in schema:
            resolved = resolver.lookup(schema["$ref"])
            checks.append(self._sub(resolved.contents, resolved.resolver, depth))
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
            tests = tuple(_TYPES[n] for n in names)
            checks.append(lambda v: any(t(v) for t in tests))
        if "const" in schema:
            checks.append(_enum([schema["const"]]))
        if "enum" in schema:
            checks.append(_enum(list(schema["enum"])))
        if "allOf" in schema:
            checks.append(_all_of([self._sub(s, resolver, depth) for s in schema["allOf"]]))
        if "anyOf" in schema:
            options = tuple(self._sub(s, resolver, depth) for s in schema["anyOf"])
            checks.append(lambda v: any(o(v) for o in options))
        if "oneOf" in schema:
            choices = tuple(self._sub(s, resolver, depth) for s in schema["oneOf"])
            checks.append(lambda v: sum(1 for o in choices if o(v)) == 1)
        if "not" in schema:
            negated = self._sub(schema["not"], resolver, depth)
            checks.append(lambda v: not negated(v))
        if "if" in schema:
            condition = self._sub(schema["if"], resolver, depth)
            then = self._sub(schema.get("then", True), resolver, depth)
            otherwise = self._sub(schema.get("else", True), resolver, depth)
            checks.append(lambda v: then(v) if condition(v) else otherwise(v))
        return checks

    def _number(self, schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        if "minimum" in schema:
            low = schema["minimum"]
            checks.append(lambda v: isinstance(v, bool) or v >= low)
        if "maximum" in schema:
            high = schema["maximum"]
            checks.append(lambda v: isinstance(v, bool) or v <= high)
        if "exclusiveMinimum" in schema:
            xlow = schema["exclusiveMinimum"]
            checks.append(lambda v: isinstance(v, bool) or v > xlow)
        if "exclusiveMaximum" in schema:
            xhigh = schema["exclusiveMaximum"]
            checks.append(lambda v: isinstance(v, bool) or v < xhigh)
        return checks

    def _string(self, schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        if "minLength" in schema:
            shortest = schema["minLength"]
            checks.append(lambda v: len(v) >= shortest)
        if "maxLength" in schema:
            longest = schema["maxLength"]
            checks.append(lambda v: len(v) <= longest)
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            checks.append(lambda v: search(v) is not None)
        if schema.get("format") in self.formats:
            checks.append(self.formats[schema["format"]])
        return checks

    def _array(self, schema: dict[str, Any], resolver: Resolver[Any], depth: int) -> list[Predicate]:
        checks: list[Predicate] = []
        if "items" in schema:
            item = self._sub(schema["items"], resolver, depth)
            checks.append(lambda v: all(item(i) for i in v))
        if "minItems" in schema:
            fewest = schema["minItems"]
            checks.append(lambda v: len(v) >= fewest)
        if "maxItems" in schema:
            most = schema["maxItems"]
            checks.append(lambda v: len(v) <= most)
        if schema.get("uniqueItems") is True:
            checks.append(_unique)
        if "contains" in schema:
            wanted = self._sub(schema["contains"], resolver, depth)
            checks.append(lambda v: any(wanted(i) for i in v))
        return checks

    def _object(self, schema: dict[str, Any], resolver: Resolver[Any], depth: int) -> list[Predicate]:
        checks: list[Predicate] = []
        if "required" in schema:
            checks.append(_has_all(tuple(schema["required"])))
        if "minProperties" in schema:
            fewest = schema["minProperties"]
            checks.append(lambda v: len(v) >= fewest)
        if "maxProperties" in schema:
            most = schema["maxProperties"]
            checks.append(lambda v: len(v) <= most)
        properties = {k: self._sub(s, resolver, depth) for k, s in schema.get("properties", {}).items()}
        patterns = [
            (re.compile(p), self._sub(s, resolver, depth))
            for p, s in schema.get("patternProperties", {}).items()
        ]
        extra = (
            self._sub(schema["additionalProperties"], resolver, depth)
            if "additionalProperties" in schema
            else None
        )
        if properties or patterns or extra is not None:
            checks.append(_members(properties, patterns, extra))
        for name, dependent in schema.get("dependentSchemas", {}).items():
            checks.append(_when_present(name, self._sub(dependent, resolver, depth)))
        for name, needed in schema.get("dependentRequired", {}).items():
            wanted = tuple(needed)
            checks.append(_when_present(name, _has_all(wanted)))
        return checks


def _enum(values: list[Any]) -> Predicate:
    if all(isinstance(v, str) for v in values):
        allowed = frozenset(values)
        return lambda v: isinstance(v, str) and v in allowed
    return lambda v: any(json_equal(v, a) for a in values)


def _has_all(names: tuple[str, ...]) -> Predicate:
    return lambda v: all(n in v for n in names)


def _when_present(name: str, check: Predicate) -> Predicate:
    return lambda v: name not in v or check(v)


def _members(
    properties: dict[str, Predicate],
    patterns: Sequence[tuple[re.Pattern[str], Predicate]],
    extra: Predicate | None,
) -> Predicate:
    def check(value: dict[str, Any]) -> bool:
        for key, member in value.items():
            matched = False
            known = properties.get(key)
            if known is not None:
                matched = True
                if not known(member):
                    return False
            for pattern, pattern_check in patterns:
                if pattern.search(key) is not None:
                    matched = True
                    if not pattern_check(member):
                        return False
            if not matched and extra is not None and not extra(member):
                return False
        return True

    return check
