"""The conformance corpus through a running carepath: real broker, real processes, both channels.

Every timeline is moved to one start day (``shift.py``) and played twice at once - over FHIR (HTTP) and
over HL7 v2 (MLLP), the HL7 copy under its own patient id - through two intake processes (one per
hospital: Northgate reads local times as Europe/London, Riverbend as America/Chicago), triage and
followup, each started as in production with the example site file.

Time is a steered clock (``carepath.clock.SteeredClock``) shared by every process. It stands still at a
step's arrival time while the step is sent and the services finish with it - intake answered, triage and
followup past the last record (their ``carepath_consumer_position`` gauges), followup's next deadline
later than now - then jumps to the next step or to followup's next deadline
(``carepath_followup_next_due_timestamp_seconds``), whichever is first. So a deadline fires at the instant
it falls due and an escalation carries its step's time, whatever the load on the machine, and a month
of pathway runs in a minute or two.

What each copy published (``care.escalations`` and ``care.reminders``, read back from the broker) is
moved back to the timeline's own dates and compared with its ``expect`` by the reference replay's
``check``; the FHIR and HL7 copies of a timeline must publish the same escalations and reminders.

    python -m tests.conformance.stack_replay [--channel fhir|hl7] [TIMELINE_ID ...]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from kafka import KafkaConsumer, TopicPartition

from carepath import topics
from carepath.clock import steer
from carepath_tools.broker import free_port
from carepath_tools.devstack import Service, Stack
from tests.conformance import loader, shift
from tests.conformance.replay import CHANNELS, HORIZON, SITE, Output, check, issues

START_DAY = date(2026, 1, 12)  # every timeline starts on this day, at its own time of day
SITES = {"NGH": ("Europe/London", "NGH"), "RMC": ("America/Chicago", "RMC")}
SETTLE_TIMEOUT_S = 60.0  # real seconds the services get to finish one instant's work
TICK_S = 0.02  # followup's deadline scan, real seconds
CONSUMED = {
    "triage": (topics.CLINICAL_EVENTS,),
    "followup": (topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.ACKNOWLEDGEMENTS),
}
WATCHED = (topics.CLINICAL_EVENTS, topics.ESCALATIONS, topics.ACKNOWLEDGEMENTS, topics.REMINDERS)


@dataclass
class Copy:
    """One timeline on one channel, moved to the common start day."""

    original: loader.Timeline
    timeline: loader.Timeline
    channel: str
    delta: timedelta
    outputs: list[Output] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def patient(self) -> str:
        return str(self.timeline.patient["id"])

    @property
    def end(self) -> datetime:
        """Where the reference replay stops looking: the last step or deadline plus the horizon."""
        deadlines = [
            loader.parse_duration(d["by"]) for d in self.original.escalations + self.original.reminders
        ]
        return self.timeline.start + max([s.at for s in self.timeline.steps] + deadlines) + HORIZON

    @property
    def passed(self) -> bool:
        return not self.refusals and not self.failures


def copies(timelines: Sequence[loader.Timeline], channels: Sequence[str]) -> list[Copy]:
    out = []
    for tl in timelines:
        days = (START_DAY - tl.start.date()).days
        moved = shift.shift_timeline(tl, days)
        for channel in channels:
            renamed = shift.rename(moved, "H") if channel == "hl7" and len(channels) > 1 else moved
            out.append(Copy(tl, renamed, channel, timedelta(days=days)))
    return out


@dataclass
class Summary:
    copies: list[Copy]
    parked: int
    instants: int
    elapsed_s: float

    def lines(self) -> list[str]:
        out = []
        for channel in sorted({c.channel for c in self.copies}):
            mine = [c for c in self.copies if c.channel == channel]
            refused = sum(len(c.refusals) for c in mine)
            out.append(
                f"{channel}: {sum(c.passed for c in mine)}/{len(mine)} timelines passed, "
                f"{refused} inputs refused, expectations met {met(mine)}"
            )
        out.append(
            f"parked inputs {self.parked}; {self.instants} instants played in {self.elapsed_s:.0f} s; "
            f"differences between channels: {len(channel_differences(self.copies))}"
        )
        return out


def met(mine: Sequence[Copy]) -> str:
    wanted = sum(
        len(c.original.escalations)
        + len(c.original.reminders)
        + len(c.original.forbidden_escalations)
        + len(c.original.forbidden_reminders)
        for c in mine
    )
    return f"{wanted - sum(len(c.failures) for c in mine)}/{wanted}"


def published(c: Copy) -> Counter[tuple[str, ...]]:
    """What a clinician would be sent: each escalation change by rule, severity and time, each reminder."""
    seen: Counter[tuple[str, ...]] = Counter()
    for o in c.outputs:
        if o.kind == "escalation":
            kind = o.event["type"].rsplit(".", 2)[-2]
            seen[(kind, o.data["rule"]["id"], o.data["severity"], o.at.isoformat())] += 1
        else:
            seen[("reminder", o.data["expectation"]["id"], o.data["kind"], o.at.isoformat())] += 1
    return seen


def channel_differences(all_copies: Sequence[Copy]) -> list[str]:
    by_id: dict[str, dict[str, Copy]] = {}
    for c in all_copies:
        by_id.setdefault(c.original.id, {})[c.channel] = c
    out = []
    for tid, pair in sorted(by_id.items()):
        if len(pair) == 2 and published(pair["fhir"]) != published(pair["hl7"]):
            only_fhir = published(pair["fhir"]) - published(pair["hl7"])
            only_hl7 = published(pair["hl7"]) - published(pair["fhir"])
            out.append(f"{tid}: only over FHIR {sorted(only_fhir)}; only over HL7 {sorted(only_hl7)}")
    return out


# --- the stack ------------------------------------------------------------------------------------------


@dataclass
class Scrape:
    """What the replay reads from a worker's /metrics."""

    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    next_due: float = 0.0
    scans: int = 0


class Outputs:
    """Reads the topics the replay watches from their beginning, without a consumer group."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        tps = [TopicPartition(t, p) for t in WATCHED for p in range(topics.partitions())]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.tps = tps
        self.end: dict[tuple[str, int], int] = {}
        self.records: list[dict[str, Any]] = []

    def read(self) -> bool:
        """Read what has arrived; True when caught up with the broker's high-watermark everywhere."""
        while True:
            batches = self.consumer.poll(timeout_ms=20)
            for tp, batch in batches.items():
                for msg in batch:
                    self.end[(tp.topic, tp.partition)] = msg.offset + 1
                    if tp.topic in (topics.ESCALATIONS, topics.REMINDERS):
                        self.records.append(orjson.loads(msg.value) | {"_topic": tp.topic})
            if not batches:
                break
        for tp in self.tps:
            high = self.consumer.highwater(tp)
            if high is not None and high > self.end.get((tp.topic, tp.partition), 0):
                return False
        return True

    def close(self) -> None:
        self.consumer.close()


class Mllp:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, message: str) -> str:
        self.sock.sendall(b"\x0b" + message.encode() + b"\x1c\r")
        while b"\x1c\r" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("intake closed the MLLP connection without an ACK")
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(b"\x1c\r", 1)
        return frame.lstrip(b"\x0b").decode()

    def close(self) -> None:
        self.sock.close()


class StackReplay:
    def __init__(self, all_copies: list[Copy], log_dir: Path) -> None:
        self.copies = all_copies
        self.by_patient = {c.patient: c for c in all_copies}
        self.log_dir = log_dir
        self.clock_file = log_dir / "clock.json"
        self.instants = 0
        self.now = min(c.timeline.start for c in all_copies) - timedelta(hours=1)
        self.parked = 0

    # --- start and stop -------------------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[StackReplay]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        steer(self.clock_file, self.now)
        run = uuid.uuid4().hex[:8]
        stack = Stack(
            log_dir=self.log_dir,
            extra_env={
                "CAREPATH_ENVIRONMENT": "test",
                "CAREPATH_TIME_FILE": str(self.clock_file),
                "CAREPATH_TERMINOLOGY_SITE": str(SITE / "terminology.yaml"),
                "CAREPATH_FOLLOWUP_TICK_S": str(TICK_S),
                "CAREPATH_TRIAGE_GROUP_ID": f"carepath-triage-conformance-{run}",
                "CAREPATH_FOLLOWUP_GROUP_ID": f"carepath-followup-conformance-{run}",
            },
        )
        self.stack = stack
        try:
            bootstrap = stack.start_broker()
            followup_port = free_port()
            self.intakes: dict[str, Service] = {}
            self.mllp_ports: dict[str, int] = {}
            for site, (zone, authority) in SITES.items():
                mllp_port = free_port()
                self.mllp_ports[site] = mllp_port
                self.intakes[site] = stack.add(
                    f"intake-{site.lower()}",
                    "intake",
                    "CAREPATH_INTAKE_PORT",
                    {
                        "CAREPATH_SITE_TIMEZONE": zone,
                        "CAREPATH_INTAKE_MLLP_PATIENT_ID_AUTHORITY": authority,
                        "CAREPATH_INTAKE_MLLP_PORT": str(mllp_port),
                        "CAREPATH_INTAKE_FOLLOWUP_URL": f"http://127.0.0.1:{followup_port}",
                    },
                )
            self.workers = {
                "triage": stack.add("triage", "triage", "CAREPATH_TRIAGE_PORT"),
                "followup": stack.add("followup", "followup", "CAREPATH_FOLLOWUP_PORT", port=followup_port),
            }
            for svc in stack.services.values():
                svc.start()
            for svc in stack.services.values():
                svc.wait_ready(120)
            self.outputs = Outputs(bootstrap)
            self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {stack.token}"})
            self.mllp = {site: Mllp(port) for site, port in self.mllp_ports.items()}
            yield self
        finally:
            for client in getattr(self, "mllp", {}).values():
                client.close()
            if hasattr(self, "http"):
                self.http.close()
            if hasattr(self, "outputs"):
                self.outputs.close()
            stack.stop()

    # --- the replay -----------------------------------------------------------------------------------
    def play(self, progress: bool = False) -> None:
        pending = sorted(
            (
                (c.timeline.start + s.at, i, s.index)
                for i, c in enumerate(self.copies)
                for s in c.timeline.steps
            ),
        )
        end = max(c.end for c in self.copies)
        self.settle()
        while True:
            due = self.next_due()
            step_at = pending[0][0] if pending else None
            if due is not None and (step_at is None or due <= step_at):
                at, sending = due, False  # deadlines at an instant fire before the steps that arrive then
            elif step_at is not None:
                at, sending = step_at, True
            else:
                break
            if at > end:
                break
            if at > self.now:
                self.now = at
                steer(self.clock_file, at)
            self.instants += 1
            while sending and pending and pending[0][0] <= self.now:
                _, i, index = pending.pop(0)
                copy = self.copies[i]
                step = copy.timeline.steps[index]
                if step.about:
                    self.settle()  # the acknowledgement names an escalation raised just before it
                self.send(copy, step)
            self.settle()
            if progress and self.instants % 50 == 0:
                print(f"  {self.instants} instants, at {self.now:%Y-%m-%d %H:%M}", file=sys.stderr)
        self.collect()

    def send(self, c: Copy, step: loader.Step) -> None:
        where = f"step {step.index} ({step.description})"
        if c.channel == "hl7" and step.hl7:
            ack = self.mllp[c.timeline.site].send(step.hl7)
            segments = ack.split("\r")
            msa = next((s for s in segments if s.startswith("MSA")), "")
            code = msa.split("|")[1] if "|" in msa else "?"
            # AA, or CA: the commit acknowledgement a sender asking for enhanced mode gets (MSH-15 AL)
            if code not in ("AA", "CA"):
                errs = [s for s in segments if s.startswith(("MSA", "ERR"))]
                c.refusals.append(f"{where}: HL7 {code}: {' | '.join(errs)[:600]}")
            return
        text = self.acknowledging(c, step)
        doc = json.loads(text)
        base = self.intakes[c.timeline.site].url
        headers = {"Content-Type": "application/fhir+json"}
        if doc.get("resourceType") == "Bundle":
            r = self.http.post(f"{base}/fhir", content=text.encode(), headers=headers)
            body = r.json() if r.content else {}
            bad = [
                e["response"] for e in body.get("entry", []) if not e["response"]["status"].startswith("20")
            ]
            if r.status_code >= 300 or bad:
                c.refusals.append(f"{where}: FHIR {r.status_code}: {issues(body, bad)}")
        else:
            r = self.http.post(f"{base}/fhir/{doc['resourceType']}", content=text.encode(), headers=headers)
            if r.status_code >= 300:
                body = r.json() if r.content else {}
                c.refusals.append(f"{where}: FHIR {r.status_code}: {issues(body, [])}")

    def acknowledging(self, c: Copy, step: loader.Step) -> str:
        text = step.fhir_text
        if step.about and "escalation" in step.about:
            rule = step.about["escalation"]
            raised = [
                r
                for r in self.outputs.records
                if r["_topic"] == topics.ESCALATIONS
                and r.get("subject") == c.patient
                and r["data"]["rule"]["id"] == rule
            ]
            if raised:
                text = text.replace(f"{{{{escalation:{rule}}}}}", raised[0]["data"]["escalation_id"])
        return text

    # --- waiting for the services ----------------------------------------------------------------------
    def scrape(self, name: str) -> Scrape:
        r = self.http.get(f"{self.workers[name].url}/metrics")
        r.raise_for_status()
        out = Scrape()
        for line in r.text.splitlines():
            if line.startswith("carepath_consumer_position{"):
                labels, value = line[len("carepath_consumer_position{") :].rsplit("} ", 1)
                parts = dict(p.split("=", 1) for p in labels.split(","))
                key = (parts["topic"].strip('"'), int(parts["partition"].strip('"')))
                out.positions[key] = int(float(value))
            elif line.startswith("carepath_followup_next_due_timestamp_seconds "):
                out.next_due = float(line.rsplit(" ", 1)[1])
            elif line.startswith("carepath_followup_timer_scans_total "):
                out.scans = int(float(line.rsplit(" ", 1)[1]))
        return out

    def drained(self) -> tuple[bool, Scrape]:
        """Whether triage and followup are past every record read so far, and followup's timer state."""
        caught_up = self.outputs.read()
        ok = caught_up
        followup = Scrape()
        for name, consumed in CONSUMED.items():
            for svc in (self.workers[name], *self.intakes.values()):
                if not svc.running():
                    raise RuntimeError(f"{svc.name} exited; see {svc.log_path}")
            state = self.scrape(name)
            if name == "followup":
                followup = state
            for (topic, partition), end in self.outputs.end.items():
                if topic in consumed and state.positions.get((topic, partition), 0) < end:
                    ok = False
        return ok, followup

    def settle(self) -> None:
        """Wait until the services have finished with everything up to now (see the module text): triage
        and followup past every record, then two whole deadline scans of followup's timer with nothing new
        on any topic and no deadline at or before now left."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        mark: tuple[int, int] | None = None  # (records seen, timer scans) when everything was first caught up
        while True:
            ok, followup = self.drained()
            seen = sum(self.outputs.end.values())
            if not ok:
                mark = None
            elif mark is None or mark[0] != seen:
                mark = (seen, followup.scans)
            elif followup.scans >= mark[1] + 2 and not 0 < followup.next_due <= self.now.timestamp():
                self._next_due = followup.next_due
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"at {self.now.isoformat()}: the services did not finish within {SETTLE_TIMEOUT_S:.0f} s "
                    f"(caught up: {ok}, followup next due {followup.next_due}); logs in {self.log_dir}"
                )
            time.sleep(TICK_S)

    def next_due(self) -> datetime | None:
        due = getattr(self, "_next_due", 0.0)
        return datetime.fromtimestamp(due, self.now.tzinfo) if due > 0 else None

    # --- results --------------------------------------------------------------------------------------
    def collect(self) -> None:
        for r in self.outputs.records:
            c = self.by_patient.get(str(r.get("subject")))
            if c is None:
                continue
            at = datetime.fromisoformat(r["time"].replace("Z", "+00:00"))
            if at > c.end:
                continue  # after this timeline's horizon: the reference replay stops looking there
            kind = "escalation" if r["_topic"] == topics.ESCALATIONS else "reminder"
            c.outputs.append(Output(kind, at - c.delta, r))
        for c in self.copies:
            c.failures = check(c.original, c.outputs)
        self.parked = self.count_parked()

    def count_parked(self) -> int:
        reader = KafkaConsumer(
            bootstrap_servers=self.stack.bootstrap, group_id=None, enable_auto_commit=False
        )
        try:
            tps = [TopicPartition(topics.CLINICAL_EVENTS_PARKED, p) for p in range(topics.partitions())]
            reader.assign(tps)
            reader.seek_to_beginning(*tps)
            count = 0
            while batches := reader.poll(timeout_ms=500):
                count += sum(len(b) for b in batches.values())
            return count
        finally:
            reader.close()


def run(
    timelines: Sequence[loader.Timeline], channels: Sequence[str], log_dir: Path, progress: bool = False
) -> Summary:
    started = time.monotonic()
    replay = StackReplay(copies(timelines, channels), log_dir)
    with replay.running():
        replay.play(progress)
    return Summary(replay.copies, replay.parked, replay.instants, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=CHANNELS, action="append")
    parser.add_argument("--logs", type=Path, help="where the services' logs go (default: a temporary folder)")
    parser.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)
    timelines = [t for t in loader.load_all() if not args.ids or t.id in args.ids]
    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="carepath-conformance-"))
    summary = run(timelines, args.channel or CHANNELS, log_dir, progress=True)
    for c in summary.copies:
        print(f"{'pass' if c.passed else 'FAIL'} {c.original.id} {c.channel}")
        for line in c.refusals + c.failures:
            print(f"    {line}")
    for line in channel_differences(summary.copies):
        print(f"    {line}")
    for line in summary.lines():
        print(line)
    ok = all(c.passed for c in summary.copies) and not channel_differences(summary.copies)
    return 0 if ok and summary.parked == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
