"""Broker profiles: client timeouts and batching for the broker carepath is talking to.

Product code is written for Apache Kafka. The embedded broker (Tansu) speaks the protocol but differs in
ways that matter to clients; every adjustment for it is made here, in one place, with the reason:

* JoinGroup is held for half the session timeout, so the default 45 s session makes a first join take
  20-30 s. The embedded profile uses a 2 s session / 0.6 s heartbeat, which joins in about a second.
* Fetch waits are slept rather than short-circuited when data arrives, so consumer latency follows the
  fetch max wait. Faust hard-codes 1500 ms; :mod:`carepath.streaming` makes it a setting, and the
  embedded profile uses 20 ms. (On Kafka a fetch returns as soon as data is there, so the wait only
  bounds idle polling.)
* ListOffsets(latest) answers "first offset of the last batch + 1". The fetch high-watermark is right, so
  lag is always measured from it (:class:`carepath.worker.WorkerShell`), and with this profile Faust's
  table recovery takes its end point from a fetch too (``end_offsets_from_fetch``). Without that, a
  worker restarted after a crash stops reading its changelog a few updates short and repeats reminders
  and escalations it had already published.
* Transactions and aiokafka's idempotent producer fail (InitProducerId is answered with an unknown
  error), so Faust runs ``at_least_once`` everywhere, exactly-once effects come from deterministic ids
  and de-duplication in the services, and intake's producer is idempotent only on Kafka
  (``idempotent_producer``): a record a retry writes twice is an event id seen twice, suppressed
  downstream like any resubmission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProfileName = Literal["kafka", "embedded"]

# Bytes of records per partition in one producer batch, for every producer carepath runs. The clients'
# 16 KiB default fills after a dozen patients' records: aiokafka then waits for the full batch to be
# handed to the broker before taking another record for that partition, and it sends one request at a
# time, so a worker's batch of a thousand state and output records went out in a train of small
# requests, each a turn of the event loop (``make bench``: triage 7.6k -> 8.8k ev/s, event loop 32 -> 19
# µs per event). A quarter of Kafka's default 1 MB message size limit (``message.max.bytes``) leaves the
# broker's and a topic's limits a wide margin.
PRODUCER_BATCH_BYTES = 262_144


@dataclass(frozen=True)
class BrokerProfile:
    name: ProfileName
    session_timeout_s: float
    heartbeat_interval_s: float
    rebalance_timeout_s: float
    request_timeout_s: float
    fetch_max_wait_ms: int
    producer_linger_ms: int
    end_offsets_from_fetch: bool = False
    idempotent_producer: bool = True


KAFKA = BrokerProfile(
    name="kafka",
    session_timeout_s=30.0,
    heartbeat_interval_s=3.0,
    rebalance_timeout_s=60.0,
    request_timeout_s=90.0,
    fetch_max_wait_ms=100,
    producer_linger_ms=1,
)

EMBEDDED = BrokerProfile(
    name="embedded",
    session_timeout_s=2.0,
    heartbeat_interval_s=0.6,
    rebalance_timeout_s=10.0,
    request_timeout_s=30.0,
    fetch_max_wait_ms=20,
    producer_linger_ms=1,
    end_offsets_from_fetch=True,
    idempotent_producer=False,
)

PROFILES: dict[str, BrokerProfile] = {p.name: p for p in (KAFKA, EMBEDDED)}


def profile(name: str) -> BrokerProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown broker profile {name!r}; choose one of {sorted(PROFILES)}") from None
