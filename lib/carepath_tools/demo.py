"""``make run``: the embedded broker, every service as its own process, and a live demo.

Replays ``demo/feed.yaml`` (realistic patient timelines) into intake over HTTP on a fast clock, and shows
escalations, reminders and dead letters as the services publish them, with the reason for each. A
clinician's acknowledgement is sent for the escalations the feed says someone acknowledges, so the
reminder chain can be seen to stop for those and to climb for the others. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import io
import queue
import re
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka.errors import KafkaError

from carepath import audit, envelope, topics, yamlfile
from carepath.render import render
from carepath.resources import ROOT
from carepath.topic_reader import read_topic
from carepath_tools.devstack import Stack, development_defaults

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m or text in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


@dataclass(frozen=True)
class Planned:
    at: timedelta
    patient: str
    event: dict[str, Any]


@dataclass(frozen=True)
class AckPlan:
    rule: str
    after: timedelta
    role: str


class Demo:
    def __init__(self, feed: dict[str, Any], stack: Stack, colour: bool) -> None:
        self.stack = stack
        self.colour = colour
        self.run = uuid.uuid4().hex[:4]
        self.start: datetime = stack.clock.now()
        self.plan: list[Planned] = []
        self.acks: dict[str, list[AckPlan]] = {}
        self.stories: dict[str, str] = {}
        for p in feed["patients"]:
            pid = f"{p['id']}-{self.run}"
            self.stories[pid] = " ".join(str(p.get("story", "")).split())
            for i, e in enumerate(p["events"]):
                self.plan.append(
                    Planned(duration(e["at"]), pid, {"type": e["type"], "data": e["data"], "n": i})
                )
            self.acks[pid] = [
                AckPlan(a["rule"], duration(a["after"]), a["role"]) for a in p.get("acknowledge", [])
            ]
        self.plan.sort(key=lambda x: x.at)
        self.pending_acks: queue.Queue[tuple[datetime, str, str, str]] = queue.Queue()
        self.stop = threading.Event()
        self.http = httpx.Client(
            base_url=stack.intake_url, headers={"Authorization": f"Bearer {stack.token}"}, timeout=30
        )
        self.seen: set[str] = set()
        # One line at a time on the terminal, and an event's line before anything it causes: the feed
        # holds this while it posts an event and says how it went, so the watcher's line for the
        # escalation the event raised waits for it (print from two threads can also mix two lines in one).
        self.output = threading.RLock()

    def stamp(self) -> str:
        elapsed = self.stack.clock.now() - self.start
        hours, rem = divmod(int(elapsed.total_seconds()), 3600)
        return f"[T+{hours:02d}:{rem // 60:02d}]"

    def say(self, text: str) -> None:
        self.line(f"{self.stamp()} {text}")

    def line(self, text: str) -> None:
        with self.output:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def post(self, patient: str, etype: str, data: dict[str, Any], event_id: str) -> None:
        event = envelope.cloudevent(
            id=event_id,
            type=etype,
            source="urn:carepath:demo-feed",
            subject=patient,
            time=self.stack.clock.now(),
            data=data,
        )
        short = etype.removeprefix("carepath.").removesuffix(".v1").replace(".", " ").replace("_", " ")
        with self.output:
            r = self.http.post("/v1/events", json=event)
            if r.status_code == 202:
                self.say(f"-> {patient}: {short} {_summary(data)}")
            else:
                body = r.json()
                self.say(
                    f"-> {patient}: {short} REFUSED {r.status_code}: {body.get('error') or body.get('detail')}"
                )

    def watch(self, bootstrap: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=50)
        wanted = (topics.ESCALATIONS, topics.REMINDERS, topics.CLINICAL_EVENTS_DLQ)
        tps = [TopicPartition(t, p) for t in wanted for p in sorted(consumer.partitions_for_topic(t) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        patients = set(self.stories)
        while not self.stop.is_set():
            for tp, msgs in consumer.poll(timeout_ms=100).items():
                for m in msgs:
                    try:
                        rec = envelope.decode(m.value)
                    except ValueError:
                        continue  # not ours: the demo shows only its own patients
                    if tp.topic == topics.CLINICAL_EVENTS_DLQ:
                        if not any(p in str(rec.get("raw", "")) for p in patients):
                            continue
                    elif rec.get("subject") not in patients or rec.get("id") in self.seen:
                        continue
                    self.seen.add(str(rec.get("id")))
                    self.line(
                        f"{self.stamp()} "
                        + render(tp.topic, m.value, colour=self.colour, time_scale=self.stack.time_scale)
                    )
                    self._plan_ack(rec)
        consumer.close()

    def _plan_ack(self, rec: dict[str, Any]) -> None:
        if rec.get("type") != "carepath.escalation.raised.v1":
            return
        data = rec["data"]
        for plan in self.acks.get(rec["subject"], []):
            if data["rule"]["id"] == plan.rule:
                due = self.stack.clock.now() + plan.after
                self.pending_acks.put((due, rec["subject"], data["escalation_id"], plan.role))

    def run_feed(self, until: float | None) -> None:
        acks: list[tuple[datetime, str, str, str]] = []
        plan = list(self.plan)
        while not self.stop.is_set():
            now = self.stack.clock.now()
            while plan and self.start + plan[0].at <= now:
                p = plan.pop(0)
                self.post(p.patient, p.event["type"], p.event["data"], f"{p.patient}-e{p.event['n']}")
            while not self.pending_acks.empty():
                acks.append(self.pending_acks.get())
            for ack in [a for a in acks if a[0] <= now]:
                acks.remove(ack)
                _, patient, esc_id, role = ack
                self.post(
                    patient,
                    "carepath.escalation.acknowledged.v1",
                    {"target_id": esc_id, "role": role},
                    f"{patient}-ack-{esc_id}",
                )
            if not plan and not acks and until is None and not getattr(self, "_said_done", False):
                self._said_done = True
                self.say("feed complete; reminders keep coming while deadlines pass (Ctrl-C to stop)")
                if "worklist" in self.stack.services:
                    self.say(f"the alerts, live, with acknowledgement: {self.stack.worklist_url}/")
            if until is not None and time.monotonic() > until:
                return
            time.sleep(0.05)


def _summary(data: dict[str, Any]) -> str:
    parts = []
    for k, v in data.items():
        if isinstance(v, list):
            v = ", ".join(
                f"{x.get('code')} ({x.get('certainty')})" if isinstance(x, dict) else str(x) for x in v
            )
        elif isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        parts.append(f"{k}={v}")
    text = "; ".join(parts)
    return f"({text[:150]}{'...' if len(text) > 150 else ''})"


def export(feed: dict[str, Any], out: Path, origin: datetime) -> int:
    """Write the feed as CloudEvents JSON lines (clinical time from ``origin``) for the triage backtest."""
    events = []
    for p in feed["patients"]:
        for i, e in enumerate(p["events"]):
            at = origin + duration(e["at"])
            events.append(
                envelope.cloudevent(
                    id=f"{p['id']}-e{i}",
                    type=e["type"],
                    source="urn:carepath:demo-feed",
                    subject=p["id"],
                    time=at,
                    data=e["data"],
                )
            )
    events.sort(key=lambda ev: ev["time"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(envelope.encode(ev) + b"\n" for ev in events))
    print(f"wrote {len(events)} events for {len(feed['patients'])} patients to {out}")
    return 0


def timeliness(stack: Stack) -> None:
    """The pathway timeliness audit of what the demo did so far (what python -m carepath.audit prints)."""
    assert stack.bootstrap
    try:
        values = read_topic([stack.bootstrap], topics.AUDIT, timeout_s=15, progress=io.StringIO())
    except (TimeoutError, OSError, KafkaError) as exc:
        print(f"(no timeliness report: {type(exc).__name__})", flush=True)
        return
    records, bad = audit.decode(values)
    now = stack.clock.now()
    print("\n--- python -m carepath.audit: the demo's pathway steps, on time or not ---", flush=True)
    audit.print_report(audit.report(records, stack.origin - timedelta(days=1), now, now, bad))
    sys.stdout.flush()


WORKLIST_PORT = 6070  # the worklist page's usual port, so its address is the same every time when free


def _free_or_none(port: int) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return None
    return port


def main(argv: list[str] | None = None) -> int:
    development_defaults()
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--feed", type=Path, default=ROOT / "demo" / "feed.yaml")
    parser.add_argument("--time-scale", type=float, default=None, help="simulated seconds per real second")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many real seconds")
    parser.add_argument("--log-dir", type=Path, default=ROOT / ".run" / "logs")
    parser.add_argument("--no-colour", action="store_true")
    parser.add_argument("--export", type=Path, help="write the feed as CloudEvents JSON lines and exit")
    args = parser.parse_args(argv)

    try:
        feed = yamlfile.load(args.feed, "demo-feed")
    except yamlfile.YamlFileError as exc:  # a key written twice, unknown or of the wrong type: named, not run
        print(f"carepath demo: {exc}", file=sys.stderr)
        return 2
    if args.export:
        return export(feed, args.export, datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    scale = float(args.time_scale or feed.get("time_scale", 3600))
    stack = Stack(
        log_dir=args.log_dir, time_scale=scale, worklist=True, worklist_port=_free_or_none(WORKLIST_PORT)
    )
    # Ctrl-C stops the demo even when a shell started it with SIGINT ignored (a background job of a script:
    # Python then keeps SIG_IGN and Ctrl-C or kill -INT would do nothing); SIGTERM the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(
        f"carepath demo: clock x{scale:g} (24 h of care in {24 * 3600 / scale:.0f} s). Logs: {args.log_dir}"
    )
    try:
        print("starting the broker ...", flush=True)
        bootstrap = stack.start_broker()
        where = f" (embedded, in memory, pid {stack.broker.pid})" if stack.broker else ""
        print(f"  broker at {bootstrap}{where}", flush=True)
        stack.add_services()
        for svc in stack.services.values():
            print(f"starting {svc.name} ...", flush=True)
            svc.wait_ready(90)
            pid = svc.proc.pid if svc.proc else "?"
            print(f"  {svc.name} ready (pid {pid}): {svc.url}/metrics", flush=True)
        print(f"  intake API docs: {stack.intake_url}/docs  (token: {stack.token})")
        print(f"\n  WORKLIST PAGE:   {stack.worklist_url}/  (development login: any name, no password)\n")
        print(f"  HL7 v2 (MLLP):   127.0.0.1:{stack.services['intake'].env['CAREPATH_INTAKE_MLLP_PORT']}")
        print(
            f"  tail a topic:    .venv/bin/python -m carepath.tail care.escalations --bootstrap {bootstrap}\n"
        )
        demo = Demo(feed, stack, colour=not args.no_colour and sys.stdout.isatty())
        for pid, story in demo.stories.items():
            print(f"  {pid}: {story}")
        print()
        watcher = threading.Thread(target=demo.watch, args=(bootstrap,), daemon=True)
        watcher.start()
        until = time.monotonic() + args.duration if args.duration else None
        demo.run_feed(until)
        demo.stop.set()
        watcher.join(5)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        if stack.bootstrap and stack.services:
            timeliness(stack)
        stack.stop()
        print("stopped: broker and services.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
