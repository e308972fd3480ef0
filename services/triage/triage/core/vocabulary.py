"""The codes the event contract allows, read from the JSON Schemas in ``schemas/``.

The pathway may only use codes the events can carry: a misspelt code in the YAML would make a rule
silently never fire. Nothing is hard-coded here except *where* in the schemas each list lives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from triage.core.pathway import PathwayError

PAIN: Final = "carepath.pain.reported.v1.schema.json"
DIAGNOSIS: Final = "carepath.diagnosis.recorded.v1.schema.json"
IMAGING: Final = "carepath.imaging.resulted.v1.schema.json"
LAB: Final = "carepath.lab.resulted.v1.schema.json"
CARE_STEP: Final = "carepath.care_step.recorded.v1.schema.json"

# pathway field -> (schema file, $defs entry, property, then keys to follow inside it)
LOCATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "site": (PAIN, "data", ("site", "items")),
    "character": (PAIN, "data", ("character", "items")),
    "systemic": (PAIN, "data", ("systemic", "items")),
    "neurological": (PAIN, "data", ("neurological", "items")),
    "neurological_status": (PAIN, "data", ("neurological_status",)),
    "weakness_severity": (PAIN, "data", ("weakness_severity",)),
    "primary_site": (DIAGNOSIS, "cancer", ("primary_site",)),
    "cancer_status": (DIAGNOSIS, "cancer", ("status",)),
    "spinal_metastases": (DIAGNOSIS, "cancer", ("spinal_metastases",)),
    "risk_factors": (DIAGNOSIS, "data", ("risk_factors", "items")),
    "modality": (IMAGING, "data", ("modality",)),
    "region": (IMAGING, "data", ("region",)),
    "report_status": (IMAGING, "data", ("report_status",)),
    "findings": (IMAGING, "finding", ("code",)),
    "certainty": (IMAGING, "finding", ("certainty",)),
    "tests": (LAB, "data", ("test",)),
    "step": (CARE_STEP, "data", ("step",)),
    "conclusion": (CARE_STEP, "data", ("conclusion",)),
    "decision": (CARE_STEP, "data", ("decision",)),
}


def load_vocabulary(schemas_dir: Path) -> dict[str, frozenset[str]]:
    """field -> allowed codes. Raises PathwayError when a schema or a list cannot be found."""
    documents: dict[str, Any] = {}

    def document(name: str) -> Any:
        if name not in documents:
            path = schemas_dir / name
            try:
                documents[name] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise PathwayError(
                    f"{path}: not found; the pathway's codes are checked against the event contract there "
                    "(set CAREPATH_SCHEMAS_DIR)"
                ) from None
            except (OSError, json.JSONDecodeError) as exc:
                raise PathwayError(f"{path}: cannot be read: {exc}") from None
        return documents[name]

    def follow(node: Any, doc_name: str) -> tuple[Any, str]:
        while isinstance(node, Mapping) and "$ref" in node:
            target, _, pointer = str(node["$ref"]).partition("#")
            doc_name = target or doc_name
            node = document(doc_name)
            for part in filter(None, pointer.split("/")):
                node = node[part]
        return node, doc_name

    vocabulary: dict[str, frozenset[str]] = {}
    for field_name, (doc_name, definition, path) in LOCATIONS.items():
        try:
            node, current = follow(document(doc_name)["$defs"][definition]["properties"][path[0]], doc_name)
            for key in path[1:]:
                node, current = follow(node[key], current)
            vocabulary[field_name] = frozenset(str(code) for code in node["enum"])
        except (KeyError, TypeError):
            raise PathwayError(
                f"{schemas_dir / doc_name}: no code list for '{field_name}' at $defs/{definition}/properties/"
                + "/".join(path)
            ) from None
    return vocabulary
