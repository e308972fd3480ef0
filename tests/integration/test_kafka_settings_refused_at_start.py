"""A half Kafka security configuration, or unencrypted Kafka in production, stops each kind of Kafka client
process at start-up with a message naming the variable: a Faust worker, intake, the worklist and a tool.
None gets as far as the broker, which is not there (a process that got past its settings would hang)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from carepath_tools.broker import free_port

pytestmark = pytest.mark.integration

NOWHERE = "127.0.0.1:9"

COMMANDS = {
    "triage": [sys.executable, "-m", "triage"],
    "intake": [sys.executable, "-m", "intake"],
    "worklist": [sys.executable, "-m", "worklist"],
    "tail": [sys.executable, "-m", "carepath.tail", "care.escalations", "--bootstrap", NOWHERE],
}


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREPATH_", "KAFKA_"))}
    port = str(free_port())
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": NOWHERE,
        "CAREPATH_ENVIRONMENT": "development",
        "CAREPATH_TRIAGE_PORT": port,
        "CAREPATH_INTAKE_PORT": port,
        "CAREPATH_WORKLIST_PORT": port,
    }
    return env | extra


def _refusals(extra: dict[str, str]) -> dict[str, tuple[int, str]]:
    procs = {
        name: subprocess.Popen(
            cmd, env=_env(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        for name, cmd in COMMANDS.items()
    }
    out: dict[str, tuple[int, str]] = {}
    for name, proc in procs.items():
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{name} did not refuse its Kafka settings: it kept running")
        out[name] = (proc.returncode, err.decode(errors="replace"))
    return out


def test_a_certificate_without_its_key_stops_every_kafka_client_naming_the_key(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    extra = {"CAREPATH_KAFKA_SECURITY_PROTOCOL": "SSL", "CAREPATH_KAFKA_SSL_CERTFILE": str(cert)}
    for name, (code, err) in _refusals(extra).items():
        assert code != 0, name
        assert "CAREPATH_KAFKA_SSL_KEYFILE is required" in err, f"{name}: {err[-500:]}"


def test_plaintext_kafka_in_production_stops_a_service_naming_the_way_out() -> None:
    env = _env({"CAREPATH_ENVIRONMENT": "production", "CAREPATH_KAFKA_ALLOW_PLAINTEXT": "false"})
    proc = subprocess.run(
        [sys.executable, "-m", "triage"], env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode != 0
    assert "CAREPATH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT would send patient data unencrypted" in err
    assert "CAREPATH_KAFKA_ALLOW_PLAINTEXT" in err
