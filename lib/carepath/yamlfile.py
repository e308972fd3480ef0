"""The one way carepath reads a YAML file it is configured by: safe, and strict about keys.

YAML silently keeps the last of two equal keys in one mapping, so a second ``deadline:`` under a follow-up
rule would quietly change a clinical deadline. :func:`read` refuses it, naming the file, the line and the
key. Each reader then checks the keys it knows and the types it expects, and names the file, line and key
of what it refuses (:func:`where` finds the line of a key path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml


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


def line_of(path: Path, keys: Sequence[str | int]) -> int | None:
    """The line (from 1) where the value at ``keys`` (mapping keys and list indexes) starts, if found."""
    try:
        node: Any = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
        if node is None:
            return None
    return int(node.start_mark.line) + 1


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
