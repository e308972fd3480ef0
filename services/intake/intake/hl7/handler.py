"""One HL7 message in, one ACK out: read, map, hand to :class:`intake.service.Intake`, answer.

Storage, de-duplication and dead-lettering are intake's, the same as for HTTP: the mapped events go to
``Intake.submit(events, raws, "mllp", refusals)``; what cannot be mapped goes with them as refusals, so
the dead-letter records and the events are published together. The ACK follows from what was stored:

- every clinically relevant row read, and every event stored (or already stored by an earlier delivery of
  the same message) -> AA
- a problem in the content (unreadable message, unsupported type, a code the mapping does not know, a
  segment that cannot be mapped, nothing read at all, an event the contract refuses) -> AE with one ERR per
  problem; the message is dead-lettered as received and the parts that were read are stored. A message with
  codes the mapping does not know is also parked (``clinical.events.parked``) with those codes and the ids
  of the events stored from it, in the same publish, to be read again once a site file maps them
- the broker did not acknowledge -> AR (ERR 207): nothing may be assumed stored, send it again

In enhanced acknowledgement mode (MSH-15/MSH-16, :mod:`intake.hl7.ack`) a commit acknowledgement comes first
when MSH-15 asks for it - CA once the message is stored, CE/CR when it is not - and the application
acknowledgement above only when MSH-16 asks for it.

Before anything is published, every event is checked to name the patient of its own message's PID-3: an
event that does not is refused, never published.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from carepath import logs
from carepath.clock import Clock
from carepath.contracts import ContractError
from intake import metrics
from intake.hl7 import logsafe
from intake.hl7.ack import (
    ACCEPT,
    COMMIT_ACCEPT,
    ERROR,
    REJECT,
    AckError,
    bad_ack_type,
    build_ack,
    commit_code,
    enhanced,
    wanted,
)
from intake.hl7.codes import CodeMap
from intake.hl7.draft import UNKNOWN_CODE
from intake.hl7.framing import FramingError, Oversize
from intake.hl7.mapping import MappingOptions, MappingResult, map_message, patient_id
from intake.hl7.message import Header, Message, MessageError, parse_message, sniff_header
from intake.hl7.problems import (
    DATA_TYPE_ERROR,
    DUPLICATE_KEY,
    INTERNAL_ERROR,
    SEGMENT_SEQUENCE,
    TABLE_VALUE_NOT_FOUND,
    Location,
    Problem,
)
from intake.hl7.radiology import RadiologyRules
from intake.service import Intake, ItemResult, Refusal, Unavailable

CHANNEL = "mllp"
_log = logs.get("intake.mllp")


@dataclass(frozen=True)
class Reply:
    ack: str  # AA | AE | AR: the application acknowledgement, whether or not it is sent
    text: str  # the application acknowledgement message
    encoding: str
    frames: tuple[str, ...] = ()  # what is sent, in order: the commit and/or application acknowledgement
    commit: str | None = None  # CA | CE | CR in enhanced mode

    def encoded(self) -> bytes:
        return self.text.encode(self.encoding, errors="replace")

    def encoded_frames(self) -> list[bytes]:
        return [frame.encode(self.encoding, errors="replace") for frame in self.frames]


class Hl7Intake:
    def __init__(
        self, intake: Intake, codes: CodeMap, rules: RadiologyRules, options: MappingOptions, clock: Clock
    ) -> None:
        self.intake = intake
        self.codes = codes
        self.rules = rules
        self.options = options
        self.clock = clock
        self._ack_ids = itertools.count(1)
        self._ack_prefix = f"CP{os.getpid() % 10000:04d}"

    def sent_by(self, sender: str) -> Hl7Intake:
        """The same handler (codes, rules, acknowledgement ids) for messages from ``sender``: what it
        stores or refuses is stamped with that name."""
        view = copy.copy(self)
        view.intake = self.intake.sent_by(sender)
        return view

    async def handle(self, raw: bytes) -> Reply:
        try:
            message = parse_message(raw)
        except MessageError as exc:
            header = sniff_header(raw)
            problem = Problem(exc.message, exc.code, exc.location, "hl7_unreadable")
            return await self._refuse(raw, header, problem)
        bad = bad_ack_type(message.header)
        if bad is not None:  # which acknowledgements are wanted cannot be known: refused, original mode
            field, _ = bad
            problem = Problem(
                f"MSH-{field} is not an acknowledgement type of HL7 table 0155 (AL, NE, ER, SU)",
                TABLE_VALUE_NOT_FOUND,
                Location("MSH", 1, field),
                "hl7_unreadable",
            )
            return await self._refuse(raw, message.header, problem)
        try:
            result = map_message(message, self.codes, self.rules, self.options)
        except Exception as exc:  # a fault of carepath's, not of the message: keep it, tell the sender
            _log.error(
                "mllp.mapping_failed", **logsafe.header_fields(message.header), error=type(exc).__name__
            )
            problem = Problem(
                "carepath could not map this message (internal error)", INTERNAL_ERROR, None, "hl7_internal"
            )
            return await self._refuse(raw, message.header, problem)
        if result.refused is not None:
            return await self._refuse(raw, result.header, result.refused, result.patient)
        return await self._submit(raw, self._own_patient_only(message, result))

    async def framing_error(self, error: FramingError) -> Reply:
        """A frame that breaks MLLP (bytes before the start block, no or a repeated start block): refused
        whole, since where the message begins cannot be trusted."""
        header = sniff_header(error.raw)
        problem = Problem(f"MLLP framing: {error.reason}", SEGMENT_SEQUENCE, None, "mllp_framing")
        return await self._refuse(error.raw, header, problem)

    async def oversize(self, frame: Oversize, max_bytes: int) -> Reply:
        header = sniff_header(frame.head)
        problem = Problem(
            f"message of {frame.size} bytes is over the limit of {max_bytes} bytes "
            f"(CAREPATH_INTAKE_MLLP_MAX_BYTES); the dead-letter record keeps its first {len(frame.head)} bytes",
            INTERNAL_ERROR,
            None,
            "too_large",
        )
        return await self._refuse(frame.head, header, problem)

    def _own_patient_only(self, message: Message, result: MappingResult) -> MappingResult:
        """Every event must name the patient of this message's own PID-3, read again here independently of
        the mappers; an event that names anyone else is refused, never published."""
        try:
            expected: str | None = patient_id(message, self.options.patient_id_authorities)
        except Exception:
            expected = None
        kept = [m for m in result.events if expected is not None and m.event.get("subject") == expected]
        if len(kept) == len(result.events) and result.patient == expected:
            return result
        _log.error(
            "mllp.subject_mismatch",
            **logsafe.header_fields(result.header),
            events=len(result.events),
            refused=len(result.events) - len(kept),
        )
        problem = Problem(
            f"{len(result.events) - len(kept)} of the {len(result.events)} events read from this message did "
            "not name the patient of its PID-3; none of those was published (an internal fault of carepath)",
            INTERNAL_ERROR,
            Location("PID", 1, 3),
            "hl7_subject_mismatch",
        )
        kept = kept if result.patient == expected else []
        return replace(result, events=kept, problems=[*result.problems, problem], patient=expected)

    # -- outcomes -----------------------------------------------------------------------------------

    async def _submit(self, raw: bytes, result: MappingResult) -> Reply:
        header = result.header
        refusals = [_refusal(raw, result)] if result.problems or result.unmapped else []
        try:
            items = await self.intake.submit(
                [m.event for m in result.events], [raw] * len(result.events), CHANNEL, refusals
            )
        except Unavailable:
            return self._unavailable(header)
        # Unknown codes are logged without the message id (a code tied to a message is clinical data), and
        # only those that look like codes: never the text of a CWE.
        if result.unmapped:
            metrics.MLLP_UNMAPPED.inc(len(result.unmapped))
            shown, hidden = logsafe.codes(result.unmapped)
            _log.info(
                "mllp.unmapped", message_type=logsafe.message_type(header), codes=shown, not_shown=hidden
            )
        errors = [AckError(p.code, p.describe(), p.location) for p in result.problems]
        errors += _rejections(result, items)
        code = ERROR if errors else ACCEPT
        errors += [AckError(p.code, p.describe(), p.location, "W") for p in result.warnings]
        _log.info(
            "mllp.message",
            sender=self.intake.sender,
            ack=code,
            **logsafe.header_fields(header),
            events=len(result.events),
            accepted=sum(r.status == "accepted" for r in items),
            duplicates=sum(r.status == "duplicate" for r in items),
            problems=len(errors) - len(result.warnings),
            warnings=len(result.warnings),
        )
        return self._reply(code, header, errors, stored=True)

    async def _refuse(
        self, raw: bytes, header: Header | None, problem: Problem, patient: str | None = None
    ) -> Reply:
        """The whole message is refused: dead-letter it as received, answer AE."""
        refusal = Refusal(
            reason=problem.describe(),
            label=problem.label,
            errors=(ContractError(problem.location.pointer if problem.location else "", problem.message),),
            raw=raw,
            subject=patient,
        )
        try:
            await self.intake.submit([], None, CHANNEL, [refusal])
        except Unavailable:
            return self._unavailable(header)
        _log.warning(
            "mllp.refused",
            sender=self.intake.sender,
            **logsafe.header_fields(header),
            code=problem.code,
            label=problem.label,
        )
        return self._reply(
            ERROR, header, [AckError(problem.code, problem.describe(), problem.location)], stored=False
        )

    def _unavailable(self, header: Header | None) -> Reply:
        _log.warning("mllp.unavailable", **logsafe.control_id(header.control_id if header else None))
        text = "event store unavailable: nothing from this message was stored; send it again later"
        return self._reply(REJECT, header, [AckError(INTERNAL_ERROR, text)], stored=False)

    def _reply(self, code: str, header: Header | None, errors: Sequence[AckError], *, stored: bool) -> Reply:
        """The acknowledgements for a message: the application one (``code``) in original mode; in enhanced
        mode the commit one first, each only when the sender's MSH-15 / MSH-16 asks for it."""
        metrics.MLLP_MESSAGES.labels(code).inc()
        now = self.clock.now()
        text = build_ack(code, header, self._control_id(), now, errors)
        encoding = header.encoding if header else "utf-8"
        if header is None or not enhanced(header):
            return Reply(code, text, encoding, (text,))
        commit = commit_code(stored, errors)
        metrics.MLLP_COMMITS.labels(commit).inc()
        frames: list[str] = []
        if wanted(header.accept_ack_type, commit):
            problems = [] if commit == COMMIT_ACCEPT else [e for e in errors if e.severity != "W"]
            frames.append(build_ack(commit, header, self._control_id(), now, problems))
        if wanted(header.application_ack_type, code):
            frames.append(text)
        return Reply(code, text, encoding, tuple(frames), commit)

    def _control_id(self) -> str:
        return f"{self._ack_prefix}{next(self._ack_ids):012d}"


def _refusal(raw: bytes, result: MappingResult) -> Refusal:
    """One dead letter for a message's problems (the message is kept once, however many problems it has);
    each error's field points into the HL7 message: /OBX[2]/5 is OBX[2]-5. A message with codes the
    mapping does not know is parked too, with those codes, the first of them as its reason, and the ids of
    the events read from it."""
    problems = result.problems or [
        Problem("codes the HL7 code mapping does not know", TABLE_VALUE_NOT_FOUND, None, UNKNOWN_CODE)
    ]
    first = problems[0]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    unknown = [p for p in problems if p.label == UNKNOWN_CODE] or problems
    others = f" (and {len(unknown) - 1} more rows not read)" if len(unknown) > 1 else ""
    return Refusal(
        reason=first.describe() + more,
        label=first.label,
        errors=tuple(ContractError(p.location.pointer if p.location else "", p.message) for p in problems),
        raw=raw,
        subject=result.patient,
        codes=tuple(result.unmapped),
        events=tuple(str(m.event["id"]) for m in result.events),
        parked_reason=unknown[0].describe() + others,
        dead_letter=bool(result.problems),  # codes alone (no problem named) are parked, not refused
    )


def _rejections(result: MappingResult, items: Sequence[ItemResult]) -> list[AckError]:
    """ERR entries for events intake refused (the contract, a time in the future, an id already used)."""
    errors = []
    for item in items:
        if item.status != "rejected":
            continue
        mapped = result.events[item.index]
        first = item.errors[0] if item.errors else ContractError("", "refused")
        where: Location = mapped.location_of(first.field)
        if first.field == "/id":
            text = f"MSH-10 {result.header.control_id!r} was already used for a different message"
            errors.append(AckError(DUPLICATE_KEY, text, Location("MSH", 1, 10)))
        else:
            errors.append(AckError(DATA_TYPE_ERROR, f"{where}: {first.describe()}", where))
    return errors
