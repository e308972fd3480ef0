"""One HL7 message in, one ACK out: read, map, hand to :class:`intake.service.Intake`, answer.

Storage, de-duplication and dead-lettering are intake's, the same as for HTTP: the mapped events go to
``Intake.submit(events, raws, "mllp", refusals)``; what cannot be mapped goes with them as refusals, so
the dead-letter records and the events are published together. The ACK follows from what was stored:

- every event stored, or already stored by an earlier delivery of the same message -> AA
- a problem in the content (unreadable message, unsupported type, a segment that cannot be mapped,
  an event the contract refuses) -> AE with one ERR per problem; the rest of the message is stored
- the broker did not acknowledge -> AR (ERR 207): nothing may be assumed stored, send it again
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from carepath import logs
from carepath.clock import Clock
from carepath.contracts import ContractError
from intake import metrics
from intake.hl7.ack import ACCEPT, ERROR, REJECT, AckError, build_ack
from intake.hl7.codes import CodeMap
from intake.hl7.framing import Oversize
from intake.hl7.mapping import MappingOptions, MappingResult, map_message
from intake.hl7.message import Header, MessageError, parse_message, sniff_header
from intake.hl7.problems import DATA_TYPE_ERROR, DUPLICATE_KEY, INTERNAL_ERROR, Location, Problem
from intake.hl7.radiology import RadiologyRules
from intake.service import Intake, ItemResult, Refusal, Unavailable

CHANNEL = "mllp"
_log = logs.get("intake.mllp")


@dataclass(frozen=True)
class Reply:
    ack: str  # AA | AE | AR
    text: str  # the ACK message
    encoding: str

    def encoded(self) -> bytes:
        return self.text.encode(self.encoding, errors="replace")


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

    async def handle(self, raw: bytes) -> Reply:
        try:
            message = parse_message(raw)
        except MessageError as exc:
            header = sniff_header(raw)
            problem = Problem(exc.message, exc.code, exc.location, "hl7_unreadable")
            return await self._refuse(raw, header, problem)
        try:
            result = map_message(message, self.codes, self.rules, self.options)
        except Exception as exc:  # a fault of carepath's, not of the message: keep it, tell the sender
            _log.error("mllp.mapping_failed", control_id=message.header.control_id, error=type(exc).__name__)
            problem = Problem(
                "carepath could not map this message (internal error)", INTERNAL_ERROR, None, "hl7_internal"
            )
            return await self._refuse(raw, message.header, problem)
        if result.refused is not None:
            return await self._refuse(raw, result.header, result.refused, result.patient)
        return await self._submit(raw, result)

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

    # -- outcomes -----------------------------------------------------------------------------------

    async def _submit(self, raw: bytes, result: MappingResult) -> Reply:
        header = result.header
        refusals = [_refusal(raw, problem, result.patient) for problem in result.problems]
        try:
            items = await self.intake.submit(
                [m.event for m in result.events], [raw] * len(result.events), CHANNEL, refusals
            )
        except Unavailable:
            return self._unavailable(header)
        # Unmapped codes are logged without the message id: a code tied to a message is clinical data.
        if result.unmapped:
            metrics.MLLP_UNMAPPED.inc(len(result.unmapped))
            _log.info("mllp.unmapped", message_type=header.type_key, codes=sorted(set(result.unmapped))[:20])
        errors = [AckError(p.code, p.describe(), p.location) for p in result.problems]
        errors += _rejections(result, items)
        code = ERROR if errors else ACCEPT
        _log.info(
            "mllp.message",
            ack=code,
            message_type=header.type_key,
            control_id=header.control_id,
            events=len(result.events),
            accepted=sum(r.status == "accepted" for r in items),
            duplicates=sum(r.status == "duplicate" for r in items),
            problems=len(errors),
        )
        return self._reply(code, header, errors)

    async def _refuse(
        self, raw: bytes, header: Header | None, problem: Problem, patient: str | None = None
    ) -> Reply:
        """The whole message is refused: dead-letter it as received, answer AE."""
        try:
            await self.intake.submit([], None, CHANNEL, [_refusal(raw, problem, patient)])
        except Unavailable:
            return self._unavailable(header)
        _log.warning(
            "mllp.refused",
            control_id=header.control_id if header else None,
            message_type=header.type_key if header else None,
            code=problem.code,
            label=problem.label,
        )
        return self._reply(ERROR, header, [AckError(problem.code, problem.describe(), problem.location)])

    def _unavailable(self, header: Header | None) -> Reply:
        _log.warning("mllp.unavailable", control_id=header.control_id if header else None)
        text = "event store unavailable: nothing from this message was stored; send it again later"
        return self._reply(REJECT, header, [AckError(INTERNAL_ERROR, text)])

    def _reply(self, code: str, header: Header | None, errors: Sequence[AckError]) -> Reply:
        metrics.MLLP_MESSAGES.labels(code).inc()
        control_id = f"{self._ack_prefix}{next(self._ack_ids):012d}"
        text = build_ack(code, header, control_id, self.clock.now(), errors)
        return Reply(code, text, header.encoding if header else "utf-8")


def _refusal(raw: bytes, problem: Problem, patient: str | None) -> Refusal:
    """A dead letter for a problem; its field points into the HL7 message: /OBX[2]/5 is OBX[2]-5."""
    pointer = problem.location.pointer if problem.location else ""
    return Refusal(
        reason=problem.describe(),
        label=problem.label,
        errors=(ContractError(pointer, problem.message),),
        raw=raw,
        subject=patient,
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
