"""triage metrics. Labels are rule ids, severities and changes: never patient data."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from carepath.stream_metrics import LATENCY_BUCKETS

ESCALATIONS = Counter(
    "carepath_escalations",
    "Escalations published, by rule, severity and change",
    ["rule", "severity", "change"],
)
DUPLICATES_SUPPRESSED = Counter(
    "carepath_triage_duplicates_suppressed", "Redelivered events recognised by id and ignored"
)
RULE_EVALUATION_SECONDS = Histogram(
    "carepath_rule_evaluation_seconds",
    "Time to evaluate the pathway for one event",
    buckets=(0.000005, 0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.005),
)
END_TO_END_SECONDS = Histogram(
    "carepath_end_to_end_seconds",
    "From intake storing the event to the escalation it raised being stored",
    buckets=LATENCY_BUCKETS,
)
PROCESSING_FAILURES = Counter(
    "carepath_triage_processing_failures", "Events whose evaluation failed; each is dead-lettered", ["reason"]
)
