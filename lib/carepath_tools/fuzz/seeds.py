"""The valid inputs mutants start from: the contract's valid examples (``schemas/examples/<type>/valid``) for
JSON events, the built-in samples (:mod:`carepath_tools.fuzz.samples`) and, when the repository's conformance
timelines are beside the package, their ``fhir:`` and ``hl7:`` fields. Each input gets fresh ids so that
de-duplication does not answer for the content."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carepath import contracts, yamlfile
from carepath.resources import ROOT, schemas_dir
from carepath_tools.fuzz import samples

TIMELINES = ROOT / "tests" / "conformance" / "timelines"


@dataclass(frozen=True)
class Seeds:
    events: tuple[dict[str, Any], ...]
    resources: tuple[dict[str, Any], ...]  # FHIR resources other than Bundles
    bundles: tuple[dict[str, Any], ...]
    hl7: tuple[str, ...]  # segments joined with \r; {control_id} and {patient} to fill

    def describe(self) -> str:
        return (
            f"{len(self.events)} events, {len(self.resources)} FHIR resources, {len(self.bundles)} Bundles, "
            f"{len(self.hl7)} HL7 messages"
        )


def load(timelines: Path | None = TIMELINES) -> Seeds:
    events = []
    for type_name in sorted(contracts.INPUT_TYPES):
        for path in sorted((schemas_dir() / "examples" / type_name / "valid").glob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and not contracts.validate_event(doc):
                events.append(doc)
    resources: list[dict[str, Any]] = []
    bundles: list[dict[str, Any]] = []
    hl7 = [m.replace("\n", "\r") for m in samples.HL7.values()]
    for resource in samples.FHIR.values():
        (bundles if resource["resourceType"] == "Bundle" else resources).append(resource)
    if timelines is not None and timelines.is_dir():
        for path in sorted(timelines.glob("*.yaml")):
            timeline = yamlfile.read(path)
            for step in timeline.get("steps", []):
                if isinstance(step.get("fhir"), str):
                    doc = json.loads(step["fhir"])
                    if doc.get("resourceType") != "Patient":  # Patient is read, but carries no event
                        (bundles if doc.get("resourceType") == "Bundle" else resources).append(doc)
                if isinstance(step.get("hl7"), str):
                    hl7.append(_templated_hl7(step["hl7"]))
    return Seeds(tuple(events), tuple(resources), tuple(bundles), tuple(hl7))


def _templated_hl7(text: str) -> str:
    """A timeline's message with its control id (MSH-10) as ``{control_id}``."""
    segments = [s for s in text.strip().splitlines() if s]
    fields = segments[0].split("|")
    if len(fields) > 9:
        fields[9] = "{control_id}"
    segments[0] = "|".join(fields)
    return "\r".join(segments)


def fresh_event(rng: random.Random, seeds: Seeds, tag: str) -> dict[str, Any]:
    event = dict(rng.choice(seeds.events))
    event["id"] = f"fuzz-{tag}"
    return event


def fresh_resource(rng: random.Random, seeds: Seeds, tag: str) -> dict[str, Any]:
    return _fill(rng.choice(seeds.resources), tag)


def fresh_bundle(rng: random.Random, seeds: Seeds, tag: str) -> dict[str, Any]:
    return _fill(rng.choice(seeds.bundles), tag)


def fresh_hl7(rng: random.Random, seeds: Seeds, tag: str) -> str:
    return rng.choice(seeds.hl7).replace("{control_id}", f"FZ{tag}").replace("{patient}", "FUZZ0001")


def _fill(template: dict[str, Any], tag: str) -> dict[str, Any]:
    """Fresh resource ids: ``{rid}`` filled in, and each resource's version made unique to this input."""
    text = json.dumps(template).replace("{rid}", f"fz{tag}").replace("{patient}", "FUZZ0001")
    doc: dict[str, Any] = json.loads(text)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("resourceType"), str) and node["resourceType"] != "Bundle":
                node["meta"] = {**node.get("meta", {}), "versionId": f"fz{tag}"}
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(doc)
    return doc
