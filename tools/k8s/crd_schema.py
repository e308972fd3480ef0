"""A CustomResourceDefinition's ``openAPIV3Schema`` as a strict JSON Schema file for ``make k8s-check``.

The API server reads a CRD's schema as OpenAPI v3 with Kubernetes extensions; the file written here says the
same in JSON Schema (draft 4, the dialect OpenAPI v3.0 schemas follow) so ``jsonschema`` can check objects
against it without a cluster:

- ``nullable: true`` adds ``null`` to the type;
- ``x-kubernetes-int-or-string: true`` is an integer or a string;
- strict, as ``kubectl apply --validate=strict`` is: an object schema with ``properties`` and neither
  ``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields: true`` refuses any other field;
- ``apiVersion`` and ``kind`` must name this CRD's group, version and kind;
- descriptions are dropped (the published CRD keeps them; the files here stay small).

``metadata`` is left as the CRD gives it (``type: object``); the check validates it against the Kubernetes
``ObjectMeta`` schema of the stated version, as the API server does.

    python -m tools.k8s.crd_schema CRD.yaml --source OWNER/REPO --ref TAG --commit SHA --path PATH --out DIR

``x-kubernetes-validations`` (CEL rules) are kept in the file but not evaluated: jsonschema has no CEL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

DIALECT = "http://json-schema.org/draft-04/schema#"


def convert(node: Any) -> Any:
    """The JSON Schema equivalent of one OpenAPI v3 (Kubernetes structural) schema node."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: convert(sub) for name, sub in value.items()}
        else:
            out[key] = convert(value)
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.pop("anyOf", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def crd_schema(crd: dict[str, Any], version: str | None, provenance: dict[str, str]) -> dict[str, Any]:
    """The strict JSON Schema of ``crd`` at ``version`` (default: its storage version)."""
    spec = crd["spec"]
    versions = spec["versions"]
    chosen = next(
        (v for v in versions if v["name"] == version)
        if version
        else (v for v in versions if v.get("storage")),
        None,
    )
    if chosen is None:
        raise SystemExit(f"{crd['metadata']['name']}: no version {version or '(storage)'}")
    schema = convert(chosen["schema"]["openAPIV3Schema"])
    group, kind = spec["group"], spec["names"]["kind"]
    api_version = f"{group}/{chosen['name']}"
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [api_version]}
    schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    schema["additionalProperties"] = False
    return {
        "$schema": DIALECT,
        "$comment": (
            f"{kind} ({api_version}) from the CustomResourceDefinition {crd['metadata']['name']} published "
            f"in github.com/{provenance['source']} at {provenance['ref']} ({provenance['commit']}), "
            f"{provenance['path']}; converted by tools/k8s/crd_schema.py"
        ),
        "x-carepath-source": {"apiVersion": api_version, "kind": kind, **provenance},
        **schema,
    }


def file_name(schema: dict[str, Any]) -> str:
    """``<kind>-<group>-<version>.json``, lower case: the name the check looks a kind up by."""
    group, _, version = schema["x-carepath-source"]["apiVersion"].partition("/")
    return f"{schema['x-carepath-source']['kind'].lower()}-{group}-{version}.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("crd", type=Path, help="the published CRD YAML file")
    parser.add_argument("--source", required=True, help="owner/repository it was published in")
    parser.add_argument("--ref", required=True, help="the release tag")
    parser.add_argument("--commit", required=True, help="the tag's commit")
    parser.add_argument("--path", required=True, help="the file's path in that repository")
    parser.add_argument("--version", help="the CRD version to take (default: the storage version)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the schema into")
    args = parser.parse_args(argv)
    raw = args.crd.read_bytes()
    provenance = {
        "source": args.source,
        "ref": args.ref,
        "commit": args.commit,
        "path": args.path,
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    for doc in yaml.safe_load_all(raw):
        if doc and doc.get("kind") == "CustomResourceDefinition":
            schema = crd_schema(doc, args.version, provenance)
            target = args.out / file_name(schema)
            target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            print(
                f"{target}: {schema['x-carepath-source']['apiVersion']} {schema['x-carepath-source']['kind']}"
            )


if __name__ == "__main__":
    main()
