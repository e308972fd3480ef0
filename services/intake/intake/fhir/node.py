"""Reading a FHIR resource (already validated by its R4B model) element by element, knowing where we are.

Every :class:`Node` carries its FHIRPath-like expression and its JSON pointer into the resource, so any
problem found while reading can be reported at the exact element that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from intake.fhir.issues import REQUIRED, VALUE, FhirError, error


class Node:
    __slots__ = ("expression", "pointer", "value")

    def __init__(self, value: Any, expression: str, pointer: str = "") -> None:
        self.value = value
        self.expression = expression
        self.pointer = pointer

    def field(self, name: str) -> Node:
        """The child element ``name`` (its value is None when absent)."""
        value = self.value.get(name) if isinstance(self.value, Mapping) else None
        return Node(value, f"{self.expression}.{name}", f"{self.pointer}/{name}")

    def get(self, name: str) -> Node | None:
        child = self.field(name)
        return child if child.value is not None else None

    def items(self, name: str) -> list[Node]:
        """The repetitions of a list element (an empty list when absent)."""
        values = self.value.get(name) if isinstance(self.value, Mapping) else None
        if not isinstance(values, list):
            return []
        return [
            Node(v, f"{self.expression}.{name}[{i}]", f"{self.pointer}/{name}/{i}")
            for i, v in enumerate(values)
        ]

    def text(self, name: str) -> str | None:
        value = self.value.get(name) if isinstance(self.value, Mapping) else None
        return value if isinstance(value, str) else None

    def require(self, name: str, why: str = "") -> Node:
        child = self.field(name)
        if child.value is None or child.value == [] or child.value == "":
            raise child.fail(f"required{': ' + why if why else ''}", REQUIRED)
        return child

    def fail(self, message: str, code: str = VALUE, *, status: int = 422, label: str = "") -> FhirError:
        return error(code, message, self.expression, self.pointer, status=status, label=label)

    def __repr__(self) -> str:
        return f"Node({self.expression})"
