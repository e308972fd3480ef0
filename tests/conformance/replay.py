"""The reference replay: every timeline through intake's channels and the triage and followup cores, in
one process, on simulated time.

This is the conformance corpus's quick check and the reference the running stack is held to: each step
goes through intake exactly as a sender's message would (the FHIR channel, or the HL7 handler; Task and
Communication steps, which have no HL7 v2 form, by FHIR on both), every stored event through triage's
``evaluate`` and followup's ``advance`` at the step's arrival time, and followup's deadlines fire at the
instant they fall due. What was published is compared with the timeline's ``expect``.

    python -m tests.conformance.replay [--channel fhir|hl7] [TIMELINE_ID ...]

prints one line per timeline and channel and every unmet expectation, refusal and forbidden output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from carepath import envelope
from carepath.resources import pathways_dir
from followup.core import PatientExpectations, Tick, advance, parse_input
from followup.core import load_pathway as load_followup
from followup.core.pathway import FollowupPathway
from intake import value_sets
from intake.fhir.channel import FhirChannel
from intake.fhir.codemap import load_code_map
from intake.hl7.codes import load_codes
from intake.hl7.handler import Hl7Intake
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology_rules import load_rules
from intake.publisher import MemoryPublisher
from intake.service import Intake
from tests.conformance import loader
from triage.core import Pathway, PatientState, evaluate, parse_event
from triage.core import load_pathway as load_triage

CHANNELS = ("fhir", "hl7")
TIMEZONES = {"NGH": "Europe/London", "RMC": "America/Chicago"}
HORIZON = timedelta(days=2)  # how long after its last step or deadline a timeline keeps running
ESCALATION_SYSTEM = "https://carepath.example/escalation"
SITE = Path(__file__).resolve().parents[2] / "deploy" / "sites" / "example"


class SimClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass
class Output:
    kind: str  # escalation | reminder
    at: datetime
    event: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return self.event["data"]  # type: ignore[no-any-return]


@dataclass
class Run:
    timeline: loader.Timeline
    channel: str
    outputs: list[Output] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # one line per step (or part) not read and stored
    failures: list[str] = field(default_factory=list)  # unmet expectations and forbidden outputs

    @property
    def passed(self) -> bool:
        return not self.refusals and not self.failures


@dataclass(frozen=True)
class Readers:
    fhir: Any
    hl7: Any
    rules: Any
    triage: Pathway
    followup: FollowupPathway


@cache
def readers() -> Readers:
    """intake's code maps with the corpus hospitals' site files, and the pathway, read once."""
    site = SITE / "terminology.yaml"
    term = value_sets.load([site] if site.exists() else [])
    fhir_site = SITE / "fhir-codes.yaml"
    hl7_site = SITE / "hl7-codes.yaml"
    return Readers(
        fhir=load_code_map(fhir_site if fhir_site.exists() else None, term=term),
        hl7=load_codes([hl7_site] if hl7_site.exists() else [], term),
        rules=load_rules(),
        triage=load_triage(pathways_dir() / "mscc"),
        followup=load_followup(pathways_dir() / "mscc"),
    )


class Replay:
    """One timeline over one channel."""

    def __init__(self, timeline: loader.Timeline, channel: str) -> None:
        self.tl = timeline
        self.run = Run(timeline, channel)
        self.r = readers()
        self.clock = SimClock(timeline.start)
        self.publisher = MemoryPublisher()
        self.intake = Intake(self.publisher, self.clock, future_tolerance_s=300, dedup_capacity=10_000)
        self.fhir = FhirChannel(self.intake, self.r.fhir)
        options = MappingOptions(ZoneInfo(TIMEZONES[timeline.site]), (timeline.site,))
        self.hl7 = Hl7Intake(self.intake, self.r.hl7, self.r.rules, options, self.clock)
        self.triage = PatientState.empty(timeline.patient["id"])
        self.followup = PatientExpectations.empty(timeline.patient["id"])
        self.seen = 0  # publisher records already handed on

    async def go(self) -> Run:
        steps = sorted(self.tl.steps, key=lambda s: s.at)
        for step in steps:
            self.tick_until(self.tl.start + step.at)
            self.clock.at = self.tl.start + step.at
            await self.send(step)
            self.deliver()
        deadlines = [parse(d["by"]) for d in self.tl.escalations + self.tl.reminders]
        last = max([s.at for s in steps] + deadlines)
        self.tick_until(self.tl.start + last + HORIZON)
        self.run.failures = check(self.tl, self.run.outputs)
        return self.run

    # --- in ---------------------------------------------------------------------------------------------
    async def send(self, step: loader.Step) -> None:
        where = f"step {step.index} ({step.description})"
        if self.run.channel == "hl7" and step.hl7:
            reply = await self.hl7.handle(step.hl7.encode())
            if reply.ack != "AA":
                errs = [seg for seg in reply.text.split("\r") if seg.startswith(("MSA", "ERR"))]
                self.run.refusals.append(f"{where}: HL7 {reply.ack}: {' | '.join(errs)[:600]}")
            return
        text = self.acknowledging(step)
        raw = text.encode()
        doc = json.loads(text)
        if doc.get("resourceType") == "Bundle":
            answer = await self.fhir.bundle(raw, max_entries=100)
            bad = [
                e["response"]
                for e in answer.body.get("entry", [])
                if not e["response"]["status"].startswith("20")
            ]
            if answer.status >= 300 or bad:
                self.run.refusals.append(f"{where}: FHIR {answer.status}: {issues(answer.body, bad)}")
        else:
            answer = await self.fhir.resource(doc["resourceType"], raw)
            if answer.status >= 300:
                self.run.refusals.append(f"{where}: FHIR {answer.status}: {issues(answer.body, [])}")

    def acknowledging(self, step: loader.Step) -> str:
        text = step.fhir_text
        if step.about and "escalation" in step.about:
            rule = step.about["escalation"]
            raised = [o for o in self.run.outputs if o.kind == "escalation" and o.data["rule"]["id"] == rule]
            if raised:
                text = text.replace(f"{{{{escalation:{rule}}}}}", raised[0].data["escalation_id"])
        return text

    # --- through the cores ------------------------------------------------------------------------------
    def deliver(self) -> None:
        records = self.publisher.records[self.seen :]
        self.seen = len(self.publisher.records)
        now = self.clock.at
        for record in records:
            event = envelope.decode(record.value)
            if record.topic == "clinical.events":
                outcome = evaluate(self.triage, parse_event(event), now, self.r.triage)
                self.triage = outcome.state
                self.follow(event, now)
                for esc in outcome.escalations:
                    ce = envelope.decode(
                        envelope.encode(
                            envelope.cloudevent(
                                id=esc.cloudevent_id,
                                type=esc.type,
                                source="urn:carepath:triage",
                                subject=self.tl.patient["id"],
                                time=now,
                                data=esc.data,
                            )
                        )
                    )
                    self.run.outputs.append(Output("escalation", now, ce))
                    self.follow(ce, now)
            elif record.topic == "care.acknowledgements":
                self.follow(event, now)

    def follow(self, event: dict[str, Any], now: datetime) -> None:
        outcome = advance(self.followup, parse_input(event), now, self.r.followup)
        self.followup = outcome.expectations
        self.remind(outcome.reminders)

    def tick_until(self, until: datetime) -> None:
        while (due := self.followup.next_due()) is not None and due <= until:
            outcome = advance(self.followup, Tick(), due, self.r.followup)
            self.followup = outcome.expectations
            self.remind(outcome.reminders)
            if not outcome.reminders and self.followup.next_due() == due:
                break  # nothing fired and nothing moved: do not spin

    def remind(self, reminders: Sequence[Any]) -> None:
        for r in reminders:
            ce = {"type": r.type, "time": r.at.isoformat(), "data": r.data}
            self.run.outputs.append(Output("reminder", r.at, ce))


def parse(text: str) -> timedelta:
    return loader.parse_duration(text)


def issues(body: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    found = [i.get("diagnostics", "") for i in body.get("issue", []) if i.get("severity") != "information"]
    for entry in entries:
        found += [i.get("diagnostics", "") for i in entry.get("outcome", {}).get("issue", [])]
    return " | ".join(found)[:600]


def check(tl: loader.Timeline, outputs: Sequence[Output]) -> list[str]:
    """Every unmet expectation and every forbidden output, one line each."""
    failures: list[str] = []
    escalations = [o for o in outputs if o.kind == "escalation"]
    reminders = [o for o in outputs if o.kind == "reminder"]
    for want in tl.escalations:
        rule, severity, by = want["rule"], want["severity"], tl.start + parse(want["by"])
        mine = [o for o in escalations if o.data["rule"]["id"] == rule]
        on_time = [o for o in mine if o.data["severity"] == severity and o.at <= by]
        if not on_time:
            seen = ", ".join(f"{o.data['severity']} at +{o.at - tl.start}" for o in mine) or "never"
            failures.append(f"escalation {rule} {severity} by +{parse(want['by'])}: {seen}")
        if "count" in want:
            raised = {o.data["escalation_id"] for o in mine if o.event["type"].endswith(".raised.v1")}
            if len(raised) != want["count"]:
                failures.append(f"escalation {rule}: raised {len(raised)} times, expected {want['count']}")
    for want in tl.reminders:
        exp, kind, by = want["expectation"], want["kind"], tl.start + parse(want["by"])
        mine = [o for o in reminders if o.data["expectation"]["id"] == exp and o.data["kind"] == kind]
        if not [o for o in mine if o.at <= by]:
            seen = ", ".join(f"+{o.at - tl.start}" for o in mine) or "never"
            failures.append(f"reminder {exp} {kind} by +{parse(want['by'])}: {seen}")
    for rule in tl.forbidden_escalations:
        for o in escalations:
            if o.data["rule"]["id"] == rule and o.event["type"].endswith(".raised.v1"):
                failures.append(
                    f"forbidden escalation {rule} {o.data['severity']} raised at +{o.at - tl.start}"
                )
    for ban in tl.forbidden_reminders:
        for o in reminders:
            if o.data["expectation"]["id"] == ban["expectation"] and ban.get("kind") in (
                None,
                o.data["kind"],
            ):
                failures.append(
                    f"forbidden reminder {ban['expectation']} {o.data['kind']} at +{o.at - tl.start}"
                )
    return failures


async def replay(timeline: loader.Timeline, channel: str) -> Run:
    return await Replay(timeline, channel).go()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=CHANNELS, action="append")
    parser.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)
    timelines = [t for t in loader.load_all() if not args.ids or t.id in args.ids]
    passed = 0
    runs = 0
    for tl in timelines:
        for channel in args.channel or CHANNELS:
            run = asyncio.run(replay(tl, channel))
            runs += 1
            passed += run.passed
            print(f"{'pass' if run.passed else 'FAIL'} {tl.id} {channel}")
            for line in run.refusals + run.failures:
                print(f"    {line}")
    print(f"{passed}/{runs} timeline runs passed")
    return 0 if passed == runs else 1


if __name__ == "__main__":
    sys.exit(main())
