"""``make audit`` and ``make sbom``: what the runtime image ships, described and checked.

``audit``: pip-audit looks up every pin of ``requirements/runtime.lock`` (hashed, so nothing is resolved or
installed) in a vulnerability source: OSV (``https://api.osv.dev/v1/query``) or PyPI's JSON API, whichever
answers first. A known vulnerability fails (exit 1, each finding printed with its ids and fixed versions).
Where neither source can be reached it says so and does not fail, unless ``CAREPATH_AUDIT_REQUIRED=1``
(exit 2), for a build machine that must have the answer.

``sbom``: the runtime image's virtualenv is built as the Dockerfile builds it (``requirements/build.lock``,
then ``requirements/runtime.lock`` with hash checking and no resolution, then the project without its
dependencies) in ``.venv/runtime/``, and ``cyclonedx-py environment`` writes its CycloneDX JSON SBOM,
validated against the CycloneDX schema. Each pin of the runtime lock must be in it at its locked version,
and nothing the runtime lock does not pin (the embedded broker, a test tool) may be.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
RUNTIME_LOCK = REQUIREMENTS / "runtime.lock"
BUILD_LOCK = REQUIREMENTS / "build.lock"
DEV_LOCK = REQUIREMENTS / "dev.lock"
OSV_URL = "https://api.osv.dev/v1/query"
PYPI_JSON = "https://pypi.org/pypi/{name}/{version}/json"  # what pip-audit asks per pin
PROBE_TIMEOUT_S = 10.0
TOOLS = Path(sys.executable).parent  # pip-audit and cyclonedx-py live beside this interpreter (dev lock)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """The ``name==version`` pins of a lock file, by canonical name."""
    return {canonical(name): version for name, version in _PIN.findall(lock.read_text(encoding="utf-8"))}


def _answers(url: str, body: bytes | None) -> str | None:
    """None when ``url`` answers JSON with 200; else why not, in a few words."""
    try:
        if body is None:
            answer = httpx.get(url, timeout=PROBE_TIMEOUT_S)
        else:
            answer = httpx.post(
                url, content=body, headers={"Content-Type": "application/json"}, timeout=PROBE_TIMEOUT_S
            )
    except httpx.HTTPError as error:
        return f"unreachable ({type(error).__name__}: {error})"
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    try:
        answer.json()
    except ValueError:
        return "not JSON"
    return None


def reachable_source(service: str, osv_url: str, probe: tuple[str, str]) -> tuple[str | None, list[str]]:
    """The first vulnerability source that answers for the pin ``probe`` (name, version) as pip-audit will
    ask it (``osv`` or ``pypi``), and why each one tried did not."""
    tried: list[str] = []
    if service in {"auto", "osv"}:
        query = {"package": {"name": probe[0], "ecosystem": "PyPI"}, "version": probe[1]}
        why = _answers(osv_url, json.dumps(query).encode())
        if why is None:
            return "osv", tried
        tried.append(f"OSV ({osv_url}): {why}")
    if service in {"auto", "pypi"}:
        url = PYPI_JSON.format(name=probe[0], version=probe[1])
        why = _answers(url, None)
        if why is None:
            return "pypi", tried
        tried.append(f"PyPI's JSON API ({url}): {why}")
    return None, tried


def audit(lock: Path, service: str, osv_url: str) -> int:
    locked = pins(lock)
    if not locked:
        print(f"audit: {lock} pins nothing", file=sys.stderr)
        return 2
    source, tried = reachable_source(service, osv_url, next(iter(locked.items())))
    if source is None:
        print(
            f"audit: pip-audit not run: no vulnerability source answers from this machine: {'; '.join(tried)}"
        )
        if os.environ.get("CAREPATH_AUDIT_REQUIRED") == "1":
            print("audit: CAREPATH_AUDIT_REQUIRED=1: failing", file=sys.stderr)
            return 2
        return 0
    command = [
        str(TOOLS / "pip-audit"),
        "--requirement",
        str(lock),
        "--disable-pip",
        "--require-hashes",
        "--strict",
        "--vulnerability-service",
        source,
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    if source == "osv":
        command += ["--osv-url", osv_url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"audit: pip-audit failed (exit {done.returncode}):\n{done.stderr.strip()}", file=sys.stderr)
        return 2
    findings = [
        (dependency["name"], dependency["version"], vuln)
        for dependency in report.get("dependencies", [])
        for vuln in dependency.get("vulns", [])
    ]
    audited = len(report.get("dependencies", []))
    where = "OSV" if source == "osv" else "PyPI"
    for name, version, vuln in findings:
        ids = ", ".join([vuln["id"], *vuln.get("aliases", [])])
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
        print(f"audit: {name} {version}: {ids} (fixed in: {fixed})")
    print(
        f"audit: {audited} pins of {lock.relative_to(ROOT) if lock.is_relative_to(ROOT) else lock}, "
        f"{len(findings)} known {'vulnerability' if len(findings) == 1 else 'vulnerabilities'} ({where})"
    )
    return 1 if findings else 0


def _run(*command: str) -> None:
    subprocess.run(command, check=True)


def runtime_environment(python: str, where: Path) -> Path:
    """The runtime image's virtualenv at ``where``, built as the Dockerfile builds it; its interpreter."""
    interpreter = where / "bin" / "python"
    if not interpreter.exists():
        _run(python, "-m", "venv", str(where))
    quiet = ("--quiet", "--disable-pip-version-check")
    _run(str(interpreter), "-m", "pip", "install", *quiet, "--require-hashes", "-r", str(BUILD_LOCK))
    _run(
        str(interpreter),
        "-m",
        "pip",
        "install",
        *quiet,
        "--require-hashes",
        "--no-deps",
        "-r",
        str(RUNTIME_LOCK),
    )
    leftover = not (ROOT / "build").exists()  # setuptools builds in the source tree: tidy up after it
    _run(
        str(interpreter),
        "-m",
        "pip",
        "install",
        *quiet,
        "--no-deps",
        "--no-build-isolation",
        "--force-reinstall",
        str(ROOT),
    )
    if leftover:
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    _run(str(interpreter), "-m", "pip", "check")
    return interpreter


def components(sbom: dict[str, object]) -> dict[str, str]:
    """The SBOM's components by canonical name: their versions."""
    listed = sbom.get("components", [])
    assert isinstance(listed, list)
    return {canonical(str(c["name"])): str(c["version"]) for c in listed}


def differences(found: dict[str, str], locked: dict[str, str], extra_allowed: set[str]) -> list[str]:
    """What keeps an SBOM from describing exactly the runtime lock (plus ``extra_allowed``)."""
    problems = [
        f"{name}: locked {version}, SBOM {found.get(name, 'absent')}"
        for name, version in sorted(locked.items())
        if found.get(name) != version
    ]
    problems += [
        f"{name} {found[name]}: in the SBOM, not in the runtime lock"
        for name in sorted(set(found) - set(locked) - extra_allowed)
    ]
    return problems


def sbom(python: str, out: Path, where: Path) -> int:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    interpreter = runtime_environment(python, where)
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(
        str(TOOLS / "cyclonedx-py"),
        "environment",
        "--pyproject",
        str(ROOT / "pyproject.toml"),
        "--mc-type",
        "application",
        "--spec-version",
        "1.6",
        "--output-reproducible",
        "--output-format",
        "JSON",
        "--output-file",
        str(out),
        str(interpreter),
    )
    text = out.read_text(encoding="utf-8")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        print(f"sbom: {out} is not valid CycloneDX 1.6: {error}", file=sys.stderr)
        return 1
    document = json.loads(text)
    found = components(document)
    problems = differences(found, pins(RUNTIME_LOCK), extra_allowed={*pins(BUILD_LOCK), "carepath"})
    for problem in problems:
        print(f"sbom: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"sbom: {out} (CycloneDX 1.6): {len(found)} components, each pin of the runtime lock at its version"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.supply_chain", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("audit", help="known vulnerabilities in the runtime lock")
    check.add_argument("--lock", type=Path, default=RUNTIME_LOCK)
    check.add_argument("--service", choices=("auto", "osv", "pypi"), default="auto")
    check.add_argument("--osv-url", default=OSV_URL)
    describe = commands.add_parser("sbom", help="the runtime image's CycloneDX SBOM")
    describe.add_argument("--python", default="python3.11", help="the interpreter the image runs")
    describe.add_argument("--out", type=Path, default=ROOT / "sbom" / "carepath-runtime.cdx.json")
    describe.add_argument("--environment", type=Path, default=ROOT / ".venv" / "runtime")
    args = parser.parse_args(argv)
    if args.command == "audit":
        return audit(args.lock, args.service, args.osv_url)
    return sbom(args.python, args.out, args.environment)


if __name__ == "__main__":
    sys.exit(main())
