"""The follow-up core imports only the standard library (strict YAML, carepath.yamlfile, in the pathway loader alone)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import followup.core

pytestmark = pytest.mark.unit

CORE = Path(followup.core.__file__).parent


@pytest.mark.parametrize("module", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_only_the_standard_library(module: Path) -> None:
    allowed = (
        set(sys.stdlib_module_names) | {"followup"} | ({"carepath"} if module.name == "loader.py" else set())
    )
    tree = ast.parse(module.read_text())
    imported = {
        name.split(".")[0]
        if name != "carepath.compiled"  # standard library only: whether the core runs compiled
        else "carepath.compiled"
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
    }
    assert imported <= allowed | {"carepath.compiled"}, f"{module.name} imports {sorted(imported - allowed)}"
    assert ".now(" not in module.read_text(), f"{module.name} reads the clock"
