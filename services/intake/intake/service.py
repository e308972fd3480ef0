"""The intake use case: admit a request's events, publish accepted ones and dead letters together, answer.

Transport-neutral: the HTTP routes (and later other channels) call :meth:`Intake.submit`.

Input not read whole because of codes carepath does not know is parked (``clinical.events.parked``) in the
same publish as the request's events: the raw input, the codes, and the id and content digest of each event
stored from it. A parked record that cannot be written fails the request like an event that cannot
(:class:`Unavailable`): nothing is answered as stored unless it is.

Every record is stamped with the name of the system that sent it (the Kafka header ``carepath-sender``, and
``sender`` in dead-letter and parked records): :meth:`Intake.sent_by` gives the intake a request is served
by, named after the caller's credential. An acknowledgement's ``data.sent_by`` is that name too, whatever
the sender wrote there, and only intake marks who acknowledged as verified (``acknowledged_by.verified``),
from a clinician's token it checked: an acknowledgement that arrives saying so is refused.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as replaced
from datetime import timedelta
from typing import Any

from carepath import envelope, logs, tracing
from carepath.clock import Clock
from carepath.contracts import ContractError
from carepath.deadletter import content_digest
from intake import metrics
from intake.admission import ACKNOWLEDGEMENT_TYPE, Admitted, Rejected, admit
from intake.dedup import RecentIds
from intake.dlq import dlq_record, parked_record, system_labels
from intake.publisher import Publisher, PublishError, Record

_log = logs.get("intake")
SENDER_HEADER = "carepath-sender"  # the Kafka header naming the system that sent a record
UNVERIFIED = ContractError(
    "/data/acknowledged_by/verified",
    "only intake marks who acknowledged as verified, from a clinician's token it checked; send the "
    "acknowledgement to POST /v1/acknowledgements",
)


@dataclass
class ItemResult:
    index: int
    id: str | None
    status: str  # accepted | duplicate | rejected
    errors: list[ContractError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "status": self.status}
        if self.errors:
            out["error"] = self.errors[0].describe()
            out["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return out


class Unavailable(RuntimeError):
    """The broker did not acknowledge; the caller must answer so that the sender retries."""


@dataclass(frozen=True)
class Refusal:
    """Input a channel could not even turn into an event (an unreadable HL7 message, a segment that cannot
    be mapped): dead-lettered in the same publish as the request's events, with the raw input it came from.

    With ``codes`` (the (system, code) pairs carepath did not know) the input is parked too, listing the
    events of the same request named in ``events`` that were stored (the parts that were read). With
    ``dead_letter`` false the input was stored except parts (a FHIR component whose code is unknown): it is
    parked only, and, when it names ``events``, only if one of them was stored (an input none of whose
    events was stored is refused, and dead-lettered, by whoever refused it)."""

    reason: str  # one line naming the offending field
    label: str  # metric reason
    errors: tuple[ContractError, ...]
    raw: bytes
    event_id: str | None = None
    subject: str | None = None
    codes: tuple[tuple[str, str], ...] = ()
    events: tuple[str, ...] = ()  # ids of the request's events read from the same input
    parked_reason: str = ""  # the parked record's reason when it is not ``reason`` (the first unknown code)
    dead_letter: bool = True


class Intake:
    def __init__(
        self,
        publisher: Publisher,
        clock: Clock,
        *,
        future_tolerance_s: float,
        dedup_capacity: int,
        sender: str = "",
    ):
        self.publisher = publisher
        self.clock = clock
        self.future_tolerance = timedelta(seconds=future_tolerance_s)
        self.recent = RecentIds(dedup_capacity)
        self.sender = sender  # the name of the system whose input this serves ("" : none known)
        self._probed_at = float("-inf")
        self._reachable = False

    def sent_by(self, sender: str) -> Intake:
        """The same intake (publisher, clock, de-duplication) serving input from ``sender``: everything it
        publishes is stamped with that name."""
        view = copy.copy(self)
        view.sender = sender
        return view

    async def broker_reachable(self, max_age_s: float = 1.0) -> bool:
        """Whether the broker answers, asked at most once per ``max_age_s`` (readiness probes can be frequent)."""
        now = time.monotonic()
        if now - self._probed_at > max_age_s:
            self._reachable = await self.publisher.reachable()
            self._probed_at = now
            metrics.BROKER_UP.set(1 if self._reachable else 0)
        return self._reachable

    async def submit(
        self,
        items: list[Any],
        raws: list[bytes] | None,
        channel: str,
        refusals: Sequence[Refusal] = (),
        *,
        verified: bool = False,
    ) -> list[ItemResult]:
        """Admit and publish; raises :class:`Unavailable` if anything could not be stored.

        ``refusals`` are dead-lettered in the same publish as the items. ``verified``: the items' who
        acknowledged was read by intake from a clinician's token it checked (else an acknowledgement saying
        it is verified is refused). Traced (:mod:`carepath.tracing`): one span, the parent of every event
        it stores, itself the child of the caller's trace context when the request carried one."""
        with tracing.span(
            f"intake {channel}",
            tracing.caller(),
            kind=tracing.SpanKind.SERVER,
            attributes={"carepath.channel": channel},
        ) as span:
            results = await self._submit(
                items, raws, channel, refusals, verified, span.traceparent if tracing.enabled() else None
            )
            span.set("carepath.events.accepted", sum(1 for r in results if r.status == "accepted"))
            span.set("carepath.events.refused", sum(1 for r in results if r.status == "rejected"))
            return results

    async def _submit(
        self,
        items: list[Any],
        raws: list[bytes] | None,
        channel: str,
        refusals: Sequence[Refusal],
        verified: bool,
        traceparent: str | None,
    ) -> list[ItemResult]:
        now = self.clock.now()
        results: list[ItemResult] = []
        to_publish: list[Record] = []
        accepted: list[Admitted] = []
        stored: dict[str, Admitted] = {}  # accepted now or earlier (a duplicate), by id
        in_request: dict[tuple[str, str], bytes] = {}
        rejected_reasons: list[str] = []
        for index, item in enumerate(items):
            item = self._stamped(item)
            verdict: Admitted | Rejected
            if not verified and _claims_verified(item):
                verdict = Rejected([UNVERIFIED], "identity_not_verified", _event_id(item))
            else:
                verdict = admit(item, now, self.future_tolerance, traceparent)
            if isinstance(verdict, Admitted):
                key = (verdict.source, verdict.id)
                previous = in_request.get(key) or self.recent.lookup(*key)
                if previous == verdict.digest:
                    results.append(ItemResult(index, verdict.id, "duplicate"))
                    stored.setdefault(verdict.id, verdict)
                    continue
                if previous is not None:
                    verdict = Rejected(
                        [
                            ContractError(
                                "/id", f"event id {verdict.id!r} was already used for different content"
                            )
                        ],
                        "id_conflict",
                        verdict.id,
                    )
                else:
                    in_request[key] = verdict.digest
                    accepted.append(verdict)
                    stored.setdefault(verdict.id, verdict)
                    to_publish.append(Record(verdict.topic, verdict.key, verdict.value))
                    results.append(ItemResult(index, verdict.id, "accepted"))
                    continue
            raw = raws[index] if raws is not None else envelope.encode(item)
            subject = item.get("subject") if isinstance(item, dict) else None
            to_publish.append(
                dlq_record(
                    channel=channel,
                    reason=verdict.summary(),
                    errors=verdict.errors,
                    raw=raw,
                    received_at=now,
                    event_id=verdict.event_id,
                    patient_key=subject.encode() if isinstance(subject, str) else None,
                    sender=self.sender,
                )
            )
            rejected_reasons.append(verdict.reason)
            results.append(ItemResult(index, verdict.event_id, "rejected", verdict.errors))
        parked: list[Sequence[tuple[str, str]]] = []
        for refusal in refusals:
            refused_key = refusal.subject.encode() if refusal.subject else None
            if refusal.dead_letter:
                to_publish.append(
                    dlq_record(
                        channel=channel,
                        reason=refusal.reason,
                        errors=refusal.errors,
                        raw=refusal.raw,
                        received_at=now,
                        event_id=refusal.event_id,
                        patient_key=refused_key,
                        codes=refusal.codes,
                        sender=self.sender,
                    )
                )
                rejected_reasons.append(refusal.label)
            kept = [stored[i] for i in dict.fromkeys(refusal.events) if i in stored]
            if refusal.codes and (refusal.dead_letter or kept or not refusal.events):
                to_publish.append(
                    parked_record(
                        channel=channel,
                        reason=refusal.parked_reason or refusal.reason,
                        raw=refusal.raw,
                        received_at=now,
                        codes=refusal.codes,
                        stored=[(a.id, content_digest(a.event)) for a in kept],
                        patient_key=refused_key,
                        sender=self.sender,
                    )
                )
                parked.append(refusal.codes)
        await self._publish(to_publish, channel)
        for codes in parked:
            self._count_parked(channel, codes)
        remember = self.recent.remember
        for a in accepted:
            remember(a.source, a.id, a.digest)
        for event_type, n in Counter(a.type for a in accepted).items():  # a counter's labels once a type
            metrics.ACCEPTED.labels(channel, event_type).inc(n)
        for reason, n in Counter(rejected_reasons).items():
            metrics.REJECTED.labels(channel, reason).inc(n)
        if rejected_reasons:
            metrics.DLQ_RECORDS.labels(channel).inc(len(rejected_reasons))
            # one line a request: which system sent what was refused, and why (labels only)
            _log.info(
                "input_dead_lettered",
                channel=channel,
                sender=self.sender or None,
                refused=len(rejected_reasons),
                reasons=sorted(set(rejected_reasons)),
            )
        duplicates = sum(1 for r in results if r.status == "duplicate")
        if duplicates:
            metrics.DUPLICATES.labels(channel).inc(duplicates)
        return results

    async def dead_letter(
        self,
        *,
        channel: str,
        reason: str,
        label: str,
        raw: bytes,
        field: str = "",
        codes: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Keep input that could not even be read as events (malformed JSON, wrong shape); with ``codes``
        (it was refused for codes carepath does not know) it is parked too, in the same publish."""
        refusal = Refusal(reason, label, (ContractError(field, reason),), raw, codes=tuple(codes))
        await self.submit([], None, channel, [refusal])

    async def park(self, *, channel: str, reason: str, raw: bytes, codes: Sequence[tuple[str, str]]) -> None:
        """Park input whose other parts were stored by an earlier request: the record cannot name those
        events, so a later reading takes each of its events for one stored with other content (a
        :class:`Refusal` with ``dead_letter`` false in the request that stores them names them). Raises
        :class:`Unavailable` like submit."""
        if not codes:
            return
        now = self.clock.now()
        record = parked_record(
            channel=channel, reason=reason, raw=raw, received_at=now, codes=codes, sender=self.sender
        )
        await self._publish([record], channel)
        self._count_parked(channel, codes)

    @staticmethod
    def _count_parked(channel: str, codes: Sequence[tuple[str, str]]) -> None:
        """One parked input, counted once under each code system its unknown codes belong to."""
        for label in system_labels(codes):
            metrics.PARKED.labels(channel, label).inc()

    def _stamped(self, item: Any) -> Any:
        """An acknowledgement with ``data.sent_by`` set to this intake's sender (a copy; other items as
        they are)."""
        if not self.sender or not _is_acknowledgement(item):
            return item
        if item["data"].get("sent_by") == self.sender:
            return item
        return {**item, "data": {**item["data"], "sent_by": self.sender}}

    async def _publish(self, records: list[Record], channel: str) -> None:
        if not records:
            return
        if self.sender:
            stamp = (SENDER_HEADER, self.sender.encode())
            records = [replaced(r, headers=(*r.headers, stamp)) for r in records]
        started = time.perf_counter()
        try:
            await self.publisher.publish(records)
        except PublishError as exc:
            metrics.BROKER_UP.set(0)
            metrics.REJECTED.labels(channel, "broker_unavailable").inc(len(records))
            raise Unavailable(str(exc)) from exc
        metrics.BROKER_UP.set(1)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)


def _is_acknowledgement(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type") == ACKNOWLEDGEMENT_TYPE
        and isinstance(item.get("data"), dict)
    )


def _claims_verified(item: Any) -> bool:
    """An acknowledgement whose ``acknowledged_by`` says it was verified."""
    if not _is_acknowledgement(item):
        return False
    by = item["data"].get("acknowledged_by")
    return isinstance(by, dict) and by.get("verified") is True


def _event_id(item: Any) -> str | None:
    found = item.get("id") if isinstance(item, dict) else None
    return found if isinstance(found, str) else None
