"""``lib/carepath`` is the runtime platform library and holds only what a running service imports;
``lib/carepath_tools`` (the embedded broker, the development stack, the demo, the benchmark, chaos and
fuzzing) is tooling beside it.

Checked three ways: no module of ``lib/carepath`` imports ``carepath_tools`` (read from the source, so an
import inside a function counts too); a fresh interpreter that imports every module of a service (its
``__main__`` included) has no ``carepath_tools`` module loaded; and every module of ``lib/carepath`` is
imported, directly or through another, by some service, or is one of the operator's commands run from a
service image.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from carepath.resources import ROOT

pytestmark = pytest.mark.contract

LIB = ROOT / "lib"
RUNTIME = LIB / "carepath"
TOOLS = "carepath_tools"
SERVICES = sorted(
    p.parent.name for p in ROOT.glob("services/*/*/__main__.py") if p.parent.name == p.parts[-3]
)

# Operators run these from a service image against a live deployment; no service imports them.
OPERATOR_COMMANDS = {
    "carepath.tail": "python -m carepath.tail, the topic tail (the carepath-tail script)",
    "carepath.audit": "python -m carepath.audit, the pathway timeliness report",
    "carepath.broker": "python -m carepath.broker create-topics, the compose deployment's topics step",
}


def _modules(root: Path, package_dir: Path) -> Iterator[tuple[str, Path]]:
    """Every module under ``package_dir`` as (dotted name relative to ``root``, path)."""
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _imported(name: str, path: Path) -> set[str]:
    """The absolute names ``path`` imports anywhere in its source (also inside functions), with every
    ``from x import y`` counted as both ``x`` and ``x.y``, and ``importlib.import_module("x")`` as ``x``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def _is_tools(module: str) -> bool:
    return module == TOOLS or module.startswith(TOOLS + ".")


def test_the_service_list_is_every_service() -> None:
    assert SERVICES == ["followup", "intake", "notifier", "triage", "worklist"]


def test_no_module_of_the_runtime_library_imports_the_tooling() -> None:
    offenders = {
        name: sorted(m for m in _imported(name, path) if _is_tools(m))
        for name, path in _modules(LIB, RUNTIME)
    }
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"lib/carepath imports {TOOLS} (tooling, not shipped for services): {offenders}"


_LOADED = """
import importlib, json, pkgutil, sys
name = sys.argv[1]
package = importlib.import_module(name)
for info in pkgutil.walk_packages(package.__path__, name + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_loads_no_tooling(service: str) -> None:
    """Every module of the service, its ``__main__`` (``python -m <service>``) among them, imported in a
    fresh interpreter: nothing of ``carepath_tools`` is loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, service],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert f"{service}.__main__" in loaded
    assert "carepath" in loaded
    assert not [m for m in loaded if _is_tools(m)], (
        f"{service} loads {TOOLS}: {[m for m in loaded if _is_tools(m)]}"
    )


def test_every_module_of_the_runtime_library_is_used_by_a_service_or_an_operator() -> None:
    graph: dict[str, set[str]] = {}
    files = [(LIB, RUNTIME), *((ROOT / "services" / s, ROOT / "services" / s / s) for s in SERVICES)]
    for root, package_dir in files:
        for name, path in _modules(root, package_dir):
            graph[name] = _imported(name, path)

    def within(module: str) -> set[str]:
        """``module`` and the packages it is in, as far as they are modules here."""
        names = set()
        while module:
            if module in graph:
                names.add(module)
            module = module.rpartition(".")[0]
        return names

    reached: set[str] = set()
    todo = [m for m in graph if m.split(".")[0] in SERVICES] + list(OPERATOR_COMMANDS)
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        for imported in graph[module]:
            todo.extend(within(imported))
    runtime = {name for name in graph if name.split(".")[0] == "carepath"}
    assert OPERATOR_COMMANDS.keys() <= runtime
    unused = sorted(runtime - reached)
    assert not unused, (
        f"in lib/carepath but imported by no service and not an operator's command: {unused}; "
        f"development tooling belongs in lib/{TOOLS}"
    )
