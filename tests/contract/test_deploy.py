"""The deployment files agree with each other and with the services.

docker-compose.yml, the Dockerfile, Prometheus (config, alert rules, rule unit tests), Grafana
(provisioning and dashboard) and deploy/RUNBOOK.md are checked statically, and the Prometheus files are
also checked by the real ``promtool``. Nothing here needs a container engine.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from carepath.settings import CommonSettings
from followup.settings import FollowupSettings
from intake.settings import IntakeSettings
from notifier.config import load_endpoints
from notifier.settings import NotifierSettings
from triage.settings import TriageSettings
from worklist.settings import WorklistSettings

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
RULES_FILE = DEPLOY / "prometheus" / "rules" / "carepath.yml"
RULE_TESTS_FILE = DEPLOY / "prometheus" / "tests" / "carepath_test.yml"
# Every rule-test file: carepath_test.yml (evaluated every minute) and those whose alerts need longer
# series (timeliness_test.yml, evaluated hourly).
RULE_TESTS_FILES = sorted(RULE_TESTS_FILE.parent.glob("*_test.yml"))
RUNBOOK = DEPLOY / "RUNBOOK.md"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "carepath.json"
GRAFANA_DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_DASHBOARD_PROVIDER = GRAFANA / "provisioning" / "dashboards" / "carepath.yml"
NOTIFIER_ENDPOINTS = DEPLOY / "notifier" / "endpoints.yml"

# --- the metrics spec, written down here -------------------------------------------------------------

# The carepath services and the port each serves HTTP (/metrics, /healthz, /readyz) on.
SERVICE_HTTP_PORT = {"intake": 8080, "triage": 6066, "followup": 6067, "notifier": 6068, "worklist": 6070}
# Every container port compose publishes, per service.
# HL7 v2 over MLLP (2575) runs in its own container, with its status port (8081) beside it.
MLLP_SERVICE, MLLP_STATUS_PORT = "intake-mllp", 8081
PUBLISHED_PORTS = {
    "intake": {8080},
    MLLP_SERVICE: {2575, MLLP_STATUS_PORT},
    "triage": {6066},
    "followup": {6067},
    "notifier": {6068},
    "worklist": {6070},
    "prometheus": {9090},
    "grafana": {3000},
}

COUNTERS = {
    "carepath_intake_events_accepted_total",
    "carepath_intake_events_rejected_total",
    "carepath_intake_duplicates_total",
    "carepath_intake_dlq_records_total",
    "carepath_intake_parked_total",
    "carepath_events_consumed_total",
    "carepath_decode_errors_total",
    "carepath_escalations_total",
    "carepath_triage_duplicates_suppressed_total",
    "carepath_reminders_total",
    "carepath_followup_timer_scans_total",
    "carepath_expectations_closed_total",
    "carepath_notifier_deliveries_total",
    "carepath_notifier_attempts_total",
    "carepath_notifier_dead_letters_total",
    "carepath_followup_timer_states_missing_total",
    "carepath_notifier_states_missing_total",
}
GAUGES = {
    "carepath_intake_broker_up",
    "carepath_consumer_lag",
    "carepath_consumer_position",
    "carepath_followup_next_due_timestamp_seconds",
    "carepath_expectations_open",
    "carepath_expectations_overdue",
    "carepath_timer_backlog",
    "carepath_oldest_unacknowledged_emergency_seconds",
    "carepath_notifier_pending",
}
HISTOGRAMS = {
    "carepath_intake_publish_seconds",
    "carepath_processing_seconds",
    "carepath_rule_evaluation_seconds",
    "carepath_end_to_end_seconds",
    "carepath_reminder_lateness_seconds",
    "carepath_expectation_step_seconds",
    "carepath_notifier_delivery_seconds",
}
SPEC_SERIES = COUNTERS | GAUGES | {h + suffix for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
STANDARD_SERIES = re.compile(r"^(up|process_[a-z0-9_]+)$")

# Alerts the rules file must hold (the ops contract in deploy/RUNBOOK.md).
REQUIRED_ALERTS = {
    "CarepathServiceDown": "page",
    "CarepathIntakeBrokerUnreachable": "page",
    "CarepathConsumerLagHigh": "warning",
    "CarepathDeadLetterRecords": "warning",
    "CarepathReminderTimerBacklog": "page",
    "CarepathRemindersLate": "warning",
    "CarepathEmergencyUnacknowledged": "page",
}
SEVERITIES = {"page", "warning"}
RUNBOOK_BASE = (
    "https://carepath.example/"  # the base a site replaces with where it publishes deploy/RUNBOOK.md
)

SETTING_NAME = re.compile(r"^(CAREPATH|KAFKA)_[A-Z0-9_]+$")
# The settings class each compose service built from the Dockerfile reads (topics runs carepath.broker).
SETTINGS_OF: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    MLLP_SERVICE: IntakeSettings,
    "triage": TriageSettings,
    "followup": FollowupSettings,
    "notifier": NotifierSettings,
    "worklist": WorklistSettings,
    "topics": CommonSettings,
}
# Read by carepath.resources in every process.
DATA_DIR_SETTINGS = {"CAREPATH_SCHEMAS_DIR", "CAREPATH_PATHWAYS_DIR"}

PROMTOOL_TIMEOUT_S = 60


# --- helpers -----------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "compose file has no services"
    return data


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def container_ports(service: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/", 1)[0]))
    return ports


def setting_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads (aliases, or prefix + field name)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set(DATA_DIR_SETTINGS)
    for name, info in cls.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add((prefix + name).upper())
    return names


def notifier_secret_names() -> set[str]:
    """The secret variables the shipped endpoint file names (the notifier reads them at start-up)."""
    endpoints = load_endpoints(NOTIFIER_ENDPOINTS, "development", {})
    return {e.secret_env for e in endpoints}


def built_services() -> dict[str, dict[str, Any]]:
    """Services whose image is built from the project's Dockerfile."""
    return {name: svc for name, svc in services().items() if "build" in svc}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, with line continuations joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        yield keyword.upper(), rest.strip()
    assert not pending, "Dockerfile ends inside a line continuation"


def dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ARG defaults and the stages by name (``FROM <image> AS <name>``)."""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, rest in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "FROM":
            m = re.fullmatch(
                r"(?:--platform=\S+\s+)?(\S+)\s+AS\s+([a-z0-9][a-z0-9_.-]*)", rest, re.IGNORECASE
            )
            assert m, f"every FROM must name its stage (FROM <image> AS <name>): FROM {rest}"
            base = re.sub(
                r"\$\{(\w+)\}|\$(\w+)", lambda g: args.get(g.group(1) or g.group(2), g.group(0)), m[1]
            )
            current = Stage(name=m[2].lower(), base=base)
            assert current.name not in stages, f"stage {current.name} defined twice"
            stages[current.name] = current
        elif current is None:
            assert keyword == "ARG", f"only ARG may come before the first FROM, found {keyword}"
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        else:
            current.instructions.append((keyword, rest))
    return args, stages


def effective(stages: dict[str, Stage], name: str) -> list[tuple[str, str]]:
    """A stage's instructions including those it inherits from the stage it is built FROM."""
    stage = stages[name]
    inherited = effective(stages, stage.base) if stage.base in stages else []
    return inherited + stage.instructions


def last(instructions: list[tuple[str, str]], keyword: str) -> str | None:
    found = [rest for kw, rest in instructions if kw == keyword]
    return found[-1] if found else None


def env_of(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for kw, rest in instructions:
        if kw == "ENV":
            for token in shlex.split(rest):
                key, sep, value = token.partition("=")
                assert sep, f"use ENV KEY=value, not the legacy form: ENV {rest}"
                env[key] = value
    return env


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (functions, keywords and label names removed)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPINGS.sub(" ", text)
    return {
        m[1]
        for m in _IDENTIFIER.finditer(text)
        if not m[2] and m[1].lower() not in _KEYWORDS and not m[1].startswith("__")
    }


def unknown_series(expr: str) -> set[str]:
    return {n for n in metric_names(expr) if n not in SPEC_SERIES and not STANDARD_SERIES.match(n)}


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(RULES_FILE)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def runbook_sections() -> set[str]:
    return {
        m[1].strip() for m in re.finditer(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    }


def dashboard_panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # panels inside collapsed rows
    return panels


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"{panel.get('title')!r}/{target.get('refId')}", target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) for each volume of a service, short or long syntax."""
    out: list[tuple[str, str]] = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, target = str(entry).split(":")[:2]
            out.append((source, target))
    return out


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def promtool() -> str:
    """The promtool on PATH; a missing promtool fails the calling test (it is never skipped)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: install it (Debian/Ubuntu: `apt-get install prometheus`, which "
            "provides /usr/bin/promtool; `make test` installs it). The Prometheus config, alert rules and "
            "rule unit tests cannot be verified without it."
        )
    return path


def run_promtool(*args: str, cwd: Path = ROOT) -> None:
    result = subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S, check=False
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


# --- the checker itself ------------------------------------------------------------------------------


def test_metric_name_extraction_sees_series_and_ignores_functions_labels_and_groupings() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) "
        '(rate(carepath_processing_seconds_bucket{service="a b"}[$__rate_interval]))) > 0.5 '
        "unless on () max without (instance) (up offset 5m) or vector(1e3)"
    )
    assert metric_names(expr) == {"carepath_processing_seconds_bucket", "up"}
    assert unknown_series("sum(rate(carepath_not_in_the_spec_total[5m])) / process_cpu_seconds_total") == {
        "carepath_not_in_the_spec_total"
    }


# --- docker-compose.yml ------------------------------------------------------------------------------


def test_compose_file_parses_and_holds_every_service() -> None:
    assert set(services()) == {
        "kafka",
        "topics",
        "intake",
        MLLP_SERVICE,
        "triage",
        "followup",
        "notifier",
        "worklist",
        "prometheus",
        "grafana",
    }


def test_every_service_has_a_pinned_image_or_a_dockerfile_target() -> None:
    _, stages = dockerfile()
    for name, svc in services().items():
        build = svc.get("build")
        if build is not None:
            assert isinstance(build, dict), f"{name}: build must name its context and target"
            assert (ROOT / build.get("context", ".")).resolve() == ROOT, (
                f"{name}: build context is not the root"
            )
            assert build.get("dockerfile", "Dockerfile") == "Dockerfile", f"{name}: unexpected dockerfile"
            assert build.get("target") in stages, (
                f"{name}: build target {build.get('target')!r} is not a Dockerfile stage {sorted(stages)}"
            )
        else:
            image = svc.get("image", "")
            repo, _, tag = image.rpartition(":")
            assert repo and tag and tag != "latest" and "/" not in tag, (
                f"{name}: image {image!r} is not pinned"
            )


def test_the_three_services_are_built_from_their_own_target() -> None:
    built = built_services()
    for name in SERVICE_HTTP_PORT:
        assert built[name]["build"]["target"] == name
    assert built["topics"]["build"]["target"] == "intake", "topics runs carepath.broker from the intake image"
    assert built[MLLP_SERVICE]["build"]["target"] == "intake", "the MLLP listener runs from the intake image"
    assert built[MLLP_SERVICE]["command"] == ["python", "-m", "intake.hl7"]
    assert built[MLLP_SERVICE]["environment"]["CAREPATH_INTAKE_MLLP_STANDALONE"] == "true"
    assert built["intake"]["environment"]["CAREPATH_INTAKE_MLLP_STANDALONE"] == "true", "one MLLP listener"


def test_every_mounted_host_path_exists_and_named_volumes_are_declared() -> None:
    declared = set((compose().get("volumes") or {}).keys())
    for name, svc in services().items():
        for source, target in mounts(svc):
            assert target.startswith("/"), f"{name}: mount target {target!r} is not absolute"
            if is_host_path(source):
                assert (ROOT / source).resolve().exists(), (
                    f"{name}: mounted host path {source} does not exist"
                )
            else:
                assert source in declared, f"{name}: named volume {source!r} is not declared under volumes:"


def test_carepath_services_are_configured_only_through_settings_they_read() -> None:
    built = built_services()
    assert set(built) == set(SETTINGS_OF), f"which settings does each of {sorted(built)} read?"
    for name, svc in built.items():
        known = setting_names(SETTINGS_OF[name]) | (notifier_secret_names() if name == "notifier" else set())
        for key in environment(svc):
            assert SETTING_NAME.match(key), f"{name}: {key} is not a setting name (CAREPATH_*/KAFKA_*)"
            assert key in known, (
                f"{name}: {key} is not read by {SETTINGS_OF[name].__name__} ({sorted(known)})"
            )
    _, stages = dockerfile()
    known_anywhere = set().union(*(setting_names(cls) for cls in SETTINGS_OF.values()))
    for key in env_of(stages["runtime"].instructions):
        if key.startswith(("CAREPATH_", "KAFKA_")):
            assert key in known_anywhere, f"Dockerfile: ENV {key} is not a setting any carepath process reads"


def test_every_variable_the_operator_sets_is_a_carepath_setting() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    variables = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert variables, "compose takes no variables at all: where do the secrets come from?"
    for variable in variables:
        assert SETTING_NAME.match(variable), f"compose reads ${{{variable}}}: name it CAREPATH_*"


def test_secrets_come_from_the_environment_with_no_usable_default() -> None:
    required = re.compile(r"^\$\{(CAREPATH_[A-Z0-9_]+):\?[^}]+\}$")
    svcs = services()
    tokens = environment(svcs["intake"]).get("CAREPATH_INTAKE_TOKENS", "")
    assert required.match(tokens), f"CAREPATH_INTAKE_TOKENS must be ${{VAR:?message}}, got {tokens!r}"
    password = environment(svcs["grafana"]).get("GF_SECURITY_ADMIN_PASSWORD", "")
    assert required.match(password), f"the Grafana admin password must be ${{VAR:?message}}, got {password!r}"
    notifier = environment(svcs["notifier"])
    secrets = notifier_secret_names()
    assert secrets, f"{NOTIFIER_ENDPOINTS} names no endpoint secret"
    for name in secrets:
        match = required.match(notifier.get(name, ""))
        assert match and match[1] == name, (
            f"notifier: {name} (a secret_env in {NOTIFIER_ENDPOINTS.name}) must be ${{{name}:?message}}"
        )
    for name, svc in built_services().items():
        env = environment(svc)
        assert env.get("CAREPATH_ENVIRONMENT", "production") == "production", f"{name} is not in production"


def test_notifier_reads_the_endpoint_file_compose_mounts() -> None:
    notifier = services()["notifier"]
    config = Path(environment(notifier)["CAREPATH_NOTIFIER_CONFIG"])
    by_target = {t: (ROOT / s).resolve() for s, t in mounts(notifier) if is_host_path(s)}
    host_dir = by_target.get(str(config.parent))
    assert host_dir is not None, f"nothing is mounted at {config.parent}"
    assert (host_dir / config.name).resolve() == NOTIFIER_ENDPOINTS.resolve()
    secrets = {name: "x" * 40 for name in notifier_secret_names()}
    assert load_endpoints(NOTIFIER_ENDPOINTS, "production", secrets), "the shipped endpoint file is empty"


def test_published_ports_match_the_metrics_spec() -> None:
    svcs = services()
    for name, ports in PUBLISHED_PORTS.items():
        assert container_ports(svcs[name]) == ports, f"{name} publishes {container_ports(svcs[name])}"


def test_service_port_defaults_are_the_spec_ports_compose_and_prometheus_rely_on() -> None:
    defaults = {
        "intake": IntakeSettings.model_fields["port"].default,
        "triage": TriageSettings.model_fields["web_port"].default,
        "followup": FollowupSettings.model_fields["web_port"].default,
        "notifier": NotifierSettings.model_fields["web_port"].default,
        "worklist": WorklistSettings.model_fields["port"].default,
    }
    assert defaults == SERVICE_HTTP_PORT


def test_start_order_waits_for_a_healthy_broker_and_created_topics() -> None:
    svcs = services()
    assert "healthcheck" in svcs["kafka"], "kafka needs a healthcheck for depends_on: service_healthy"
    assert svcs["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert svcs["topics"].get("restart", "no") == "no", "topics is a one-shot job"
    for name in SERVICE_HTTP_PORT:
        assert svcs[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully", name


def test_topics_job_runs_the_create_topics_command_with_valid_arguments() -> None:
    topics = services()["topics"]
    command = topics["command"]
    assert command[:4] == ["python", "-m", "carepath.broker", "create-topics"], command
    result = subprocess.run(
        [sys.executable, *command[1:4], "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, f"{command[:4]} is not a command:\n{result.stdout}\n{result.stderr}"
    for option in (arg for arg in command[4:] if arg.startswith("-")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), (
            f"create-topics has no option {option}:\n{result.stdout}"
        )
    assert "--bootstrap" in command, "the topics job must name the broker it creates topics on"
    bootstrap = command[command.index("--bootstrap") + 1]
    for name in SERVICE_HTTP_PORT:
        assert environment(services()[name])["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap, name
    advertised = environment(services()["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    assert f"//{bootstrap}" in advertised, f"kafka does not advertise {bootstrap}: {advertised}"


def test_long_running_services_restart_and_have_resource_limits() -> None:
    for name, svc in services().items():
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("memory") and limits.get("cpus"), f"{name} has no cpu/memory limit"
        if name != "topics":
            assert svc.get("restart") in {"unless-stopped", "always", "on-failure"}, f"{name}: restart policy"


def test_containers_bind_all_interfaces_and_run_the_kafka_profile() -> None:
    _, stages = dockerfile()
    image_env = env_of(stages["runtime"].instructions)
    for name in SERVICE_HTTP_PORT:
        env = image_env | environment(services()[name])
        assert env.get("CAREPATH_BIND_HOST") == "0.0.0.0", name
        assert env.get("CAREPATH_BROKER_PROFILE") == "kafka", name


# --- Dockerfile --------------------------------------------------------------------------------------


def test_dockerfile_builds_from_python_311_slim_as_a_non_root_user() -> None:
    _, stages = dockerfile()
    assert {"intake", "triage", "followup"} <= set(stages)
    roots = {s.base for s in stages.values() if s.base not in stages}
    assert roots == {"python:3.11-slim"}, f"base images: {roots}"
    for name in SERVICE_HTTP_PORT:
        user = last(effective(stages, name), "USER")
        assert user is not None, f"{name} runs as root"
        assert user.split(":")[0] not in {"root", "0"}, f"{name} runs as {user}"


def test_dockerfile_installs_the_runtime_lock_with_hash_checking_then_the_project_alone() -> None:
    _, stages = dockerfile()
    runs = " ".join(rest for stage in stages.values() for kw, rest in stage.instructions if kw == "RUN")
    assert "pip install --require-hashes -r requirements/build.lock" in runs, runs
    assert "pip install --require-hashes --no-deps -r requirements/runtime.lock" in runs, runs
    assert re.search(r"pip install --no-deps --no-build-isolation \.(\s|$)", runs), runs
    assert "dev.lock" not in runs and "[dev" not in runs and "[demo" not in runs, runs


def test_dockerfile_targets_run_their_service_and_check_its_health() -> None:
    _, stages = dockerfile()
    for name, port in SERVICE_HTTP_PORT.items():
        instructions = effective(stages, name)
        cmd = last(instructions, "CMD")
        assert cmd is not None and json.loads(cmd) == ["python", "-m", name], f"{name}: CMD {cmd}"
        health = last(instructions, "HEALTHCHECK") or ""
        assert "python" in health and f"127.0.0.1:{port}/healthz" in health, f"{name}: HEALTHCHECK {health}"
        assert "curl" not in health and "wget" not in health, (
            f"{name}: slim images have neither curl nor wget"
        )
        exposed = {int(p.split("/")[0]) for kw, rest in instructions if kw == "EXPOSE" for p in rest.split()}
        assert port in exposed, f"{name} does not EXPOSE {port}"
        main = ROOT / "services" / name / name / "__main__.py"
        assert main.is_file(), f"`python -m {name}` needs {main.relative_to(ROOT)}"


def test_dockerfile_copies_the_data_folders_and_points_the_services_at_them() -> None:
    _, stages = dockerfile()
    runtime = stages["runtime"].instructions
    env = env_of(runtime)
    copies = {}
    for kw, rest in runtime:
        if kw == "COPY" and not rest.startswith("--from"):
            source, target = rest.split()
            copies[source.rstrip("/")] = target.rstrip("/")
    assert env.get("CAREPATH_SCHEMAS_DIR") == copies.get("schemas"), (env, copies)
    assert env.get("CAREPATH_PATHWAYS_DIR") == copies.get("pathways"), (env, copies)


def test_everything_the_dockerfile_copies_exists_and_is_in_the_build_context() -> None:
    _, stages = dockerfile()
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for stage in stages.values():
        for kw, rest in stage.instructions:
            if kw not in {"COPY", "ADD"} or rest.startswith("--from"):
                continue
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the build context"
                assert source.rstrip("/").split("/")[0] not in ignored, f".dockerignore excludes {source}"


# --- Prometheus --------------------------------------------------------------------------------------


def test_prometheus_scrapes_the_three_services_on_their_spec_ports() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    targets = {
        job["job_name"]: sorted(t for sc in job.get("static_configs", []) for t in sc["targets"])
        for job in config["scrape_configs"]
    }
    for name, port in [*SERVICE_HTTP_PORT.items(), (MLLP_SERVICE, MLLP_STATUS_PORT)]:
        assert targets.get(name) == [f"{name}:{port}"], f"job {name}: {targets.get(name)}"
        assert name in services(), f"scrape target {name} is not a compose service"


def test_prometheus_in_compose_reads_the_config_and_rules_from_deploy() -> None:
    prometheus = services()["prometheus"]
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = config_flag.split("=", 1)[1]
    by_source = {(ROOT / s).resolve(): t for s, t in mounts(prometheus) if is_host_path(s)}
    assert by_source.get(PROMETHEUS_CONFIG) == config_path
    rules_dir = by_source.get(RULES_FILE.parent)
    assert rules_dir is not None, "the rules folder is not mounted"
    for pattern in load_yaml(PROMETHEUS_CONFIG)["rule_files"]:
        resolved = str(Path(config_path).parent / pattern)
        assert resolved.startswith(rules_dir + "/"), (
            f"rule_files {pattern} is outside the mounted {rules_dir}"
        )
        assert list(PROMETHEUS_CONFIG.parent.glob(pattern)), f"rule_files {pattern} matches no file here"


def test_every_alert_has_a_severity_annotations_and_a_runbook_section() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "an alert name is used twice"
    sections = runbook_sections()
    for rule in rules:
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), f"{name}: summary/description"
        assert "runbook" not in annotations, f"{name}: the annotation is runbook_url, which tools link"
        assert annotations.get("runbook_url") == f"{RUNBOOK_BASE}deploy/RUNBOOK.md#{name.lower()}", (
            f"{name}: runbook_url"
        )
        assert name in sections, f"deploy/RUNBOOK.md has no '## {name}' section"
        assert not unknown_series(rule["expr"]), (
            f"{name} uses series outside the spec: {unknown_series(rule['expr'])}"
        )
    stale = {s for s in sections if s.startswith("Carepath")} - set(names)
    assert not stale, f"RUNBOOK.md sections for alerts that do not exist: {stale}"


def test_the_required_alerts_exist_with_their_severity() -> None:
    severity = {r["alert"]: r["labels"]["severity"] for r in alert_rules()}
    for name, expected in REQUIRED_ALERTS.items():
        assert severity.get(name) == expected, (
            f"{name}: expected severity {expected}, got {severity.get(name)}"
        )


def test_every_alert_has_a_unit_test_that_fires_and_one_that_stays_silent() -> None:
    cases = [
        case
        for path in RULE_TESTS_FILES
        for test in load_yaml(path)["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for rule in alert_rules():
        name = rule["alert"]
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"no rule test shows {name} firing"
        assert any(not c.get("exp_alerts") for c in mine), f"no rule test shows {name} silent"


def test_promtool_check_config() -> None:
    run_promtool("check", "config", str(PROMETHEUS_CONFIG))


def test_promtool_check_rules() -> None:
    run_promtool("check", "rules", str(RULES_FILE))


def test_promtool_rule_unit_tests() -> None:
    assert len(RULE_TESTS_FILES) >= 2
    run_promtool("test", "rules", *(p.name for p in RULE_TESTS_FILES), cwd=RULE_TESTS_FILE.parent)


# --- Grafana -----------------------------------------------------------------------------------------


def test_grafana_provisions_the_prometheus_datasource_the_dashboard_uses() -> None:
    datasources = load_yaml(GRAFANA_DATASOURCE)["datasources"]
    assert len(datasources) == 1
    source = datasources[0]
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://prometheus:{next(iter(PUBLISHED_PORTS['prometheus']))}"
    for panel in dashboard_panels():
        if panel.get("type") == "row":
            continue
        assert panel.get("datasource", {}).get("uid") == source["uid"], f"panel {panel.get('title')!r}"


def test_grafana_loads_the_dashboard_folder_compose_mounts() -> None:
    grafana = services()["grafana"]
    by_source = {(ROOT / s).resolve(): t for s, t in mounts(grafana) if is_host_path(s)}
    assert by_source.get(GRAFANA / "provisioning") == "/etc/grafana/provisioning"
    providers = load_yaml(GRAFANA_DASHBOARD_PROVIDER)["providers"]
    assert [p["options"]["path"] for p in providers] == [by_source.get(DASHBOARD.parent)]


def test_dashboard_parses_and_every_query_uses_only_spec_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard.get("uid") and dashboard.get("title")
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    exprs = dashboard_exprs()
    assert exprs, "the dashboard has no queries"
    for where, expr in exprs:
        assert metric_names(expr), f"{where}: selects no series: {expr}"
        assert not unknown_series(expr), f"{where}: not in the metrics spec: {unknown_series(expr)}"


def test_dashboard_shows_what_operators_watch() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_exprs()))
    wanted = {
        "carepath_intake_events_accepted_total",
        "carepath_intake_events_rejected_total",
        "carepath_intake_dlq_records_total",
        "carepath_escalations_total",
        "carepath_reminders_total",
        "carepath_end_to_end_seconds_bucket",
        "carepath_processing_seconds_bucket",
        "carepath_consumer_lag",
        "carepath_timer_backlog",
        "carepath_oldest_unacknowledged_emergency_seconds",
        "carepath_reminder_lateness_seconds_bucket",
        "process_resident_memory_bytes",
    }
    assert not wanted - used, f"no panel shows {sorted(wanted - used)}"
    end_to_end = [e for _, e in dashboard_exprs() if "carepath_end_to_end_seconds_bucket" in e]
    quantiles = {re.search(r"histogram_quantile\(\s*([0-9.]+)", e)[1] for e in end_to_end}  # type: ignore[index]
    assert quantiles == {"0.5", "0.95", "0.99"}, quantiles


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{i}", "expr": re.sub(r"\$__(rate_interval|interval|range)", "5m", expr)}
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    run_promtool("check", "rules", str(path))
