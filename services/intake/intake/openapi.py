"""intake's OpenAPI document, self-contained.

FastAPI describes the routes; the request body of ``POST /v1/events`` is the published envelope contract
(``schemas/cloudevent.v1.schema.json``), which refers to the shared definitions in another file
(``common.v1.schema.json#/$defs/...``). An OpenAPI document read on its own cannot follow such a reference,
so each referenced definition is copied under ``components/schemas`` (named ``common.v1.<name>``) and the
reference rewritten to point there. ``$id`` and ``$schema`` are dropped from the copies: an ``$id`` would
change the base against which the rewritten ``#/components/...`` references resolve.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from carepath import contracts
from carepath.resources import schemas_dir

ENVELOPE_COMPONENT = "CloudEvent"
_COMPONENTS = "#/components/schemas/"
_SCHEMA_SUFFIX = ".schema.json"
_EXTERNAL = re.compile(r"^(?P<file>[A-Za-z0-9._-]+\.schema\.json)#/\$defs/(?P<name>[A-Za-z0-9_.-]+)$")


class OpenApiError(ValueError):
    """A reference in a published schema that cannot be made local (a file or definition missing)."""


def build(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI serves at ``/openapi.json``, built once per app."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(contract_components(schemas_dir()))
    app.openapi_schema = schema
    return schema


def installer(app: FastAPI) -> Callable[[], dict[str, Any]]:
    return lambda: build(app)


def contract_components(folder: Path) -> dict[str, Any]:
    """``CloudEvent`` (the envelope) and every shared definition it refers to, directly or through another
    definition, each with its references rewritten to ``#/components/schemas/<name>``."""
    loaded: dict[str, dict[str, Any]] = {}

    def document(file_name: str) -> dict[str, Any]:
        if file_name not in loaded:
            path = folder / file_name
            if not path.is_file():
                raise OpenApiError(f"{file_name}: referenced but not in {folder}")
            loaded[file_name] = json.loads(path.read_text(encoding="utf-8"))
        return loaded[file_name]

    components: dict[str, Any] = {}
    pending: list[tuple[str, str]] = []

    def rewrite(node: Any, here: str) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key in ("$id", "$schema"):
                    continue
                if key == "$ref" and isinstance(value, str):
                    out[key] = local_ref(value, here)
                else:
                    out[key] = rewrite(value, here)
            return out
        if isinstance(node, list):
            return [rewrite(v, here) for v in node]
        return node

    def local_ref(ref: str, here: str) -> str:
        if ref.startswith("#/$defs/"):  # a definition of the same file
            ref = f"{here}{ref}"
        m = _EXTERNAL.match(ref)
        if m is None:
            raise OpenApiError(f"{here}: reference {ref!r} cannot be made local")
        name = component_name(m["file"], m["name"])
        if name not in components:
            components[name] = {}  # reserved: a definition that refers to itself stops here
            pending.append((m["file"], m["name"]))
        return _COMPONENTS + name

    envelope = document(contracts.ENVELOPE_SCHEMA)
    components[ENVELOPE_COMPONENT] = rewrite(copy.deepcopy(envelope), contracts.ENVELOPE_SCHEMA)
    while pending:
        file_name, definition = pending.pop()
        defs = document(file_name).get("$defs", {})
        if definition not in defs:
            raise OpenApiError(f"{file_name} has no $defs/{definition}")
        components[component_name(file_name, definition)] = rewrite(
            copy.deepcopy(defs[definition]), file_name
        )
    return components


def component_name(file_name: str, definition: str) -> str:
    """``common.v1.schema.json`` + ``patient_id`` -> ``common.v1.patient_id``."""
    return f"{file_name.removesuffix(_SCHEMA_SUFFIX)}.{definition}"


def main() -> int:
    """``python -m intake.openapi``: print the document (production serves no documentation pages)."""
    from intake.app import create_app
    from intake.publisher import MemoryPublisher
    from intake.settings import IntakeSettings

    settings = IntakeSettings(environment="development")  # the document only: no broker, no credentials
    print(json.dumps(build(create_app(settings, MemoryPublisher())), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
