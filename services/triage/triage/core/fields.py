"""Read one mapping of the pathway YAML key by key, with errors that say where and what.

Every key a reader does not ask for is reported as unknown, so a misspelt threshold is an error at
start-up instead of a rule that silently uses nothing.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triage.core.pathway import CodeSet, PathwayError
from triage.core.times import parse_duration


@dataclass(frozen=True)
class Vocabulary:
    codes: Mapping[str, frozenset[str]]  # field -> codes the contract allows
    code_sets: Mapping[str, CodeSet]


_MISSING = object()


class Fields:
    def __init__(self, value: Any, where: str, vocabulary: Vocabulary) -> None:
        if not isinstance(value, Mapping):
            raise PathwayError(f"{where}: must be a mapping of keys to values, not {_kind(value)}")
        self.data: Mapping[str, Any] = value
        self.where = where
        self.vocabulary = vocabulary
        self._asked: list[str] = []

    # --- basics -------------------------------------------------------------------------------------

    def error(self, problem: str, key: str | None = None) -> PathwayError:
        place = _join(self.where, key) if key else self.where
        return PathwayError(f"{place}: {problem}")

    def has(self, key: str) -> bool:
        self._ask(key)
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, required: bool = True) -> Any:
        self._ask(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise self.error(f"missing required key '{key}'")
            return None
        return value

    def finish(self) -> None:
        unknown = [str(k) for k in self.data if k not in self._asked]
        if unknown:
            allowed = ", ".join(self._asked) or "none"
            raise self.error(f"unknown key {', '.join(repr(k) for k in unknown)} (allowed here: {allowed})")

    def _ask(self, key: str) -> None:
        if key not in self._asked:
            self._asked.append(key)

    # --- scalars ------------------------------------------------------------------------------------

    def text(self, key: str, required: bool = True, default: str = "") -> str:
        value = self.raw(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"must be non-empty text, not {_kind(value)}", key)
        return " ".join(value.split())

    def number(self, key: str, required: bool = True) -> float | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"must be a number, not {_kind(value)}", key)
        return float(value)

    def required_number(self, key: str) -> float:
        value = self.number(key)
        assert value is not None
        return value

    def integer(self, key: str, minimum: int | None = None) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be a whole number, not {_kind(value)}", key)
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}", key)
        return value

    def duration(self, key: str) -> tuple[str, int]:
        value = self.raw(key)
        if not isinstance(value, str):
            raise self.error(f"must be an ISO 8601 duration such as PT1H or P7D, not {_kind(value)}", key)
        try:
            return value, parse_duration(value)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def choice(self, key: str, allowed: tuple[str, ...], required: bool = True) -> str | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if value not in allowed:
            raise self.error(f"{value!r} is not one of {', '.join(allowed)}", key)
        return str(value)

    def texts(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self.raw(key, required)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise self.error("must be a non-empty list of text", key)
        return tuple(value)

    # --- structure ----------------------------------------------------------------------------------

    def child(self, key: str, required: bool = True) -> Fields | None:
        value = self.raw(key, required)
        if value is None:
            return None
        return Fields(value, _join(self.where, key), self.vocabulary)

    def required_child(self, key: str) -> Fields:
        child = self.child(key)
        assert child is not None
        return child

    def children(self, key: str, required: bool = True) -> list[Fields]:
        value = self.raw(key, required)
        if value is None:
            return []
        if not isinstance(value, list) or not value:
            raise self.error("must be a non-empty list", key)
        return [
            Fields(item, _join(self.where, f"{key}[{i}]"), self.vocabulary) for i, item in enumerate(value)
        ]

    # --- contract codes -----------------------------------------------------------------------------

    def codes(self, key: str, field_name: str | None = None, required: bool = True) -> frozenset[str]:
        """A list of codes of one event field (the key names the field unless ``field_name`` is given)."""
        values = self.texts(key, required)
        return frozenset(self.check_codes(values, field_name or key, key))

    def check_codes(self, values: tuple[str, ...], field_name: str, key: str) -> tuple[str, ...]:
        allowed = self.vocabulary.codes.get(field_name)
        if allowed is None:
            raise self.error(f"'{field_name}' is not an event field with codes", key)
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise self.error(
                f"{', '.join(repr(u) for u in unknown)} not in the event contract's codes for "
                f"{field_name} ({', '.join(sorted(allowed))})",
                key,
            )
        return values

    def code_set(self, key: str, fields: tuple[str, ...], required: bool = True) -> CodeSet | None:
        """A code set: the name of one in ``code_sets`` or written in place as {field: [codes]}."""
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, str):
            code_set = self.vocabulary.code_sets.get(value)
            if code_set is None:
                known = ", ".join(sorted(self.vocabulary.code_sets)) or "none"
                raise self.error(f"unknown code set {value!r} (known: {known})", key)
        else:
            inline = Fields(value, _join(self.where, key), self.vocabulary)
            codes = {name: inline.check_codes(inline.texts(name), name, name) for name in list(inline.data)}
            code_set = CodeSet(f"{key} (inline)", "", "", codes)
        wrong = [name for name in code_set.codes if name not in fields]
        if wrong:
            raise self.error(
                f"code set {code_set.name!r} uses field {', '.join(wrong)}; this rule reads only "
                f"{', '.join(fields)}",
                key,
            )
        return code_set

    def required_code_set(self, key: str, fields: tuple[str, ...]) -> CodeSet:
        code_set = self.code_set(key, fields)
        assert code_set is not None
        return code_set


def _join(where: str, key: str) -> str:
    """'redflags.yaml' + 'rules' -> 'redflags.yaml: rules'; 'redflags.yaml: rule R1' + 'facts' -> '....facts'."""
    return f"{where}.{key}" if ":" in where else f"{where}: {key}"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
