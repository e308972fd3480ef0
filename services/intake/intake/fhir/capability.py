"""The CapabilityStatement ``GET /fhir/metadata`` answers: what carepath's FHIR endpoint takes.

Exactly the resource types carepath reads (:data:`intake.fhir.resources.SUPPORTED`), each with create
(``POST /fhir/{type}``) and update (``PUT /fhir/{type}/{id}``, which also creates), and the system
interactions batch and transaction (``POST /fhir``). FHIR 4.0.1, JSON only. Nothing is read back: carepath
keeps events, not resources, so there is no read, search or history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.fhir.resources import SUPPORTED

FHIR_VERSION = "4.0.1"
FORMATS = ("json",)


def capability_statement(now: datetime, software_version: str) -> dict[str, Any]:
    """The statement, dated ``now`` (the intake clock): a FHIR R4 CapabilityStatement as JSON."""
    resources = [
        {
            "type": rtype,
            "documentation": "read through the FHIR code map and stored as a carepath event",
            "interaction": [
                {"code": "create", "documentation": f"POST /fhir/{rtype}"},
                {
                    "code": "update",
                    "documentation": f"PUT /fhir/{rtype}/[id]; the body's id must be the URL's",
                },
            ],
            "updateCreate": True,
            "conditionalCreate": False,
            "conditionalUpdate": False,
        }
        for rtype in sorted(SUPPORTED)
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.date().isoformat(),
        "publisher": "carepath",
        "kind": "instance",
        "software": {"name": "carepath intake", "version": software_version},
        "implementation": {
            "description": (
                "carepath intake: FHIR R4 resources in, carepath events out. A resource is stored once per "
                "id and meta.versionId (a resend answers 200, not stored again)."
            )
        },
        "fhirVersion": FHIR_VERSION,
        "format": list(FORMATS),
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Answers are OperationOutcomes (or batch/transaction-response Bundles) naming the "
                    "failing element; 422 for valid FHIR carepath cannot read (an unlisted code)."
                ),
                "security": {
                    "cors": False,
                    "description": (
                        "Every request, this one included, needs an Authorization: Bearer token: an "
                        "integration engine's (CAREPATH_INTAKE_TOKENS) for resources and Bundles; this "
                        "statement also answers a clinician system's (CAREPATH_INTAKE_ACK_TOKENS). Without "
                        "one, or with an unknown one, the answer is 401; a token of the other role 403."
                    ),
                },
                "resource": resources,
                "interaction": [
                    {"code": "transaction", "documentation": "POST /fhir: stored whole or not at all"},
                    {"code": "batch", "documentation": "POST /fhir: each entry stored or refused on its own"},
                ],
            }
        ],
    }
