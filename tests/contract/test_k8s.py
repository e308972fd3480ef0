"""The Kubernetes manifests (deploy/k8s/): rendered, validated and scanned as `make k8s-check` does, and
held to the files they are generated from and to the services they run.

No cluster: `kubectl kustomize` renders each overlay; every object is validated strictly for the stated
Kubernetes version (built-in kinds by kubernetes-validate, the operators' kinds by the CRD schemas in
deploy/k8s/schemas/); checkov scans both overlays once.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from carepath import topics
from followup.agents import INPUT_TOPICS as FOLLOWUP_INPUTS
from followup.settings import FollowupSettings
from intake.settings import IntakeSettings
from notifier.agents import INPUT_TOPICS as NOTIFIER_INPUTS
from notifier.settings import NotifierSettings
from tools.k8s import check, generate
from triage.settings import TriageSettings
from worklist.settings import WorklistSettings

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "production")
SERVICES = ("intake", "intake-mllp", "triage", "followup", "notifier", "worklist")
HTTP_PORT = {
    "intake": 8080,
    "intake-mllp": 8081,
    "triage": 6066,
    "followup": 6067,
    "notifier": 6068,
    "worklist": 6070,
}
KINDS_REQUIRED = {
    "Deployment",
    "StatefulSet",
    "Service",
    "ServiceAccount",
    "ConfigMap",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Kafka",
    "KafkaNodePool",
    "KafkaTopic",
    "ScaledObject",
    "ServiceMonitor",
    "PrometheusRule",
}
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    assert check.overlays() == sorted(OVERLAYS)
    return {overlay: check.render(overlay) for overlay in OVERLAYS}


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


# --- generated from one source ---------------------------------------------------------------------------


def test_generated_files_equal_what_the_generator_writes_from_their_sources() -> None:
    assert generate.stale() == [], "run make k8s-generate"
    for path, text in generate.expected().items():
        assert path.read_text() == text


def test_kafka_topics_are_the_catalogue(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        kafka_topics = {o["metadata"]["name"]: o for o in objects if o["kind"] == "KafkaTopic"}
        assert set(kafka_topics) == {s.name for s in topics.declared()}
        for spec in topics.declared():
            t = kafka_topics[spec.name]
            assert (
                t["metadata"]["labels"]["strimzi.io/cluster"]
                == one(objects, "Kafka", "carepath")["metadata"]["name"]
            )
            assert t["spec"]["topicName"] == spec.name
            assert t["spec"]["partitions"] == spec.partitions
            assert t["spec"]["replicas"] == one(objects, "KafkaNodePool", "dual-role")["spec"]["replicas"]
            assert {k: str(v) for k, v in t["spec"]["config"].items()} == spec.configs()


def test_scaled_objects_follow_consumer_lag_and_never_pass_the_partition_count(
    rendered: dict[str, list[Obj]],
) -> None:
    groups = {
        "triage": (TriageSettings.model_fields["group_id"].default, (topics.CLINICAL_EVENTS,)),
        "followup": (FollowupSettings.model_fields["group_id"].default, FOLLOWUP_INPUTS),
        "notifier": (NotifierSettings.model_fields["group_id"].default, NOTIFIER_INPUTS),
    }
    for overlay, objects in rendered.items():
        scaled = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ScaledObject"}
        assert set(scaled) == set(groups)
        for name, (group_id, inputs) in groups.items():
            spec = scaled[name]["spec"]
            target = one(objects, spec["scaleTargetRef"]["kind"], spec["scaleTargetRef"]["name"])
            assert "replicas" not in target["spec"], f"{name}: replicas belong to the autoscaler"
            assert spec["maxReplicaCount"] == {s.partitions for s in topics.declared()}.pop()
            assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
            assert [t["type"] for t in spec["triggers"]] == ["kafka"] * len(inputs)
            assert tuple(t["metadata"]["topic"] for t in spec["triggers"]) == tuple(inputs)
            for trigger in spec["triggers"]:
                meta = trigger["metadata"]
                assert meta["consumerGroup"] == group_id
                assert meta["allowIdleConsumers"] == "false"
                assert (
                    meta["bootstrapServers"]
                    == f"carepath-kafka-bootstrap.{target['metadata']['namespace']}.svc:9092"
                )
                assert int(meta["lagThreshold"]) > 0
        if overlay == "production":
            assert scaled["triage"]["spec"]["minReplicaCount"] == 2


def test_monitoring_is_prometheus_config_and_rules(rendered: dict[str, list[Obj]]) -> None:
    rule_files = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
    jobs = [j["job_name"] for j in generate.scrape_jobs()]
    assert set(jobs) == set(SERVICES)
    for objects in rendered.values():
        for path in rule_files:
            rule = one(objects, "PrometheusRule", f"carepath-{path.stem}")
            assert rule["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"]
        monitor = one(objects, "ServiceMonitor", "carepath")["spec"]
        selected = [
            o
            for o in objects
            if o["kind"] == "Service"
            and o["metadata"]["labels"].get("carepath.io/metrics") == "true"
            and o["metadata"]["labels"].get("app.kubernetes.io/name")
            in monitor["selector"]["matchExpressions"][0]["values"]
        ]
        # One Service per job, named as the job (Prometheus Operator's job label is the Service's name).
        assert sorted(s["metadata"]["name"] for s in selected) == sorted(jobs)
        for service in selected:
            ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
            assert ports[monitor["endpoints"][0]["port"]] == HTTP_PORT[service["metadata"]["name"]]


# --- valid for the stated Kubernetes version, strictly -----------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    assert {o["kind"] for o in objects} >= KINDS_REQUIRED
    problems = [p for o in objects for p in check.validate(o)]
    assert problems == []
    assert all(o["metadata"].get("namespace") == "carepath" for o in objects if o["kind"] != "Namespace")


def _set(path: str, value: Any) -> Callable[[Obj], None]:
    def change(obj: Obj) -> None:
        *parents, last = path.split(".")
        node: Any = obj
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("kind", "name", "change", "named"),
    [
        ("StatefulSet", "triage", _set("spec.replica", 2), "replica"),
        (
            "StatefulSet",
            "followup",
            _set("spec.template.spec.containers.0.securityContext.runAsNonroot", True),
            "runAsNonroot",
        ),
        ("Deployment", "intake", _set("spec.template.spec.containers.0.resources.limits", "1"), "limits"),
        ("NetworkPolicy", "followup-api", _set("spec.ingres", []), "ingres"),
        ("PodDisruptionBudget", "triage", _set("spec.maxUnavailable", [1]), "maxUnavailable"),
        ("KafkaTopic", "clinical.events", _set("spec.partitions", "4"), "partitions"),
        ("KafkaTopic", "clinical.events", _set("spec.partition", 4), "partition"),
        ("Kafka", "carepath", _set("spec.kafka.listeners.0.port", "plain"), "port"),
        ("KafkaNodePool", "dual-role", _set("spec.roles", ["leader"]), "roles"),
        ("ScaledObject", "triage", _set("spec.maxReplicas", 4), "maxReplicas"),
        ("ScaledObject", "triage", _set("metadata.label", {}), "label"),
        ("ServiceMonitor", "carepath", _set("spec.endpoints.0.prt", "http"), "prt"),
        ("PrometheusRule", "carepath-carepath", _set("spec.groups.0.rules.0.alrt", "x"), "alrt"),
    ],
)
def test_validation_refuses_what_the_api_server_would(
    rendered: dict[str, list[Obj]], kind: str, name: str, change: Callable[[Obj], None], named: str
) -> None:
    obj = copy.deepcopy(one(rendered["production"], kind, name))
    assert check.validate(obj) == []
    change(obj)
    problems = check.validate(obj)
    assert problems and any(named in p for p in problems), problems


def test_a_kind_without_a_schema_is_an_error_not_a_warning() -> None:
    problems = check.validate({"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "g"}})
    assert len(problems) == 1 and "no schema" in problems[0]


def test_crd_schemas_say_where_they_came_from() -> None:
    schemas = check.crd_schemas()
    assert {kind for _, kind in schemas} == {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "ScaledObject",
        "ServiceMonitor",
        "PrometheusRule",
    }
    for crd in schemas.values():
        source = crd.schema["x-carepath-source"]
        assert source["source"] in {
            "strimzi/strimzi-kafka-operator",
            "kedacore/keda",
            "prometheus-operator/prometheus-operator",
        }
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", source["ref"])
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
        assert source["path"].endswith(".yaml")
        assert crd.path.name.startswith(crd.kind.lower() + "-")


# --- what the pods may do ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened_probed_and_sized(rendered: dict[str, list[Obj]], overlay: str) -> None:
    found = workloads(rendered[overlay])
    assert sorted(w["metadata"]["name"] for w in found) == sorted(SERVICES)
    for w in found:
        pod = w["spec"]["template"]["spec"]
        name = w["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, name
        assert (
            one(rendered[overlay], "ServiceAccount", pod["serviceAccountName"])[
                "automountServiceAccountToken"
            ]
            is False
        )
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["privileged"] is False
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: /tmp must be writable"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert ports[c["readinessProbe"]["httpGet"]["port"]] == HTTP_PORT[name]
            for part in ("requests", "limits"):
                assert set(c["resources"][part]) == {"cpu", "memory"}, f"{name} {part}"


def test_workers_keep_their_table_store_on_a_volume_of_their_own(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        for name in ("triage", "followup"):
            sts = one(objects, "StatefulSet", name)
            claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
            container = sts["spec"]["template"]["spec"]["containers"][0]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            # Faust's data dir: $TMPDIR/carepath/<group id> (lib/carepath/streaming.py), TMPDIR /tmp.
            assert mounts["/tmp/carepath"] in claims
            assert one(objects, "Service", sts["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
            # The address a worker advertises to the others of its group must be reachable: the pod's.
            env = {e["name"]: e for e in container["env"]}
            assert env["CAREPATH_BIND_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY", re.IGNORECASE)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_only_by_reference(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    assert not [o for o in objects if o["kind"] == "Secret"]
    for cm in (o for o in objects if o["kind"] == "ConfigMap"):
        assert not [k for k in cm["data"] if SECRET_NAME.search(k)], cm["metadata"]["name"]
    referenced = set()
    for w in workloads(objects):
        for c in w["spec"]["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                if SECRET_NAME.search(e["name"]):
                    assert "value" not in e, (
                        f"{w['metadata']['name']}: {e['name']} is written in the manifest"
                    )
                    referenced.add(e["valueFrom"]["secretKeyRef"]["name"])
            referenced |= {s["secretRef"]["name"] for s in c.get("envFrom", []) if "secretRef" in s}
    assert referenced == {
        "carepath-intake",
        "carepath-worker",
        "carepath-followup-readers",
        "carepath-worklist",
        "carepath-notifier",
        "carepath-metrics",
    }
    settings = {
        o["metadata"]["name"].rsplit("-", 1)[0]: o["data"] for o in objects if o["kind"] == "ConfigMap"
    }
    expected = "production" if overlay == "production" else "development"
    assert settings["carepath-settings"]["CAREPATH_ENVIRONMENT"] == expected


# --- who may talk to whom ----------------------------------------------------------------------------------


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        present = e["key"] in labels and labels[e["key"]] in e.get("values", [])
        if (e["operator"] == "In") != present:
            return False
    return True


def _pod_labels(objects: list[Obj]) -> dict[str, dict[str, str]]:
    return {w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in workloads(objects)}


def _rules(objects: list[Obj], service: str, direction: str) -> list[Obj]:
    labels = _pod_labels(objects)[service]
    policies = [
        o for o in objects if o["kind"] == "NetworkPolicy" and _selects(o["spec"]["podSelector"], labels)
    ]
    return [rule for p in policies for rule in p["spec"].get(direction, [])]


def _peers(rules: list[Obj], key: str) -> set[str]:
    """Each rule's peers, described: pod names, namespace labels and ip blocks."""
    out = set()
    for rule in rules:
        for peer in rule[key]:
            out.add(json.dumps(peer, sort_keys=True))
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_only_what_each_service_needs(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    labels = _pod_labels(objects)
    deny = one(objects, "NetworkPolicy", "carepath-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    assert all(_selects(deny["podSelector"], labels[s]) for s in SERVICES)

    prometheus = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    dns_and_kafka = one(objects, "NetworkPolicy", "carepath-dns-and-kafka")["spec"]["egress"]
    for service in SERVICES:
        ingress_from = {
            json.loads(p).get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
            for p in _peers(_rules(objects, service, "ingress"), "from")
        }
        assert json.dumps(prometheus, sort_keys=True) in _peers(_rules(objects, service, "ingress"), "from")
        if service in ("triage", "notifier"):
            # metrics only: nothing but Prometheus reaches a worker that has no API
            assert _peers(_rules(objects, service, "ingress"), "from") == {
                json.dumps(prometheus, sort_keys=True)
            }
        if service == "followup":
            assert ingress_from == {"prometheus", None} and len(_rules(objects, service, "ingress")) == 2
        for rule in dns_and_kafka:
            assert rule in _rules(objects, service, "egress")
    # only the integration engines (and the page, for acknowledgements) reach intake
    intake_from = _peers(_rules(objects, "intake", "ingress"), "from")
    assert (
        json.dumps(
            {"namespaceSelector": {"matchLabels": {"carepath.io/integration-engine": "true"}}}, sort_keys=True
        )
        in intake_from
    )
    assert (
        json.dumps({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "worklist"}}}, sort_keys=True)
        in intake_from
    )
    assert len(intake_from) == 3
    # triage talks to DNS and Kafka only
    assert _rules(objects, "triage", "egress") == dns_and_kafka
    kafka = one(objects, "Kafka", "carepath")["spec"]["kafka"]["listeners"]
    plain = next(li for li in kafka if li["port"] == 9092)
    assert plain["networkPolicyPeers"][0]["podSelector"]["matchExpressions"][0]["values"] == list(SERVICES)
    assert any(li["tls"] for li in kafka)
    # clinicians reach the page through the ingress controller
    worklist_from = _peers(_rules(objects, "worklist", "ingress"), "from")
    assert any("ingress-nginx" in p for p in worklist_from)


# --- checkov, once: it scans both overlays in one run ------------------------------------------------------


def test_checkov_fails_no_check_and_every_skip_has_its_reason(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: make k8s-check installs it (requirements/checkov.lock)"
    files = []
    for overlay, objects in rendered.items():
        files.append(tmp_path / f"{overlay}.yaml")
        files[-1].write_text(yaml.safe_dump_all(objects, sort_keys=False))
        for resource, skips in check.skip_reasons(objects).items():
            for check_id, reason in skips.items():
                assert re.fullmatch(r"CKV2?_K8S_\d+", check_id), resource
                assert len(reason) > 40, f"{resource}: skip {check_id} needs its reason beside it"
    result = check.checkov(files, str(CHECKOV))
    assert result.failed == [] and result.parsing_errors == []
    assert result.passed > 500
    skipped_ids = {s.split()[0] for s in result.skipped}
    assert skipped_ids <= {"CKV_K8S_43", "CKV_K8S_35"}


def test_the_notifier_may_reach_every_endpoint_it_delivers_to(rendered: dict[str, list[Obj]]) -> None:
    endpoints = yaml.safe_load(generate.NOTIFIER_ENDPOINTS.read_text())["endpoints"]
    ports = {
        urlsplit(e["url"]).port or {"https": 443, "http": 80}[urlsplit(e["url"]).scheme] for e in endpoints
    }
    assert ports
    for objects in rendered.values():
        allowed = {p["port"] for rule in _rules(objects, "notifier", "egress") for p in rule.get("ports", [])}
        assert ports <= allowed


# --- each service starts with what its manifest gives it ----------------------------------------------------

SETTINGS_OF: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "intake-mllp": IntakeSettings,
    "triage": TriageSettings,
    "followup": FollowupSettings,
    "notifier": NotifierSettings,
    "worklist": WorklistSettings,
}


def _setting_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for name, info in cls.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, AliasChoices):
            names |= {c for c in alias.choices if isinstance(c, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add((prefix + name).upper())
    return names


def _secret_value(secret: str, key: str) -> str:
    """A strong stand-in for what the site puts in the Secret: long, and different for every key."""
    return hashlib.sha256(f"{secret}/{key}".encode()).hexdigest()


def _environment(objects: list[Obj], workload: Obj, secret_keys: dict[str, list[str]]) -> dict[str, str]:
    """The environment the container of ``workload`` starts with, its Secrets holding every key."""
    config_maps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    container = workload["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= config_maps[source["configMapRef"]["name"]]
        else:
            name = source["secretRef"]["name"]
            env |= {key: _secret_value(name, key) for key in secret_keys[name]}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "secretKeyRef" in e["valueFrom"]:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = _secret_value(ref["name"], ref["key"])
        else:
            assert e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
            env[e["name"]] = "10.42.0.7"
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_starts_with_the_settings_its_manifest_gives_it(
    rendered: dict[str, list[Obj]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered[overlay]
    endpoint_file = generate.NOTIFIER_ENDPOINTS
    endpoints = yaml.safe_load(endpoint_file.read_text())["endpoints"]
    secret_keys = {"carepath-notifier": [e["secret_env"] for e in endpoints]}
    config_map = one(objects, "ConfigMap", "carepath-notifier-endpoints")
    assert config_map["data"]["endpoints.yml"] == endpoint_file.read_text()
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        cls = SETTINGS_OF[name]
        env = _environment(objects, workload, secret_keys)
        known = _setting_names(cls) | set(secret_keys["carepath-notifier"] if name == "notifier" else [])
        assert set(env) <= known, f"{name}: {sorted(set(env) - known)} not read by {cls.__name__}"
        if name == "notifier":
            mounts = {
                m["mountPath"] for m in workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            }
            assert str(Path(env["CAREPATH_NOTIFIER_CONFIG"]).parent) in mounts
            env["CAREPATH_NOTIFIER_CONFIG"] = str(endpoint_file)  # the file the ConfigMap holds
        for key in [k for k in os.environ if k.startswith(("CAREPATH_", "KAFKA_"))]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = cls()  # a missing or weak setting is a ValidationError naming it
        assert settings.environment == ("production" if overlay == "production" else "development")
        assert settings.kafka_bootstrap_servers == "carepath-kafka-bootstrap:9092"
