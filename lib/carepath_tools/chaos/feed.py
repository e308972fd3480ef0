"""The chaos feed: the bench's realistic timelines, re-timed so that both runs see the same bytes and the
same deadlines whatever the machine does.

Both runs use one steered clock (``CAREPATH_TIME_FILE``) that starts at :data:`EPOCH` the moment the
feed starts, running ``scale`` times real time. Patients are posted in requests at a steady rate; each
patient's whole timeline goes in one request, and its clinical times end ``lead_s`` real seconds (on the
scaled clock) after the moment the request is planned. Every deadline a timeline opens therefore falls
due at least about ``lead_s`` real seconds after all of that patient's events were sent, so a crash's
delay cannot decide whether a closing event (say, the MSCC coordinator contacted) was in before the
deadline fired: the outputs depend on the feed alone and two runs compare by id. (A closing event that
really arrives after its deadline fires the reminder, rightly; that is not what this measures.)
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from carepath import envelope
from carepath_tools.bench import workload

EPOCH = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # simulated time when a run's feed starts
COMPRESS = 6.0  # a timeline's clinical gaps (5-90 min in the bench workload) divided by this
PREFIX = "chaos-"


@dataclass(frozen=True)
class Request:
    at_s: float  # planned real offset from the feed start
    body: bytes  # a JSON array of CloudEvents
    events: int


@dataclass(frozen=True)
class Feed:
    requests: list[Request]
    events: int
    patients: int
    red_flag_patients: int
    types: Counter[str]
    duration_s: float  # planned: the last request's offset


def build(
    *,
    events: int,
    min_patients: int,
    rate: float,
    scale: float,
    lead_s: float,
    seed: int,
    prefix: str = PREFIX,
    interval_s: float = 0.1,
) -> Feed:
    """At least ``events`` events for at least ``min_patients`` patients, ``rate`` events a second."""
    patients = max(min_patients, math.ceil(events / 2.6))
    while True:
        w = workload.generate(patients, seed, EPOCH, prefix=prefix)
        if len(w.events) >= events:
            break
        patients = math.ceil(patients * events / max(len(w.events), 1)) + 10
    timelines: dict[bytes, list[dict[str, object]]] = {}
    for e in w.events:  # in time order, so each timeline keeps its order
        timelines.setdefault(e.key, []).append(envelope.decode(e.value))
    per_request = max(1.0, rate * interval_s)
    requests: list[Request] = []
    batch: list[bytes] = []
    count = 0

    def close() -> None:
        nonlocal batch
        if batch:
            requests.append(Request(len(requests) * interval_s, b"[" + b",".join(batch) + b"]", len(batch)))
            batch = []

    for timeline in timelines.values():
        at_s = len(requests) * interval_s
        end = EPOCH + timedelta(seconds=(at_s + lead_s) * scale)
        last = envelope.parse_time(str(timeline[-1]["time"]))
        for ce in timeline:
            back = (last - envelope.parse_time(str(ce["time"]))) / COMPRESS
            ce["time"] = envelope.iso(end - back)
            batch.append(bytes(memoryview(envelope.encode(ce))))
            count += 1
        if len(batch) >= per_request:
            close()
    close()
    return Feed(
        requests=requests,
        events=count,
        patients=len(timelines),
        red_flag_patients=w.red_flag_patients,
        types=w.types,
        duration_s=requests[-1].at_s if requests else 0.0,
    )
