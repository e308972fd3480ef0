"""Membership changes on a schedule during a run, and what each one costs, measured from outside.

A :class:`Step` at a fraction of the feed's planned duration does one thing to each of its roles: start
another worker (``start``), stop the newest with SIGTERM (``sigterm``: it stops its fetcher, commits and
leaves its group) or kill the newest with SIGKILL (``sigkill``: no goodbye; its group notices when the
member's session times out). A killed worker is not started again: the survivors take its partitions over,
reading their tables back from the changelogs. A step waits until the previous change of each of its
roles is over and its segment (below) has lasted ``min_segment_s``, so every worker count is seen under
the feed however slow the machine.

Measured for each change and role, by polling every worker's ``/readyz`` every :data:`POLL_S`, the
workers' ``carepath_consumer_position`` (the next offset each will process, per input partition) and the
consumer group's committed offsets (:class:`~carepath_tools.chaos.monitor.Monitor`, every 0.25 s):

* **began**: for a start, the first poll at which a worker already in the group answers not ready (it
  has seen the rebalance the newcomer's join caused); for a SIGTERM or SIGKILL, the signal (the stopped
  worker's partitions stall from then on);
* **rebalanced**: after the group was seen rebalancing, every running worker of the role answers ready
  again: the new assignment received, its tables recovered;
* **resumed**: every running worker answers ready, what was on every input partition at *began* (its
  high-watermark as the monitor last saw it) has been processed - by a running worker's own position or
  the group's committed offset (a SIGTERMed worker commits on its way out) - and, for a stop, every
  partition of the feed's topic the stopped worker was processing has been processed past where it was
  by its new owner;
* **committed**: the group's committed offsets alone are past those high-watermarks: what a worker
  starting now would skip, and what lag-based autoscaling sees.

The **pause** is *began* to *resumed*. Where the polls are far apart (a starved machine) a rebalance can
fall between two of them: a start is then counted from the poll before its worker answered ready (an upper
bound), a stop from its signal as always, and the change is marked not observed (``Change.observed``).
A stop whose rebalance fell between polls after the feed had ended is over once every running worker
answers ready and the group's committed offsets are past those high-watermarks (no new input: the stopped
worker's partitions have nothing for their new owners to process past where it was); marked not observed.

Between changes, each role's **segment**: from the end of one change's pause (or the feed's start) to
the next change's *began* (or the feed's end), with the workers in the group through it, the input
records processed per second (as for *resumed*: by the workers' positions or the committed offsets) and
those workers' processor time (user + system, from /proc) per record. A worker being started is not in it
until its join: its start-up is not counted.
"""

from __future__ import annotations

import signal
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from carepath import topics
from carepath_tools.bench.probes import cpu_seconds
from carepath_tools.broker import free_port
from carepath_tools.chaos.monitor import TP, Monitor
from carepath_tools.devstack import Service, Stack

START, SIGTERM, SIGKILL = "start", "sigterm", "sigkill"
ACTIONS = (START, SIGTERM, SIGKILL)
POLL_S = 0.1
STOP_GRACE_S = 60.0  # a SIGTERMed worker that has not exited by then is SIGKILLed, and the change fails

Say = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    at: float  # fraction of the feed's planned duration
    action: str  # START, SIGTERM or SIGKILL
    roles: tuple[str, ...] = ("triage", "followup")


# 1 -> 2 -> 3 workers, then one stopped in order and one killed: 3 -> 2 -> 1.
SCALE_OUT: tuple[Step, ...] = (
    Step(0.2, START),
    Step(0.4, START),
    Step(0.6, SIGTERM),
    Step(0.8, SIGKILL),
)


@dataclass
class Change:
    n: int  # the step, from 1
    role: str
    action: str
    worker: str
    at_s: float  # after the feed started: the process launched or the signal sent
    workers: int  # running workers of the role once the change is over
    began_s: float | None = None  # after the feed started (see the module's docstring)
    rebalanced_s: float | None = None  # from began
    resumed_s: float | None = None  # from began: the pause
    committed_s: float | None = None  # from began: the group's committed offsets past the marks too
    started_s: float | None = None  # start: launch -> the new worker answers ready
    stopped_s: float | None = None  # sigterm: signal -> the process exited
    exit_code: int | None = None
    observed: bool = True  # False: no poll saw the group rebalancing (see Scheduler._watch_with)
    error: str | None = None


@dataclass
class Segment:
    role: str
    workers: int
    from_s: float  # after the feed started
    to_s: float
    records: int  # input records processed (by the workers' positions, or committed by the group)
    cpu_s: float  # processor time of the role's workers

    @property
    def seconds(self) -> float:
        return self.to_s - self.from_s

    @property
    def per_s(self) -> float | None:
        return self.records / self.seconds if self.seconds > 0 else None

    @property
    def cpu_us(self) -> float | None:
        return self.cpu_s / self.records * 1e6 if self.records else None


def pauses(changes: Sequence[Change], measure: str = "resumed_s") -> dict[str, float] | None:
    """n, median and max of the pauses measured (or of another of the changes' durations)."""
    values = [v for c in changes if (v := getattr(c, measure)) is not None]
    if not values:
        return None
    return {"n": len(values), "p50": round(statistics.median(values), 2), "max": round(max(values), 2)}


def positions(workers: Sequence[Service], client: httpx.Client | None = None) -> dict[TP, int]:
    """The next offset to process of every input partition, by the workers' own account (the highest
    ``carepath_consumer_position`` any of them reports)."""
    found: dict[TP, int] = {}
    for svc in workers:
        try:
            text = (client or httpx).get(f"{svc.url}/metrics", timeout=2).text
        except httpx.HTTPError:
            continue
        for line in text.splitlines():
            if not line.startswith("carepath_consumer_position{"):
                continue
            labels, _, value = line.rpartition(" ")
            tags = dict(part.split("=", 1) for part in labels[labels.index("{") + 1 : -1].split(","))
            tp = (tags["topic"].strip('"'), int(tags["partition"].strip('"')))
            found[tp] = max(found.get(tp, 0), int(float(value)))
    return found


def _held(svc: Service, others: Sequence[Service]) -> dict[TP, int]:
    """The partitions of the feed's topic ``svc`` is processing now, with its position on each: those where
    its position is ahead of every other worker's (another's lower figure is from an earlier assignment)."""
    mine, theirs = positions([svc]), positions(others)
    return {
        tp: offset
        for tp, offset in mine.items()
        if tp[0] == topics.CLINICAL_EVENTS and offset > theirs.get(tp, 0)
    }


def ready(client: httpx.Client, svc: Service) -> bool | None:
    """True when ``svc`` answers ``/readyz`` with 200, False with another status, None without an answer."""
    try:
        return client.get(f"{svc.url}/readyz").status_code == 200
    except httpx.HTTPError:
        return None


class Scheduler:
    """Runs ``steps`` in a thread from the feed's start ``t0``; with no steps it only measures one segment
    per role over the whole feed (a reference run's figures)."""

    def __init__(
        self,
        *,
        steps: Sequence[Step],
        roles: Sequence[str],
        stack: Stack,
        monitor: Monitor,
        port_vars: Mapping[str, str],
        before_stop: Callable[[Service], None],
        feed: threading.Thread,
        t0: float,
        duration_s: float,
        min_segment_s: float,
        timeout_s: float,
        say: Say,
    ) -> None:
        self.steps, self.roles, self.stack, self.monitor = list(steps), tuple(roles), stack, monitor
        self.port_vars, self.before_stop, self.feed = port_vars, before_stop, feed
        self.t0, self.duration_s, self.min_segment_s, self.timeout_s = (
            t0,
            duration_s,
            min_segment_s,
            timeout_s,
        )
        self.say = say
        self.changes: list[Change] = []
        self.segments: list[Segment] = []
        self.retired: list[Service] = []
        self.error: str | None = None
        self._lock = threading.Lock()
        self._open: dict[
            str, tuple[float, int, dict[int, float]]
        ] = {}  # role -> (from_s, records, cpu by pid)
        self._busy: dict[str, threading.Thread] = {}
        self._numbers = {r: len(self.workers(r)) for r in self.roles}  # names used so far, per role
        self.thread = threading.Thread(target=self._run, name="scale-schedule", daemon=True)

    def begin(self) -> Scheduler:
        for role in self.roles:
            self._open_segment(role)
        self.thread.start()
        return self

    def alive(self) -> bool:
        return self.thread.is_alive()

    # --- the workers ---------------------------------------------------------------------------------------
    def workers(self, role: str) -> list[Service]:
        """The role's running workers, oldest first."""
        with self._lock:
            found = [s for n, s in self.stack.services.items() if n.split("-")[0] == role and s.running()]
        return sorted(found, key=lambda s: int(s.name.rsplit("-", 1)[1]))

    def _launch(self, role: str) -> Service:
        with self._lock:
            self._numbers[role] += 1
            name = f"{role}-{self._numbers[role]}"
            # Its own port, so its own canonical URL (followup's workers route reads by it).
            svc = self.stack.add(name, role, self.port_vars[role], port=free_port())
        svc.start()
        return svc

    def _retire(self, svc: Service) -> None:
        with self._lock:
            self.stack.services.pop(svc.name, None)
            self.retired.append(svc)

    # --- segments ------------------------------------------------------------------------------------------
    def _open_segment(self, role: str) -> None:
        """From now until the role's next change, with the workers in its group now."""
        if not self.feed.is_alive():  # a segment measures the workers under the feed: none once it has ended
            return
        workers = self.workers(role)
        cpu = {s.proc.pid: c for s in workers if s.proc and (c := cpu_seconds(s.proc.pid)) is not None}
        self._open[role] = (time.monotonic() - self.t0, self.monitor.processed(role, positions(workers)), cpu)

    def _close_segment(self, role: str) -> None:
        opened = self._open.pop(role, None)
        if opened is None:
            return
        from_s, records, cpu = opened
        used = sum(now - then for pid, then in cpu.items() if (now := cpu_seconds(pid)) is not None)
        done = self.monitor.processed(role, positions(self.workers(role)))
        to_s = time.monotonic() - self.t0
        self.segments.append(
            Segment(
                role,
                len(cpu),
                round(from_s, 2),
                round(to_s, 2),
                done - records,
                round(used, 3),
            )
        )

    # --- the schedule --------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            for n, step in enumerate(self.steps, start=1):
                self._wait_for(step)
                for role in step.roles:
                    change = Change(n, role, step.action, "", 0.0, 0)
                    self.changes.append(change)
                    thread = threading.Thread(
                        target=self._change, args=(change,), name=f"scale-{n}-{role}", daemon=True
                    )
                    self._busy[role] = thread
                    thread.start()
            deadline = max(time.monotonic(), self.t0 + self.duration_s) + self.timeout_s + STOP_GRACE_S + 10
            while time.monotonic() < deadline and (
                self.feed.is_alive() or any(t.is_alive() for t in self._busy.values())
            ):
                self._end_of_feed()
                time.sleep(POLL_S)
            self._end_of_feed()
        except Exception as exc:  # reported with the run's other failures
            self.error = f"{type(exc).__name__}: {exc}"

    def _end_of_feed(self) -> None:
        """Once the feed has ended, the segments open end with it."""
        if not self.feed.is_alive():
            for role in self.roles:
                self._close_segment(role)

    def _wait_for(self, step: Step) -> None:
        planned = self.t0 + step.at * self.duration_s
        deadline = planned + self.timeout_s + STOP_GRACE_S
        while time.monotonic() < deadline:
            busy = [r for r in step.roles if (t := self._busy.get(r)) is not None and t.is_alive()]
            opened = [self._open.get(r) for r in step.roles]
            young = any(
                o is not None and time.monotonic() - self.t0 - o[0] < self.min_segment_s for o in opened
            )
            if time.monotonic() >= planned and not busy and not young:
                return
            self._end_of_feed()
            time.sleep(POLL_S)
        raise TimeoutError(f"step {step} could not begin: the previous change is not over")

    def _change(self, change: Change) -> None:
        role = change.role
        try:
            if change.action == START:
                svc = self._launch(role)
                launched = time.monotonic()
                change.worker, change.at_s = svc.name, round(launched - self.t0, 2)
                self.say(f"step {change.n}: {svc.name} started at t={change.at_s:.1f}s")
                self._watch(change, svc, launched, stopping=None)
            else:
                running = self.workers(role)
                if len(running) < 2:
                    raise RuntimeError(f"{role}: {len(running)} worker(s) running, none to stop")
                svc = running[-1]
                self.before_stop(svc)
                self._close_segment(role)
                held = _held(svc, running[:-1])
                marks = self.monitor.highwaters(role)
                proc = svc.proc
                assert proc is not None
                sent = time.monotonic()
                if change.action == SIGTERM:
                    proc.send_signal(signal.SIGTERM)
                else:
                    proc.kill()
                change.worker, change.at_s = svc.name, round(sent - self.t0, 2)
                change.began_s = change.at_s
                self.say(f"step {change.n}: {svc.name} sent {change.action.upper()} at t={change.at_s:.1f}s")
                try:
                    self._watch(change, svc, sent, stopping=marks, held=held)
                finally:
                    self._reap(change, svc, sent)
            change.workers = len(self.workers(role))
            if change.resumed_s is not None:
                self._open_segment(role)
                self.say(
                    f"step {change.n}: {role} x{change.workers} resumed, pause {change.resumed_s:.1f}s"
                    + (
                        f" (rebalanced after {change.rebalanced_s:.1f}s)"
                        if change.rebalanced_s is not None
                        else ""
                    )
                )
        except Exception as exc:
            change.error = change.error or f"{type(exc).__name__}: {str(exc)[:300]}"
            self.say(f"step {change.n}: {role} {change.action} failed: {change.error}")

    def _watch(
        self,
        change: Change,
        svc: Service,
        at: float,
        stopping: dict[TP, int] | None,
        held: dict[TP, int] | None = None,
    ) -> None:
        """Until the role has resumed after the change (see the module's docstring); bounded."""
        with httpx.Client(timeout=2) as client:
            self._watch_with(client, change, svc, at, stopping, held or {})

    def _watch_with(
        self,
        client: httpx.Client,
        change: Change,
        svc: Service,
        at: float,
        stopping: dict[TP, int] | None,
        held: dict[TP, int],
    ) -> None:
        role = change.role
        marks = stopping
        began = at if stopping is not None else None
        seen_rebalancing = False
        rebalanced: float | None = None
        relaunched = False
        last_poll, last_marks = at, self.monitor.highwaters(role)
        deadline = at + self.timeout_s
        while time.monotonic() < deadline:
            now = time.monotonic()
            if stopping is None and not svc.running():
                if relaunched or "address already in use" not in _tail(svc):
                    raise RuntimeError(f"{svc.name} exited during start-up; see {svc.log_path}")
                relaunched = True  # a free port taken in between: once more on a new one
                svc.port = free_port()
                svc.env = svc.env | {self.port_vars[role]: str(svc.port)}
                svc.start()
                continue
            if stopping is not None and change.stopped_s is None and svc.proc and svc.proc.poll() is not None:
                change.stopped_s, change.exit_code = round(now - at, 2), svc.proc.returncode
            others = [s for s in self.workers(role) if s is not svc]
            states = {s.name: ready(client, s) for s in others}  # None: no answer (neither way)
            if stopping is None:
                own = ready(client, svc)
                if own and change.started_s is None:
                    change.started_s = round(now - at, 2)
                if began is None and False in states.values():
                    self._close_segment(role)
                    began, marks = now, self.monitor.highwaters(role)
                    change.began_s = round(began - self.t0, 2)
                elif began is None and own and all(states.values()):
                    # The newcomer has its assignment, so the group rebalanced, between the last poll and
                    # this one (polls far apart on a starved machine): counted from the last poll.
                    self._close_segment(role)
                    began, marks, seen_rebalancing = last_poll, last_marks, True
                    change.began_s, change.observed = round(began - self.t0, 2), False
                states[svc.name] = own
            if began is not None and False in states.values():
                seen_rebalancing = True
            if seen_rebalancing and rebalanced is None and all(states.values()):
                rebalanced = now
                assert began is not None
                change.rebalanced_s = round(rebalanced - began, 2)
            if (
                marks is not None
                and all(states.values())
                and (rebalanced is not None or stopping is not None)
            ):
                workers = others if stopping is not None else [*others, svc]
                seen = positions(workers, client)
                # Seen rebalancing and ready again; or, if the polls missed that, the stopped worker's
                # partitions processed past where it was by their new owners (under the feed).
                taken_over = all(seen.get(tp, 0) > offset for tp, offset in held.items())
                # The feed over, nothing new arrives for the new owners to process past it: the group's
                # commits past every mark say the stopped worker's partitions were taken over.
                drained = (
                    stopping is not None and not self.feed.is_alive() and self.monitor.caught_up(role, marks)
                )
                over = rebalanced is not None or (bool(held) and taken_over) or drained
                if over and self.monitor.caught_up(role, marks, seen):
                    assert began is not None
                    change.observed = change.observed and rebalanced is not None
                    change.resumed_s = round(time.monotonic() - began, 2)
                    threading.Thread(
                        target=self._watch_commits,
                        args=(change, began, marks),
                        name=f"scale-{change.n}-{role}-commits",
                        daemon=True,
                    ).start()
                    return
            last_poll, last_marks = now, self.monitor.highwaters(role)
            time.sleep(POLL_S)
        what = "the group was never seen rebalancing" if not seen_rebalancing else "did not resume"
        raise TimeoutError(f"{role} {change.action} {svc.name}: {what} within {self.timeout_s:.0f} s")

    def _watch_commits(self, change: Change, began: float, marks: dict[TP, int]) -> None:
        """Until the group's committed offsets, too, are past what was waiting at the change; bounded."""
        deadline = began + self.timeout_s
        while time.monotonic() < deadline:
            if self.monitor.caught_up(change.role, marks):
                change.committed_s = round(time.monotonic() - began, 2)
                return
            time.sleep(POLL_S)

    def _reap(self, change: Change, svc: Service, sent: float) -> None:
        """The stopped worker has exited (a SIGTERMed one within :data:`STOP_GRACE_S` of the signal)."""
        proc = svc.proc
        assert proc is not None
        try:
            proc.wait(max(sent + STOP_GRACE_S - time.monotonic(), 0.1))
        except Exception:
            proc.kill()
            proc.wait(10)
            change.error = f"{svc.name} had not exited {STOP_GRACE_S:.0f} s after SIGTERM"
        if change.stopped_s is None:
            change.stopped_s = round(time.monotonic() - sent, 2)
        change.exit_code = proc.returncode
        svc.proc = None
        self._retire(svc)


def _tail(svc: Service) -> str:
    try:
        return svc.log_path.read_text(errors="replace")[-4000:]
    except OSError:
        return ""
