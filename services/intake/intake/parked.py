"""python -m intake.parked report|replay: the input intake parked because of codes it did not know.

Input not read whole because a code is not in carepath's value sets (an HL7 message answered ``AE`` naming
the code, a FHIR resource refused ``code-invalid``, or stored with a part named as not read) is kept on
``clinical.events.parked`` (``schemas/parked-record.v1.schema.json``): the raw input, the reason, the codes
and the events stored from it.

    python -m intake.parked report [--json]     every code seen but not mapped, with the number of parked
                                                inputs that carry it and its code system, most frequent first
    python -m intake.parked replay [--park-again]
                                                read each parked input again with today's mapping (the site
                                                file in CAREPATH_TERMINOLOGY_SITE, the other intake settings)
                                                and publish to clinical.events what now reads

Both read the topic from its beginning to the end offsets it has when the command starts, then stop
(``--timeout`` bounds the reading). Progress goes to stderr, the result to stdout; neither prints patient
data.

``replay`` reads through the same code as intake (the HL7 handler, the FHIR channel) and publishes only
clinical events and acknowledgements: an input still not read whole is not parked again unless
``--park-again`` (a new parked record, which outlives the first one's retention), and nothing is
dead-lettered. Event ids are deterministic, but a fuller reading of the same input gives an event the id of
one stored when it first arrived with less in it, which triage and followup would drop as already seen.
So each event is placed against the events the parked record lists as stored: the same content goes out
under the id it was stored with (consumers de-duplicate it), an event whose id was stored with other content
goes out as ``<id>~replay-<digest>`` (the digest of its content, so the same reading replayed again is
de-duplicated too), and an event never stored keeps its own id.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from carepath import envelope, kafka_security, logs, topics
from carepath.deadletter import bounded_codes, content_digest
from carepath.settings import load
from carepath.topic_reader import read_topic_or_say
from intake import value_sets
from intake.acknowledging import CheckedIntake, TargetsUnchecked
from intake.dlq import system_label
from intake.fhir.channel import FhirChannel
from intake.fhir.codemap import load_code_map
from intake.hl7.config import load_config
from intake.hl7.handler import Hl7Intake
from intake.publisher import KafkaPublisher, Publisher, Record
from intake.service import Intake, Unavailable
from intake.settings import IntakeSettings

READ_TOPICS = frozenset({topics.CLINICAL_EVENTS, topics.ACKNOWLEDGEMENTS})
REPLAY_SENDER = "parked-replay"  # the sender stamped on what a replay publishes
REPLAY_MARK = "~replay-"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_TIMEOUT_S = 120.0
_ID_LIMIT = 200
_PROGRESS_EVERY = 100

# What became of a parked input read again.
WHOLE = "read whole"
PART = "read in part"
STILL = "still not read"
REFUSED = "refused for another reason"
SKIPPED = "could not be read again"
OUTCOMES = (WHOLE, PART, STILL, REFUSED, SKIPPED)


class ReplayError(RuntimeError):
    """The broker did not take what was read again: stop, nothing may be assumed published."""


# --- the records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parked:
    channel: str
    raw: bytes
    codes: tuple[tuple[str, str], ...]
    codes_not_listed: int = 0
    truncated: bool = False
    stored: tuple[tuple[str, str], ...] | None = None  # (event id, content digest); None: not known
    stored_complete: bool = True


def parse(value: bytes) -> Parked:
    """One parked record; ValueError when it is not one."""
    record = json.loads(value)
    if not isinstance(record, dict) or not isinstance(record.get("raw"), str):
        raise ValueError("not a parked record")
    raw = record["raw"]
    data = base64.b64decode(raw) if record.get("raw_encoding") == "base64" else raw.encode("utf-8")
    codes = tuple(
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in record.get("codes") or []
        if isinstance(c, dict)
    )
    listed = record.get("stored")
    stored = (
        tuple((str(e.get("id", "")), str(e.get("sha256", ""))) for e in listed if isinstance(e, dict))
        if isinstance(listed, list)
        else None
    )
    return Parked(
        channel=str(record.get("channel", "")),
        raw=data,
        codes=codes,
        codes_not_listed=int(record.get("codes_not_listed") or 0),
        truncated=bool(record.get("raw_truncated")),
        stored=stored,
        stored_complete=not record.get("stored_not_listed"),
    )


# --- report --------------------------------------------------------------------------------------------


def report(values: Sequence[bytes]) -> dict[str, Any]:
    """Each code seen but not mapped, with the number of parked inputs that carry it (an input counts once
    per code), its code system as sent and the name carepath gives that system (or ``local``)."""
    counts: Counter[tuple[str, str]] = Counter()
    by_channel: Counter[str] = Counter()
    not_listed = unreadable = 0
    for value in values:
        try:
            parked = parse(value)
        except ValueError:
            unreadable += 1
            continue
        by_channel[parked.channel] += 1
        listed, dropped = bounded_codes(parked.codes)  # what the record says, checked again
        counts.update({(c["system"], c["code"]) for c in listed})
        not_listed += parked.codes_not_listed + dropped
    return {
        "parked": sum(by_channel.values()),
        "by_channel": dict(sorted(by_channel.items())),
        "codes": [
            {"system": system, "code": code, "count": n, "label": system_label(system)}
            for (system, code), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ],
        "codes_not_listed": not_listed,
        "unreadable": unreadable,
    }


def print_report(found: dict[str, Any], out: TextIO = sys.stdout) -> None:
    channels = ", ".join(f"{k} {v}" for k, v in found["by_channel"].items())
    codes = found["codes"]
    print(
        f"{found['parked']} parked inputs{f' ({channels})' if channels else ''}; "
        f"{len(codes)} codes carepath does not know, most frequent first",
        file=out,
    )
    if codes:
        systems = [f"{c['system'] or '(no system)'} ({c['label']})" for c in codes]
        width = max(len("code system"), *(len(s) for s in systems))
        print(f"{'inputs':>6}  {'code system':<{width}}  code", file=out)
        for item, system in zip(codes, systems, strict=True):
            print(f"{item['count']:>6}  {system:<{width}}  {item['code']}", file=out)
    if found["codes_not_listed"]:
        print(
            f"{found['codes_not_listed']} more codes not listed (over 50 in one input, or not looking like "
            "a code: never copied)",
            file=out,
        )
    if found["unreadable"]:
        print(f"{found['unreadable']} records are not parked records and were skipped", file=out)


# --- replay --------------------------------------------------------------------------------------------


def replay_id(event_id: str, digest: str) -> str:
    """The id of an event read again whose own id was stored with other content."""
    suffix = f"{REPLAY_MARK}{digest[:12]}"
    return event_id[: _ID_LIMIT - len(suffix)] + suffix


@dataclass
class Placement:
    """Where the events read again from one parked input go: the ids it lists as stored, by content."""

    stored: tuple[tuple[str, str], ...] | None
    complete: bool
    unused: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_digest: dict[str, list[str]] = defaultdict(list)
        for event_id, digest in self.stored or ():
            by_digest[digest].append(event_id)
        self.unused = dict(by_digest)

    def id_for(self, event_id: str, digest: str) -> str:
        same = self.unused.get(digest)
        if same:  # this content was stored: under that id again, which consumers de-duplicate
            chosen = event_id if event_id in same else same[0]
            same.remove(chosen)
            return chosen
        # an id stored as <id>~replay-... (a record parked again by a replay) means <id> was stored too
        known = {i.split(REPLAY_MARK)[0] for i, _ in self.stored or ()}
        if self.stored is not None and self.complete and event_id not in known:
            return event_id  # never stored: its own id
        return replay_id(event_id, digest)  # its id was (or may have been) stored with other content


@dataclass
class Outcome:
    """What one input read again gave: events published, codes still unknown, other refusals."""

    published: int = 0
    unknown: set[tuple[str, str]] = field(default_factory=set)
    unknown_not_listed: int = 0
    dead_letters: int = 0
    parked: int = 0


class ReplayPublisher:
    """The publisher a replay's intake writes through: clinical events and acknowledgements go out, under
    the ids :class:`Placement` gives them; parked records only with ``park_again``; dead letters never.
    What each input gave is kept in :attr:`outcome`."""

    def __init__(self, inner: Publisher, *, park_again: bool = False) -> None:
        self.inner = inner
        self.park_again = park_again
        self.placement = Placement(None, False)
        self.outcome = Outcome()

    def begin(self, parked: Parked) -> None:
        self.placement = Placement(parked.stored, parked.stored_complete)
        self.outcome = Outcome()

    async def publish(self, records: Sequence[Record]) -> None:
        out: list[Record] = []
        renamed: dict[str, str] = {}
        for record in records:
            if record.topic in READ_TOPICS:
                event = envelope.decode(record.value)
                own = str(event["id"])
                placed = self.placement.id_for(own, content_digest(event))
                renamed[own] = placed
                if placed != own:
                    record = replace(record, value=envelope.encode({**event, "id": placed}))
                out.append(record)
        parked = [r for r in records if r.topic == topics.CLINICAL_EVENTS_PARKED]
        if self.park_again:
            out += [_renamed(r, renamed) for r in parked]
        await self.inner.publish(out)
        self.outcome.published += sum(1 for r in out if r.topic in READ_TOPICS)
        self.outcome.dead_letters += sum(1 for r in records if r.topic == topics.CLINICAL_EVENTS_DLQ)
        self.outcome.parked += len(parked)
        for record in parked:
            again = json.loads(record.value)
            self.outcome.unknown |= {(c["system"], c["code"]) for c in again.get("codes", [])}
            self.outcome.unknown_not_listed += int(again.get("codes_not_listed") or 0)

    async def reachable(self) -> bool:
        return await self.inner.reachable()

    async def close(self) -> None:
        await self.inner.close()


def _renamed(record: Record, renamed: dict[str, str]) -> Record:
    """A parked record written again: its stored events under the ids they were published with."""
    value = json.loads(record.value)
    for entry in value.get("stored", []):
        entry["id"] = renamed.get(entry["id"], entry["id"])
    return replace(record, value=envelope.encode(value))


def classify(parked: Parked, outcome: Outcome) -> str:
    before = {(c["system"], c["code"]) for c in bounded_codes(parked.codes)[0]}
    unknown_before = len(before) + parked.codes_not_listed
    unknown_now = len(outcome.unknown) + outcome.unknown_not_listed
    if unknown_now == 0:
        # an input refused whole or in part for something else (a dead letter that is not for a code)
        return REFUSED if outcome.dead_letters > outcome.parked else WHOLE
    if before - outcome.unknown or unknown_now < unknown_before:
        return PART
    return STILL


class Replay:
    """Each parked input read again through intake's own HL7 handler and FHIR channel."""

    def __init__(self, publisher: ReplayPublisher, hl7: Hl7Intake, fhir: FhirChannel) -> None:
        self.publisher = publisher
        self.hl7 = hl7
        self.fhir = fhir

    async def one(self, value: bytes) -> str:
        try:
            parked = parse(value)
        except ValueError:
            return SKIPPED
        if parked.truncated:
            return SKIPPED  # only its first bytes were kept: it cannot be read again
        self.publisher.begin(parked)
        if parked.channel == "mllp":
            reply = await self.hl7.handle(parked.raw)
            if reply.ack == "AR":
                raise ReplayError("the broker did not take the events read again (HL7 answer AR)")
        elif parked.channel == "fhir":
            try:
                doc = json.loads(parked.raw)
                resource_type = str(doc.get("resourceType", "")) if isinstance(doc, dict) else ""
            except ValueError:
                resource_type = ""
            try:
                await self.fhir.resource(resource_type, parked.raw)
            except Unavailable as exc:
                raise ReplayError(f"the broker did not take the events read again: {exc}") from None
            except TargetsUnchecked:
                return SKIPPED  # an acknowledgement followup could not check: nothing was stored
        else:
            return SKIPPED
        return classify(parked, self.publisher.outcome)

    async def run(self, values: Sequence[bytes], progress: TextIO = sys.stderr) -> Summary:
        summary = Summary()
        for n, value in enumerate(values, start=1):
            summary.outcomes[await self.one(value)] += 1
            summary.published += self.publisher.outcome.published
            summary.still.update(self.publisher.outcome.unknown)
            self.publisher.outcome = Outcome()
            if n % _PROGRESS_EVERY == 0:
                print(f"read again {n} of {len(values)}", file=progress, flush=True)
        return summary


@dataclass
class Summary:
    """A replay: how many inputs came to each outcome, how many events were published, and the codes still
    not known with the number of inputs that carry each."""

    outcomes: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(OUTCOMES, 0)))
    published: int = 0
    still: Counter[tuple[str, str]] = field(default_factory=Counter)


async def replay(
    settings: IntakeSettings, bootstrap: Sequence[str], values: Sequence[bytes], *, park_again: bool
) -> Summary:
    """Read ``values`` again with intake built from ``settings`` as the service builds it."""
    config = load_config(settings)  # the HL7 code mapping with the site's files
    try:
        term = value_sets.load(settings.terminology_site_files)
        fhir_codes = load_code_map(settings.fhir_codes, term=term)
    except Exception as exc:
        raise SystemExit(f"intake.parked: the value sets or the FHIR code map are invalid: {exc}") from None
    publisher = ReplayPublisher(
        KafkaPublisher(
            list(bootstrap),
            settings.profile,
            settings.publish_timeout_s,
            settings,
        ),
        park_again=park_again,
    )
    try:
        intake = Intake(
            publisher,
            settings.clock(),
            future_tolerance_s=settings.future_tolerance_s,
            dedup_capacity=settings.dedup_capacity,
            sender=REPLAY_SENDER,  # what the replay publishes says so; the parked record names the sender
        )
        hl7 = Hl7Intake(intake, config.codes, config.rules, config.options, intake.clock)
        checked = CheckedIntake(intake, settings.followup_url, settings.worker_credential)
        fhir = FhirChannel(checked, fhir_codes)
        return await Replay(publisher, hl7, fhir).run(values)
    finally:
        await publisher.close()


def print_replay(summary: Summary, out: TextIO = sys.stdout) -> None:
    outcomes = summary.outcomes
    print(
        f"{sum(outcomes.values())} parked inputs read again: "
        + ", ".join(f"{outcomes[name]} {name}" for name in OUTCOMES)
        + f"; {summary.published} events published to {topics.CLINICAL_EVENTS}",
        file=out,
    )
    if summary.still:
        print("codes still not known, most frequent first:", file=out)
        for (system, code), n in sorted(summary.still.items(), key=lambda item: (-item[1], item[0])):
            print(f"{n:>6}  {system or '(no system)'} ({system_label(system)})  {code}", file=out)


# --- command -------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        help="host:port[,host:port...] (default: KAFKA_BOOTSTRAP_SERVERS)",
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to read the topic to its end, at most (default {DEFAULT_TIMEOUT_S:.0f})",
    )
    parser = argparse.ArgumentParser(
        prog="python -m intake.parked",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "report", parents=[common], help="every code seen but not mapped, with its count and code system"
    )
    rep.add_argument("--json", action="store_true", help="the report as JSON")
    again = sub.add_parser(
        "replay", parents=[common], help="read every parked input again with the current mapping"
    )
    again.add_argument(
        "--park-again",
        action="store_true",
        help="park again an input still not read whole (a new record; by default it is left as it is)",
    )
    args = parser.parse_args(argv)
    bootstrap = [h.strip() for h in str(args.bootstrap).split(",") if h.strip()]
    logs.configure("intake-parked", "warning")  # log lines, if any, on stderr: stdout is the result
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # each retry of the client: the command says why
    settings = load(IntakeSettings) if args.command == "replay" else None  # before the topic is read
    values = read_topic_or_say(
        "intake.parked",
        bootstrap,
        topics.CLINICAL_EVENTS_PARKED,
        timeout_s=args.timeout,
        security=kafka_security.kafka_python_kwargs(settings or kafka_security.from_environment()),
    )
    if values is None:
        return 1
    if settings is None:
        found = report(values)
        if args.json:
            print(json.dumps(found, indent=2))
        else:
            print_report(found)
        return 0
    try:
        summary = asyncio.run(replay(settings, bootstrap, values, park_again=args.park_again))
    except ReplayError as exc:
        print(f"intake.parked: {exc}; run replay again once the broker answers", file=sys.stderr)
        return 1
    print_replay(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
