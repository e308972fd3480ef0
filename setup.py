"""The build's one addition to pyproject.toml: the triage core compiled with mypyc (README "The compiled core").

mypyc (part of mypy, pinned in requirements/build.lock) turns the core's type-annotated Python into C
extension modules, one per module plus a shared library, built beside the sources. The sources stay the
reference: they are what a clinician's reviewer reads, what runs where nothing is compiled, and what the
compiled core is held to (tests/unit/triage/test_compiled_core.py). ``CAREPATH_COMPILE_CORE=0`` builds
without compiling (the Makefile sets it where there is no C compiler, and says so).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "services" / "triage"))
from triage import compiled  # standard library only: which modules are compiled, and their digest

GROUP = "triage.core.compiled"  # the shared library: triage/core/compiled__mypyc.*.so


def core_extensions() -> list[object]:
    if os.environ.get("CAREPATH_COMPILE_CORE", "1") == "0":
        print("carepath: CAREPATH_COMPILE_CORE=0: the triage core is not compiled (it runs as Python)")
        return []
    from mypyc.build import mypycify  # a build requirement: an ImportError here names what is missing

    compiled.record()
    files = compiled.sources()
    root = Path(__file__).resolve().parent
    return list(mypycify([str(f.relative_to(root)) for f in files], group_name=GROUP, opt_level="2"))


setup(ext_modules=core_extensions())
