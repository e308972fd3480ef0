"""Metrics every stream worker exports (triage and followup each add their own in ``metrics.py``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

EVENTS_CONSUMED = Counter("carepath_events_consumed", "Events consumed, by event type", ["service", "type"])
PROCESSING_SECONDS = Histogram(
    "carepath_processing_seconds",
    "Processing time per event (batch time divided by events in the batch)",
    ["service"],
    buckets=(0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1),
)
CONSUMER_LAG = Gauge(
    "carepath_consumer_lag",
    "Records behind the fetch high-watermark, per partition",
    ["service", "topic", "partition"],
)
CONSUMER_POSITION = Gauge(
    "carepath_consumer_position",
    "Offset of the next record this worker will process, per partition (what it has finished with)",
    ["service", "topic", "partition"],
)
DECODE_ERRORS = Counter(
    "carepath_decode_errors",
    "Records that could not be decoded or read and were skipped",
    ["service", "topic"],
)
STALE_EVENTS_LEFT = Counter(
    "carepath_stale_events_left",
    "Events fetched before a rebalance and handed over after it started: not processed and not acknowledged "
    "here, so the partition's owner reads them again from the committed offset",
    ["service"],
)
