"""python -m intake.parked report|replay: what intake parked because of codes it did not know.

Input that was not read whole because a code is not in carepath's value sets (an HL7 message answered
``AE`` naming the code, a FHIR resource refused ``code-invalid``, or stored with a part named as not read)
is kept on ``clinical.events.parked`` with the raw input, the reason and the codes.

    python -m intake.parked report [--json]   every code seen but not mapped, with its count, most first
    python -m intake.parked replay            read each parked input again with today's mapping (the site
                                              file in CAREPATH_TERMINOLOGY_SITE) and publish what now reads

Both read the topic from its beginning to the end it has when the command starts, then stop. ``replay``
publishes only clinical events: an input still not read is left where it is (it is not parked twice), and
an input whose other parts were published when it first arrived gives the same event ids again, which
intake and the workers de-duplicate. Progress goes to stderr; the summary to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from carepath import envelope, topics
from carepath.settings import load
from intake import value_sets
from intake.fhir.channel import FhirChannel
from intake.fhir.codemap import load_code_map
from intake.hl7.config import load_config
from intake.hl7.handler import Hl7Intake
from intake.publisher import KafkaPublisher, Publisher, Record
from intake.service import Intake
from intake.settings import IntakeSettings

READ_TOPICS = frozenset({topics.CLINICAL_EVENTS, topics.ACKNOWLEDGEMENTS})
_POLL_MS = 1000


@dataclass(frozen=True)
class Parked:
    channel: str
    raw: bytes
    codes: tuple[tuple[str, str], ...]
    truncated: bool


def parse(value: bytes) -> Parked:
    record = json.loads(value)
    raw = record.get("raw", "")
    data = base64.b64decode(raw) if record.get("raw_encoding") == "base64" else raw.encode("utf-8")
    codes = tuple((str(c.get("system", "")), str(c.get("code", ""))) for c in record.get("codes") or [])
    return Parked(str(record.get("channel", "")), data, codes, bool(record.get("raw_truncated")))


def read_topic(bootstrap: list[str], topic: str = topics.CLINICAL_EVENTS_PARKED) -> Iterator[bytes]:
    """Every record of ``topic`` from the beginning to the end offsets it has now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > consumer.position(tp)}
        while left:
            batch = consumer.poll(timeout_ms=_POLL_MS)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp] and message.value is not None:
                        yield message.value
            left = {tp for tp in left if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close()


# What the report prints as a code: what looks like one (as intake logs codes). A "code" that is free text
# (a sender putting words in CWE-1) may name a patient: it is counted, never printed.
_CODE = re.compile(r"^[A-Za-z0-9._:/*+-]{1,40}$")
_SYSTEM = re.compile(r"^[A-Za-z0-9._:/*+#-]{0,200}$")


def report(values: Sequence[bytes]) -> dict[str, Any]:
    counts: Counter[tuple[str, str]] = Counter()
    by_channel: Counter[str] = Counter()
    not_shown = 0
    for value in values:
        parked = parse(value)
        by_channel[parked.channel] += 1
        shown = [(s, c) for s, c in parked.codes if _CODE.match(c) and _SYSTEM.match(s)]
        not_shown += len(parked.codes) - len(shown)
        counts.update(dict.fromkeys(shown, 1))
    return {
        "parked": sum(by_channel.values()),
        "by_channel": dict(by_channel),
        "codes": [
            {"system": system, "code": code, "count": n}
            for (system, code), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ],
        "not_shown": not_shown,
    }


REPLAYED = "~replayed"


class ClinicalOnly:
    """A publisher that passes on clinical events and acknowledgements only: a replay never dead-letters
    or parks an input a second time. Each event read again gets the id it had with ``~replayed`` after it:
    the parts of an HL7 message read when it first arrived were published under its own ids, and the
    workers, which process an id once, would take the fuller reading of the same id for a resend. A second
    replay of the same input gives the same ids, so it is processed once."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    async def publish(self, records: Sequence[Record]) -> None:
        await self.inner.publish([_replayed(r) for r in records if r.topic in READ_TOPICS])

    async def reachable(self) -> bool:
        return await self.inner.reachable()

    def close(self) -> None:
        self.inner.close()


def _replayed(record: Record) -> Record:
    event = envelope.decode(record.value)
    event_id = str(event.get("id", ""))
    if event_id.endswith(REPLAYED) or len(event_id) + len(REPLAYED) > 200:
        return record
    return replace(record, value=envelope.encode({**event, "id": event_id + REPLAYED}))


async def replay(values: Sequence[bytes], hl7: Hl7Intake, fhir: FhirChannel) -> Counter[str]:
    outcome: Counter[str] = Counter()
    for n, value in enumerate(values, start=1):
        parked = parse(value)
        if parked.truncated:
            outcome["not read (kept only in part)"] += 1
        elif parked.channel == "mllp":
            reply = await hl7.handle(parked.raw)
            if reply.ack == "AA":
                outcome["read whole"] += 1
            elif "|AE|" in reply.text or "|AR|" in reply.text:
                outcome["still not read whole"] += 1
        elif parked.channel == "fhir":
            try:
                resource_type = str(json.loads(parked.raw).get("resourceType", ""))
            except ValueError:
                resource_type = ""
            answer = await fhir.resource(resource_type, parked.raw)
            warned = any(i.get("severity") == "warning" for i in answer.body.get("issue", []))
            if answer.status < 300 and not warned:
                outcome["read whole"] += 1
            elif answer.status < 300:
                outcome["read in part"] += 1
            else:
                outcome["still not read whole"] += 1
        else:
            outcome[f"channel {parked.channel[:20]!r} not replayed"] += 1
        if n % 100 == 0:
            print(f"replayed {n} of {len(values)}", file=sys.stderr, flush=True)
    return outcome


async def _replay(settings: IntakeSettings, values: Sequence[bytes]) -> Counter[str]:
    publisher = ClinicalOnly(
        KafkaPublisher(settings.bootstrap_list, settings.profile, settings.publish_timeout_s)
    )
    try:
        intake = Intake(
            publisher,
            settings.clock(),
            future_tolerance_s=settings.future_tolerance_s,
            dedup_capacity=settings.dedup_capacity,
        )
        config = load_config(settings)
        term = value_sets.load(settings.terminology_site_files)
        hl7 = Hl7Intake(intake, config.codes, config.rules, config.options, intake.clock)
        fhir = FhirChannel(intake, load_code_map(settings.fhir_codes, term=term))
        return await replay(values, hl7, fhir)
    finally:
        publisher.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m intake.parked", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="every code seen but not mapped, with its count")
    rep.add_argument("--json", action="store_true", help="the report as JSON")
    sub.add_parser("replay", help="read every parked input again with the current mapping")
    args = parser.parse_args(argv)
    settings = load(IntakeSettings)
    print(f"reading {topics.CLINICAL_EVENTS_PARKED} ...", file=sys.stderr, flush=True)
    values = list(read_topic(settings.bootstrap_list))
    print(f"{len(values)} parked records", file=sys.stderr, flush=True)
    if args.command == "report":
        found = report(values)
        if args.json:
            print(json.dumps(found, indent=2))
            return 0
        print(
            f"{found['parked']} parked inputs ({', '.join(f'{k} {v}' for k, v in found['by_channel'].items())})"
        )
        print(f"{'count':>6}  code system / code")
        for item in found["codes"]:
            print(f"{item['count']:>6}  {item['system'] or '(no system)'} | {item['code']}")
        if found["not_shown"]:
            print(
                f"{found['not_shown']} codes not shown: they do not look like codes (free text is never printed)"
            )
        return 0
    outcome = asyncio.run(_replay(settings, values))
    print(
        f"{len(values)} parked inputs read again: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcome.items()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
