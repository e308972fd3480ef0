"""The compiled cores (README "The compiled core"): which modules are compiled, whether they run compiled,
and that they were compiled from the sources beside them.

A service package with a pure core (``triage``, ``followup``) has its ``core/`` modules, but the package's
own ``__init__``, and its ``batch.py`` compiled by setup.py with mypyc into C extension modules beside
them; setup.py also writes the SHA-256 of those sources into ``core/compiled-from.sha256``. A single module
compiled on its own (``carepath/murmur2.py``) is named by its file instead of a package, and its digest is
kept beside it (``murmur2.compiled-from.sha256``). Python imports
an extension module before a source file of the same name, so modules compiled from older sources would
run in place of the sources as edited: ``check`` refuses that when a core is imported, and names the fix.
Standard library only: setup.py reads ``sources()`` and ``record()`` from here before anything is installed,
and the pure cores may import it.
"""

from __future__ import annotations

import hashlib
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

DIGEST = Path("core") / "compiled-from.sha256"  # in the service package


class StaleBuild(ImportError):
    """Compiled modules that do not match their sources."""


def sources(package: Path) -> list[Path]:
    """The modules compiled: the core, but its package ``__init__`` (the compiled modules load their shared
    library from inside the package, so the package itself must import first), and the batch runner; or
    the one module ``package`` names when it is a ``.py`` file."""
    if package.suffix == ".py":
        return [package]
    core = package / "core"
    found = [path for path in core.rglob("*.py") if path != core / "__init__.py"]
    return sorted([*found, package / "batch.py"])


def digest(files: list[Path], package: Path) -> str:
    base = package.parent if package.suffix == ".py" else package
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(base).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def written(package: Path) -> Path:
    """Where the digest of ``package``'s compiled sources is kept."""
    if package.suffix == ".py":
        return package.with_name(f"{package.stem}.compiled-from.sha256")
    return package / DIGEST


def is_compiled(module_file: str | None) -> bool:
    return module_file is not None and module_file.endswith(tuple(EXTENSION_SUFFIXES))


def record(package: Path) -> None:
    """Write the digest of the sources about to be compiled (setup.py): replaced whole, never seen half
    written by a process importing the core meanwhile, and left alone when it is already this one."""
    text = digest(sources(package), package) + "\n"
    target = written(package)
    if target.exists() and target.read_text(encoding="ascii") == text:
        return
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(text, encoding="ascii")
    os.replace(partial, target)


def check(module_file: str | None, package: Path) -> bool:
    """Whether a core (or a module) runs compiled (``module_file``: one of its compiled modules' ``__file__``); raises
    StaleBuild when it was compiled from sources other than those of ``package``."""
    if not is_compiled(module_file):
        return False
    path = written(package)
    recorded = path.read_text(encoding="ascii").strip() if path.exists() else None
    if recorded != digest(sources(package), package):
        what = f"module {package.name}" if package.suffix == ".py" else f"{package.name} core"
        raise StaleBuild(
            f"the compiled {what} was built from other sources than those beside it: "
            "run `make setup` to compile it again, or `make clean-compiled` to run the sources"
        )
    return True
