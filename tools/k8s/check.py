"""``make k8s-check``: render every overlay and validate every object it holds, without a cluster.

1. The generated manifests equal what ``tools.k8s.generate`` writes from their sources.
2. ``kubectl kustomize`` renders each overlay of ``deploy/k8s/overlays/``.
3. Every rendered object is valid for Kubernetes ``KUBERNETES_VERSION``, strictly (an unknown field is an
   error): built-in kinds by ``kubernetes-validate``'s schemas of that version, the operators' kinds
   (Strimzi, KEDA, Prometheus Operator) by the JSON Schemas in ``deploy/k8s/schemas/``, converted from the
   CRDs those projects publish (``tools.k8s.crd_schema``), their ``metadata`` by Kubernetes' ``ObjectMeta``.
   A kind with no schema is an error, never a warning.
4. With ``--checkov PATH``: checkov scans the rendered overlays; any failed check fails, and every skipped
   check must carry its reason beside it (``checkov.io/skipN: CHECK_ID=reason`` on the resource).

Each rendered overlay is written to ``--out`` (default ``.run/k8s/<overlay>.yaml``) for a reader, or
``kubectl apply --dry-run=server -f`` against a real cluster.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from tools.k8s import generate

ROOT = generate.ROOT
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = K8S / "overlays"
SCHEMAS = K8S / "schemas"
KUBERNETES_VERSION = "1.33.0"  # the version every object is validated against (README "Running at scale")
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
KUBECTL_MISSING = (
    "kubectl not found: install it (Debian: apt-get install kubectl from https://pkgs.k8s.io, or the static "
    "binary from https://dl.k8s.io/release/v1.33.0/bin/linux/amd64/kubectl into /usr/local/bin), or set KUBECTL"
)


class CheckError(Exception):
    """A rendering or validation failure, with what to fix."""


def overlays() -> list[str]:
    return sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").is_file())


def render(overlay: str, kubectl: str = "kubectl") -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize`` renders for ``overlay``."""
    if shutil.which(kubectl) is None:
        raise CheckError(KUBECTL_MISSING)
    done = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS / overlay)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise CheckError(f"kubectl kustomize {overlay}: {done.stderr.strip()}")
    return [o for o in yaml.safe_load_all(done.stdout) if o]


def name_of(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


@dataclass(frozen=True)
class CrdSchema:
    api_version: str
    kind: str
    path: Path
    schema: dict[str, Any]


@cache
def crd_schemas() -> dict[tuple[str, str], CrdSchema]:
    """The operators' kinds by (apiVersion, kind), from ``deploy/k8s/schemas/*.json``."""
    found = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        source = schema["x-carepath-source"]
        found[(source["apiVersion"], source["kind"])] = CrdSchema(
            source["apiVersion"], source["kind"], path, schema
        )
    return found


@cache
def _object_meta_validator(version: str) -> jsonschema.protocols.Validator:
    release = kv_utils.major_minor(version)
    schema_dir = f"kubernetes-json-schema/v{release}.0-local-strict"
    definitions = kv_utils.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    ref = {"$ref": f"{definitions['$id']}#/$defs/{OBJECT_META}"}
    return jsonschema.Draft202012Validator(ref, registry=registry)


@cache
def _crd_validator(key: tuple[str, str]) -> jsonschema.protocols.Validator:
    return jsonschema.Draft4Validator(crd_schemas()[key].schema)


def _messages(errors: Iterator[jsonschema.ValidationError], where: str) -> list[str]:
    out = []
    for e in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in e.absolute_path) or "(the object)"
        out.append(f"{where}: {path}: {e.message[:300]}")
    return out


def validate(obj: dict[str, Any], version: str = KUBERNETES_VERSION) -> list[str]:
    """What is wrong with ``obj`` for Kubernetes ``version``, strictly; empty when nothing is."""
    where = name_of(obj)
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    if key in crd_schemas():
        problems = _messages(_crd_validator(key).iter_errors(obj), where)
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            problems += _messages(_object_meta_validator(version).iter_errors(meta), f"{where} metadata")
        return problems
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path) or "(the object)"
        return [f"{where}: {path}: {e.message[:300]}"]
    except kv_utils.SchemaNotFoundError as e:
        return [f"{where}: no schema: {e.message} (add its CRD's schema to deploy/k8s/schemas/)"]
    return []


def skip_reasons(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each object's checkov skips: check id -> the reason written beside it."""
    out: dict[str, dict[str, str]] = {}
    for obj in objects:
        annotations = obj.get("metadata", {}).get("annotations") or {}
        for key, value in annotations.items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = str(value).partition("=")
                out.setdefault(name_of(obj), {})[check.strip()] = reason.strip()
    return out


@dataclass(frozen=True)
class CheckovResult:
    passed: int
    failed: list[str]
    skipped: list[str]
    parsing_errors: list[str]


def checkov(files: list[Path], checkov_bin: str) -> CheckovResult:
    """checkov's Kubernetes checks over ``files``, offline."""
    args = [checkov_bin, "--framework", "kubernetes", "--skip-download", "--output", "json"]
    for f in files:
        args += ["--file", str(f)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CheckError(f"checkov gave no report (exit {done.returncode}): {done.stderr[-2000:]}") from None
    reports = report if isinstance(report, list) else [report]
    passed, failed, skipped, errors = 0, [], [], []
    for r in reports:
        results = r.get("results", {})
        passed += len(results.get("passed_checks", []))
        failed += [
            f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
            for c in results.get("failed_checks", [])
        ]
        skipped += [f"{c['check_id']} {c['resource']}" for c in results.get("skipped_checks", [])]
        errors += [str(e) for e in results.get("parsing_errors", [])]
    return CheckovResult(passed, failed, skipped, errors)


def run(out: Path, kubectl: str, checkov_bin: str | None) -> list[str]:
    problems = [
        f"{p.relative_to(ROOT)} differs from its sources: run make k8s-generate" for p in generate.stale()
    ]
    out.mkdir(parents=True, exist_ok=True)
    rendered: list[Path] = []
    for overlay in overlays():
        objects = render(overlay, kubectl)
        target = out / f"{overlay}.yaml"
        target.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        rendered.append(target)
        found = [p for obj in objects for p in validate(obj)]
        problems += [f"{overlay}: {p}" for p in found]
        for resource, skips in skip_reasons(objects).items():
            problems += [
                f"{overlay}: {resource}: checkov skip {c} without a reason" for c, r in skips.items() if not r
            ]
        print(
            f"{overlay}: {len(objects)} objects rendered, {len(found)} invalid (Kubernetes {KUBERNETES_VERSION})"
        )
    if checkov_bin:
        result = checkov(rendered, checkov_bin)
        problems += [f"checkov failed {f}" for f in result.failed]
        problems += [f"checkov could not parse {e}" for e in result.parsing_errors]
        print(
            f"checkov: {result.passed} passed, {len(result.failed)} failed, {len(result.skipped)} skipped (reasons beside them)"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / ".run" / "k8s", help="where the rendered overlays go"
    )
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--checkov", help="the checkov executable; without it checkov does not run")
    args = parser.parse_args(argv)
    try:
        problems = run(args.out, args.kubectl, args.checkov)
    except CheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
