"""What an endpoint is sent: the carepath CloudEvent as it is, or a FHIR transaction Bundle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from notifier import fhir_render

CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"
FHIR_JSON = "application/fhir+json; charset=utf-8"


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str


def payload(fmt: str, event: Mapping[str, Any]) -> Payload:
    if fmt == "fhir":
        return Payload(orjson.dumps(fhir_render.transaction(event)), FHIR_JSON)
    return Payload(orjson.dumps(event), CLOUDEVENTS_JSON)
