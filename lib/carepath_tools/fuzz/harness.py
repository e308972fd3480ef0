"""Throw inputs at a running intake and hold every answer to the oracle (:mod:`carepath_tools.fuzz.oracle`).

Channels (each input belongs to one):

- ``openapi``: requests schemathesis generates from intake's served OpenAPI document, conforming and
  non-conforming, to every operation;
- ``events``: mutants of the contract's valid example events, ``POST /v1/events``;
- ``fhir``: mutants of FHIR resources (``POST /fhir/{type}``, ``PUT /fhir/{type}/{id}``) and of
  transaction and batch Bundles (``POST /fhir``);
- ``hl7``: mutants of HL7 v2 messages over MLLP on kept-open connections, framing faults included;
- ``mllp-conn``: connection faults: a frame begun and never ended, a connection closed mid-frame, bytes
  with no frame at all, a frame sent slower than the frame timeout.

For every input: no 5xx, intake never exits, no answer later than the publish timeout plus 5 s (MLLP: an
ACK, or the connection closed, in that time; a half-open connection closed within the frame/idle timeout
plus 5 s), every refusal names its reason, nothing malformed acknowledged. Dead letters: every refusal of a
class intake promises to keep has a record on ``clinical.events.dlq`` (counted per channel at the end):

- ``/v1/events``: 400, 422, and 413 for a batch over the maximum (the body was read); not 401, 415, nor 413
  for a body over the size limit (never read: counted by a metric instead);
- ``/fhir...``: 400 and 422 (OperationOutcome); not 401, 404 (no such route), 405, 415 nor the unread 413;
- ``/v1/acknowledgements``: none (an unknown id is 404 and a malformed request 422 from the request model;
  neither is an input event);
- MLLP: every AE (AR means the broker did not answer: nothing may be assumed kept). A connection closed
  without a whole frame has nothing to keep.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import queue
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

from carepath import topics
from carepath.topic_reader import read_topic
from carepath_tools.fuzz import mutate, oracle, seeds
from carepath_tools.fuzz.target import Limits, Target

CHANNELS = ("openapi", "events", "fhir", "hl7", "mllp-conn")
SHARES = {"openapi": 0.14, "events": 0.28, "fhir": 0.28, "hl7": 0.29, "mllp-conn": 0.01}
FHIR_TYPES = ("Observation", "Condition", "Procedure", "MedicationStatement", "Communication", "Patient")
EXAMPLES_KEPT = 5  # findings shown per kind (mutation names and answers, never input content)


@dataclass
class Config:
    inputs: int = 10_000
    seed: int = 1
    time_limit_s: float = 300.0
    http_workers: int = 4
    mllp_workers: int = 2
    conn_workers: int = 6
    log_dir: Path = Path(".run/fuzz")
    limits: Limits = field(default_factory=Limits)

    def counts(self) -> dict[str, int]:
        counts = {c: int(self.inputs * SHARES[c]) for c in CHANNELS}
        counts["mllp-conn"] = max(min(counts["mllp-conn"], 120), 10)
        counts["hl7"] += self.inputs - sum(counts.values())
        return counts


@dataclass
class Findings:
    """Everything counted during a run; thread-safe through ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)  # faults of the fuzzer itself
    no_reason: list[str] = field(default_factory=list)
    malformed_accepted: list[str] = field(default_factory=list)
    dlq_promised: Counter[str] = field(default_factory=Counter)  # by the DLQ record's channel label
    dlq_found: Counter[str] = field(default_factory=Counter)
    stored: int = 0
    stored_invalid: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    slowest_s: float = 0.0
    elapsed_s: float = 0.0
    stopped_early: str | None = None
    mutations: Counter[str] = field(default_factory=Counter)

    def note(self, bucket: list[str], text: str) -> None:
        bucket.append(text)

    def ok(self) -> bool:
        return not (
            self.server_errors
            or self.hung
            or self.no_reason
            or self.malformed_accepted
            or self.stored_invalid
            or self.exits
            or self.transport_errors
            or self.harness_errors
            or self.dead_letters_missing()
        )

    def dead_letters_missing(self) -> dict[str, int]:
        return {
            label: promised - self.dlq_found[label]
            for label, promised in self.dlq_promised.items()
            if self.dlq_found[label] < promised
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "inputs": dict(self.sent),
            "inputs_total": sum(self.sent.values()),
            "answers": {f"{c} {a}": n for (c, a), n in sorted(self.answers.items())},
            "server_errors": len(self.server_errors),
            "exits": len(self.exits),
            "hung": len(self.hung),
            "transport_errors": len(self.transport_errors),
            "harness_errors": len(self.harness_errors),
            "refusals_without_reason": len(self.no_reason),
            "malformed_accepted": len(self.malformed_accepted),
            "stored_events": self.stored,
            "stored_invalid": len(self.stored_invalid),
            "dead_letters_promised": dict(self.dlq_promised),
            "dead_letters_found": dict(self.dlq_found),
            "slowest_answer_s": round(self.slowest_s, 3),
            "elapsed_s": round(self.elapsed_s, 1),
            "stopped_early": self.stopped_early,
            "ok": self.ok(),
        }

    def summary(self) -> str:
        total = sum(self.sent.values())
        lines = [f"inputs sent: {total} in {self.elapsed_s:.1f} s"]
        for channel in CHANNELS:
            answers = ", ".join(f"{a} {n}" for (c, a), n in sorted(self.answers.items()) if c == channel)
            lines.append(f"  {channel:<10} {self.sent[channel]:>6}   {answers}")
        promised = ", ".join(f"{k} {v}" for k, v in sorted(self.dlq_promised.items()))
        found = ", ".join(f"{k} {v}" for k, v in sorted(self.dlq_found.items()))
        lines += [
            f"5xx answers: {len(self.server_errors)}",
            f"intake exits: {len(self.exits)}",
            f"hung (no answer within the bound): {len(self.hung)}; slowest answer {self.slowest_s:.2f} s",
            f"transport errors (connection reset or refused): {len(self.transport_errors)}",
            f"fuzzer faults: {len(self.harness_errors)}",
            f"refusals without a reason: {len(self.no_reason)}",
            f"malformed inputs accepted: {len(self.malformed_accepted)}",
            f"events stored: {self.stored}, invalid by the contract: {len(self.stored_invalid)}",
            f"dead-letter records promised: {promised or 'none'}; on clinical.events.dlq: {found or 'none'}",
        ]
        if self.stopped_early:
            lines.append(f"stopped early: {self.stopped_early}")
        for title, bucket in (
            ("5xx", self.server_errors),
            ("hung", self.hung),
            ("transport", self.transport_errors),
            ("harness", self.harness_errors),
            ("no reason", self.no_reason),
            ("malformed accepted", self.malformed_accepted),
            ("stored invalid", self.stored_invalid),
        ):
            for example in bucket[:EXAMPLES_KEPT]:
                lines.append(f"  {title}: {example}")
        missing = self.dead_letters_missing()
        if missing:
            lines.append(f"  dead letters missing: {missing}")
        lines.append("RESULT: " + ("ok" if self.ok() else "FAILED"))
        return "\n".join(lines)


# -- HTTP ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpInput:
    channel: str
    label: str  # the mutation (or schemathesis operation) for the summary
    method: str
    path: str
    body: bytes | None
    content_type: str | None
    authorised: bool = True
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def _dlq_label(path: str) -> str | None:
    if path.startswith("/v1/events"):
        return "http"
    if path.startswith("/fhir") and not path.startswith("/fhir/metadata"):
        return "fhir"
    return None


def _promised(path: str, method: str, status: int, body_size: int, limits: Limits) -> bool:
    label = _dlq_label(path)
    if label is None or method not in ("POST", "PUT"):
        return False
    if status in (400, 422):
        return True
    return label == "http" and status == 413 and body_size <= limits.max_request_bytes


def _check_accepted(inp: HttpInput, answer: bytes) -> None:
    if inp.method not in ("POST", "PUT") or inp.body is None:
        return
    if inp.path.startswith("/v1/events"):
        oracle.check_events(inp.body)
    elif inp.path.startswith("/fhir") and not inp.path.startswith("/fhir/metadata"):
        oracle.check_fhir(inp.body, answer)


def send_http(client: httpx.Client, target: Target, inp: HttpInput, found: Findings) -> None:
    # bytes: a mutated content type need not be ASCII
    headers = {k.encode(): v.encode() for k, v in (inp.headers or {}).items()}
    if inp.content_type is not None:
        headers[b"Content-Type"] = inp.content_type.encode("utf-8")
    if inp.authorised:
        headers[b"Authorization"] = f"Bearer {target.token}".encode()
    started = time.monotonic()
    tag = f"{inp.channel} {inp.label} {inp.method} {_route(inp.path)}"
    try:
        reply = client.request(
            inp.method, target.url + inp.path, content=inp.body, headers=headers, params=inp.params
        )
        status, answer = reply.status_code, reply.content
    except httpx.TimeoutException:
        with found.lock:
            found.sent[inp.channel] += 1
            found.answers[(inp.channel, "hung")] += 1
            found.hung.append(tag)
        return
    except httpx.HTTPError as exc:
        with found.lock:
            found.sent[inp.channel] += 1
            found.answers[(inp.channel, "transport")] += 1
            found.transport_errors.append(f"{tag}: {type(exc).__name__}")
        return
    took = time.monotonic() - started
    problem: tuple[list[str], str] | None = None
    if status >= 500:
        problem = (found.server_errors, f"{tag} -> {status}")
    elif status >= 400:
        if oracle.http_reason(status, answer) is None:
            problem = (found.no_reason, f"{tag} -> {status}")
    elif 200 <= status < 300:
        try:
            _check_accepted(inp, answer)
        except oracle.Malformed as why:
            problem = (found.malformed_accepted, f"{tag} -> {status}: {why}")
    promised = _promised(inp.path, inp.method, status, len(inp.body or b""), target.limits)
    with found.lock:
        found.sent[inp.channel] += 1
        found.answers[(inp.channel, str(status))] += 1
        found.slowest_s = max(found.slowest_s, took)
        found.mutations[inp.label.split(".")[0]] += 1
        if problem is not None:
            problem[0].append(problem[1])
        if promised:
            label = _dlq_label(inp.path)
            assert label is not None
            found.dlq_promised[label] += 1


def _route(path: str) -> str:
    parts = path.split("?")[0].split("/")
    return "/".join(parts[:3]) + ("/{id}" if len(parts) > 3 else "")


def event_input(n: int, run_seed: int, pool: seeds.Seeds, limits: Limits) -> HttpInput:
    rng = random.Random(f"{run_seed}:events:{n}")
    event = seeds.fresh_event(rng, pool, f"{run_seed}-{n}")
    mutant = mutate.mutate_json(rng, event, "event", limits.max_request_bytes)
    ctype = mutant.content_type
    if ctype is None:
        ctype = rng.choice(["application/json", "application/json", "application/cloudevents+json"])
    return HttpInput("events", mutant.mutation, "POST", "/v1/events", mutant.body, ctype, mutant.authorised)


def fhir_input(n: int, run_seed: int, pool: seeds.Seeds, limits: Limits) -> HttpInput:
    rng = random.Random(f"{run_seed}:fhir:{n}")
    tag = f"{run_seed}-{n}"
    if rng.random() < 0.35 and pool.bundles:
        bundle = seeds.fresh_bundle(rng, pool, tag)
        mutant = mutate.mutate_bundle(rng, bundle, limits.max_request_bytes)
        path, method = "/fhir", "POST"
    else:
        resource = seeds.fresh_resource(rng, pool, tag)
        mutant = mutate.mutate_json(rng, resource, "resource", limits.max_request_bytes)
        kind = str(resource.get("resourceType"))
        if rng.random() < 0.1:
            kind = rng.choice([*FHIR_TYPES, "Bundle", "Encounter", "observation", "%2e%2e", "x" * 80])
        if rng.random() < 0.4:
            rid = (
                str(resource.get("id", "x")) if rng.random() < 0.8 else rng.choice(["other", "a" * 70, "%20"])
            )
            path, method = f"/fhir/{kind}/{rid}", "PUT"
        else:
            path, method = f"/fhir/{kind}", "POST"
    ctype = mutant.content_type if mutant.content_type is not None else "application/fhir+json"
    return HttpInput("fhir", mutant.mutation, method, path, mutant.body, ctype, mutant.authorised)


def openapi_inputs(target: Target, count: int, run_seed: int) -> list[HttpInput]:
    """``count`` requests from schemathesis, over every operation of the served document, conforming
    (positive) and not (negative), generated here in one thread (Hypothesis is not shared across threads)."""
    import schemathesis
    from schemathesis.core.result import Ok

    document = httpx.get(f"{target.url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    weight = {
        "/v1/events": 4,
        "/fhir": 2,
        "/fhir/{resource_type}": 2,
        "/fhir/{resource_type}/{resource_id}": 2,
    }
    shares = [(op, mode, weight.get(op.path, 1)) for op in operations for mode in modes]
    total_weight = sum(w for _, _, w in shares)
    out: list[HttpInput] = []
    for n, (op, mode, w) in enumerate(shares):
        wanted = max(1, count * w // total_weight)
        try:
            drawn = _draw(op.as_strategy(mode), wanted, run_seed * 1000 + n)
        except Exception as exc:  # generation itself failing is a finding about the document, not intake
            raise RuntimeError(f"schemathesis could not generate {op.method} {op.path}: {exc}") from exc
        rng = random.Random(f"{run_seed}:openapi:{n}")
        for kwargs in drawn:
            out.append(_from_schemathesis(kwargs, f"{mode.value}", rng))
    random.Random(run_seed).shuffle(out)
    while out and len(out) < count:  # operations with few distinct requests (the probes) are repeated
        out += out[: count - len(out)]
    return out[:count]


def _draw(strategy: Any, wanted: int, seed: int) -> list[dict[str, Any]]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable

    drawn: list[dict[str, Any]] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=wanted,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def draw(case: Any) -> None:
        drawn.append(case.as_transport_kwargs(base_url=""))

    with contextlib.suppress(Unsatisfiable):  # a negative request of an operation that takes nothing
        draw()
    return drawn


def _from_schemathesis(kwargs: dict[str, Any], mode: str, rng: random.Random) -> HttpInput:
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    headers.pop("Authorization", None)
    ctype = headers.pop("Content-Type", None)
    body: bytes | None = None
    if "json" in kwargs:
        try:
            body = json.dumps(kwargs["json"], ensure_ascii=False).encode("utf-8", errors="surrogatepass")
        except (TypeError, ValueError):
            body = b"{"
        ctype = ctype or "application/json"
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body = data if isinstance(data, bytes) else str(data).encode("utf-8", errors="surrogatepass")
    url = str(kwargs["url"])
    path = url if url.startswith("/") else "/" + url
    method = str(kwargs["method"]).upper()
    safe_headers = {k: v for k, v in headers.items() if k.isascii() and v.isascii() and k.lower() != "host"}
    return HttpInput(
        "openapi",
        f"schemathesis.{mode}",
        method,
        path,
        body,
        ctype,
        authorised=rng.random() > 0.05,
        params=kwargs.get("params") or None,
        headers=safe_headers,
    )


# -- MLLP ----------------------------------------------------------------------------------------------------


class Mllp:
    """One kept-open MLLP connection; reconnects after intake closes it."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def exchange(self, wire: bytes) -> tuple[str, bytes]:
        """("ack", frame) | ("closed", b"") | ("hung", b"") | ("transport", b"")."""
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
                self.buffer = b""
            self.sock.settimeout(self.timeout)
            self.sock.sendall(wire)
            deadline = time.monotonic() + self.timeout
            while b"\x1c\r" not in self.buffer:
                self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.close()
                    return "closed", b""
                self.buffer += chunk
        except TimeoutError:
            self.close()
            return "hung", b""
        except OSError:
            self.close()
            return "closed", b""
        frame, self.buffer = self.buffer.split(b"\x1c\r", 1)
        if self.buffer:  # more than one ACK for one frame: start afresh so answers stay paired
            self.close()
        return "ack", frame.lstrip(b"\x0b")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer = b""


def hl7_input(n: int, run_seed: int, pool: seeds.Seeds, limits: Limits) -> tuple[bytes, bytes, str]:
    """(what goes on the wire, the message inside the frame, the mutation)."""
    rng = random.Random(f"{run_seed}:hl7:{n}")
    message = seeds.fresh_hl7(rng, pool, f"{run_seed}x{n}")
    mutant = mutate.mutate_hl7(rng, message, limits.mllp_max_bytes)
    if mutant.frame is not None:
        return mutant.frame(mutant.message), mutant.message, mutant.mutation
    return b"\x0b" + mutant.message + b"\x1c\r", mutant.message, mutant.mutation


def send_hl7(conn: Mllp, wire: bytes, message: bytes, mutation: str, found: Findings) -> None:
    started = time.monotonic()
    outcome, frame = conn.exchange(wire)
    took = time.monotonic() - started
    problem: tuple[list[str], str] | None = None
    answer = outcome
    promised = False
    if outcome == "hung":
        problem = (found.hung, f"hl7 {mutation}: no ACK and not closed")
    elif outcome == "closed":
        problem = (found.transport_errors, f"hl7 {mutation}: closed without an ACK for a whole frame")
    else:
        code, reason = oracle.ack_code(frame)
        answer = code
        if code in ("AE", "AR", "CE", "CR"):
            if reason is None:
                problem = (found.no_reason, f"hl7 {mutation} -> {code}")
            promised = code in ("AE", "CE")
        elif code in ("AA", "CA"):
            framed = wire == b"\x0b" + message + b"\x1c\r" or wire == b"\x0b" + message + b"\x1c"
            try:
                if not framed:
                    raise oracle.Malformed("a frame that breaks MLLP")
                oracle.check_hl7(message)
            except oracle.Malformed as why:
                problem = (found.malformed_accepted, f"hl7 {mutation} -> {code}: {why}")
        else:
            problem = (found.no_reason, f"hl7 {mutation} -> ACK without MSA-1")
    with found.lock:
        found.sent["hl7"] += 1
        found.answers[("hl7", answer)] += 1
        found.slowest_s = max(found.slowest_s, took)
        if problem is not None:
            problem[0].append(problem[1])
        if promised:
            found.dlq_promised["mllp"] += 1


CONN_FAULTS = ("start_only", "header_cut", "message_no_end", "close_mid_frame", "unframed", "slow_frame")


def connection_fault(n: int, run_seed: int, pool: seeds.Seeds, target: Target, found: Findings) -> None:
    """A connection that never completes a frame: intake must close it within the frame (or idle) timeout
    plus 5 s, and keep serving others."""
    rng = random.Random(f"{run_seed}:conn:{n}")
    kind = CONN_FAULTS[n % len(CONN_FAULTS)]
    message = seeds.fresh_hl7(rng, pool, f"{run_seed}c{n}").encode()
    bound = target.limits.close_bound_s
    outcome = "closed"
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", target.mllp_port), timeout=bound) as sock:
            if kind == "start_only":
                sock.sendall(b"\x0b")
            elif kind == "header_cut":
                sock.sendall(b"\x0b" + message[: rng.randrange(1, 60)])
            elif kind == "message_no_end":
                sock.sendall(b"\x0b" + message)
            elif kind == "close_mid_frame":
                sock.sendall(b"\x0b" + message[: len(message) // 2])
                outcome = "client_closed"
            elif kind == "unframed":
                sock.sendall(message[: rng.randrange(1, len(message))])
            else:  # a frame trickled in, slower than the frame timeout allows
                for chunk in (b"\x0b", message[:20], message[20:40]):
                    sock.sendall(chunk)
                    time.sleep(target.limits.frame_timeout_s * 0.7)
            if outcome != "client_closed":
                outcome = _await_close(sock, bound - (time.monotonic() - started))
    except OSError:
        outcome = "closed"
    took = time.monotonic() - started
    with found.lock:
        found.sent["mllp-conn"] += 1
        found.answers[("mllp-conn", outcome)] += 1
        if outcome == "hung":
            found.hung.append(f"mllp-conn {kind}: still open after {took:.1f} s")


def _await_close(sock: socket.socket, budget: float) -> str:
    """ "closed" when intake closes the connection (an AE before closing is fine) within ``budget``."""
    deadline = time.monotonic() + max(budget, 0.1)
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            if sock.recv(65536) == b"":
                return "closed"
        except TimeoutError:
            return "hung"
        except OSError:
            return "closed"
        if time.monotonic() > deadline:
            return "hung"


# -- the run -------------------------------------------------------------------------------------------------


def run(
    config: Config, target: Target | None = None, progress: Callable[[str], None] | None = None
) -> Findings:
    """Start the target (unless given one), send ``config.inputs`` inputs, read the topics, return the
    findings. Stops sending at ``config.time_limit_s`` (saying so) or when intake exits."""
    say = progress or (lambda _text: None)
    found = Findings()
    own = target is None
    target = target or Target(config.log_dir, config.limits)
    started = time.monotonic()
    try:
        if own:
            say("starting the embedded broker and intake")
            target.start()
        pool = seeds.load()
        counts = config.counts()
        say(f"seeds: {pool.describe()}; inputs: {counts}")
        say("generating the schemathesis requests")
        api = openapi_inputs(target, counts["openapi"], config.seed)
        deadline = started + config.time_limit_s
        stop = threading.Event()
        http_jobs: queue.Queue[HttpInput | None] = queue.Queue(maxsize=256)
        hl7_jobs: queue.Queue[int | None] = queue.Queue()
        conn_jobs: queue.Queue[int | None] = queue.Queue()
        for n in range(counts["hl7"]):
            hl7_jobs.put(n)
        for n in range(counts["mllp-conn"]):
            conn_jobs.put(n)

        def feed_http() -> None:
            sources: Iterator[HttpInput] = _interleave(
                iter(api),
                (event_input(n, config.seed, pool, target.limits) for n in range(counts["events"])),
                (fhir_input(n, config.seed, pool, target.limits) for n in range(counts["fhir"])),
            )
            try:
                for item in sources:
                    if not _put(http_jobs, item, stop):
                        break
            except Exception as exc:  # a fault of the fuzzer: counted, and the workers still told to stop
                with found.lock:
                    found.harness_errors.append(f"generating: {type(exc).__name__}: {str(exc)[:120]}")
            for _ in range(config.http_workers):
                _put(http_jobs, None, threading.Event())

        def http_worker() -> None:
            timeout = httpx.Timeout(target.limits.answer_bound_s, connect=10.0)
            with httpx.Client(timeout=timeout) as client:
                while (item := http_jobs.get()) is not None:
                    if not stop.is_set():
                        _guarded(found, item.label, partial(send_http, client, target, item, found))

        def hl7_worker() -> None:
            conn = Mllp(target.mllp_port, target.limits.answer_bound_s)
            try:
                while not stop.is_set():
                    try:
                        n = hl7_jobs.get_nowait()
                    except queue.Empty:
                        return
                    if n is None:
                        return
                    _guarded(found, f"hl7 {n}", partial(_hl7_one, conn, n, config.seed, pool, target, found))
            finally:
                conn.close()

        def conn_worker() -> None:
            while not stop.is_set():
                try:
                    n = conn_jobs.get_nowait()
                except queue.Empty:
                    return
                if n is not None:
                    _guarded(
                        found, f"conn {n}", partial(connection_fault, n, config.seed, pool, target, found)
                    )

        threads = [threading.Thread(target=feed_http, name="fuzz-feed", daemon=True)]
        threads += [threading.Thread(target=http_worker, daemon=True) for _ in range(config.http_workers)]
        threads += [threading.Thread(target=hl7_worker, daemon=True) for _ in range(config.mllp_workers)]
        threads += [threading.Thread(target=conn_worker, daemon=True) for _ in range(config.conn_workers)]
        say(f"sending {sum(counts.values())} inputs")
        for t in threads:
            t.start()
        reported = 0
        hard_stop = deadline + target.limits.close_bound_s + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < hard_stop:
            time.sleep(0.25)
            code = target.exited()
            if code is not None:
                found.exits.append(code)
                found.stopped_early = f"intake exited with code {code}"
                stop.set()
            elif time.monotonic() > deadline and not stop.is_set():
                found.stopped_early = f"time limit of {config.time_limit_s:.0f} s reached"
                stop.set()
            total = sum(found.sent.values())
            if total - reported >= 1000:
                reported = total
                say(f"{total} inputs answered ({time.monotonic() - started:.0f} s)")
            if stop.is_set():
                _drain(http_jobs)
        for t in threads:
            t.join(target.limits.answer_bound_s + 5)
        code = target.exited()
        if code is not None and not found.exits:
            found.exits.append(code)
        say("reading clinical.events and clinical.events.dlq")
        _read_topics(target, found)
    finally:
        if own:
            target.stop()
        found.elapsed_s = time.monotonic() - started
    return found


def _put(jobs: queue.Queue[HttpInput | None], item: HttpInput | None, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            jobs.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False


def _guarded(found: Findings, what: str, send: Callable[[], None]) -> None:
    """One input sent; a fault of the fuzzer itself is counted (and fails the run), not raised."""
    try:
        send()
    except Exception as exc:
        with found.lock:
            found.harness_errors.append(f"{what}: {type(exc).__name__}: {str(exc)[:120]}")


def _hl7_one(conn: Mllp, n: int, run_seed: int, pool: seeds.Seeds, target: Target, found: Findings) -> None:
    wire, message, mutation = hl7_input(n, run_seed, pool, target.limits)
    send_hl7(conn, wire, message, mutation, found)


def _drain(jobs: queue.Queue[HttpInput | None]) -> None:
    try:
        while True:
            item = jobs.get_nowait()
            if item is None:
                jobs.put(None)
                return
    except queue.Empty:
        return


def _interleave(*sources: Iterator[HttpInput]) -> Iterator[HttpInput]:
    live = list(sources)
    while live:
        for source in list(live):
            try:
                yield next(source)
            except StopIteration:
                live.remove(source)


def _read_topics(target: Target, found: Findings) -> None:
    quiet = io.StringIO()
    bootstrap = [target.bootstrap]
    for value in read_topic(bootstrap, topics.CLINICAL_EVENTS_DLQ, timeout_s=120, progress=quiet):
        try:
            record = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        found.dlq_found[str(record.get("channel"))] += 1
    for value in read_topic(bootstrap, topics.CLINICAL_EVENTS, timeout_s=120, progress=quiet):
        found.stored += 1
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            found.stored_invalid.append("a record that is not JSON")
            continue
        why = oracle.stored_event_errors(event)
        if why is not None:
            digest = hashlib.sha256(value).hexdigest()[:12]
            found.stored_invalid.append(f"{event.get('type')} (sha256 {digest}): {why}")
