"""The build's one addition to pyproject.toml: the triage and followup cores, and Kafka's partitioning hash,
compiled with mypyc (README "The compiled core").

mypyc (part of mypy, pinned in requirements/build.lock) turns each core's type-annotated Python into C
extension modules, one per module plus a shared library per service, built beside the sources. The
sources stay the reference: they are what a clinician's reviewer reads, what runs where nothing is
compiled, and what the compiled cores are held to (tests/unit/test_compiled_cores.py).
``CAREPATH_COMPILE_CORE=0`` builds without compiling (the Makefile sets it where there is no C compiler,
and says so).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))
from carepath import compiled  # standard library only: which modules are compiled, and their digest

ROOT = Path(__file__).resolve().parent

# each service package with a pure core, or a module compiled on its own, and its shared library (e.g.
# triage/core/compiled__mypyc.*.so)
PACKAGES = {
    ROOT / "services" / "triage" / "triage": "triage.core.compiled",
    ROOT / "services" / "followup" / "followup": "followup.core.compiled",
    ROOT / "lib" / "carepath" / "murmur2.py": "carepath.murmur2_compiled",
}


def core_extensions() -> list[object]:
    if os.environ.get("CAREPATH_COMPILE_CORE", "1") == "0":
        print(
            "carepath: CAREPATH_COMPILE_CORE=0: the triage and followup cores and carepath.murmur2 are not "
            "compiled (they run as Python)"
        )
        return []
    from mypyc.build import mypycify  # a build requirement: an ImportError here names what is missing

    groups: list[tuple[list[str], str | None]] = []
    for package, library in PACKAGES.items():
        compiled.record(package)
        groups.append(([str(f.relative_to(ROOT)) for f in compiled.sources(package)], library))
    files = [file for group, _ in groups for file in group]
    return list(mypycify(files, separate=groups, opt_level="2"))


setup(ext_modules=core_extensions())
