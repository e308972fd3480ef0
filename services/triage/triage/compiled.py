"""The compiled core (README "The compiled core"): which modules are compiled, whether they run compiled,
and that they were compiled from the sources beside them.

setup.py compiles the modules of ``sources()`` with mypyc into C extension modules beside them and writes
the SHA-256 of those sources into ``DIGEST``. Python imports an extension module before a source file
of the same name, so modules compiled from older sources would run in place of the sources as edited:
``check`` refuses that when the core is imported, and names the fix. Standard library only: setup.py
reads ``sources()`` and ``digest()`` from here before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # triage/
DIGEST = Path("core") / "compiled-from.sha256"  # in the package


class StaleBuild(ImportError):
    """Compiled modules that do not match their sources."""


def sources(package: Path = PACKAGE) -> list[Path]:
    """The modules compiled: the core, but its package ``__init__`` (the compiled modules load their shared
    library from inside the package, so the package itself must import first), and the batch runner."""
    core = package / "core"
    found = [path for path in core.rglob("*.py") if path != core / "__init__.py"]
    return sorted([*found, package / "batch.py"])


def digest(files: list[Path], package: Path = PACKAGE) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(package).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def is_compiled(module_file: str | None) -> bool:
    return module_file is not None and module_file.endswith(tuple(EXTENSION_SUFFIXES))


def record(package: Path = PACKAGE) -> None:
    """Write the digest of the sources about to be compiled (setup.py): replaced whole, never seen half
    written by a process importing the core meanwhile, and left alone when it is already this one."""
    text = digest(sources(package), package) + "\n"
    target = package / DIGEST
    if target.exists() and target.read_text(encoding="ascii") == text:
        return
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(text, encoding="ascii")
    os.replace(partial, target)


def check(module_file: str | None, package: Path = PACKAGE) -> bool:
    """Whether the core runs compiled (``module_file``: one compiled module's ``__file__``); raises
    StaleBuild when it was compiled from sources other than these."""
    if not is_compiled(module_file):
        return False
    written = package / DIGEST
    recorded = written.read_text(encoding="ascii").strip() if written.exists() else None
    if recorded != digest(sources(package), package):
        raise StaleBuild(
            "the compiled triage core was built from other sources than those beside it: "
            "run `make setup` to compile it again, or `make clean-compiled` to run the sources"
        )
    return True
