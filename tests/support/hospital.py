"""A hospital's side of the end-to-end tests: what its integration engine sends intake (FHIR R4 over HTTP,
HL7 v2 over MLLP), the ORU^R01 pain report its ward's EPR sends, and the R1 escalation it leads to."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from carepath_tools.devstack import Stack
from tests.support.fhir import FHIR_JSON
from tests.support.topics import TopicReader
from tests.unit.hl7 import samples


def post_fhir(stack: Stack, resource: dict[str, Any], traceparent: str | None = None) -> httpx.Response:
    """POST one resource to intake's FHIR endpoint as an integration engine does (with its W3C trace
    context, when given)."""
    headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": FHIR_JSON}
    if traceparent:
        headers["traceparent"] = traceparent
    return httpx.post(
        f"{stack.intake_url}/fhir/{resource['resourceType']}",
        content=orjson.dumps(resource),
        headers=headers,
        timeout=15,
    )


def send_mllp(port: int, message: str) -> str:
    """Send one HL7 v2 message over MLLP and return the ACK's MSA-1 (AA when stored)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(b"\x0b" + message.encode() + b"\x1c\r")
        reply = b""
        while b"\x1c\r" not in reply:
            chunk = sock.recv(65536)
            assert chunk, "intake closed the MLLP connection without an ACK"
            reply += chunk
    msa = next(s for s in reply.strip(b"\x0b\x1c\r").decode().split("\r") if s.startswith("MSA|"))
    return msa.split("|")[1]


def oru_pain_report(control_id: str, mrn: str, when: datetime) -> str:
    """An ORU^R01 from the ward's EPR: NRS 8 thoracic pain with new leg weakness and difficulty walking."""
    ts = when.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    return samples.SEP.join(
        [
            samples.msh(control_id, "ORU^R01^ORU_R01", app="EPR", when=ts),
            samples.pid(mrn),
            samples.PV1,
            f"OBR|1|PA{control_id}||PAINASSESS^Pain assessment^L|||{ts}",
            "OBX|1|NM|72514-3^Pain severity - 0-10 verbal numeric rating [Score] - Reported^LN||8"
            f"|{{score}}^score^UCUM|0-10||||F|||{ts}||||||122495006^Thoracic spine structure^SCT",
            "OBX|2|CWE|limb_weakness^Limb weakness^99CP||Y^Yes^HL70136||||||F",
            "OBX|3|CWE|walking_difficulty^Difficulty walking^99CP||Y^Yes^HL70136||||||F",
        ]
    )


def r1_for(reader: TopicReader, patient: str, timeout: float = 40) -> dict[str, Any]:
    """The one R1 (MSCC suspected) escalation raised for ``patient``."""

    def raised_r1(r: dict[str, Any]) -> bool:
        return (
            r.get("subject") == patient
            and r.get("type") == "carepath.escalation.raised.v1"
            and r["data"]["rule"]["id"] == "R1"
        )

    [esc] = reader.wait_for(raised_r1, timeout=timeout)
    return esc
