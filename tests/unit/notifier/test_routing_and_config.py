"""Routing by severity, change and escalation-chain level; the endpoint file and its secrets."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from carepath.resources import schemas_dir
from notifier.config import DEVELOPMENT_SECRET, ConfigError, load_endpoints
from notifier.routing import Notification, NotRoutable, routes
from notifier.settings import NotifierSettings

pytestmark = pytest.mark.unit

STRONG = "s" * 40
CONFIG = """
endpoints:
  - name: oncall-pager
    url: https://pager.example/hooks/carepath
    secret_env: PAGER_SECRET
    receive:
      escalations: {severities: [emergency], changes: [raised, updated]}
      reminders: {min_level: 2}
  - name: secure-messaging
    url: https://messaging.example/api/carepath
    secret_env: MESSAGING_SECRET
    timeout_s: 3
    retry: {attempts: 5, base_s: 0.5, cap_s: 60}
    receive:
      escalations: {severities: [urgent, routine]}
      reminders: {kinds: [warning, overdue], levels: [1]}
  - name: fhir-server
    url: https://fhir.example/r4
    secret_env: FHIR_SECRET
    format: fhir
    concurrency: 2
    receive:
      escalations: {}
"""
SECRETS = {"PAGER_SECRET": STRONG, "MESSAGING_SECRET": STRONG, "FHIR_SECRET": STRONG}


def example(kind: str, name: str) -> dict[str, Any]:
    path = Path(schemas_dir(), "examples", kind, "valid", name)
    return copy.deepcopy(json.loads(path.read_text()))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text(CONFIG)
    return path


def names(event: dict[str, Any], config: Path) -> list[str]:
    endpoints = load_endpoints(config, "production", SECRETS)
    return [e.name for e in routes(Notification.from_event(event), endpoints)]


def test_an_emergency_goes_to_the_pager_and_the_fhir_server(config: Path) -> None:
    esc = example("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    assert names(esc, config) == ["oncall-pager", "fhir-server"]


def test_an_urgent_escalation_goes_to_messaging_not_the_pager(config: Path) -> None:
    esc = example("carepath.escalation.raised.v1", "r1-mscc-suspected.json")
    esc["data"]["severity"] = "urgent"
    assert names(esc, config) == ["secure-messaging", "fhir-server"]


def test_a_resolved_emergency_does_not_page(config: Path) -> None:
    resolved = example("carepath.escalation.resolved.v1", "r1-resolved-by-decision.json")
    assert "oncall-pager" not in names(resolved, config)
    assert "fhir-server" in names(resolved, config)


def test_reminders_route_by_chain_level(config: Path) -> None:
    level1 = example("carepath.reminder.overdue.v1", "f1-coordinator-not-contacted.json")
    level2 = example("carepath.reminder.overdue.v1", "a1-unacknowledged-emergency-level-2.json")
    assert level1["data"]["level"] == 1 and level2["data"]["level"] == 2
    assert names(level1, config) == ["secure-messaging"]
    assert names(level2, config) == ["oncall-pager"]


def test_anything_else_is_not_routable() -> None:
    with pytest.raises(NotRoutable):
        Notification.from_event({"type": "carepath.pain.reported.v1", "id": "x", "subject": "p", "data": {}})
    with pytest.raises(NotRoutable):
        Notification.from_event(
            {"type": "carepath.escalation.raised.v1", "id": "x", "subject": "p", "data": {}}
        )


def test_the_file_is_read_with_its_settings(config: Path) -> None:
    pager, messaging, fhir = load_endpoints(config, "production", SECRETS)
    assert pager.secret == STRONG.encode() and pager.format == "carepath" and pager.retry.attempts == 8
    assert messaging.timeout_s == 3 and messaging.retry.base_s == 0.5 and messaging.reminders is not None
    assert fhir.format == "fhir" and fhir.concurrency == 2 and fhir.reminders is None
    assert STRONG not in repr(pager)  # a secret never reaches a log line


def test_production_refuses_missing_or_weak_secrets(config: Path) -> None:
    with pytest.raises(ConfigError, match="PAGER_SECRET must hold"):
        load_endpoints(config, "production", {**SECRETS, "PAGER_SECRET": "short"})
    with pytest.raises(ConfigError, match="FHIR_SECRET must hold"):
        load_endpoints(config, "production", {k: v for k, v in SECRETS.items() if k != "FHIR_SECRET"})


def test_only_development_falls_back_to_the_development_secret(config: Path) -> None:
    [pager, *_] = load_endpoints(config, "development", {})
    assert pager.secret == DEVELOPMENT_SECRET.encode()
    with pytest.raises(ConfigError, match="PAGER_SECRET must hold"):
        load_endpoints(config, "test", {})
    assert load_endpoints(config, "test", {**SECRETS, "PAGER_SECRET": "short"})[0].secret == b"short"


def test_a_whsec_secret_is_the_base64_of_its_key_sized_as_the_specification_asks(config: Path) -> None:
    key = bytes(range(32))
    standard = "whsec_" + base64.b64encode(key).decode()
    [pager, *_] = load_endpoints(config, "production", {**SECRETS, "PAGER_SECRET": standard})
    assert pager.secret == key and standard not in repr(pager)
    for size in (16, 65):  # the specification: 24 to 64 bytes
        weak = "whsec_" + base64.b64encode(bytes(size)).decode()
        with pytest.raises(ConfigError, match=r"PAGER_SECRET must hold .* 24 to 64 random bytes"):
            load_endpoints(config, "production", {**SECRETS, "PAGER_SECRET": weak})
    assert load_endpoints(config, "test", {**SECRETS, "PAGER_SECRET": "whsec_AAAA"})[0].secret == bytes(3)
    for environment in ("test", "production"):
        with pytest.raises(ConfigError, match="PAGER_SECRET must be whsec_ followed by base64"):
            load_endpoints(config, environment, {**SECRETS, "PAGER_SECRET": "whsec_not base64!"})


def test_legacy_signature_is_off_unless_an_endpoint_asks_for_it(config: Path, tmp_path: Path) -> None:
    assert not any(e.legacy_signature for e in load_endpoints(config, "production", SECRETS))
    path = tmp_path / "legacy.yaml"
    path.write_text(
        CONFIG.replace(
            "    secret_env: PAGER_SECRET\n", "    secret_env: PAGER_SECRET\n    legacy_signature: true\n"
        )
    )
    pager, messaging, _ = load_endpoints(path, "production", SECRETS)
    assert pager.legacy_signature and not messaging.legacy_signature
    path.write_text(
        CONFIG.replace(
            "    secret_env: PAGER_SECRET\n",
            "    secret_env: PAGER_SECRET\n    legacy_signature: yes-please\n",
        )
    )
    with pytest.raises(ConfigError, match="legacy_signature"):
        load_endpoints(path, "production", SECRETS)


def test_a_previous_secret_is_read_while_rotating_and_held_to_the_same_rules(tmp_path: Path) -> None:
    path = tmp_path / "rotating.yaml"
    path.write_text(
        CONFIG.replace(
            "    secret_env: PAGER_SECRET\n",
            "    secret_env: PAGER_SECRET\n    previous_secret_env: OLD_SECRET\n",
        )
    )
    pager, messaging, _ = load_endpoints(path, "production", {**SECRETS, "OLD_SECRET": "o" * 40})
    assert pager.previous_secret == b"o" * 40 and messaging.previous_secret is None
    assert "o" * 40 not in repr(pager)
    for environment, secrets in (("production", {**SECRETS, "OLD_SECRET": "short"}), ("development", {})):
        with pytest.raises(ConfigError, match="OLD_SECRET must hold"):
            load_endpoints(path, environment, secrets)  # never a development fallback for it
    path.write_text(
        CONFIG.replace(
            "    secret_env: PAGER_SECRET\n",
            "    secret_env: PAGER_SECRET\n    previous_secret_env: PAGER_SECRET\n",
        )
    )
    with pytest.raises(ConfigError, match="previous_secret_env must name another"):
        load_endpoints(path, "production", SECRETS)


def test_production_refuses_plain_http_unless_explicit(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(CONFIG.replace("https://pager.example", "http://pager.example"))
    with pytest.raises(ConfigError, match="https in production"):
        load_endpoints(path, "production", SECRETS)
    assert load_endpoints(path, "development", {})[0].url.startswith("http://")
    path.write_text(
        CONFIG.replace(
            "url: https://pager.example/hooks/carepath",
            "url: http://pager.internal/x\n    insecure_http: true",
        )
    )
    assert load_endpoints(path, "production", SECRETS)[0].url == "http://pager.internal/x"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("severities: [emergency]", "severities: [critical]"), "severities.[0]: 'critical' is not one of"),
        (("name: oncall-pager", "name: On Call"), "name must be"),
        (("format: fhir", "format: xml"), "format: 'xml' is not one of ['carepath', 'fhir']"),
        (("timeout_s: 3", "timeout_s: 0"), "timeout_s: 0 is less than the minimum of 0.1"),
        (("attempts: 5", "attempts: 0"), "retry.attempts: 0 is less than the minimum of 1"),
        (("cap_s: 60", "cap_s: 0.1"), "cap_s must be at least base_s"),
        (("{min_level: 2}", "{min_level: 0}"), "min_level: 0 is less than the minimum of 1"),
        (("concurrency: 2", "concurrency: 2\n    colour: red"), "colour: unknown key 'colour'"),
        (("name: secure-messaging", "name: oncall-pager"), "names must be unique"),
        (("secret_env: PAGER_SECRET", "secret_env: pager secret"), "secret_env must name"),
    ],
)
def test_mistakes_are_refused_naming_the_endpoint_and_key(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    path = tmp_path / "e.yaml"
    assert change[0] in CONFIG
    path.write_text(CONFIG.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as caught:
        load_endpoints(path, "development", {})
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_settings_refuse_to_start_production_without_an_endpoint_file() -> None:
    with pytest.raises(ValueError, match="CAREPATH_NOTIFIER_CONFIG must name"):
        NotifierSettings(environment="production")
    assert NotifierSettings(environment="development").endpoints() == ()


def test_settings_check_the_endpoint_file_at_start_up(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="PAGER_SECRET must hold"):
        NotifierSettings(environment="production", CAREPATH_NOTIFIER_CONFIG=str(config))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = NotifierSettings(environment="production", CAREPATH_NOTIFIER_CONFIG=str(config))
    assert [e.name for e in settings.endpoints()] == ["oncall-pager", "secure-messaging", "fhir-server"]
    assert settings.web_port == 6068


def test_an_endpoint_key_written_twice_stops_start_up_naming_it(tmp_path: Path) -> None:
    """A second url: under one endpoint would silently send pages somewhere else."""
    path = tmp_path / "e.yaml"
    path.write_text(
        "endpoints:\n  - name: pager\n    url: https://pager.example/hook\n    url: https://other.example/hook\n"
    )
    with pytest.raises(ConfigError, match=r"line 4: key 'url' is written twice"):
        load_endpoints(path, "production", SECRETS)
