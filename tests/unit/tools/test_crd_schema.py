"""A published CRD's schema, converted for ``make k8s-check`` (``tools.k8s.crd_schema``), means what the API
server reads it to mean: nullable fields, int-or-string fields, preserved unknown fields, and strictness
everywhere else."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tools.k8s.crd_schema import crd_schema, file_name

pytestmark = pytest.mark.unit

PROVENANCE = {
    "source": "example/operator",
    "ref": "v1.0.0",
    "commit": "0" * 40,
    "path": "crd.yaml",
    "sha256": "1" * 64,
}

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.org"},
    "spec": {
        "group": "example.org",
        "names": {"kind": "Widget", "plural": "widgets"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": False,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            },
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "description": "A widget.",
                        "properties": {
                            "metadata": {"type": "object"},
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "description": "How big."},
                                    "port": {
                                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                                        "x-kubernetes-int-or-string": True,
                                    },
                                    "note": {"type": "string", "nullable": True},
                                    "config": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                },
                            },
                        },
                    }
                },
            },
        ],
    },
}


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.org/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, **spec},
    }


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = crd_schema(CRD, None, PROVENANCE)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def errors(validator: jsonschema.Draft4Validator, obj: dict[str, Any]) -> list[str]:
    return [e.message for e in validator.iter_errors(obj)]


def test_the_storage_version_is_taken_and_named(validator: jsonschema.Draft4Validator) -> None:
    schema = crd_schema(CRD, None, PROVENANCE)
    assert schema["x-carepath-source"]["apiVersion"] == "example.org/v1"
    assert file_name(schema) == "widget-example.org-v1.json"
    assert "description" not in str(schema)
    assert errors(validator, widget()) == []


def test_api_version_and_kind_must_be_this_crds(validator: jsonschema.Draft4Validator) -> None:
    assert errors(validator, {**widget(), "apiVersion": "example.org/v1alpha1"})
    assert errors(validator, {**widget(), "kind": "Gadget"})
    assert errors(validator, {k: v for k, v in widget().items() if k != "metadata"})


def test_an_unknown_field_is_refused_unless_the_schema_keeps_unknown_fields(
    validator: jsonschema.Draft4Validator,
) -> None:
    assert errors(validator, widget(colour="red")) == [
        "Additional properties are not allowed ('colour' was unexpected)"
    ]
    assert errors(validator, {**widget(), "status": {}})
    assert errors(validator, widget(config={"anything": {"at": "all"}})) == []
    assert errors(validator, widget(labels={"a": "b"})) == []
    assert errors(validator, widget(labels={"a": 1}))


def test_nullable_and_int_or_string_read_as_kubernetes_reads_them(
    validator: jsonschema.Draft4Validator,
) -> None:
    assert errors(validator, widget(note=None)) == []
    assert errors(validator, widget(port=8080)) == []
    assert errors(validator, widget(port="http")) == []
    assert errors(validator, widget(port=1.5))
    assert errors(validator, widget(size="1"))
