"""carepath.compiled: a core compiled from other sources than those beside it refuses to load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carepath import compiled

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[3] / "services"


def _package(tmp_path: Path, service: str) -> Path:
    original = SERVICES / service / service
    package = tmp_path / service
    shutil.copytree(original / "core", package / "core", ignore=shutil.ignore_patterns("*.so", "*.sha256"))
    shutil.copy(original / "batch.py", package / "batch.py")
    return package


@pytest.mark.parametrize("service", ["triage", "followup"])
def test_a_core_compiled_from_other_sources_refuses_to_load(tmp_path: Path, service: str) -> None:
    package = _package(tmp_path, service)
    module = str(package / "core" / "engine.cpython-311-x86_64-linux-gnu.so")
    compiled.record(package)
    assert compiled.check(module, package) is True
    some = next(p for p in sorted((package / "core").glob("*.py")) if p.name != "__init__.py")
    some.write_text(some.read_text(encoding="utf-8") + "# edited after compiling\n", encoding="utf-8")
    with pytest.raises(compiled.StaleBuild, match="make setup"):
        compiled.check(module, package)
    compiled.record(package)
    assert compiled.check(module, package) is True  # compiled again
    (package / "batch.py").write_text("# edited\n", encoding="utf-8")  # the digest covers batch.py too
    with pytest.raises(compiled.StaleBuild, match=service):
        compiled.check(module, package)


def test_the_package_init_is_not_compiled_and_not_in_the_digest(tmp_path: Path) -> None:
    package = _package(tmp_path, "triage")
    assert package / "core" / "__init__.py" not in compiled.sources(package)
    compiled.record(package)
    init = package / "core" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + "# re-exports edited\n", encoding="utf-8")
    assert compiled.check(str(package / "core" / "engine.abi3.so"), package) is True


def test_a_core_compiled_without_a_recorded_digest_refuses_to_load(tmp_path: Path) -> None:
    package = _package(tmp_path, "followup")
    with pytest.raises(compiled.StaleBuild):
        compiled.check(str(package / "core" / "engine.abi3.so"), package)


def test_sources_run_as_python_need_no_digest(tmp_path: Path) -> None:
    package = _package(tmp_path, "triage")
    assert compiled.check(str(package / "core" / "engine.py"), package) is False
    assert compiled.check(None, package) is False


def test_the_digest_is_replaced_whole_and_left_alone_when_unchanged(tmp_path: Path) -> None:
    package = _package(tmp_path, "triage")
    compiled.record(package)
    written = package / compiled.DIGEST
    before = written.stat().st_mtime_ns
    compiled.record(package)
    assert written.stat().st_mtime_ns == before
    assert not list(written.parent.glob(".compiled-from.sha256.*"))


def test_a_module_compiled_on_its_own_keeps_its_digest_beside_it(tmp_path: Path) -> None:
    source = tmp_path / "murmur2.py"
    shutil.copy(Path(compiled.__file__).with_name("murmur2.py"), source)
    built = str(tmp_path / "murmur2.cpython-311-x86_64-linux-gnu.so")
    with pytest.raises(compiled.StaleBuild, match=r"module murmur2\.py"):
        compiled.check(built, source)  # no digest recorded
    compiled.record(source)
    assert (tmp_path / "murmur2.compiled-from.sha256").exists()
    assert compiled.check(built, source) is True
    assert compiled.check(str(source), source) is False
    source.write_text(
        source.read_text(encoding="utf-8").replace("0x9747B28C", "0x9747B28D"), encoding="utf-8"
    )
    with pytest.raises(compiled.StaleBuild, match="make setup"):
        compiled.check(built, source)
