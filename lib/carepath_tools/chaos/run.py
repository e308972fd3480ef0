"""One chaos run: a whole stack, the feed at a steady rate, SIGKILLs at random (or none) or a schedule of
membership changes (:mod:`carepath_tools.chaos.schedule`), the drain, and what came out (escalations and
reminders on their topics, deliveries at the webhook).

The stack: the broker (embedded, or ``KAFKA_BOOTSTRAP_SERVERS`` with consumer groups of the run's own
started at the end of their topics), intake, triage and followup workers (two of each unless told
otherwise; one consumer group per service, each worker on its own port and canonical URL), and the
notifier delivering every escalation and reminder to a :class:`~carepath_tools.chaos.receiver.Receiver`. Every
process reads one steered clock file, held at :data:`~carepath_tools.chaos.feed.EPOCH` until the feed starts.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from carepath import envelope, topics
from carepath.clock import SteeredClock, steer
from carepath_tools.broker import EmbeddedBroker, free_port
from carepath_tools.chaos.feed import EPOCH, Feed
from carepath_tools.chaos.feed import build as build_feed
from carepath_tools.chaos.monitor import INPUTS, TP, Monitor
from carepath_tools.chaos.receiver import Receiver
from carepath_tools.chaos.schedule import Change, Scheduler, Segment, Step
from carepath_tools.devstack import Service, Stack

PORT_VARS = {
    "intake": "CAREPATH_INTAKE_PORT",
    "triage": "CAREPATH_TRIAGE_PORT",
    "followup": "CAREPATH_FOLLOWUP_PORT",
    "notifier": "CAREPATH_NOTIFIER_PORT",
}
ROLES = ("triage", "followup", "notifier", "intake")
WEBHOOK_SECRET_ENV = "CHAOS_WEBHOOK_SECRET"  # noqa: S105 - the name of the variable, not a secret
OUTPUTS = (topics.ESCALATIONS, topics.REMINDERS)
IN_DOUBT = "carepath_notifier_redeliveries_in_doubt_total"
STALLED_LAG = 300  # records behind on a worker's inputs that count as a stalled pipeline
WORKERS: Mapping[str, int] = {"triage": 2, "followup": 2}  # workers of each stateful service at the start


@dataclass(frozen=True)
class Params:
    events: int = 10_000
    patients: int = 1_000
    rate: float = 250.0  # events per second, in requests every 0.1 s
    scale: float = 3600.0  # simulated seconds per real second
    lead_s: float = 25.0  # real seconds from a patient's request to the end of its timeline
    window_s: float = 30.0  # real seconds after the last timeline in which deadlines are compared
    kills: int = 20
    seed: int = 1
    pause_s: tuple[float, float] = (0.2, 2.0)  # before a killed worker is started again
    victims: tuple[str, ...] = ROLES
    ready_timeout_s: float = 120.0
    drain_timeout_s: float = 180.0

    @property
    def cutoff_offset_s(self) -> float:
        """Real seconds after the feed start (plus the feed) up to which due deadlines are compared."""
        return self.lead_s + self.window_s

    def feed(self) -> Feed:
        """The deterministic feed these parameters describe (the same for every run compared)."""
        return build_feed(
            events=self.events,
            min_patients=self.patients,
            rate=self.rate,
            scale=self.scale,
            lead_s=self.lead_s,
            seed=self.seed,
        )


@dataclass
class KillRecord:
    n: int
    victim: str
    role: str
    at_s: float  # after the feed started
    pause_s: float
    ready_s: float | None = None  # kill -> the restarted worker answers /readyz
    caught_up_s: float | None = None  # kill -> what was on the role's inputs at the kill processed (intake:
    # the next request accepted)
    resumed_s: float | None = None  # kill -> both: the worker back and the pipeline past the kill
    error: str | None = None


@dataclass
class Output:
    name: str
    escalations: list[tuple[str, bytes]]  # (CloudEvent id, record value), topic order per partition
    reminders: list[tuple[str, datetime, bytes]]  # (reminder id, due_at, record value)
    deliveries: Counter[str]  # 2xx answers at the webhook per idempotency key
    attempts: dict[str, list[str]]
    kills: list[KillRecord]
    cutoff: datetime
    posted_events: int
    post_retries: int
    post_errors: list[str]
    drained: bool
    drain_note: str
    republished: float  # carepath_followup_reminders_republished_total, over every followup process
    in_doubt: float  # carepath_notifier_redeliveries_in_doubt_total, over every notifier process
    elapsed_s: float
    log_dir: Path
    monitor_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)  # a schedule's membership changes
    segments: list[Segment] = field(default_factory=list)  # throughput between them (see the schedule)
    schedule_error: str | None = None


Say = Callable[[str], None]


class _Workers:
    """The stack's processes by name, with which of them are being restarted."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.lock = threading.Lock()
        self.restarting: set[str] = set()

    def role(self, name: str) -> str:
        return name.split("-")[0]

    def eligible(self, roles: tuple[str, ...]) -> list[str]:
        """Workers that may be killed now: running, not restarting, and (for a role with two workers) with
        the other worker up, so a role is never wholly down."""
        with self.lock:
            down = set(self.restarting)
        out = []
        for name, svc in self.stack.services.items():
            role = self.role(name)
            if role not in roles or name in down or not svc.running():
                continue
            siblings = [n for n in self.stack.services if self.role(n) == role and n != name]
            if any(n in down for n in siblings):
                continue
            out.append(name)
        return sorted(out)


def run(
    params: Params,
    feed: Feed,
    log_dir: Path,
    *,
    faulty: bool,
    tag: str,
    say: Say,
    workers: Mapping[str, int] = WORKERS,
    steps: Sequence[Step] | None = None,
    min_segment_s: float = 4.0,
    name: str | None = None,
    embedded: bool = False,
    hold_clock_at_end: bool = False,
) -> Output:
    """One run. ``faulty``: SIGKILLs at random (``params.kills``). ``steps``: membership changes on a
    schedule instead, measured (an empty schedule measures throughput only). ``embedded``: a broker of the
    run's own even when ``KAFKA_BOOTSTRAP_SERVERS`` is set (a topic set of this process's partition count).
    ``hold_clock_at_end``: the clock stands still from the end of the observed timeline (past the cutoff)
    while the run drains, instead of running on and firing deadlines nothing compares."""
    started = time.monotonic()
    name = name or ("faulty" if faulty else "fault-free")
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    clock_file = log_dir / "clock.json"
    steer(clock_file, EPOCH, 0.0)  # held still until the feed starts
    external = not embedded and bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    suffix = f"-chaos-{tag}-{name}" if external else ""
    groups = {role: f"carepath-{role}{suffix}" for role in ("triage", "followup", "notifier")}
    receiver = Receiver().start()
    config = log_dir / "endpoints.yaml"
    config.write_text(
        json.dumps(
            {
                "endpoints": [
                    {
                        "name": "ward",
                        "url": receiver.url,
                        "secret_env": WEBHOOK_SECRET_ENV,
                        "receive": {"escalations": {}, "reminders": {}},
                        "retry": {"attempts": 50, "base_s": 0.2, "cap_s": 1.0},
                    }
                ]
            }
        )
    )
    extra_env = {
        "CAREPATH_TIME_FILE": str(clock_file),
        # timelines end lead_s real seconds ahead of the clock (see carepath_tools.chaos.feed)
        "CAREPATH_INTAKE_FUTURE_TOLERANCE_S": str(int((params.lead_s + 60) * params.scale)),
        "CAREPATH_TRIAGE_GROUP_ID": groups["triage"],
        "CAREPATH_FOLLOWUP_GROUP_ID": groups["followup"],
        "CAREPATH_NOTIFIER_GROUP_ID": groups["notifier"],
        "CAREPATH_LOG_LEVEL": os.environ.get("CAREPATH_CHAOS_LOG_LEVEL", "warning"),
    }
    own_broker = EmbeddedBroker(log_path=log_dir / "broker.log") if embedded else None
    stack = Stack(
        log_dir=log_dir,
        time_scale=params.scale,
        extra_env=extra_env,
        bootstrap=own_broker.bootstrap if own_broker else None,
        profile="embedded" if own_broker else None,
    )
    monitor: Monitor | None = None
    try:
        if own_broker:
            own_broker.start()
        bootstrap = stack.start_broker()
        start_offsets: dict[TP, int] = {}
        if external:
            start_offsets = _start_at_end(bootstrap, groups)
        _add_services(stack, config, receiver, workers)
        _start_all(stack, params.ready_timeout_s, say)
        monitor = Monitor(bootstrap, groups, start_offsets).begin()
        pool = _Workers(stack)
        clock = SteeredClock(clock_file)
        cutoff = EPOCH + timedelta(seconds=(feed.duration_s + params.cutoff_offset_s) * params.scale)

        steer(clock_file, EPOCH, params.scale)  # simulated time runs from EPOCH, now
        t0 = time.monotonic()
        feeder = _Feeder(stack, feed, t0)
        feeder.thread.start()
        pacer = _Pacer(clock_file, clock, params.scale, feeder, monitor).begin()
        kills: list[KillRecord] = []
        killer: threading.Thread | None = None
        republished_at_kill: list[float] = []  # counters of the processes killed or stopped, read just before
        in_doubt_at_kill: list[float] = []
        scheduler: Scheduler | None = None
        if steps is not None:

            def before_stop(svc: Service) -> None:
                if svc.name.startswith("followup"):
                    republished_at_kill.append(_scrape(svc, "carepath_followup_reminders_republished_total"))
                if svc.name.startswith("notifier"):
                    in_doubt_at_kill.append(_scrape(svc, IN_DOUBT))

            scheduler = Scheduler(
                steps=steps,
                roles=tuple(workers),
                stack=stack,
                monitor=monitor,
                port_vars=PORT_VARS,
                before_stop=before_stop,
                feed=feeder.thread,
                t0=t0,
                duration_s=feed.duration_s,
                min_segment_s=min_segment_s,
                timeout_s=params.ready_timeout_s,
                say=lambda m: say(f"[{name}] {m}"),
            ).begin()
        if faulty and params.kills:
            active_end = feed.duration_s + params.cutoff_offset_s * 0.85
            killer = threading.Thread(
                target=_kill_loop,
                args=(
                    params,
                    pool,
                    monitor,
                    feeder,
                    t0,
                    active_end,
                    kills,
                    republished_at_kill,
                    in_doubt_at_kill,
                    say,
                ),
                name="chaos-killer",
                daemon=True,
            )
            killer.start()
        say(
            f"[{name}] feeding {feed.events:,} events for {feed.patients:,} patients over "
            f"{feed.duration_s:.0f} s"
            + (f", {params.kills} kills" if faulty and params.kills else "")
            + (f", {len(steps)} scheduled changes" if steps else "")
        )
        end = cutoff + timedelta(seconds=2 * params.scale)
        give_up = t0 + feed.duration_s + params.cutoff_offset_s + params.drain_timeout_s
        next_say = time.monotonic() + 10
        while (
            clock.now() < end
            or feeder.thread.is_alive()
            or (killer and killer.is_alive())
            or (scheduler and scheduler.alive())
        ):
            time.sleep(0.2)
            if time.monotonic() >= next_say:
                next_say += 10
                say(
                    f"[{name}] t={time.monotonic() - t0:.0f}s posted {feeder.posted:,} "
                    f"deliveries {sum(receiver.snapshot()[0].values()):,} kills {len(kills)}"
                    + (f" changes {len(scheduler.changes)}" if scheduler else "")
                    + f" clock held {pacer.held_s:.0f}s"
                )
            if time.monotonic() > give_up:
                break
        pacer.stop()
        if hold_clock_at_end:  # nothing falls due after this, so the notifier's backlog can only shrink
            steer(clock_file, clock.now(), 0.0)
        drained, note = _drain(stack, monitor, params.drain_timeout_s, clock, cutoff)
        say(f"[{name}] {'drained' if drained else 'NOT drained'}: {note}")
        # No more reminders from here on, then the notifier's last deliveries: the topics and the webhook
        # are read at rest, so every id published is seen at both.
        republished_at_stop = [
            _scrape(svc, "carepath_followup_reminders_republished_total")
            for n, svc in stack.services.items()
            if n.startswith("followup") and svc.running()
        ]
        for n, svc in stack.services.items():
            if n.startswith("followup"):
                svc.stop()
        if drained:
            drained, note = _drain(
                stack, monitor, params.drain_timeout_s, clock, cutoff, stopped=("followup",)
            )
        republished = sum(republished_at_kill) + sum(republished_at_stop)
        in_doubt = sum(in_doubt_at_kill) + _scrape(stack.services["notifier"], IN_DOUBT)
        start_out = {tp: o for tp, o in start_offsets.items() if tp[0] in OUTPUTS}
        escalations = [
            (str(envelope.decode(v)["id"]), v) for v in _read(bootstrap, topics.ESCALATIONS, start_out)
        ]
        reminders = []
        for v in _read(bootstrap, topics.REMINDERS, start_out):
            doc = envelope.decode(v)
            reminders.append((str(doc["id"]), envelope.parse_time(str(doc["data"]["due_at"])), v))
        deliveries, attempts = receiver.snapshot()
        _keep(log_dir, escalations, reminders, attempts)
        changelogs = _keep_changelogs(log_dir, bootstrap) if own_broker else {}
        followup_log = changelogs.get(f"{groups['followup']}-followup-expectations-changelog")
        return Output(
            name=name,
            escalations=escalations,
            reminders=reminders,
            deliveries=deliveries,
            attempts=attempts,
            kills=kills,
            cutoff=cutoff,
            posted_events=feeder.posted,
            post_retries=feeder.retries,
            post_errors=feeder.errors,
            drained=drained,
            drain_note=note,
            republished=republished,
            in_doubt=in_doubt,
            elapsed_s=time.monotonic() - started,
            log_dir=log_dir,
            monitor_error=monitor.error,
            extra={
                "clock_held_s": round(pacer.held_s, 1),
                "input_partitions": len({tp[1] for tp in monitor.highwaters("triage")}),
                "followup_states_emptied": emptied_states(followup_log) if followup_log is not None else None,
            },
            changes=scheduler.changes if scheduler else [],
            segments=scheduler.segments if scheduler else [],
            schedule_error=(scheduler.error or ("still running" if scheduler.alive() else None))
            if scheduler
            else None,
        )
    finally:
        if monitor is not None:
            monitor.stop()
        stack.stop()
        if own_broker:
            own_broker.stop()
        receiver.stop()


# --- the stack ----------------------------------------------------------------------------------------------


def _add_services(stack: Stack, config: Path, receiver: Receiver, workers: Mapping[str, int]) -> None:
    followup_ports = [free_port() for _ in range(workers["followup"])]
    stack.add(
        "intake",
        "intake",
        PORT_VARS["intake"],
        {
            "CAREPATH_INTAKE_FOLLOWUP_URL": f"http://127.0.0.1:{followup_ports[0]}",
            "CAREPATH_INTAKE_MLLP_PORT": str(free_port()),
        },
    )
    for i in range(1, workers["triage"] + 1):
        stack.add(f"triage-{i}", "triage", PORT_VARS["triage"])
    for i, port in enumerate(followup_ports, start=1):
        # Its own port, so its own canonical URL: the group's workers route worklist reads by it.
        stack.add(f"followup-{i}", "followup", PORT_VARS["followup"], port=port)
    secret = {WEBHOOK_SECRET_ENV: "chaos-webhook-secret-chaos-webhook-secret"}
    stack.add(
        "notifier", "notifier", PORT_VARS["notifier"], {"CAREPATH_NOTIFIER_CONFIG": str(config)} | secret
    )


def _start_all(stack: Stack, timeout: float, say: Say) -> None:
    for svc in stack.services.values():
        svc.start()
    for svc in stack.services.values():
        try:
            svc.wait_ready(timeout)
        except RuntimeError as exc:  # a free port taken in between: once more on a new one
            if "address already in use" not in str(exc) or svc.name.startswith("followup"):
                raise
            say(f"{svc.name}: port taken, starting again on another")
            svc.stop()
            svc.port = free_port()
            svc.env = svc.env | {PORT_VARS[svc.name.split("-")[0]]: str(svc.port)}
            svc.start()
            svc.wait_ready(timeout)


def _start_at_end(bootstrap: str, groups: dict[str, str]) -> dict[TP, int]:
    """On a shared cluster: the run's groups start at the end of their inputs; returns where every input
    and output topic ends now (where this run's records begin)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    names = sorted({t for ts in INPUTS.values() for t in ts} | set(OUTPUTS))
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, client_id="carepath-chaos")
    try:
        tps = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(tps)
    finally:
        consumer.close()
    for role, group in groups.items():
        committer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        try:
            committer.commit(
                {tp: OffsetAndMetadata(ends[tp], "", -1) for tp in tps if tp.topic in INPUTS[role]}
            )
        finally:
            committer.close()
    return {(tp.topic, tp.partition): int(o) for tp, o in ends.items()}


# --- the feed -----------------------------------------------------------------------------------------------


class _Feeder:
    """Posts the feed's requests on schedule; on a refused connection, a timeout or a 5xx it sends the same
    request again, as an integration engine does (intake answers a resent event as a harmless duplicate)."""

    def __init__(self, stack: Stack, feed: Feed, t0: float) -> None:
        self.stack, self.feed, self.t0 = stack, feed, t0
        self.posted = 0
        self.retries = 0
        self.errors: list[str] = []
        self.accepted_at: list[float] = []  # monotonic times of 202 answers
        self.next_at = 0.0  # planned offset of the request being sent
        self.thread = threading.Thread(target=self._run, name="chaos-feed", daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.stack.token}", "Content-Type": "application/json"}
        url = f"{self.stack.intake_url}/v1/events"
        with httpx.Client(headers=headers, timeout=15) as http:
            for req in self.feed.requests:
                self.next_at = req.at_s
                delay = self.t0 + req.at_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                give_up = time.monotonic() + 180
                while True:
                    try:
                        r = http.post(url, content=req.body)
                        if r.status_code == 202:
                            self.posted += req.events
                            self.accepted_at.append(time.monotonic())
                            break
                        if r.status_code < 500 and r.status_code != 429:
                            self.errors.append(f"{r.status_code} {r.text[:200]}")
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > give_up:
                        self.errors.append("intake did not accept a request within 180 s")
                        break
                    self.retries += 1
                    time.sleep(0.2)

    def behind_s(self) -> float:
        """Real seconds the feed is behind its plan (0 once it is all sent)."""
        if not self.thread.is_alive():
            return 0.0
        return max(time.monotonic() - self.t0 - self.next_at, 0.0)


class _Pacer:
    """Holds the shared clock while the pipeline is stalled: the feed behind its plan (intake down, or
    a machine too busy to keep the rate), or triage or followup more than :data:`STALLED_LAG` records
    behind their inputs (a worker killed and its partitions not yet taken over). The feed's clinical
    times were planned for a clock that runs with the feed; holding the clock keeps every deadline at
    least ``lead_s`` of running clock after its patient's events were in, however long a stall lasts,
    so the two runs stay comparable by id. Deadlines fire while the pipeline runs, kills included."""

    def __init__(self, path: Path, clock: SteeredClock, scale: float, feeder: _Feeder, monitor: Monitor):
        self.path, self.clock, self.scale, self.feeder, self.monitor = path, clock, scale, feeder, monitor
        self.held_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-pacer", daemon=True)

    def begin(self) -> _Pacer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def stalled(self) -> bool:
        return (
            self.feeder.behind_s() > 1.0
            or self.monitor.lag("triage") > STALLED_LAG
            or self.monitor.lag("followup") > STALLED_LAG
        )

    def _run(self) -> None:
        held_at: datetime | None = None
        since = 0.0
        while not self._stop.wait(0.1):
            stalled = self.stalled()
            if stalled and held_at is None:
                held_at, since = self.clock.now(), time.monotonic()
                steer(self.path, held_at, 0.0)
            elif not stalled and held_at is not None:
                steer(self.path, held_at, self.scale)
                self.held_s += time.monotonic() - since
                held_at = None
        if held_at is not None:
            steer(self.path, held_at, self.scale)
            self.held_s += time.monotonic() - since


# --- the kills ----------------------------------------------------------------------------------------------


def _kill_loop(
    params: Params,
    workers: _Workers,
    monitor: Monitor,
    feeder: _Feeder,
    t0: float,
    active_end: float,
    kills: list[KillRecord],
    republished_at_kill: list[float],
    in_doubt_at_kill: list[float],
    say: Say,
) -> None:
    rng = random.Random(params.seed)
    moments = sorted(rng.uniform(1.0, active_end) for _ in range(params.kills))
    restarts: list[threading.Thread] = []
    for n, at in enumerate(moments, start=1):
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        while not (choices := workers.eligible(params.victims)):
            time.sleep(0.1)
        roles = sorted({workers.role(c) for c in choices})
        role = rng.choice(roles)
        victim = rng.choice([c for c in choices if workers.role(c) == role])
        svc = workers.stack.services[victim]
        record = KillRecord(n, victim, role, time.monotonic() - t0, rng.uniform(*params.pause_s))
        if role == "followup":
            republished_at_kill.append(_scrape(svc, "carepath_followup_reminders_republished_total"))
        if role == "notifier":
            in_doubt_at_kill.append(_scrape(svc, IN_DOUBT))
        marks = monitor.highwaters(role) if role in INPUTS else {}
        with workers.lock:
            workers.restarting.add(victim)
        killed_at = time.monotonic()
        svc.kill()
        kills.append(record)
        say(f"kill {n:>2}: {victim} at t={record.at_s:.1f}s, restart after {record.pause_s:.1f}s")
        thread = threading.Thread(
            target=_restart,
            args=(params, workers, monitor, feeder, svc, record, killed_at, marks),
            name=f"chaos-restart-{n}",
            daemon=True,
        )
        thread.start()
        restarts.append(thread)
    for thread in restarts:
        thread.join()


def _restart(
    params: Params,
    workers: _Workers,
    monitor: Monitor,
    feeder: _Feeder,
    svc: Service,
    record: KillRecord,
    killed_at: float,
    marks: dict[TP, int],
) -> None:
    watcher = threading.Thread(
        target=_watch_backlog, args=(params, monitor, feeder, record, killed_at, marks), daemon=True
    )
    watcher.start()
    try:
        time.sleep(record.pause_s)
        svc.start()
        svc.wait_ready(params.ready_timeout_s)
        record.ready_s = time.monotonic() - killed_at
    except Exception as exc:
        record.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        with workers.lock:
            workers.restarting.discard(svc.name)
    watcher.join()
    if record.ready_s is not None and record.caught_up_s is not None:
        record.resumed_s = max(record.ready_s, record.caught_up_s)


def _watch_backlog(
    params: Params,
    monitor: Monitor,
    feeder: _Feeder,
    record: KillRecord,
    killed_at: float,
    marks: dict[TP, int],
) -> None:
    """Until the pipeline is past the kill: the group (survivor or restarted worker) has processed what was
    on its inputs at the kill; for intake, a request is accepted again (or the feed is over)."""
    deadline = killed_at + params.ready_timeout_s + params.drain_timeout_s
    while time.monotonic() < deadline:
        if record.role == "intake":
            if any(t > killed_at for t in feeder.accepted_at[-5:]) or not feeder.thread.is_alive():
                break
        elif monitor.caught_up(record.role, marks):
            break
        time.sleep(0.1)
    else:
        record.error = record.error or "backlog at the kill not processed"
        return
    record.caught_up_s = time.monotonic() - killed_at


# --- the end ----------------------------------------------------------------------------------------------


def _drain(
    stack: Stack,
    monitor: Monitor,
    timeout: float,
    clock: SteeredClock,
    cutoff: datetime,
    stopped: tuple[str, ...] = (),
) -> tuple[bool, str]:
    """Until every group has processed its inputs, every due deadline has fired and the notifier has
    nothing pending, twice in a row half a second apart; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    calm = 0
    why = ""
    while time.monotonic() < deadline:
        why = _busy(stack, monitor, clock, cutoff, stopped)
        calm = calm + 1 if not why else 0
        if calm >= 3:
            return True, "every input processed, every due deadline fired, nothing pending delivery"
        time.sleep(0.5)
    return False, f"still busy after {timeout:.0f} s: {why}"


def _busy(
    stack: Stack, monitor: Monitor, clock: SteeredClock, cutoff: datetime, stopped: tuple[str, ...]
) -> str:
    if clock.now() < cutoff:
        return "clock before the cutoff"
    down = [n for n, s in stack.services.items() if not s.running() and n.split("-")[0] not in stopped]
    if down:
        return f"not running: {', '.join(down)}"
    for role in ("triage", "followup", "notifier"):
        if role in stopped:
            continue
        lag = monitor.lag(role)
        if lag:
            return f"{role} lag {lag}"
    for n, svc in stack.services.items():
        if n.startswith("followup") and svc.running() and _scrape(svc, "carepath_timer_backlog"):
            return f"{n} has deadlines due and not fired"
    if _scrape(stack.services["notifier"], "carepath_notifier_pending"):
        return "notifier has deliveries pending"
    return ""


def _keep(
    log_dir: Path,
    escalations: list[tuple[str, bytes]],
    reminders: list[tuple[str, datetime, bytes]],
    attempts: dict[str, list[str]],
) -> None:
    """What the run produced, beside its logs, for a closer look (synthetic patients only)."""
    (log_dir / "escalations.jsonl").write_bytes(b"".join(v + b"\n" for _, v in escalations))
    (log_dir / "reminders.jsonl").write_bytes(b"".join(v + b"\n" for _, _, v in reminders))
    (log_dir / "webhook.json").write_text(json.dumps(attempts, indent=0, sort_keys=True))


def _scrape(svc: Service, metric: str) -> float:
    """The sum of ``metric``'s samples on ``svc``'s /metrics page (0 when it does not answer)."""
    try:
        text = httpx.get(f"{svc.url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        if line.startswith(metric) and line[len(metric) : len(metric) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def emptied_states(followup_changelog: list[bytes]) -> int:
    """Records of followup's table that hold a patient with no input seen: a state followup never writes
    itself (its first write for a patient records the input that caused it), so each is a patient's
    expectations written over with nothing, which the partition's next owner would read back."""
    return sum(1 for v in followup_changelog if not envelope.decode(v).get("seen"))


def _keep_changelogs(log_dir: Path, bootstrap: str) -> dict[str, list[bytes]]:
    """Every table changelog of the run's own broker, record by record in each partition's order, beside
    its logs: which states were written, and in what order, is what a lost reminder is traced back to.
    Returned by topic."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="carepath-chaos-reader")
    try:
        names = sorted(t for t in admin.list_topics() if t.endswith("-changelog"))
    finally:
        admin.close()
    kept = {name: _read(bootstrap, name, {}) for name in names}
    for name, values in kept.items():
        (log_dir / f"{name}.jsonl").write_bytes(b"".join(v + b"\n" for v in values))
    return kept


def _read(bootstrap: str, topic: str, start: dict[TP, int]) -> list[bytes]:
    """Every record of ``topic`` from ``start`` (default: its beginning) to its fetch high-watermark."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="carepath-chaos-reader",
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get((topic, tp.partition), 0))
        ends: dict[Any, int] = {}
        values: list[bytes] = []
        deadline = time.monotonic() + 120
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within 120 s")
            for tp, messages in consumer.poll(timeout_ms=200, max_records=20000).items():
                end = ends.get(tp)
                values += [
                    m.value for m in messages if (end is None or m.offset < end) and m.value is not None
                ]
            for tp in tps:
                if tp not in ends and (high := consumer.highwater(tp)) is not None:
                    ends[tp] = high
            if len(ends) == len(tps) and all(consumer.position(tp) >= ends[tp] for tp in tps):
                return values
    finally:
        consumer.close()
