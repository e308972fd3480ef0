"""One HL7 message -> zero or more carepath input events (CloudEvents), by message type.

What happens to each message type:

    ORU^R01                     pain scores, laboratory results, imaging reports   (observations)
    PPR^PC1 / PC2 / PC3         problems: cancers, spinal metastases, risk factors (diagnoses)
    ADT^A01 / A04 / A08 / A28 / A31
                                date of birth, DG1 diagnoses, PR1 procedures       (diagnoses, treatments)
    RDE^O11                     medicine orders started, changed, stopped          (treatments)
    RAS^O17                     medicines given                                     (treatments)

Identity. ``source`` is ``urn:hl7v2:<sending facility>`` (MSH-4, else MSH-3) and the event ``id`` is
``hl7v2:<sending facility>:<MSH-10>:<n>`` (n counts the events of the message from 0), so the same message
sent again maps to the same ids and intake does not publish it twice. ``subject`` is the patient id:
the first PID-3 identifier, or the first from a configured assigning authority or identifier type.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any
from urllib.parse import quote

from carepath import envelope
from intake.hl7 import diagnoses, observations, treatments
from intake.hl7.codes import CodeMap
from intake.hl7.draft import Context
from intake.hl7.message import Header, Message
from intake.hl7.problems import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    SEGMENT_SEQUENCE,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_VERSION,
    Location,
    Problem,
)
from intake.hl7.radiology import RadiologyRules

Mapper = Callable[[Context], None]
_ADT: tuple[Mapper, ...] = (diagnoses.map_admission, treatments.map_procedures)
MAPPERS: dict[str, tuple[Mapper, ...]] = {
    "ORU^R01": (observations.map_results,),
    "PPR^PC1": (diagnoses.map_problems,),
    "PPR^PC2": (diagnoses.map_problems,),
    "PPR^PC3": (diagnoses.map_problems,),
    "ADT^A01": _ADT,
    "ADT^A04": _ADT,
    "ADT^A08": _ADT,
    "ADT^A28": _ADT,
    "ADT^A31": _ADT,
    "RDE^O11": (treatments.map_orders,),
    "RAS^O17": (treatments.map_administrations,),
}
MESSAGE_TYPES = frozenset(key.split("^")[0] for key in MAPPERS)
# What each message type is read for: named when a message of the type gives nothing carepath read.
READS: dict[str, tuple[str, str]] = {
    "ORU": ("OBX", "results (OBR groups with OBX)"),
    "PPR": ("PRB", "problems (PRB-3)"),
    "ADT": ("DG1", "a date of birth (PID-7), diagnoses (DG1-3) or procedures (PR1-3)"),
    "RDE": ("RXE", "medicine orders (RXE-2)"),
    "RAS": ("RXA", "medicine administrations (RXA-5)"),
}
NOTHING_READ = "hl7_nothing_read"  # metric reason
MIN_VERSION = (2, 3)
SOURCE_PREFIX = "urn:hl7v2:"
_PATIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class MappingOptions:
    site: tzinfo  # the timezone of timestamps sent without an offset
    patient_id_authorities: tuple[str, ...] = ()  # PID-3.4 / PID-3.5 values to prefer, in order


@dataclass(frozen=True)
class Mapped:
    """An event with the places in the message its fields came from (for the ACK's ERR segments)."""

    event: dict[str, Any]
    origin: Location
    fields: Mapping[str, Location] = field(default_factory=dict)

    def location_of(self, pointer: str) -> Location:
        """The message location of a JSON pointer into the event (its nearest mapped parent)."""
        best, length = self.origin, -1
        for prefix, where in self.fields.items():
            if (pointer == prefix or pointer.startswith(prefix + "/")) and len(prefix) > length:
                best, length = where, len(prefix)
        return best


@dataclass(frozen=True)
class MappingResult:
    header: Header
    patient: str | None
    events: list[Mapped]
    problems: list[Problem]  # parts that could not be mapped; the rest of the message was
    refused: Problem | None = None  # the whole message cannot be taken
    unmapped: list[tuple[str, str]] = field(default_factory=list)  # (system, code) not in the mapping
    warnings: list[Problem] = field(default_factory=list)  # read parts carepath does not use (ERR severity W)


def map_message(
    message: Message, codes: CodeMap, rules: RadiologyRules, options: MappingOptions
) -> MappingResult:
    header = message.header
    refused = _check_header(header)
    patient: str | None = None
    if refused is None:
        try:
            patient = patient_id(message, options.patient_id_authorities)
        except _Refused as exc:
            refused = exc.problem
    if refused is not None:
        return MappingResult(header, patient, [], [], refused)
    assert patient is not None
    ctx = Context(message, codes, rules, options.site)
    for mapper in MAPPERS[header.type_key]:
        mapper(ctx)
    if not ctx.drafts and not ctx.problems and not ctx.read:
        segment, what = READS[header.message_type]
        ctx.problems.append(
            Problem(
                f"nothing in this {header.type_key} message was read: carepath reads {what} from it, "
                "and found none",
                REQUIRED_FIELD_MISSING,
                Location(segment),
                NOTHING_READ,
            )
        )
    sender = sender_of(header)
    events = []
    for index, draft in enumerate(ctx.drafts):
        event = envelope.cloudevent(
            id=event_id(sender, header.control_id, index),
            type=draft.type,
            source=SOURCE_PREFIX + quote(sender, safe=""),
            subject=patient,
            time=draft.time,
            data=draft.data,
        )
        events.append(Mapped(event, draft.origin, {"/subject": _pid3(), **draft.fields}))
    return MappingResult(header, patient, events, ctx.problems, None, ctx.unmapped, ctx.warnings)


def sender_of(header: Header) -> str:
    return header.sending_facility or header.sending_application or "unknown"


def event_id(sender: str, control_id: str, index: int) -> str:
    """Deterministic: the same message (sender + MSH-10) always maps to the same ids."""
    candidate = f"hl7v2:{quote(sender, safe='')}:{quote(control_id, safe='')}:{index}"
    if len(candidate) <= 200:
        return candidate
    digest = hashlib.blake2b(f"{sender}\x00{control_id}".encode(), digest_size=16).hexdigest()
    return f"hl7v2:{digest}:{index}"


def patient_id(message: Message, authorities: Sequence[str] = ()) -> str:
    """PID-3: the first identifier whose assigning authority or type is configured; with none configured,
    the first medical record number (identifier type MR), else the first identifier.

    A message about more than one patient (a second PID, as an ORU may carry) is refused whole: which
    result belongs to whom is not something carepath may guess."""
    pids = message.all("PID")
    if not pids:
        raise _Refused(
            Problem(
                "PID segment is missing: the patient cannot be identified",
                REQUIRED_FIELD_MISSING,
                Location("PID"),
            )
        )
    if len(pids) > 1:
        raise _Refused(
            Problem(
                f"{len(pids)} PID segments: carepath takes one patient per message; send each patient's "
                "results in a message of its own",
                SEGMENT_SEQUENCE,
                Location("PID", 2),
                "hl7_two_patients",
            )
        )
    pid = pids[0]
    wanted = [a.upper() for a in authorities]
    candidates: list[tuple[int, str]] = []
    for rep in range(1, len(pid.repetitions(3)) + 1):
        value = pid.value(3, 1, rep)
        if not value:
            continue
        labels = {
            pid.value(3, 4, rep, 1).upper(),
            pid.value(3, 4, rep, 2).upper(),
            pid.value(3, 5, rep).upper(),
        }
        if wanted:
            rank = next((i for i, a in enumerate(wanted) if a in labels), len(wanted))
        else:  # nothing configured: the medical record number (PID-3.5 MR) if there is one, else the first
            rank = 0 if pid.value(3, 5, rep).upper() == "MR" else 1
        candidates.append((rank, value))
    if wanted:
        candidates = [c for c in candidates if c[0] < len(wanted)]
    if not candidates:
        which = f" from {', '.join(authorities)}" if authorities else ""
        raise _Refused(Problem(f"no patient identifier{which} in PID-3", REQUIRED_FIELD_MISSING, _pid3()))
    value = min(candidates, key=lambda c: c[0])[1]
    if not _PATIENT_ID.match(value):
        raise _Refused(
            Problem(
                "patient identifier must be 1-64 letters, digits or . _ : - (carepath does not rewrite identifiers)",
                DATA_TYPE_ERROR,
                _pid3(),
            )
        )
    return value


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


def _pid3() -> Location:
    return Location("PID", 1, 3)


def _check_header(header: Header) -> Problem | None:
    if not header.control_id:
        return Problem("message control id (MSH-10) is empty", REQUIRED_FIELD_MISSING, Location("MSH", 1, 10))
    match = _VERSION.match(header.version)
    if match is None or int(match.group(1)) != 2 or (int(match.group(1)), int(match.group(2))) < MIN_VERSION:
        return Problem(
            f"HL7 version {header.version!r} is not accepted (2.3 or later 2.x)",
            UNSUPPORTED_VERSION,
            Location("MSH", 1, 12),
            "hl7_unsupported",
        )
    if header.message_type not in MESSAGE_TYPES:
        return Problem(
            f"message type {header.message_type!r} is not accepted (accepted: {', '.join(sorted(MESSAGE_TYPES))})",
            UNSUPPORTED_MESSAGE_TYPE,
            Location("MSH", 1, 9),
            "hl7_unsupported",
        )
    if header.type_key not in MAPPERS:
        events = sorted(k.split("^")[1] for k in MAPPERS if k.startswith(header.message_type + "^"))
        return Problem(
            f"{header.message_type} trigger event {header.trigger_event!r} is not accepted "
            f"(accepted: {', '.join(events)})",
            UNSUPPORTED_EVENT_CODE,
            Location("MSH", 1, 9, 2),
            "hl7_unsupported",
        )
    return None
