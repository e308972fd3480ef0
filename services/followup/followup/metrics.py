"""followup metrics. Labels are expectation ids, kinds and chain levels: never patient data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from followup.core.audit import AuditRecord

API_REJECTED = Counter(
    "carepath_followup_api_rejected",
    "Calls to the worklist API refused: missing or unknown token (401), a token of another role (403)",
    ["reason"],
)
REMINDERS = Counter(
    "carepath_reminders",
    "Reminders published, by expectation, kind and chain level",
    ["expectation", "kind", "level"],
)
EXPECTATIONS_OPEN = Gauge(
    "carepath_expectations_open", "Open expectations, by expectation id", ["expectation"]
)
EXPECTATIONS_OVERDUE = Gauge("carepath_expectations_overdue", "Open expectations past their deadline")
TIMER_SCANS = Counter(
    "carepath_followup_timer_scans",
    "Deadline scans the timer has completed (flat while the worker owns partitions: the timer is stuck)",
)
NEXT_DUE = Gauge(
    "carepath_followup_next_due_timestamp_seconds",
    "When the earliest deadline or warning this worker holds falls due, on its clock (0: none)",
)
TIMER_BACKLOG = Gauge("carepath_timer_backlog", "Patients with a deadline due now that has not fired yet")
REMINDER_LATENESS = Histogram(
    "carepath_reminder_lateness_seconds",
    "How long after its due time each reminder was published",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
OLDEST_UNACKED_EMERGENCY = Gauge(
    "carepath_oldest_unacknowledged_emergency_seconds",
    "Age of the oldest emergency escalation nobody has acknowledged (0 when none)",
)
PROCESSING_FAILURES = Counter(
    "carepath_followup_processing_failures",
    "Inputs whose processing failed; each is dead-lettered",
    ["reason"],
)
REMINDERS_REPUBLISHED = Counter(
    "carepath_followup_reminders_republished",
    "Reminders published again after a restart found them handed to the broker but not recorded as "
    "fired (a crash inside that window); same id and payload, so consumers de-duplicate. An upper "
    "bound on duplicate reminders: the first copy may not have reached the broker.",
)
CATCH_UP_WAITS_EXCEEDED = Counter(
    "carepath_followup_catch_up_waits_exceeded",
    "Partitions whose deadlines began firing before their input backlog (as it stood when they were "
    "assigned and recovered) was processed, because catching up took longer than the bound",
)
TIMER_STATES_MISSING = Counter(
    "carepath_followup_timer_states_missing",
    "Patients the due index said were due whose state the table did not hold; left alone, nothing written "
    "(the index and the table disagree: a defect to look into)",
)
FENCE_WAITS_EXCEEDED = Counter(
    "carepath_followup_fence_waits_exceeded",
    "Rebalances that went ahead while a batch or timer pass was still writing for revoked partitions",
)

# The pathway's timeliness, from the expectations' audit trail (labelled by expectation only).
STEP_SECONDS = Histogram(
    "carepath_expectation_step_seconds",
    "Clock start to the expected step done, for each satisfied expectation (clinical time)",
    ["expectation"],
    buckets=tuple(h * 3600.0 for h in (0.25, 0.5, 1, 2, 4, 6, 12, 24, 48, 72, 168, 336, 672)),
)
CLOSED = Counter(
    "carepath_expectations_closed",
    "Expectations closed, by outcome (satisfied, cancelled, withdrawn) and whether by their deadline",
    ["expectation", "outcome", "within_target"],
)


def observe_audit(record: AuditRecord) -> None:
    if record.within_target is None:
        return
    CLOSED.labels(record.expectation_rule, record.transition, str(record.within_target).lower()).inc()
    if record.transition == "satisfied" and record.elapsed_seconds is not None:
        STEP_SECONDS.labels(record.expectation_rule).observe(record.elapsed_seconds)
